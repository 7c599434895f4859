"""The caregiver dashboard in a real headless Chromium, against a real Mosquitto, real
`pi-agent run --simulate` processes and devices that publish what a test tells them: what
a device says and is asked (malformed messages and a hung device beside healthy ones, the
clinical signals of a real monitor, an exercise session started and stopped from the page).

Every wait is for the page's state (WebDriverWait); timing checks compare the page's own
clock (Date.now(), recorded by an observer in the page) and the dashboard's timestamps.
With OPENPALM_SCREENSHOTS=<folder>, the tests also save the screenshots of docs/. Two
monitors as a caregiver sees them and a lost broker are in test_dashboard_browser.py; the
helpers in tests/dashboard_page.py.
"""

from __future__ import annotations

import json
import re

import pytest

from agentproc import AgentProcess, teardown, write_config
from broker import Broker, Listener
from dashboard_page import (CHROMEDRIVER, CHROMIUM, OPEN, attr, browser, card_text, click_fresh, condition, js, login,
                            problems_in_console, shoot, until)
from dashboard_payloads import real_payloads
from dashboard_proc import start_dashboard, stop
from pi_agent import config
from pi_agent.core.days import Day
from pi_agent.store import Store

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Debian's chromium and chromium-driver are not installed")


# -- malformed messages and a hung device --------------------------------------------------------------
def test_malformed_messages_from_one_device_leave_the_others_updating(tmp_path):
    """One device sends missing keys, wrong types, non-JSON, NaN, bad dates: its card says
    its data could not be read; the other card keeps updating to every new value; a reload
    shows both; a device that stays connected but stops sending turns 'not heard from'
    after 2.5 heartbeats (by the dashboard's and the page's clocks); no console errors."""
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker.url, "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 2\n")
    payloads = real_payloads(config.load(config.locate(None)))
    sender = Listener(broker.port, topics=("nothing/here",))
    assert sender.connected.wait(10)
    driver = browser(tmp_path)

    def good_state(open_s):
        state = json.loads(json.dumps(payloads["state"]))
        state["today"]["open_s"] = open_s
        state["today"].update(spasms=3, spasm_s=75.0, pressure_alerts=1,      # a newer agent's keys
                              vibration_s=300.0, vibration_unconfirmed_s=190.0)
        return json.dumps(state).encode()

    def send_good(open_s):
        sender.publish("openpalm/good/state", good_state(open_s), retain=True)

    def shows_good(open_s):
        return lambda d: attr(d, "good", ".open-today", "data-open-s") == f"{open_s:.1f}"

    broken = json.loads(json.dumps(payloads["state"]))
    del broken["today"]["weight_bearing"]["mean_n"]          # the issue's own case: another version's state
    wrong_type = json.loads(json.dumps(payloads["state"]))
    wrong_type["faults"] = "none"
    bad_time = json.loads(json.dumps(payloads["state"]))
    bad_time["time"] = "2026-02-30T10:00:00+02:00"
    bad_day = {**payloads["day"], "date": "2026-02-30"}
    bad_event = {**payloads["alert"], "time": "soon"}
    nasty = [("state", json.dumps(broken).encode(), "today.weight_bearing.mean_n: missing"),
             ("state", b"{not json", "expected JSON"),
             ("state", json.dumps(wrong_type).encode(), "faults: expected a list"),
             ("state", json.dumps(payloads["state"]).replace('"open_s": ', '"open_s": NaN, "x": ', 1).encode(),
              "NaN is not a number JSON allows"),
             ("state", json.dumps(bad_time).encode(), "time: expected a date and time"),
             ("day/2026-02-30", json.dumps(bad_day).encode(), "the topic's date: expected a date"),
             ("event", json.dumps(bad_event).encode(), "time: expected a date and time"),
             ("load", b'{"ts": 1, "load_n": "heavy"}', "load_n: expected a number")]
    try:
        sender.publish("openpalm/bad/status", b"online", retain=True)
        sender.publish("openpalm/bad/state", json.dumps(payloads["state"]).encode(), retain=True)
        sender.publish("openpalm/good/status", b"online", retain=True)
        send_good(100.0)
        login(driver, base)
        until(driver, shows_good(100.0), 20, "the good device's card")
        until(driver, lambda d: card_text(d, "bad", ".open-today") is not None, 20, "the other device's card")
        assert card_text(driver, "good", ".spasms") == "Spasms today: 3 (1\u00a0min in all)"
        assert "Today: 5\u00a0min. 3\u00a0min of it unconfirmed: a therapy was interrupted" in \
            card_text(driver, "good", ".vibration")
        pressure = {**payloads["alert"], "id": "p1", "reason": "skin_pressure",
                    "time": payloads["state"]["time"], "text": "High pressure under the palm for 5 minutes"}
        assert card_text(driver, "good", ".alarm.pressure") == \
            "⚠ High pressure under the palm: check the skin and loosen the straps.", "from today's count"
        sender.publish("openpalm/good/event", json.dumps(pressure).encode())
        alarm = until(driver, lambda d: " at " in card_text(d, "good", ".alarm.pressure") and
                      card_text(d, "good", ".alarm.pressure"), 20, "the skin-pressure alarm with its time")
        assert alarm.startswith("⚠ High pressure under the palm at ") and alarm.endswith(
            "check the skin and loosen the straps.")
        for i, (topic, payload, said) in enumerate(nasty):
            sender.publish(f"openpalm/bad/{topic}", payload, retain=topic == "state")
            until(driver, lambda d: said in (card_text(d, "bad", ".alarm.unreadable") or ""), 20, f"the bad card: {said}")
            assert "Data from this device could not be read" in card_text(driver, "bad", ".alarm.unreadable")
            send_good(200.0 + i)
            until(driver, shows_good(200.0 + i), 20, "the good card to update")
            assert card_text(driver, "good", ".alarm.unreadable") is None
        driver.refresh()
        until(driver, lambda d: js(d, "return typeof page === 'object' && page.fleet !== null"), 20, "the reloaded page")
        until(driver, lambda d: card_text(d, "bad", ".alarm.unreadable") is not None and
              attr(d, "good", ".open-today", "data-open-s") is not None, 20, "both cards after a reload")
        send_good(999.0)
        until(driver, shows_good(999.0), 20, "the good card to update after a reload")

        # A device that stays connected (its client answers the broker's pings) but sends nothing.
        hung = Listener(broker.port, topics=("nothing/here",))
        assert hung.connected.wait(10)
        hung.publish("openpalm/hung/status", b"online", retain=True)
        hung.publish("openpalm/hung/state", json.dumps(payloads["state"]).encode(), retain=True)
        until(driver, lambda d: condition(d, "hung") == "online", 20, "the hung device online")
        # When the card turns, on the page's clock; and how late the page's own timers ran
        # meanwhile (a browser short of CPU runs them late, the page's redraw too).
        js(driver, "window.turned = null; window.lag = 0; let last = Date.now(); setInterval(() => {"
                   " const now = Date.now(); window.lag = Math.max(window.lag, now - last - 100); last = now;"
                   " const c = document.querySelector('article[data-device=\"hung\"]');"
                   " if (window.turned === null && c && c.dataset.condition === 'silent') window.turned = now; }, 100);")
        until(driver, lambda d: js(d, "return window.turned"), 30, "the hung device to be 'not heard from'")
        turned = js(driver, "return window.turned") / 1000
        last_seen = js(driver, "return page.fleet.devices.find(d => d.id === 'hung').last_seen")
        silent_after = js(driver, "return page.fleet.limits.silent_after_s")
        assert silent_after == 5.0
        lag = js(driver, "return window.lag") / 1000
        assert silent_after <= turned - last_seen <= silent_after + 3 + lag, (turned - last_seen, lag)
        seen = card_text(driver, "hung", ".seen")
        assert seen.startswith("Not heard from for over 5\u00a0s") and "Last seen" in seen
        assert "just now" not in seen
        hung.close()
        assert not problems_in_console(driver), problems_in_console(driver)
        log = (tmp_path / "dashboard.log").read_text()
        assert log.count("today.weight_bearing.mean_n: missing") == 1, "logged once"

        # Should anything odd reach the page all the same, it marks that card only.
        drawn = js(driver, """
          const evil = {id: "evil", condition: "online"};
          Object.defineProperty(evil, "state", {enumerable: true, get() { throw new Error("boom"); }});
          const junk = {id: "junk", condition: "online", last_seen: "x", problem: 4, days: [1], sessions: "x",
                        alerts: [null, 3, {time: 5}], load: {load_n: "x"},
                        state: {today: 5, faults: "x", weight_bearing: null, time: "2026-13-45", position: {},
                                channels: 3, therapy: [], goal_h: "6", position_since: []}};
          page.fleet = {...page.fleet, devices: [...page.fleet.devices, evil, null, junk]};
          safeRender();
          const text = (id) => { const c = document.querySelector(`article[data-device="${id}"]`);
                                 return c && c.textContent; };
          return {evil: text("evil"), junk: text("junk"), good: text("good"), cards: document.querySelectorAll("article.card").length};""")
        assert "could not be shown" in drawn["evil"] and "Position not known" in drawn["junk"]
        assert "Open today" in drawn["good"] and drawn["cards"] == 6, drawn
        # The page draws itself again every second (and on every update), so on a busy machine
        # the console may hold the same warning more than once: each one is evil's.
        warned = [e["message"] for e in problems_in_console(driver)]
        assert warned and all("the card of evil could not be drawn" in w for w in warned), warned
    finally:
        teardown(driver.quit, sender.close, lambda: stop(proc), broker.stop)


