"""The schema: every key of the configuration, its default, its check and its meaning.

This is the single place a key is declared. Loading validates a file against it
(``load.py``), the typed configuration's classes are generated from it (``typed.py``), and
``config/agent.toml`` and the README's reference are rendered from it (``reference.py``).
Adding a key is one line here (and ``python -m pi_agent.config --write``).

``cross_check`` holds the rules that involve more than one key.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from pi_agent.config.checks import PATH_NAME, Check, boolean, broker, choice, gain, i2c_address, number, text, timezone
from pi_agent.config.secrets import PASSWORD_ENV
from sensors.channel import PAD_ZONES
from sensors.units import DATA_RATES, G


@dataclass(frozen=True)
class Key:
    """One key: its default, its meaning (one line, shown in agent.toml and the README),
    and the check its value must pass."""
    default: Any
    doc: str
    check: Check
    example: str | None = None   # how the default is written in agent.toml, if not plain
    required: bool = False       # in a user-named table, must be given


@dataclass(frozen=True)
class Named:
    """A table of user-named tables (``[sensors.wrist]``), each checked by ``keys``.

    ``default`` is the layout used when the file has no such table at all; when the
    file has one, it is the whole layout (so a channel can be removed).
    """
    doc: str
    keys: dict[str, Key]
    default: dict[str, dict[str, Any]]


# A device id, in MQTT topics and client ids (also checked for ``pi-agent run --device-id``).
DEVICE_ID, DEVICE_ID_TEXT = r"[A-Za-z0-9_-]{1,64}", "letters, digits, _ and - (at most 64)"

# The daily goal of hours with the hand open in the resting splint, wherever one is set (this
# key, the set_goal command, a scenario's command, Home Assistant's goal box, a stored
# setting). Half an hour is the shortest wear any splinting regime prescribes; below it a
# "goal" is a typo or an attack, and a day's open time (at most 25 h) against it stays
# under 5,000 %, so no view ever divides by a goal near zero.
GOAL_H_MIN, GOAL_H_MAX = 0.5, 24.0
GOAL_HOURS = number(GOAL_H_MIN, GOAL_H_MAX)

SCHEMA: dict[str, dict[str, Key] | Named] = {
    "device": {
        "id": Key("", "Device id in MQTT topics (letters, digits, _ and -); empty: derived from /etc/machine-id.",
                  text(DEVICE_ID, DEVICE_ID_TEXT)),
        "timezone": Key("", "IANA time zone that local days are counted in; empty: the system's zone.", timezone),
        "state_dir": Key("", "Folder of the durable store; empty: $STATE_DIRECTORY (systemd), else ./state.",
                         PATH_NAME),
    },
    "hardware": {
        "i2c_bus": Key(1, "Linux I2C bus number of the ADCs (/dev/i2c-N).", number(0, 99, integer=True)),
        "vdd": Key(3.3, "Supply voltage of the sensor dividers and the ADS1115s, in volts.", number(2.0, 5.5)),
        "calibration": Key("calibration.toml", "Calibration file, relative to this file's folder.", PATH_NAME),
    },
    "chips": Named(
        "ADS1115 chips by name. rate_hz: how often each of its channels is read.",
        {
            "address": Key(0x48, "I2C address: 0x48 ADDR to GND, 0x49 to VDD, 0x4A to SDA, 0x4B to SCL.",
                           i2c_address, "0x48", required=True),
            "rate_hz": Key(4.0, "Readings a second of each channel on this chip.", number(0.1, 200)),
            "mode": Key("single", "'single': a conversion per reading (inputs are switched between readings); "
                        "'continuous': the chip converts all the time and a reading is one I2C read "
                        "(a chip with a single channel only).", choice("single", "continuous")),
        },
        {
            "splint": {"address": 0x48, "rate_hz": 4.0, "mode": "single"},
            "pad_palm": {"address": 0x49, "rate_hz": 2.0, "mode": "continuous"},
            "pad_fingers": {"address": 0x4A, "rate_hz": 2.0, "mode": "continuous"},
        },
    ),
    "sensors": Named(
        "Channels by name. kind: 'flex' (degrees), 'force' (newtons) or 'load_cell' (newtons).",
        {
            "chip": Key("splint", "Name of the chip (a [chips.NAME] table) this channel is wired to.", text(),
                        required=True),
            "input": Key(0, "ADS1115 input, 0 to 3 (A0 to A3), against GND; a load cell's pair by its first "
                         "input: 0 for A0-A1, 2 for A2-A3.", number(0, 3, integer=True), required=True),
            "kind": Key("flex", "'flex': a flex sensor, in degrees; 'force': a force-sensing resistor, in newtons; "
                        "'load_cell': a strain-gauge load cell on a differential pair, in newtons.",
                        choice("flex", "force", "load_cell"), required=True),
            "gain": Key(1, "ADS1115 gain: 2/3 (+-6.144 V), 1 (+-4.096 V), 2, 4, 8 or 16 (+-0.256 V, for a load cell).",
                        gain),
            "data_rate": Key(128, "ADS1115 samples per second: 8, 16, 32, 64, 128, 250, 475 or 860.",
                             choice(*DATA_RATES)),
            "range_n": Key(20.0, "A force-sensing resistor's range: it saturates above this, in newtons "
                           "(an FSR 402: about 20 N).", number(0.1, 10000)),
            "rating_kg": Key(20.0, "A load cell's rated capacity, in kg as on its label: a heavier load is "
                             "reported as an overload.", number(0.1, 5000)),
            "sensitivity_mv_v": Key(2.0, "A load cell's rated output, in mV/V as on its label: its signal at the "
                                    "rated capacity, per volt of excitation.", number(0.1, 10)),
        },
        {
            "wrist": {"chip": "splint", "input": 0, "kind": "flex", "gain": 1, "data_rate": 128},
            "fingers": {"chip": "splint", "input": 1, "kind": "flex", "gain": 1, "data_rate": 128},
            "palm": {"chip": "splint", "input": 2, "kind": "force", "gain": 1, "data_rate": 128, "range_n": 20.0},
            "pad_palm": {"chip": "pad_palm", "input": 0, "kind": "load_cell", "gain": 16, "data_rate": 475,
                         "rating_kg": 20.0, "sensitivity_mv_v": 2.0},
            "pad_fingers": {"chip": "pad_fingers", "input": 0, "kind": "load_cell", "gain": 16, "data_rate": 475,
                            "rating_kg": 20.0, "sensitivity_mv_v": 2.0},
        },
    ),
    "faults": {
        "rail_margin_v": Key(0.01, "A reading this close to the top supply rail (or, for a flex sensor, to ground) is a disconnected input, in volts.",
                             number(0.0, 0.5)),
        "stuck_after_s": Key(1.75, "The same raw value for this long is a stuck input, in seconds.", number(0.5, 600)),
        "stuck_min_samples": Key(6, "...and over at least this many readings.", number(3, 1000, integer=True)),
    },
    "positioning": {
        "wear_n": Key(1.0, "The splint is worn when the palm sensor reads at least this, in newtons.", number(0.05, 50)),
        "min_wrist_deg": Key(10.0, "Open position: wrist extension of at least this, in degrees.", number(-90, 90)),
        "max_fingers_deg": Key(20.0, "Open position: finger flexion of at most this, in degrees.", number(-30, 120)),
        "hysteresis_n": Key(0.2, "Width of the band around the wear threshold that does not flip the state, in newtons.",
                            number(0, 5)),
        "hysteresis_deg": Key(2.0, "Width of the band around the angle thresholds, in degrees.", number(0, 20)),
        "debounce_s": Key(3.0, "A change of position must hold this long to count (its time is dated back), in seconds.",
                          number(0, 120)),
        "goal_h": Key(6.0, "Daily goal of hours in the open position.", GOAL_HOURS),
        "long_bout_min": Key(20, "Open bouts at least this long are counted apart (reflex reduction shows after about 20 min), in minutes.",
                             number(1, 600, integer=True)),
    },
    "weight_bearing": {
        "start_n": Key(20.0, "A session starts when the load on the pad has stayed at or above this for start_confirm_s, in newtons.",
                       number(1, 500)),
        "start_confirm_s": Key(0.3, "...so a noisy spike starts nothing; the session is dated back to the first of those "
                               "readings (cues toward the band are not delayed), in seconds.", number(0, 5)),
        "end_n": Key(10.0, "...and ends when the load stays below this for end_after_s, in newtons.", number(0.5, 500)),
        "end_after_s": Key(2.0, "How long the load must stay below end_n to end a session, in seconds.", number(0.1, 60)),
        "wake_n": Key(5.0, "Above this load the pad is read fast (active_rate_hz), in newtons.", number(0.1, 500)),
        "active_rate_hz": Key(100.0, "Readings a second of each of the pad's channels during a session.", number(10, 400)),
        "target_low": Key(50.0, "Bottom of the therapist's target band, in target_unit.", number(0, 2000)),
        "target_high": Key(100.0, "Top of the target band (the maximum), in target_unit.", number(0, 2000, lo_open=True)),
        "target_unit": Key("N", "Unit of the band: 'N' (newtons), 'percent_body_weight' or 'percent_max_push'.",
                           choice("N", "percent_body_weight", "percent_max_push")),
        "body_weight_kg": Key(0.0, "The survivor's body weight, for loads in % of body weight; 0: not set.",
                              number(0, 400)),
        "near_max_pct": Key(90.0, "Early warning when the load reaches this % of the maximum (people overshoot).",
                            number(50, 100)),
        "too_light_s": Key(8.0, "A gentle nudge when the load stays under the band this long in a session, in seconds.",
                           number(1, 600)),
        "alarm_repeat_s": Key(1.0, "The over-maximum alarm repeats this often while the load is over, in seconds.",
                              number(0.3, 30)),
        "fingers_min_share": Key(0.15, "The fingers take load when their zone carries at least this share of it.",
                                 number(0, 1)),
        "rep_drop_pct": Key(80.0, "A weight-shift repetition: the load rises into the target band from below after it "
                            "fell under this % of the band's bottom (since the session began or the last repetition).",
                            number(1, 99)),
        "goal_reps": Key(0, "Daily goal of weight-shift repetitions; 0: none.", number(0, 10000, integer=True)),
        "tare_s": Key(2.0, "Tare averages the empty pad over this long, in seconds.", number(2, 30)),
        "tare_max_sd_n": Key(0.5, "Tare is refused when the empty pad varies more than this (standard deviation), in newtons.",
                             number(0.05, 10)),
    },
    "spasm": {
        "rise_deg": Key(25.0, "A spasm begins (while the splint is worn) when the finger flexion is at least this far above "
                        "its lowest value of the last rise_s; it is dated from that lowest value, in degrees.",
                        number(5, 120)),
        "rise_s": Key(3.0, "...within this many seconds (a slower curl is not a spasm).", number(0.5, 30)),
        "settle_deg": Key(10.0, "It ends when the fingers are back within this of that lowest value (or the splint "
                          "comes off), in degrees.", number(1, 60)),
        "vibrate": Key(False, "Answer a spasm with vibration therapy (inside every therapy limit, counted in the day's "
                       "dose, at therapy.protocol_level).", boolean),
        "vibrate_s": Key(60.0, "How long that vibration lasts, in seconds.", number(5, 1800)),
    },
    "pressure": {
        "alert_n": Key(8.0, "Skin pressure: the palm force at or above this is high, in newtons.", number(1, 100)),
        "alert_after_min": Key(5.0, "An alert when it has stayed high this long (a strap too tight, a swollen hand), "
                               "in minutes.", number(0.5, 240)),
        "rearm_n": Key(6.0, "The next alert only after the force fell under this, in newtons.", number(0, 100)),
        "cue": Key(False, "With an alert, a gentle haptic nudge on the survivor's side.", boolean),
    },
    "haptics": {
        "backend": Key("erm", "Motor: 'erm' (coin motor on a GPIO pin through a transistor), 'drv2605l' or 'none'.",
                       choice("erm", "drv2605l", "none")),
        "pin": Key(18, "GPIO (BCM number) of the ERM motor's transistor.", number(0, 27, integer=True)),
        "pwm_hz": Key(250, "PWM frequency of the ERM motor, in hertz.", number(50, 20000, integer=True)),
        "kick_ms": Key(40, "Full-power kick when the ERM motor starts from rest, in milliseconds.",
                       number(0, 200, integer=True)),
        "drv2605l_address": Key(0x5A, "I2C address of the DRV2605L (backend 'drv2605l').", number(0x03, 0x77, integer=True),
                                "0x5a"),
        "actuator": Key("erm", "Motor behind the DRV2605L: 'erm' (coin, eccentric mass) or 'lra' (linear resonant).",
                        choice("erm", "lra")),
    },
    "therapy": {
        "low_level": Key(0.5, "Motor strength of the 'low' vibration setting, 0 to 1 (about 100 Hz on a coin motor).",
                         number(0.1, 1)),
        "high_level": Key(0.85, "Motor strength of the 'high' vibration setting, 0 to 1.", number(0.1, 1)),
        "max_continuous_min": Key(30.0, "Hard limit: the motor is never on longer than this without a break, in minutes.",
                                  number(1, 120)),
        "max_daily_min": Key(90.0, "Hard limit: vibration therapy per local day, in minutes.", number(1, 600)),
        "rest_min": Key(10.0, "A real rest: the continuous limit counts the vibration since the motor was last off "
                        "this long (the protocol's short breaks do not reset it), in minutes.", number(1, 240)),
        "protocol_blocks": Key(3, "The protocol (button, or vibration_start without minutes): this many blocks...",
                               number(1, 20, integer=True)),
        "protocol_block_min": Key(10.0, "...of this many minutes each...", number(0.5, 120)),
        "protocol_break_min": Key(1.0, "...with breaks of this many minutes between them.", number(0, 60)),
        "protocol_level": Key("low", "Setting of the protocol: 'low' or 'high'.", choice("low", "high")),
        "button_pin": Key(-1, "GPIO (BCM) of a push button to GND that starts and stops the protocol; -1: none.",
                          number(-1, 27, integer=True)),
    },
    "reminders": {
        "enabled": Key(False, "Gentle positioning reminders when the splint is worn but the hand not open.", boolean),
        "after_min": Key(30.0, "Remind after the hand has been worn but not open this long, in minutes.",
                         number(1, 600)),
        "every_min": Key(60.0, "At most one reminder this often, in minutes.", number(1, 1440)),
        "from_hour": Key(8, "Reminders only from this local hour...", number(0, 23, integer=True)),
        "to_hour": Key(21, "...until this local hour (exclusive).", number(1, 24, integer=True)),
    },
    "exercise": {
        "min_rep_deg": Key(5.0, "An active extension repetition: the fingers fall at least this far below their highest "
                           "flexion since the counter was armed; it re-arms when they rise half that again, in degrees.",
                           number(1, 45)),
        "max_min": Key(30.0, "An exercise session ends this long after its start, and exercise_start (or the button) "
                       "without minutes asks for this long, in minutes.", number(1, 240)),
        "rate_hz": Key(200.0, "Readings a second of the fingers channel during an exercise session (short flickers, "
                       "and a mean of 0.1 s against the noise).", number(20, 400)),
        "data_rate": Key(860, "ADS1115 samples per second of the fingers channel during a session (a short conversion "
                         "leaves the chip free for its other channels): 8, 16, 32, 64, 128, 250, 475 or 860.",
                         choice(*DATA_RATES)),
        "reward": Key(True, "A short buzz on each repetition counted.", boolean),
        "progress_every": Key(0, "A distinct triple buzz instead on every this many repetitions of a session; 0: none.",
                              number(0, 1000, integer=True)),
        "goal_reps": Key(0, "Daily goal of active extension repetitions; 0: none.", number(0, 100000, integer=True)),
    },
    "dashboard": {
        "listen": Key("127.0.0.1:8080", "Where `pi-agent dashboard` listens, HOST:PORT (this machine only by default).",
                      text(r"[^\s:]+:\d{1,5}", "HOST:PORT")),
        "password_file": Key("dashboard_password", "File holding the dashboard's password, hashed (scrypt), "
                             "relative to this file's folder: written by `pi-agent dashboard-password`, "
                             "readable by its owner only (mode 0600).", text(r".+", "a file name")),
        "password_hash": Key("", "Only for configurations of older versions, which kept the hash here: "
                             "`pi-agent dashboard-password` moves it to dashboard.password_file.",
                             text(r"scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+",
                                  "a hash written by `pi-agent dashboard-password`")),
        "session_hours": Key(12.0, "A login lasts this long, in hours.", number(0.05, 720)),
    },
    "store": {
        "checkpoint_s": Key(60, "Write the totals to the store this often, in seconds: a power cut loses at most this much.",
                            number(5, 3600)),
    },
    "mqtt": {
        "broker": Key("", "Broker URL, mqtt://host:port or mqtts://host:port; empty: no MQTT.", broker),
        "username": Key("", "User name at the broker; empty: none.", text()),
        "password_file": Key("", f"File holding the broker password (or set ${PASSWORD_ENV}); never put it here.",
                             PATH_NAME),
        "ca_file": Key("", "With mqtts://: the CA certificate file that signed the broker's; empty: the system's CAs.",
                       PATH_NAME),
        "cert_file": Key("", "With mqtts://: this device's client certificate file; empty: none.", PATH_NAME),
        "key_file": Key("", "With mqtts://: the key of the client certificate; empty: none.", PATH_NAME),
        "allow_insecure": Key(False, "Allow a user name and password in clear text to a broker that is not on this machine.",
                              boolean),
        "protocol": Key("5", "MQTT version: '5', or '3.1.1' (takes no requests: it cannot tell a retained one).",
                        choice("5", "3.1.1")),
        "keepalive_s": Key(30, "Keep-alive interval, in seconds: the broker sends 'offline' after 1.5 of them without word.",
                           number(2, 3600, integer=True)),
        "heartbeat_s": Key(30.0, "The state is published at least this often, in seconds.", number(1, 3600)),
        "reconnect_max_s": Key(60.0, "Reconnection waits double from 1 s up to this, in seconds.", number(1, 3600)),
        "load_rate_hz": Key(20.0, "Live load messages a second during weight bearing.", number(10, 100)),
        "outbox_max_events": Key(5000, "Events kept for the broker at most (about 300 bytes each); the oldest go first.",
                                 number(100, 1_000_000, integer=True)),
        "outbox_max_days": Key(60.0, "Events older than this (days) are dropped unsent, counted and reported.",
                               number(1, 3650)),
        "discovery": Key(True, "Announce the device to Home Assistant (MQTT discovery).", boolean),
        "discovery_prefix": Key("homeassistant", "Home Assistant's discovery prefix.",
                                text(r"[A-Za-z0-9_-]+", "letters, digits, _ and -")),
    },
}


def did_you_mean(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def cross_check(v: dict[str, Any], problems: list[str]) -> None:
    """The rules between keys, on checked values (section -> key -> value): each broken
    one adds a line to ``problems``."""
    chips, sensors = v["chips"], v["sensors"]
    said = {p.split(": ", 1)[0] for p in problems}      # a key already refused: its stand-in value is not judged
    addresses: dict[int, str] = {}
    for name, chip in chips.items():
        if f"chips.{name}.address" in said:
            continue
        if chip["address"] in addresses:
            problems.append(f"chips.{name}.address: expected an address no other chip uses, "
                            f"got 0x{chip['address']:02x} (also chips.{addresses[chip['address']]})")
        addresses[chip["address"]] = name
    used: dict[tuple[str, int], str] = {}
    for name, s in sensors.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"sensors.{name}: expected a channel name of lower-case letters, digits and _")
        if s["chip"] not in chips:
            problems.append(f"sensors.{name}.chip: expected one of the chips "
                            f"{', '.join(sorted(chips))}, got '{s['chip']}'{did_you_mean(s['chip'], chips)}")
            continue
        if s["kind"] == "load_cell" and s["input"] not in (0, 2):
            problems.append(f"sensors.{name}.input: expected 0 (the pair A0-A1) or 2 (A2-A3) for a load cell, "
                            f"got {s['input']}")
            continue
        if f"sensors.{name}.input" in said:
            continue
        for i in (s["input"], s["input"] + 1) if s["kind"] == "load_cell" else (s["input"],):
            where = (s["chip"], i)
            if where in used:
                problems.append(f"sensors.{name}.input: expected an input no other channel uses, "
                                f"got {s['input']} (A{i} is also sensors.{used[where]})")
            used[where] = name
    for name, chip in chips.items():
        wired = sorted(n for n, s in sensors.items() if s["chip"] == name)
        if chip["mode"] == "continuous" and len(wired) > 1:
            problems.append(f"chips.{name}.mode: expected 'single' for a chip with {len(wired)} channels "
                            f"({', '.join(wired)}), got 'continuous' (it converts one input only)")
    if not sensors:
        problems.append("sensors: expected at least one channel, got none")
    wb = v["weight_bearing"]
    if wb["target_low"] >= wb["target_high"]:
        problems.append(f"weight_bearing.target_low: expected less than target_high ({wb['target_high']:g}), "
                        f"got {wb['target_low']:g}")
    if wb["end_n"] >= wb["start_n"]:
        problems.append(f"weight_bearing.end_n: expected less than start_n ({wb['start_n']:g}), got {wb['end_n']:g}")
    pr = v["pressure"]
    if pr["rearm_n"] >= pr["alert_n"]:
        problems.append(f"pressure.rearm_n: expected less than alert_n ({pr['alert_n']:g}), got {pr['rearm_n']:g}")
    sp = v["spasm"]
    if sp["settle_deg"] >= sp["rise_deg"]:
        problems.append(f"spasm.settle_deg: expected less than rise_deg ({sp['rise_deg']:g}), got {sp['settle_deg']:g}")
    th = v["therapy"]
    if th["protocol_block_min"] > th["max_continuous_min"]:
        problems.append(f"therapy.protocol_block_min: expected at most max_continuous_min "
                        f"({th['max_continuous_min']:g}), got {th['protocol_block_min']:g}")
    rem = v["reminders"]
    if rem["from_hour"] >= rem["to_hour"]:
        problems.append(f"reminders.from_hour: expected before to_hour ({rem['to_hour']}), got {rem['from_hour']}")
    ex = v["exercise"]
    if ex["data_rate"] < 2 * ex["rate_hz"]:
        problems.append(f"exercise.data_rate: expected at least twice exercise.rate_hz ({2 * ex['rate_hz']:g} "
                        f"conversions a second), got {ex['data_rate']}")
    if wb["wake_n"] > wb["start_n"]:
        problems.append(f"weight_bearing.wake_n: expected at most start_n ({wb['start_n']:g}), got {wb['wake_n']:g}")
    _check_pad_reaches_band(sensors, wb, problems)


def band_top_n(wb: dict[str, Any]) -> float | None:
    """The top of the target band in newtons, when the configuration alone says it (a band
    in % of the maximum push depends on the push measured at calibration)."""
    if wb["target_unit"] == "N":
        return wb["target_high"]
    if wb["target_unit"] == "percent_body_weight" and wb["body_weight_kg"] > 0:
        return wb["target_high"] / 100 * wb["body_weight_kg"] * G
    return None


def _check_pad_reaches_band(sensors: dict[str, Any], wb: dict[str, Any], problems: list[str]) -> None:
    """Each zone of the pad must measure up to the band's top: the whole load may rest on
    one zone (the heel of the hand), and a sensor that saturates below the band would
    read a load in the band, or over it, as one below. One line for the pad."""
    top = band_top_n(wb)
    if top is None:
        return
    for kind, key in (("force", "range_n"), ("load_cell", "rating_kg")):
        short = [n for n in PAD_ZONES if n in sensors and sensors[n]["kind"] == kind and reach(sensors[n]) < top]
        if not short:
            continue
        paths = ", ".join(f"sensors.{n}.{key}" for n in short)
        found = ", ".join(f"{sensors[n][key]:g}" for n in short)
        if kind == "force":
            problems.append(f"{paths}: expected at least the target band's top ({top:g} N, which may rest on "
                            f"one zone), got {found}: force-sensing resistors cannot measure the band; build "
                            f"the pad with load cells (kind = \"load_cell\", see the README's wiring)")
        else:
            problems.append(f"{paths}: expected load cells rated for at least the target band's top ({top:g} N "
                            f"= {top / G:.1f} kg, which may rest on one zone), got {found}")


def reach(sensor: dict[str, Any]) -> float:
    """The highest load a force channel measures, in newtons: a force-sensing resistor's
    range, a load cell's rating (flex channels measure no load: infinity)."""
    if sensor["kind"] == "force":
        return sensor["range_n"]
    if sensor["kind"] == "load_cell":
        return sensor["rating_kg"] * G
    return float("inf")


