"""The caregiver dashboard in a real headless Chromium, against a real Mosquitto, real
`pi-agent run --simulate` processes and devices that publish what a test tells them.

Every wait is for the page's state (WebDriverWait); timing checks compare the page's own
clock (Date.now(), recorded by an observer in the page) and the dashboard's timestamps.
With OPENPALM_SCREENSHOTS=<folder>, the tests also save the screenshots of docs/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from agentproc import AgentProcess, write_config
from broker import Broker, Listener, free_port
from pi_agent import config
from pi_agent.core.days import Day
from pi_agent.store import Store
from test_dashboard import real_payloads
from test_dashboard_server import PASSWORD, start_dashboard, stop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OPEN = {"palm": 3, "wrist": 25, "fingers": 5}
CLOSED = {"palm": 3, "wrist": 0, "fingers": 60}
DESKTOP, PHONE = (1200, 1000), (390, 844)
SHOTS = os.environ.get("OPENPALM_SCREENSHOTS")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="Debian's chromium and chromium-driver are not installed")


# -- the browser ----------------------------------------------------------------------------------
def browser(tmp_path, size=DESKTOP):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-GB",
                 f"--window-size={size[0]},{size[1]}", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.console = []                       # every console entry seen so far
    return driver


def until(driver, predicate, timeout=30.0, what="the page"):
    """Wait for the page's state (a function of the driver); its value."""
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(predicate, message=f"timed out waiting for {what}")


def click_fresh(driver, selector: str) -> bool:
    """Click the element now matching ``selector`` (False, to try again, if the page redrew
    it between finding and clicking)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    try:
        driver.find_element(By.CSS_SELECTOR, selector).click()
    except StaleElementReferenceException:
        return False
    return True


def console(driver) -> list[dict]:
    driver.console += driver.get_log("browser")
    return driver.console


def problems_in_console(driver) -> list[dict]:
    """Uncaught errors and anything the page itself had to warn about."""
    return [e for e in console(driver) if e["level"] == "SEVERE"
            or (e["level"] == "WARNING" and "app.js" in e.get("message", ""))]


def login(driver, base):
    from selenium.webdriver.common.by import By
    driver.get(base + "/")
    until(driver, lambda d: d.current_url.endswith("/login"), what="the login page")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    until(driver, lambda d: d.execute_script("return typeof page === 'object' && page.fleet !== null"),
          what="the first data")


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def card_text(driver, device, selector=""):
    """Read at once, in the page (it redraws a few times a second)."""
    return js(driver, "const e = document.querySelector(arguments[0]); return e === null ? null : e.textContent;",
              f'article[data-device="{device}"] {selector}'.strip())


def attr(driver, device, selector, name):
    return js(driver, "const e = document.querySelector(arguments[0]); return e === null ? null : e.getAttribute(arguments[1]);",
              f'article[data-device="{device}"] {selector}'.strip(), name)


def condition(driver, device):
    return attr(driver, device, "", "data-condition")


def press(driver, key):
    """A key pressed where the focus is, as a person would."""
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(driver).send_keys(key).perform()


def observe(driver):
    """Record, with the page's clock, every text said by the live regions, the moments the
    broker notice changes, and how many times the cards were redrawn."""
    js(driver, """
      window.said = []; window.notices = []; window.redraws = 0;
      for (const id of ['announce', 'announce-alarm']) {
        new MutationObserver(() => { const t = document.getElementById(id).textContent;
          if (t) window.said.push({region: id, text: t, at: Date.now()}); })
          .observe(document.getElementById(id), {childList: true, characterData: true, subtree: true});
      }
      const notice = document.getElementById('broker-notice');
      new MutationObserver(() => { const p = notice.querySelector('p');
        window.notices.push({state: p ? p.getAttribute('data-state') : null, at: Date.now()}); })
        .observe(notice, {childList: true, subtree: true, characterData: true});
      new MutationObserver(() => { window.redraws += 1; })
        .observe(document.getElementById('devices'), {childList: true, subtree: true, characterData: true});
    """)


def shoot(driver, name, at=None):
    """With OPENPALM_SCREENSHOTS set: the page as a desktop and as a phone shows it (from its
    top, or with the element ``at`` selects at the top of the window)."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        driver.set_window_size(*size)
        until(driver, lambda d: js(d, "return window.innerWidth") == size[0], what="the window's size")
        js(driver, "if (arguments[0]) document.querySelector(arguments[0]).scrollIntoView(); else window.scrollTo(0, 0)",
           at)
        driver.save_screenshot(str(folder / f"dashboard-{name}-{label}.png"))
    driver.set_window_size(*DESKTOP)