# -- clinical signals: weight shifts, spasms, skin pressure --------------------------------------------
def test_clinical_signals_of_a_real_monitor(tmp_path):
    """A real agent: weight shifts during a session against the daily goal; high pressure under
    the palm before its alert, then the alert and today's count; a spasm while it goes on and
    today's count of spasms with their time; a spasm line over the 14-day chart, from the
    stored days and today, broken where a day has no data, in the chart's spoken label too;
    the spasm and the alert as MQTT events, the new entities in the discovery message; no
    console errors."""
    import datetime as dt
    broker = Broker(tmp_path / "broker").start()
    today = "2026-05-01"
    store = Store(tmp_path / "a1" / "state")
    counts, records = {}, {}
    for i in range(1, 14):
        day = (dt.date.fromisoformat(today) - dt.timedelta(days=i)).isoformat()
        if i == 6:
            continue                                      # a day without data breaks the line
        rec = Day(goal_s=6 * 3600.0).to_json()
        rec.update(open_s=3600.0 * (i % 6), worn_s=3600.0 * 7, spasms=i % 5, spasm_s=8.0 * (i % 5))
        counts[day], records[day] = i % 5, rec
    store.checkpoint(records)
    store.close()
    on = {**OPEN, "pad_palm": 0, "pad_fingers": 0}
    rock = [{"ramp": 1.5, "to": {"pad_palm": 20, "pad_fingers": 10}}, {"hold": 0.5},
            {"ramp": 1.5, "to": {"pad_palm": 45, "pad_fingers": 25}}, {"hold": 1}]
    scenario = {"start": f"{today}T10:00:00", "timezone": "UTC", "seed": 4, "noise": {"deg": 0.5, "newton": 0.2},
                "steps": [{"hold": 5, "set": on}, {"ramp": 3, "to": {"palm": 10}},        # high pressure from ~7 s
                          {"ramp": 2, "to": {"pad_palm": 45, "pad_fingers": 25}}, *rock * 4,   # 5 weight shifts
                          {"ramp": 0.5, "to": {"fingers": 60}}, {"hold": 60},        # a spasm, the alert (~67 s) in it
                          {"ramp": 1, "to": {"fingers": 5}}, {"hold": 600}]}
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n[weight_bearing]\ngoal_reps = 20\n"
                                          "[pressure]\nalert_after_min = 1.0\n")
    listener = Listener(broker.port, topics=("openpalm/kitchen/event", "homeassistant/device/openpalm_kitchen/config"))
    assert listener.connected.wait(10)
    agent = AgentProcess(scenario, tmp_path / "a1", speed=2, broker=broker.url, device="kitchen", config=cfg)
    proc, base = start_dashboard(tmp_path, broker.url, "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n")
    driver = browser(tmp_path)
    card = 'article[data-device="kitchen"]'
    try:
        login(driver, base)
        reps = until(driver, lambda d: (card_text(d, "kitchen", ".reps") or "").endswith("of 20)")
                     and attr(d, "kitchen", ".reps", "data-reps") == "5" and card_text(d, "kitchen", ".reps"),
                     60, "five weight shifts in the session")
        assert reps == "Weight shifts this session: 5 (today 5 of 20)"
        pressure = card_text(driver, "kitchen", ".pressure-now")
        assert pressure.startswith("▲ High pressure under the palm now (since ") and "loosen the straps" in pressure
        assert card_text(driver, "kitchen", ".pressure-today").startswith("Skin-pressure alerts today: 0")

        spasm = until(driver, lambda d: card_text(d, "kitchen", ".spasm-now"), 60, "the spasm going on")
        assert spasm.startswith("⚡ Spasm now (since ") and "pulling against the splint" in spasm
        until(driver, lambda d: card_text(d, "kitchen", ".alarm.pressure"), 60, "the skin-pressure alert")
        assert card_text(driver, "kitchen", ".spasm-now"), "the alert came while the spasm went on"
        until(driver, lambda d: card_text(d, "kitchen", ".pressure-today").startswith(
            "Skin-pressure alerts today: 1 (high pressure "), 10, "today's count of alerts (in the next state)")
        assert card_text(driver, "kitchen", ".spasms").startswith("Spasms today: 1"), "counted from its start"
        shoot(driver, "clinical")

        until(driver, lambda d: card_text(d, "kitchen", ".spasm-now") is None, 60, "the spasm's end")
        assert card_text(driver, "kitchen", ".spasms").startswith("Spasms today: 1 (1\u00a0min")
        assert card_text(driver, "kitchen", ".pressure-now"), "the palm is still pressed"
        assert listener.wait_for(lambda ms: any(json.loads(m["payload"]).get("type") == "spasm" for m in ms), 20)
        [spasm] = listener.events("spasm")
        assert spasm["duration_s"] == pytest.approx(60.5, abs=2) and spasm["peak_deg"] == pytest.approx(60, abs=3)
        [alert] = listener.events("alert")
        assert alert["reason"] == "skin_pressure"
        discovery = listener.json("/config")[-1]
        assert {"spasms", "spasms_today", "pressure_alerts_today", "high_pressure", "wb_session_reps"} \
            <= set(discovery["cmps"])

        shown = js(driver, f"return Object.fromEntries([...document.querySelectorAll('{card} svg.history g.day')]"
                           ".map(g => [g.dataset.date, g.dataset.spasms === undefined ? null : g.dataset.spasms]))")
        assert shown == {**{day: str(n) for day, n in counts.items()}, today: "1",
                         (dt.date.fromisoformat(today) - dt.timedelta(days=6)).isoformat(): None}
        points = js(driver, f"return [...document.querySelectorAll('{card} svg.history .spasm-point')]"
                            ".map(c => [c.dataset.date, Number(c.getAttribute('cy'))])")
        assert len(points) == 13
        y = dict(points)
        most = max(counts.values())
        low, high = (next(d for d, n in counts.items() if n == k) for k in (0, most))
        assert y[high] < y[today] < y[low], "more spasms, higher on the chart"
        lines = js(driver, f"return [...document.querySelectorAll('{card} svg.history polyline.spasm-line')]"
                           ".map(p => p.getAttribute('points').split(' ').length)")
        assert sorted(lines) == [6, 7], "the line broken at the day without data"
        label = attr(driver, "kitchen", "svg.history", "aria-label")
        parts = label.split(": ", 1)[1].split("; ")
        want = {**counts, today: 1}
        dates = [(dt.date.fromisoformat(today) - dt.timedelta(days=i)).isoformat() for i in range(13, -1, -1)]
        assert label.startswith("Hours open, last 14 days") and len(parts) == 14
        for date, said in zip(dates, parts):
            n = want.get(date)
            assert (said.endswith(f", {n} spasm{'' if n == 1 else 's'}") if n is not None
                    else said.endswith("no data")), (date, said)
        assert "spasms a day" in card_text(driver, "kitchen", ".legend")
        assert not problems_in_console(driver), problems_in_console(driver)
    finally:
        teardown(driver.quit, listener.close, agent.terminate, lambda: stop(proc), broker.stop)


