"""The wizard of ``pi-agent calibrate pad``: walks a person through calibrating the table pad.

1. Tare: the empty pad, averaged over a few seconds; refused when it is not steady.
2. Known weights on each zone. A load cell is a straight line from the empty pad: one
   weight gives its slope, and two or more are checked to lie on one line (within 1 %),
   which finds a weight touching the frame, a plate that rubs, or a mass typed wrong; a
   zone whose weights do not is done again. For a pad of force-sensing resistors each
   weight becomes a point of that zone's table of counts to newtons, which starts at the
   empty pad; they are far from linear, so it asks for two weights at least (several
   spanning the loads expected are best), and warns, and asks again, before going on
   with one.
3. Maximum push: the person pushes as hard as is comfortable for about 5 seconds; the
   maximum is kept (targets may be set in % of it).

The new calibration is written, dated, to the calibration file, atomically, by changing
its values where they stand: the rest of the file (the splint's sensors, the comments)
is kept as it was. ``scenarios/calibration-pad.json`` plays a session of it on simulated
hardware. It waits for what the person does
(a weight placed and steady, a weight taken off), so it works at a person's pace on a
Pi, and in virtual time with ``--simulate SCENARIO`` for tests.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from typing import TextIO

from pi_agent.core.weight_bearing import resolve_band
from pi_agent.errors import InputError
from sensors.array import SensorArray
from sensors.calibration import PAD, ForceCalibration, LoadCellCalibration, PadCalibration
from sensors.units import G, lsb_volts

ZONES = {"pad_palm": "PALM zone (under the heel of the hand)",
         "pad_fingers": "FINGERS zone (under the fingers)"}
RATE_HZ = 50.0
WAIT_S = 120.0
MIN_KG, MAX_KG = 0.1, 200.0   # a known weight: above the pad's noise, within its cells' rating
MASS = re.compile(r"[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+")   # a mass as people type it: 2, 0.5, 2,5, .5
TRIES = 3             # a zone's weights are asked for again at most this often
LABEL_OFF = 0.25      # a load cell's measured output this far from its label is pointed out


class Abort(InputError):
    pass


def above_empty(counts: float, tare: float) -> str:
    """Where a reading stands against the empty pad, in words: never a negative "above"."""
    if counts <= tare:
        return f"at or below the empty pad ({tare:.0f} counts)"
    return f"{counts - tare:.0f} counts above the empty pad"


def band_note(wb, best: float) -> str | None:
    """What to say when the configured target band (``wb``: ``[weight_bearing]``) starts
    above the maximum push ``best`` (the person could not reach it), or ends above it (the
    over-the-maximum alarm, at the band's top, could never sound). A band in % of the
    maximum push follows the push."""
    band = resolve_band(wb.target_low, wb.target_high, wb.target_unit, body_weight_kg=wb.body_weight_kg,
                        max_push_n=best)
    if band is None or wb.target_unit == "percent_max_push" or band.high_n <= best:
        return None
    again = ("Ask the therapist to set the band again, or set it in % of the maximum push "
             "(target_unit = \"percent_max_push\").")
    if band.low_n > best:
        return (f"Note: the target band in the configuration starts at {band.low_n:.1f} N, above this maximum "
                f"push ({best:.1f} N): the hand could not reach it. {again}")
    return (f"Note: this maximum push ({best:.1f} N) is under the top of the target band in the configuration "
            f"({band.high_n:.1f} N): the over-the-maximum alarm, at the band's top, could not sound before the "
            f"hand's own limit. {again}")


class PadWizard:
    def __init__(self, cfg, array: SensorArray, channels, clock, stdin: TextIO, stdout: TextIO) -> None:
        self.cfg = cfg
        self.array = array
        self.channels = channels
        self.clock = clock
        self.stdin = stdin
        self.out = stdout
        self._next = clock.monotonic()

    # -- talking to the person ----------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def ask(self, prompt: str) -> str:
        self.out.write(prompt)
        self.out.flush()
        line = self.stdin.readline()
        if not line:
            raise Abort("calibration stopped: no more input")
        if not self.stdin.isatty():
            self.out.write("\n")          # the answer did not echo: end the prompt's line
        return line.strip()

    # -- reading the pad -------------------------------------------------------------------
    def sample(self) -> dict[str, int]:
        """One reading of both zones' raw counts, RATE_HZ times a second."""
        now = self.clock.monotonic()
        if self._next > now:
            self.clock.sleep(self._next - now)
        self._next = max(self._next + 1.0 / RATE_HZ, self.clock.monotonic())
        raws = {}
        for r in self.array.read(ZONES):
            if r.channel in ZONES:
                if r.value is None:      # (an overloaded cell still measures: its load counts)
                    raise Abort(f"the {r.channel} sensor is in fault ({r.fault}): check its wiring, then start again")
                raws[r.channel] = r.raw
        return raws

    def is_load_cell(self, channel: str) -> bool:
        return self.channels[channel].bridge

    def newtons(self, channel: str, raw: float, cal=None) -> float:
        return (cal or self.channels[channel].calibration).to_physical(raw)

    def collect(self, seconds: float, label: str) -> list[dict[str, int]]:
        samples, start, shown = [], self.clock.monotonic(), 0
        while self.clock.monotonic() - start < seconds:
            samples.append(self.sample())
            elapsed = self.clock.monotonic() - start
            if int(elapsed) > shown:
                shown = int(elapsed)
                self.say(f"  {label}... {shown} s")
        return samples

    def wait_until(self, test, window_s: float, what: str) -> list[dict[str, int]]:
        """Read until ``test(samples of the last window_s)`` holds; give up after WAIT_S."""
        start = self.clock.monotonic()
        window: list[tuple[float, dict[str, int]]] = []
        while self.clock.monotonic() - start < WAIT_S:
            t = self.clock.monotonic()
            window.append((t, self.sample()))
            while len(window) > 1 and window[1][0] <= t - window_s:
                window.pop(0)              # keep the window just covering window_s
            if window[-1][0] - window[0][0] >= window_s and test([s for _, s in window]):
                return [s for _, s in window]
        raise Abort(f"I waited {WAIT_S:.0f} seconds and did not see {what}. Start again when ready.")

    # -- the steps -------------------------------------------------------------------------
    def tare(self) -> dict[str, float]:
        wb = self.cfg.weight_bearing
        for attempt in range(3):
            self.ask("Step 1 of 3: take everything off the pad and keep the table still, then press Enter. ")
            samples = self.collect(wb.tare_s, "measuring the empty pad")
            loads = [sum(self.newtons(ch, s[ch]) for ch in ZONES) for s in samples]
            sd = statistics.pstdev(loads)
            if sd <= wb.tare_max_sd_n:
                tare = {ch: round(statistics.fmean(s[ch] for s in samples), 1) for ch in ZONES}
                self.say(f"Empty pad measured (it varied by {sd:.2f} N): "
                         + ", ".join(f"{ZONES[ch].split(' (')[0]} {tare[ch]:.0f} counts" for ch in ZONES) + ".")
                return tare
            self.say(f"The pad was not steady: it varied by {sd:.2f} N, more than {wb.tare_max_sd_n:g} N. "
                     f"Nothing was changed; let us try again.")
        raise Abort("tare refused three times: the pad was never steady. Nothing was changed.")

    def known_weights(self, channel: str, tare: float) -> tuple[tuple[float, float], ...]:
        points: list[tuple[float, float]] = []
        zone = ZONES[channel]
        cell = self.is_load_cell(channel)
        old = self.channels[channel].calibration.with_tare(tare, "")
        if cell:
            self.say(f"Step 2 of 3: known weights on the {zone}. One is enough for a load cell; two or more "
                     f"(for example 2, 5 and 10 kg) also check that the pad measures in a straight line.")
        else:
            self.say(f"Step 2 of 3: known weights on the {zone}. Use two at least, better three or more that "
                     f"span the loads you expect (for example 1, 2, 5 and 10 kg).")
        warned = False
        while True:
            if not points:
                prompt = f"Put a known weight on the {zone}, then type its mass in kg and press Enter: "
            elif cell:
                prompt = (f"Another weight on the {zone}? Put it on and type its mass in kg, "
                          f"or just press Enter when this zone is done: ")
            elif len(points) == 1:
                prompt = (f"Now a second, heavier weight on the {zone}: put it on, then type its mass in kg "
                          f"and press Enter: ")
            else:
                prompt = (f"Another weight on the {zone}? Put it on and type its mass in kg, "
                          f"or just press Enter when this zone is done: ")
            answer = self.ask(prompt)
            if not answer:
                if len(points) >= 2 or (points and (warned or cell)):
                    break
                if not points:
                    self.say("At least one weight is needed for this zone, better two.")
                    continue
                kg = points[0][1] / G
                self.say(f"Only one weight on the {zone}. A force sensor is not a straight line: with one "
                         f"weight, a load well above {kg:g} kg will read too low. Put a second, heavier weight "
                         f"on it and type its mass, or press Enter again to go on with one weight.")
                warned = True
                continue
            try:
                if not MASS.fullmatch(answer):        # not Python's syntax: no 1_0, 1e1, nan
                    raise ValueError
                kg = float(answer.replace(",", "."))
                if not MIN_KG <= kg <= MAX_KG:
                    raise ValueError
            except ValueError:
                self.say(f"Please type a mass in kilograms from {MIN_KG:g} to {MAX_KG:g}, such as 2 or 0.5 "
                         f"(got '{answer}'); a lighter weight is lost in the pad's noise.")
                continue

            def steady_and_loaded(window):
                """Loaded, quiet, and not drifting (no ramp still ending in the window). A load
                cell wired the wrong way round reads the load below its empty pad: it is
                loaded too, to be said."""
                values = [self.newtons(channel, s[channel], old) for s in window]
                mean = abs(statistics.fmean(values)) if cell else statistics.fmean(values)
                half = len(values) // 2
                drift = abs(statistics.fmean(values[:half]) - statistics.fmean(values[half:]))
                return (mean >= 0.5 and statistics.pstdev(values) <= max(0.5, 0.03 * mean)
                        and drift <= max(0.1, 0.005 * mean))

            window = self.wait_until(steady_and_loaded, 2.0, f"a steady weight on the {zone}")
            counts = round(statistics.fmean(s[channel] for s in window), 1)
            newtons = kg * G
            candidate = sorted([(tare, 0.0), *points, (counts, newtons)], key=lambda p: p[1])
            if cell and old.to_physical(counts) < -0.5 * newtons:
                self.say(f"That reading, {counts:.0f} counts, went down with the weight on: the load cell's signal "
                         f"leads are swapped. Swap its S+ and S- (green and white) at the board, then start again. "
                         f"It was not recorded.")
            elif counts <= tare:
                self.say(f"That reading, {counts:.0f} counts, is {above_empty(counts, tare)}: is the weight on "
                         f"the {zone}? It was not recorded.")
            elif any(n1 <= n0 or c1 <= c0 for (c0, n0), (c1, n1) in zip(candidate, candidate[1:])):
                self.say("That reading does not fit the others (each heavier weight must read higher, and "
                         "each weight only once). Is it on the right zone? It was not recorded.")
            else:
                points = candidate[1:]
                self.say(f"Recorded {kg:g} kg ({newtons:.1f} N) at {counts:.0f} counts "
                         f"({above_empty(counts, tare)}).")
            self.say("Take the weight off.")
            self.wait_until(lambda w: abs(statistics.fmean(self.newtons(channel, s[channel], old) for s in w)) < 0.5,
                            1.0, f"the {zone} empty again")
        return ((tare, 0.0), *points)

    def zone_calibration(self, channel: str, tare: float, today: str) -> ForceCalibration | LoadCellCalibration:
        """A zone's known weights, made into its calibration; a load cell's asked for again
        (at most ``TRIES`` times) while they do not lie on a straight line."""
        gain = self.channels[channel].gain
        if not self.is_load_cell(channel):
            return ForceCalibration(tare, self.known_weights(channel, tare), gain, today)
        for _ in range(TRIES):
            cal = LoadCellCalibration(tare, self.known_weights(channel, tare), gain, today)
            problem = cal.linearity_problem()
            if problem is None:
                self.describe_cell(channel, cal)
                return cal
            self.say(f"On the {ZONES[channel]}, {problem}. Is a weight touching the frame, does the top plate "
                     f"rub or rock, or was a mass typed wrong? Nothing was recorded for this zone; "
                     f"let us do its weights again.")
        raise Abort(f"the known weights on the {ZONES[channel]} did not lie on a straight line {TRIES} times. "
                    f"Nothing was changed.")

    def describe_cell(self, channel: str, cal: LoadCellCalibration) -> None:
        """The zone's resolution, and its output against its label (a cell that gives far
        less than its label says carries only part of the load)."""
        s = self.cfg.sensors[channel]
        rated_n = s.rating_kg * G
        measured = rated_n / cal.newtons_per_count * lsb_volts(cal.gain) / self.cfg.hardware.vdd * 1000
        zone = ZONES[channel].split(" (")[0]
        line = (f"{zone}: {cal.newtons_per_count:.3f} N a count; the cell gives {measured:.2f} mV/V "
                f"at its {s.rating_kg:g} kg")
        if len(cal.points) > 2:
            line += f"; its {len(cal.points) - 1} weights on one straight line"
        self.say(line + ".")
        if abs(measured / s.sensitivity_mv_v - 1) > LABEL_OFF:
            self.say(f"Note: its label says {s.sensitivity_mv_v:g} mV/V. If the label is right, part of the load "
                     f"goes past the cell: check that the top plate rests on the cells only.")

    def max_push(self, cals: dict[str, ForceCalibration | LoadCellCalibration]) -> float:
        wake = self.cfg.weight_bearing.wake_n
        self.ask("Step 3 of 3: put the hand flat on the pad. Press Enter, then push down as hard as is "
                 "comfortable for about 5 seconds. ")

        def total(s):
            return sum(cals[ch].to_physical(s[ch]) for ch in ZONES)

        threshold = max(wake, 10.0)
        self.wait_until(lambda w: min(total(s) for s in w) >= threshold, 0.3, "a push on the pad")
        samples = self.collect(5.0, "keep pushing")
        loads = [total(s) for s in samples]
        smooth = [statistics.fmean(loads[max(0, i - 4):i + 1]) for i in range(len(loads))]
        best = max(smooth)
        self.say(f"Maximum push: {best:.1f} N ({best / G:.1f} kg). You can relax now.")
        # Beyond an FSR's heaviest known weight its curve is a guess; beyond a load cell's
        # rating the cell is overloaded. Either is said.
        limit = {ch: self.channels[ch].rating_n if self.is_load_cell(ch) else cals[ch].table[-1][1] for ch in ZONES}
        over = [ch for ch in ZONES if max(cals[ch].to_physical(s[ch]) for s in samples) > limit[ch]]
        cells = [ch for ch in over if self.is_load_cell(ch)]
        fsrs = [ch for ch in over if not self.is_load_cell(ch)]
        if cells:
            self.say("The push went beyond the rating of the load cell under the "
                     + " and the ".join(f"{ZONES[ch].split(' (')[0]} ({limit[ch] / G:g} kg)" for ch in cells)
                     + ": the figure is still measured, but a cell rated higher would be safer for this pad.")
        if fsrs:
            self.say("The push went beyond the heaviest known weight on the "
                     + " and the ".join(f"{ZONES[ch].split(' (')[0]} ({limit[ch] / G:g} kg)" for ch in fsrs)
                     + ": beyond it the figure is an estimate; a heavier weight would make it exact.")
        return best

    def run(self) -> dict:
        self.say("Calibrating the weight-bearing pad. Type Ctrl+C at any time to stop; nothing is saved until the end.")
        tare = self.tare()
        today = dt.date.fromtimestamp(self.clock.wall()).isoformat()
        cals = {ch: self.zone_calibration(ch, tare[ch], today) for ch in ZONES}
        best = self.max_push(cals)
        for ch, cal in cals.items():
            if isinstance(cal, ForceCalibration) and len(cal.table) < 3:
                self.say(f"Note: the {ZONES[ch]} has one known weight only; calibrate it again with two or "
                         f"more when you can.")
            elif isinstance(cal, LoadCellCalibration) and len(cal.points) < 3:
                self.say(f"Note: the {ZONES[ch]} has one known weight only: its load cell's slope rests on it "
                         f"alone. Two or more would also check that it measures in a straight line.")
        note = band_note(self.cfg.weight_bearing, best)
        if note is not None:
            self.say(note)
        return {**cals, PAD: PadCalibration(round(best, 1), today)}
