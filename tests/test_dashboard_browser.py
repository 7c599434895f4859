"""The caregiver dashboard in a real headless Chromium, against a real Mosquitto and real
`pi-agent run --simulate` processes: two monitors as a caregiver sees them (login, cards,
history chart, live load, alarm, fault, a killed monitor, live regions, keyboard,
accessibility), and a broker never reached, lost and back.

Every wait is for the page's state (WebDriverWait); timing checks compare the page's own
clock (Date.now(), recorded by an observer in the page) and the dashboard's timestamps.
With OPENPALM_SCREENSHOTS=<folder>, the tests also save the screenshots of docs/. What a
device says and is asked (bad messages, a hung device, clinical signals, exercise) is in
test_dashboard_browser_devices.py; the helpers in tests/dashboard_page.py.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from agentproc import AgentProcess, teardown, write_config
from broker import Broker, Listener, free_port
from dashboard_page import (CHROMEDRIVER, CHROMIUM, CLOSED, DESKTOP, OPEN, PHONE, _history, attr, browser, card_text,
                            click_fresh, condition, js, login, observe, press, problems_in_console, shoot, until)
from dashboard_proc import start_dashboard, stop

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Debian's chromium and chromium-driver are not installed")


# -- two real agents ----------------------------------------------------------------------------------
def test_two_monitors_in_a_real_browser(tmp_path):
    """Login; two cards; today's open hours as the agent reports them; the 14-day chart
    with its missing days missing; the live load, then an over-the-maximum alarm at the top
    of the card and of a phone's screen; a fault in words; a killed monitor greyed with
    when it was last seen; live regions that speak only on changes of meaning; the keyboard;
    the accessibility tree; no console errors."""
    from selenium.webdriver.common.keys import Keys
    broker = Broker(tmp_path / "broker").start()
    today = "2026-05-01"
    history = _history(tmp_path / "a1" / "state", today)
    fast = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n")
    bedroom = AgentProcess({"start": f"{today}T08:00:00", "timezone": "UTC", "steps": [{"hold": 5, "set": CLOSED},
                            {"fault": {"kind": "disconnected", "channel": "fingers", "for": 7200}}]},
                           tmp_path / "a2", speed=3, broker=broker.url, device="bedroom", config=fast)
    proc, base = start_dashboard(tmp_path, broker.url, "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n")
    listener = Listener(broker.port, topics=("openpalm/kitchen/state",))
    driver = browser(tmp_path)
    kitchen = None
    try:
        login(driver, base)
        # The kitchen's timeline starts once the browser is in: its load is read against it.
        kitchen = AgentProcess({"start": f"{today}T10:00:00", "timezone": "UTC", "seed": 1,
                                "noise": {"deg": 0.5, "newton": 0.2},
                                "steps": [{"hold": 15, "set": OPEN},
                                          {"ramp": 20, "to": {"pad_palm": 55, "pad_fingers": 30}}, {"hold": 25},
                                          {"ramp": 3, "to": {"pad_palm": 95, "pad_fingers": 50}}, {"hold": 600}]},
                               tmp_path / "a1", speed=1, broker=broker.url, device="kitchen", config=fast)
        devices = until(driver, lambda d: js(d,
            "const c = [...document.querySelectorAll('article.card')];"
            "return c.filter(x => x.querySelector('.open-today')).length === 2 ? c.map(x => x.dataset.device) : null;"),
            what="two device cards")
        assert devices == ["bedroom", "kitchen"]
        observe(driver)

        # Today's open hours: what the agent itself reports at this moment.
        shown = float(attr(driver, "kitchen", ".open-today", "data-open-s"))
        assert listener.wait_for(lambda ms: any(m["topic"].endswith("/state") for m in ms), 20)
        reported = json.loads(listener.on("/state")[-1]["payload"])["today"]["open_s"]
        assert abs(shown - reported) <= 360, (shown, reported)
        assert re.fullmatch(r"Open today: \d+\.\d\u00a0h", card_text(driver, "kitchen", ".open-today"))

        # The live load gauge moves while the load ramps up; in the band it is green words.
        first = float(until(driver, lambda d: attr(d, "kitchen", "svg.gauge", "data-load"), 60, "the load gauge"))
        until(driver, lambda d: float(attr(d, "kitchen", "svg.gauge", "data-load") or 0) > first + 3, 30,
              "the gauge to move")
        assert "target 50–100\u00a0N (5.1–10.2\u00a0kg)" in card_text(driver, "kitchen", "svg.gauge")
        until(driver, lambda d: attr(d, "kitchen", ".load-text", "data-where") == "in", 60, "the load in the band")
        redraws_before = js(driver, "return window.redraws")
        said_before = js(driver, "return window.said.length")
        until(driver, lambda d: js(d, "return window.redraws") > redraws_before + 10, 30, "ten redraws")
        assert js(driver, "return window.said.length") == said_before, "redraws alone are not announced"
        shoot(driver, "normal")

        # The 14-day chart: history as stored, missing days missing (not 0 h), a scale.
        days = js(driver, "return Object.fromEntries([...document.querySelectorAll("
                          "'article[data-device=\"kitchen\"] svg.history g.day')].map("
                          "g => [g.dataset.date, [g.dataset.openH, g.classList.contains('missing'),"
                          " g.querySelector('title').textContent]]));")
        assert len(days) == 14
        for day, h in history.items():
            if h is None:
                assert days[day][0] == "" and days[day][1] and "no data" in days[day][2], day
            else:
                assert float(days[day][0]) == pytest.approx(h, abs=0.01) and not days[day][1], day
        assert any(h == 0 for h in history.values()), "a day of 0 h is drawn as a day, not as missing"
        assert days[today][0] != ""
        scale = js(driver, "return [...document.querySelectorAll('article[data-device=\"kitchen\"] svg.history .scale')]"
                           ".map(t => t.textContent)")
        assert scale[0] == "0\u00a0h" and len(scale) >= 3
        label_px = js(driver, "return document.querySelector('article[data-device=\"kitchen\"] svg.history .date')"
                              ".getBoundingClientRect().height")
        assert label_px >= 12, f"chart labels {label_px:.1f} px high"

        # Keyboard: the skip link, log out, then each chart (and its card's report links); a day chosen with the arrows shows
        # its full date and weekday; focus stays on the chart while the page redraws.
        order = []
        for _ in range(12):
            press(driver, Keys.TAB)
            order.append(js(driver, "const a = document.activeElement;"
                                    "if (a.closest('.alarm-summary')) return 'summary';"
                                    "return a.classList.contains('history') ? 'chart:' + a.dataset.device"
                                    " : a.className || a.tagName"))
        order = [o for o in order if o != "summary"]        # the alarm summary's links, if any
        assert order[:8] == ["skip", "logout", "chart:bedroom", "exercise-toggle", "download html",  # each card's
                             "download csv", "chart:kitchen", "exercise-toggle"], order              # exercise button
                                                                                                     # and report links
        js(driver, "document.querySelector('article[data-device=\"kitchen\"] svg.history').focus()")
        press(driver, Keys.ARROW_LEFT)
        press(driver, Keys.ARROW_LEFT)
        detail = until(driver, lambda d: "30" in card_text(d, "kitchen", ".chart-detail") and
                       card_text(d, "kitchen", ".chart-detail"), 5, "the day's details")
        assert "Thursday" in detail and "April" in detail, detail
        missing_day = next(day for day, h in history.items() if h is None)
        until(driver, lambda d: click_fresh(d, f'article[data-device="kitchen"] g.day[data-date="{missing_day}"] rect.hit'),
              10, "the missing day to take a tap")
        detail = until(driver, lambda d: "no data" in card_text(d, "kitchen", ".chart-detail") and
                       card_text(d, "kitchen", ".chart-detail"), 5, "a tapped day's details")
        assert str(int(missing_day[8:])) in detail and "April" in detail, detail
        version = js(driver, "return page.fleet.version")
        until(driver, lambda d: js(d, "return page.fleet.version") > version + 5, 30, "five more updates")
        assert js(driver, "return document.activeElement.dataset.device") == "kitchen", "focus kept on the chart"

        # Over the maximum: first in the card, in colour and words, kg beside N, announced once.
        alarm = until(driver, lambda d: card_text(d, "kitchen", ".alarm.over"), 60, "the over-the-maximum alarm")
        assert alarm.startswith("▲ Too much weight on the hand:") and "kg)" in alarm and "most for this hand" in alarm
        first_parts = js(driver, "return [...document.querySelector('article[data-device=\"kitchen\"]').children]"
                                 ".slice(0, 3).map(c => c.dataset.part)")
        assert first_parts == ["head", "seen", "alarms"]
        colour = js(driver, "return getComputedStyle(document.querySelector("
                            "'article[data-device=\"kitchen\"] .alarm.over')).backgroundColor")
        assert colour == "rgb(155, 28, 28)"
        assert "over the maximum" in card_text(driver, "kitchen", ".load-text")
        until(driver, lambda d: any(s["text"] == "kitchen: too much weight on the hand." for s in js(d, "return window.said")),
              10, "the alarm to be announced")
        until(driver, lambda d: float(attr(d, "kitchen", "svg.gauge", "data-load") or 0) > 130, 30, "the full load")
        shoot(driver, "over-the-maximum")
        driver.set_window_size(*PHONE)
        until(driver, lambda d: js(d, "return window.innerWidth") == PHONE[0], what="the phone's width")
        js(driver, "window.scrollTo(0, 0)")
        summary = js(driver, "const a = [...document.querySelectorAll('.alarm-summary a')]"
                             ".find(a => a.textContent.includes('kitchen: too much weight'));"
                             "if (!a) return null; const r = a.getBoundingClientRect();"
                             "return {bottom: r.bottom, height: innerHeight, href: a.getAttribute('href')};")
        assert summary and summary["bottom"] <= summary["height"] and summary["href"] == "#device-kitchen", summary
        # On a phone no number is wrapped away from its unit, nor the header's items.
        loose = js(driver, "return [...document.querySelectorAll('article.card')].map(c => c.textContent)"
                           ".join(' ').match(/\\d (h|min|s|N|kg)\\b/g)")
        assert loose is None, loose
        lines = js(driver, "return ['connection', 'broker'].map(id => document.getElementById(id).getClientRects().length)"
                           ".concat([document.querySelector('.logout').getClientRects().length])")
        assert lines == [1, 1, 1]
        driver.set_window_size(*DESKTOP)

        # A fault, in words, at the top of its card; the position says why it is not known.
        fault = until(driver, lambda d: card_text(d, "bedroom", ".alarm.fault"), 30, "the fault")
        assert fault.startswith("⚠ The finger sensor is disconnected: check that its plug is in.")
        # An overloaded load cell still measures: its words do not say weight bearing stopped.
        assert js(driver, "return faultWords({channel: 'pad_palm', kind: 'overload', text: ''})") == (
            "The table pad (palm zone) carries more than its load cell is rated for: the load is still measured. "
            "Lean on it less: much more weight can damage the pad.")
        assert card_text(driver, "bedroom", ".why") == "A sensor of the splint is not working (see above)."

        # The accessibility tree: every image and control has a name; the alarm is in it.
        tree = driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]
        named = [(n.get("role", {}).get("value"), n.get("name", {}).get("value", "")) for n in tree
                 if not n.get("ignored")]
        unnamed = [r for r, name in named if r in ("image", "img", "button", "link") and not name.strip()]
        assert not unnamed, unnamed
        assert any(r in ("image", "img") and name.startswith("Hours open, last 14 days") and "no data" in name
                   for r, name in named)
        assert any("Too much weight on the hand" in name for _, name in named)

        # A monitor whose agent is killed: greyed, last seen, no live claims, announced once.
        assert condition(driver, "bedroom") == "online" and "just now" in card_text(driver, "bedroom", ".seen")
        bedroom.kill()
        killed_at = time.time()
        until(driver, lambda d: condition(d, "bedroom") == "offline", 20, "the killed monitor to turn offline")
        seen = card_text(driver, "bedroom", ".seen")
        assert "just now" not in seen and "Last seen" in seen and "What follows is as it was then." in seen
        last_seen = js(driver, "return page.fleet.devices.find(d => d.id === 'bedroom').last_seen")
        assert last_seen <= killed_at + 2, "last seen when it was heard, not when it was found gone (3 s later)"
        text = card_text(driver, "bedroom")
        assert "Live" not in text and "All sensors working" not in text and "Position was not known" in text
        assert attr(driver, "bedroom", "", "class").split() == ["card", "stale", "alarmed"]
        until(driver, lambda d: any(s["text"] == "bedroom is offline." for s in js(d, "return window.said")),
              10, "the change to be announced")
        shoot(driver, "offline")
        said = [s["text"] for s in js(driver, "return window.said")]
        assert said.count("bedroom is offline.") == 1 and said.count("kitchen: too much weight on the hand.") == 1
        assert len(said) <= 4, said
        assert not problems_in_console(driver), problems_in_console(driver)
    finally:
        teardown(driver.quit, listener.close, lambda: kitchen and kitchen.terminate(), bedroom.kill,
                 lambda: stop(proc), broker.stop)


# -- the broker: never reached, lost, back -------------------------------------------------------------
def test_a_lost_broker_is_said_within_15_s_and_cleared_when_it_returns(tmp_path):
    """Before the broker exists the page says it was never reached at host:port; killed
    (SIGKILL), a broker-lost notice is on the page within 15 s by the page's own clock,
    cards say 'not known' (never 'offline'); restarted, the notice goes and the card is live."""
    port = free_port()
    proc, base = start_dashboard(tmp_path, f"mqtt://127.0.0.1:{port}",
                                 "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 2\nreconnect_max_s = 2\n")
    driver = browser(tmp_path)
    broker = agent = None
    try:
        login(driver, base)
        notice = until(driver, lambda d: js(d, "const p = document.querySelector('#broker-notice p');"
                                               "return p && p.dataset.state === 'connecting' && p.textContent"),
                       20, "the never-reached notice")
        assert f"never reached the message broker at 127.0.0.1:{port}" in notice
        broker = Broker(tmp_path / "broker", port=port).start()
        fast = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 2\nreconnect_max_s = 2\n")
        agent = AgentProcess({"start": "2026-05-01T10:00:00", "timezone": "UTC", "steps": [{"hold": 3600, "set": OPEN}]},
                             tmp_path / "a1", speed=1, broker=broker.url, device="kitchen", config=fast)
        until(driver, lambda d: condition(d, "kitchen") == "online", 30, "the monitor online")
        assert js(driver, "return document.querySelector('#broker-notice p')") is None
        until(driver, lambda d: js(d, "const s = page.fleet.devices[0].state;"
                                      "return s !== null && Date.parse(s.time) - Date.parse(s.position_since) >= 10000"),
              30, "ten seconds of the hand open")
        observe(driver)

        killed_at = time.time()
        broker.proc.kill()
        broker.proc.wait()
        shown = until(driver, lambda d: next((n for n in js(d, "return window.notices") if n["state"] == "lost"), None),
                      30, "the broker-lost notice")
        assert shown["at"] / 1000 - killed_at <= 15, f"shown {shown['at'] / 1000 - killed_at:.1f} s after the kill"
        since = js(driver, "return page.fleet.broker.since")
        assert killed_at - 1 <= since <= killed_at + 15, "the dashboard's own time of the loss"
        text = js(driver, "return document.querySelector('#broker-notice p').textContent")
        assert f"lost its connection to the message broker (127.0.0.1:{port}) at " in text
        assert "this does not mean the monitors are off" in text
        assert js(driver, "return document.getElementById('broker').textContent") == "⚠ Broker lost"
        until(driver, lambda d: condition(d, "kitchen") == "unknown", 10, "the card to say 'not known'")
        assert "Offline" not in card_text(driver, "kitchen", ".status")
        assert "the dashboard has lost the broker" in card_text(driver, "kitchen", ".seen")
        frozen = card_text(driver, "kitchen", ".position")
        assert frozen.startswith("✓ Hand was open for ") and "(the monitor's clock)" in frozen
        heard = js(driver, "return page.heardAt")
        until(driver, lambda d: js(d, "return page.heardAt") > heard + 1000, 15, "a later update from the dashboard")
        assert card_text(driver, "kitchen", ".position") == frozen, "a duration frozen at its time"
        shoot(driver, "broker-lost")

        broker = Broker(tmp_path / "broker", port=port).start()
        until(driver, lambda d: js(d, "return document.querySelector('#broker-notice p') === null"), 30,
              "the notice to clear")
        until(driver, lambda d: condition(d, "kitchen") == "online", 30, "the monitor online again")
        said = [s["text"] for s in js(driver, "return window.said")]
        assert "The dashboard has lost the message broker." in said
        assert "The dashboard is connected to the message broker again." in said
        assert "kitchen is offline." not in said, "a lost broker is not every monitor going offline"
        assert not problems_in_console(driver), problems_in_console(driver)
    finally:
        teardown(driver.quit, lambda: agent and agent.terminate(), lambda: stop(proc),
                 lambda: broker and broker.stop())