# -- exercise: started and stopped from the page ---------------------------------------------------------
def flickers(n, depth=8.0, base=40.0):
    """Active extensions of ``depth`` degrees, one every 2 s."""
    steps = []
    for _ in range(n):
        steps += [{"ramp": 0.3, "to": {"fingers": base - depth}}, {"ramp": 0.3, "to": {"fingers": base}}, {"hold": 1.4}]
    return steps


def test_an_exercise_session_started_and_stopped_from_the_page(tmp_path):
    """The card's button starts a session on a real agent through a real Mosquitto; the live
    counter follows the agent's count; today's count against the goal and the 14 days' counts
    are the agent's; the button stops the session, which the agent reports as stopped from a
    command; a refusal is said in the monitor's words; every time on the card is the monitor's
    (Amsterdam, the browser being in UTC), 24-hour; counts of one are singular; no console errors."""
    import datetime as dt
    broker = Broker(tmp_path / "broker").start()
    today = "2026-05-01"
    store = Store(tmp_path / "a1" / "state")
    past = {}
    for i, reps in ((1, 35), (2, 0), (4, 12)):            # day 3 missing: no data
        day = (dt.date.fromisoformat(today) - dt.timedelta(days=i)).isoformat()
        rec = Day(goal_s=6 * 3600.0, extension_reps=reps, exercise_s=60.0 * reps).to_json()
        store.checkpoint({day: rec})
        past[day] = reps
    store.close()
    fast = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n[exercise]\ngoal_reps = 30\n")
    agent = AgentProcess({"start": f"{today}T10:00:00", "timezone": "Europe/Amsterdam", "seed": 3,
                          "noise": {"deg": 0.7, "newton": 0.2},
                          "steps": [{"hold": 3, "set": {"palm": 3, "wrist": 20, "fingers": 40}}, *flickers(400)]},
                         tmp_path / "a1", speed=1, broker=broker.url, device="kitchen", config=fast)
    proc, base = start_dashboard(tmp_path, broker.url, "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n")
    listener = Listener(broker.port, topics=("openpalm/kitchen/#",))
    driver = browser(tmp_path)
    toggle = 'article[data-device="kitchen"] button.exercise-toggle'
    try:
        login(driver, base)
        until(driver, lambda d: attr(d, "kitchen", "button.exercise-toggle", "data-command") == "exercise_start"
              and attr(d, "kitchen", "button.exercise-toggle", "disabled") is None, 60, "the start button")
        assert card_text(driver, "kitchen", ".exercise-live") is None
        until(driver, lambda d: click_fresh(d, toggle), 10, "the start button to take a click")

        # The live counter: the agent's own count, as it grows.
        until(driver, lambda d: int(attr(d, "kitchen", ".exercise-live", "data-reps") or -1) >= 3, 60,
              "three repetitions on the live counter")
        assert re.fullmatch(r"Session running: \d+ extension repetitions", card_text(driver, "kitchen", ".exercise-live"))
        states = [json.loads(m["payload"]) for m in listener.on("/state")]
        assert any(s["exercise"]["active"] for s in states)
        # Its end as the monitor's clock says it (the state's own local time), not the browser's.
        [until_at] = {s["exercise"]["until"] for s in states if s["exercise"]["active"]}
        assert until_at.endswith("+02:00") and states[-1]["zone"] == "Europe/Amsterdam"
        assert card_text(driver, "kitchen", ".exercise-until") == f"Ends by itself at {until_at[11:16]}."
        # The page's own words for a monitor's times and counts, on its own functions.
        said = js(driver, """
          const st = {time: '2026-05-01T10:00:00.000+02:00', zone: 'Europe/Amsterdam',
                      today: {weight_bearing: {sessions: 1, reps: 1, total_s: 60, in_target_s: 30}}};
          const ctx = {now: Date.parse('2026-05-01T08:30:00Z') / 1000, zone: zoneOf(st), day: '2026-05-01',
                       deviceToday: () => '2026-05-01'};
          const d = {sessions: [{day: '2026-05-01', time: '2026-05-01T09:57:00.000+02:00', duration_s: 60,
                                 in_target_s: 30, reps: 1}]};
          return [clock(ctx.now, ctx), clock(Date.parse('2026-04-14T15:57:00Z') / 1000, ctx),
                  clock('2026-04-14T17:57:00.000+02:00', ctx), weightBearingPart(d, st, ctx).textContent,
                  dayDetail('2026-04-30', {open_s: 3600, spasms: 1, extension_reps: 1}, 6, '2026-05-01')];""")
        assert said[:4] == ["10:30", "14\u00a0Apr\u00a017:57", "14\u00a0Apr\u00a017:57",
                            "Weight bearing today1 session, 1\u00a0min in all, 30\u00a0s in the target band.Weight "
                            "shifts today: 109:57: 1\u00a0min, 30\u00a0s in the band, 1 weight shift"], said
        assert said[4].endswith(": 1.0\u00a0h open, goal 6\u00a0h, 1 spasm, 1 extension repetition."), said
        shown = int(attr(driver, "kitchen", ".exercise-live", "data-reps"))
        assert listener.wait_for(lambda ms: any(json.loads(m["payload"])["exercise"]["reps"] == shown for m in ms
                                                if m["topic"].endswith("/state")), 20), "a count the agent published"
        shoot(driver, "exercise", 'article[data-device="kitchen"] section.exercise')
        # A second start while it runs: the button says stop, so ask through the page's own function.
        js(driver, "ask('kitchen', 'exercise_start')")
        note = until(driver, lambda d: (card_text(d, "kitchen", ".exercise-note") or "").startswith("⚠") and
                     card_text(d, "kitchen", ".exercise-note"), 20, "the refusal")
        assert note == "⚠ The monitor could not start the session: exercise_start refused: an exercise session is already running"

        # Today against the goal, and the 14 days' counts as the agent keeps them.
        until(driver, lambda d: click_fresh(d, toggle) if attr(d, "kitchen", "button.exercise-toggle", "data-command")
              == "exercise_stop" else False, 10, "the stop button to take a click")
        until(driver, lambda d: attr(d, "kitchen", "button.exercise-toggle", "data-command") == "exercise_start"
              and card_text(d, "kitchen", ".exercise-live") is None, 30, "the session to end")
        assert listener.wait_for(lambda ms: any(m["topic"].endswith("/event") and b"exercise_session" in m["payload"]
                                                for m in ms), 20)
        [session] = listener.events("exercise_session")
        assert session["ended"] == "stopped" and session["source"] == "command" and session["repetitions"] >= shown
        reps = session["repetitions"]
        until(driver, lambda d: attr(d, "kitchen", ".exercise-today", "data-reps") == str(reps), 20, "today's count")
        assert card_text(driver, "kitchen", ".exercise-today").startswith(
            f"Today: {reps} extension repetitions of 30 ({round(100 * reps / 30)}%)")
        ring_label = js(driver, "return document.querySelector('article[data-device=\"kitchen\"] .exercise svg.ring')"
                                ".getAttribute('aria-label')")
        assert ring_label == f"{reps} of 30 extension repetitions today"
        bars = js(driver, "return Object.fromEntries([...document.querySelectorAll("
                          "'article[data-device=\"kitchen\"] svg.exercise-history g.day')].map(g => [g.dataset.date, g.dataset.reps]))")
        assert len(bars) == 14 and bars[today] == str(reps)
        for day, n in past.items():
            assert bars[day] == str(n), day
        missing = (dt.date.fromisoformat(today) - dt.timedelta(days=3)).isoformat()
        assert bars[missing] == "", "a day without data is not a day of 0"
        assert not problems_in_console(driver), problems_in_console(driver)
    finally:
        teardown(driver.quit, listener.close, agent.terminate, lambda: stop(proc), broker.stop)