def _history(state_dir: Path, today: str, missing=(4, 9)) -> dict[str, float]:
    """Thirteen days before ``today`` in the agent's store, less the ``missing`` ones."""
    import datetime as dt
    store = Store(state_dir)
    records, hours = {}, {}
    for i in range(1, 14):
        day = (dt.date.fromisoformat(today) - dt.timedelta(days=i)).isoformat()
        if i in missing:
            hours[day] = None
            continue
        rec = Day(goal_s=6 * 3600.0).to_json()
        rec["open_s"] = 3600.0 * (i * 7 % 8)              # one of them 0 h: a day with data, none open
        rec["worn_s"] = rec["open_s"] + 1800
        records[day], hours[day] = rec, rec["open_s"] / 3600
    rec = Day(goal_s=6 * 3600.0).to_json()               # and today so far, as if the agent had restarted
    rec["open_s"], rec["worn_s"] = 3.4 * 3600, 4.1 * 3600
    rec["weight_bearing"].update(sessions=1, total_s=130.0, in_target_s=95.0, mean_n=61.0, peak_n=84.0,
                                 load_ns=61.0 * 130)
    rec["vibration_s"] = 600.0
    store.checkpoint({**records, today: rec})
    store.close()
    return hours


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
    kitchen = AgentProcess({"start": f"{today}T10:00:00", "timezone": "UTC", "seed": 1,
                            "noise": {"deg": 0.5, "newton": 0.2},
                            "steps": [{"hold": 15, "set": OPEN},
                                      {"ramp": 20, "to": {"pad_palm": 55, "pad_fingers": 30}}, {"hold": 25},
                                      {"ramp": 3, "to": {"pad_palm": 95, "pad_fingers": 50}}, {"hold": 600}]},
                           tmp_path / "a1", speed=1, broker=broker.url, device="kitchen", config=fast)
    bedroom = AgentProcess({"start": f"{today}T08:00:00", "timezone": "UTC", "steps": [{"hold": 5, "set": CLOSED},
                            {"fault": {"kind": "disconnected", "channel": "fingers", "for": 7200}}]},
                           tmp_path / "a2", speed=3, broker=broker.url, device="bedroom", config=fast)
    proc, base = start_dashboard(tmp_path, broker.url, "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n")
    listener = Listener(broker.port, topics=("openpalm/kitchen/state",))
    driver = browser(tmp_path)
    try:
        login(driver, base)
        devices = until(driver, lambda d: js(d,
            "const c = [...document.querySelectorAll('article.card')];"
            "return c.filter(x => x.querySelector('.open-today')).length === 2 ? c.map(x => x.dataset.device) : null;"),
            what="two device cards")
        assert devices == ["bedroom", "kitchen"]
        observe(driver)

        # Today's open hours: what the agent itself reports at this moment.
        shown = float(attr(driver, "kitchen", ".open-today", "data-open-s"))
        reported = json.loads(listener.on("/state")[-1]["payload"])["today"]["open_s"]
        assert abs(shown - reported) <= 360, (shown, reported)
        assert re.fullmatch(r"Open today: \d+\.\d\u00a0h", card_text(driver, "kitchen", ".open-today"))

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
        assert last_seen <= killed_at + 0.5, "last seen when it was heard, not when it was found gone"
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
        driver.quit()
        listener.close()
        kitchen.terminate()
        bedroom.kill()
        stop(proc)
        broker.stop()


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
        driver.quit()
        if agent:
            agent.terminate()
        stop(proc)
        if broker:
            broker.stop()


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
        state["today"].update(spasms=3, spasm_s=75.0, pressure_alerts=1)     # a newer agent's keys
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
        js(driver, "window.turned = null; setInterval(() => { const c = document.querySelector("
                   "'article[data-device=\"hung\"]'); if (window.turned === null && c && c.dataset.condition === 'silent')"
                   " window.turned = Date.now(); }, 100);")
        until(driver, lambda d: js(d, "return window.turned"), 30, "the hung device to be 'not heard from'")
        turned = js(driver, "return window.turned") / 1000
        last_seen = js(driver, "return page.fleet.devices.find(d => d.id === 'hung').last_seen")
        silent_after = js(driver, "return page.fleet.limits.silent_after_s")
        assert silent_after == 5.0
        assert silent_after <= turned - last_seen <= silent_after + 3, turned - last_seen
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
        warned = [e["message"] for e in problems_in_console(driver)]
        assert len(warned) == 1 and "the card of evil could not be drawn" in warned[0], warned
    finally:
        driver.quit()
        sender.close()
        stop(proc)
        broker.stop()


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
                          {"ramp": 0.5, "to": {"fingers": 60}}, {"hold": 60},        # a spasm, the alert in it
                          {"ramp": 1, "to": {"fingers": 5}}, {"hold": 600}]}
    cfg = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n[weight_bearing]\ngoal_reps = 20\n"
                                          "[pressure]\nalert_after_min = 0.5\n")
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
        [spasm] = [e for e in listener.json("/event") if e["type"] == "spasm"]
        assert spasm["duration_s"] == pytest.approx(60.5, abs=2) and spasm["peak_deg"] == pytest.approx(60, abs=3)
        [alert] = [e for e in listener.json("/event") if e["type"] == "alert"]
        assert alert["reason"] == "skin_pressure"
        [discovery] = listener.json("/config")
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
        driver.quit()
        listener.close()
        agent.terminate()
        stop(proc)
        broker.stop()


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
    command; a refusal is said in the monitor's words; no console errors."""
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
    agent = AgentProcess({"start": f"{today}T10:00:00", "timezone": "UTC", "seed": 3, "noise": {"deg": 0.7, "newton": 0.2},
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
        assert re.fullmatch(r"Session running: \d+ openings", card_text(driver, "kitchen", ".exercise-live"))
        states = [json.loads(m["payload"]) for m in listener.on("/state")]
        assert any(s["exercise"]["active"] for s in states)
        shown = int(attr(driver, "kitchen", ".exercise-live", "data-reps"))
        assert shown in {s["exercise"]["reps"] for s in states if s["exercise"]["active"]}, "a count the agent published"
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
        [session] = [json.loads(m["payload"]) for m in listener.on("/event") if b"exercise_session" in m["payload"]]
        assert session["ended"] == "stopped" and session["source"] == "command" and session["repetitions"] >= shown
        reps = session["repetitions"]
        until(driver, lambda d: attr(d, "kitchen", ".exercise-today", "data-reps") == str(reps), 20, "today's count")
        assert card_text(driver, "kitchen", ".exercise-today").startswith(
            f"Today: {reps} finger openings of 30 ({round(100 * reps / 30)}%)")
        ring_label = js(driver, "return document.querySelector('article[data-device=\"kitchen\"] .exercise svg.ring')"
                                ".getAttribute('aria-label')")
        assert ring_label == f"{reps} of 30 finger openings today"
        bars = js(driver, "return Object.fromEntries([...document.querySelectorAll("
                          "'article[data-device=\"kitchen\"] svg.exercise-history g.day')].map(g => [g.dataset.date, g.dataset.reps]))")
        assert len(bars) == 14 and bars[today] == str(reps)
        for day, n in past.items():
            assert bars[day] == str(n), day
        missing = (dt.date.fromisoformat(today) - dt.timedelta(days=3)).isoformat()
        assert bars[missing] == "", "a day without data is not a day of 0"
        assert not problems_in_console(driver), problems_in_console(driver)
    finally:
        driver.quit()
        listener.close()
        agent.terminate()
        stop(proc)
        broker.stop()

