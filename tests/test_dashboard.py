"""The caregiver dashboard in a real headless Chromium, against a real Mosquitto and real
`pi-agent run --simulate` processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agentproc import AgentProcess, write_config
from broker import Broker, Listener, free_port
from conftest import ROOT
from pi_agent.dashboard.auth import Sessions, check_password, hash_password
from pi_agent.core.days import Day
from pi_agent.store import Store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "open-hand-2026"
OPEN = {"palm": 3, "wrist": 25, "fingers": 5}
CLOSED = {"palm": 3, "wrist": 0, "fingers": 60}


def test_password_is_stored_hashed_and_sessions_expire():
    """The password is kept as a salted scrypt hash; a session ends after its lifetime."""
    stored = hash_password(PASSWORD)
    assert PASSWORD not in stored and stored.startswith("scrypt$")
    assert check_password(PASSWORD, stored) and not check_password("open-hand-2025", stored)
    assert hash_password(PASSWORD) != stored, "salted"
    now = [0.0]
    sessions = Sessions(hours=1, clock=lambda: now[0])
    token = sessions.new()
    assert sessions.valid(token) and not sessions.valid("guess") and not sessions.valid(None)
    now[0] = 3599
    assert sessions.valid(token)
    now[0] = 3601
    assert not sessions.valid(token)


def start_dashboard(tmp_path, broker):
    cfg = write_config(tmp_path / "dash", "[mqtt]\nkeepalive_s = 5\n")
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    set_pw = subprocess.run([sys.executable, "-m", "pi_agent", "dashboard-password", "--config", str(cfg)],
                            input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT, env=env)
    assert set_pw.returncode == 0, set_pw.stderr
    assert PASSWORD not in cfg.read_text() and "scrypt$" in cfg.read_text()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pi_agent", "dashboard", "--config", str(cfg),
                             "--broker", broker.url, "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(proc.stderr.read())


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_without_the_password_every_page_and_endpoint_is_closed(tmp_path):
    """Without logging in: pages redirect to the login, data answers 401; a wrong password fails."""
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        for path in ("/", "/index.html", "/anything"):
            with pytest.raises(urllib.error.HTTPError) as info:
                opener.open(base + path)
            assert info.value.code == 303 and info.value.headers["Location"] == "/login"
        for path in ("/api/fleet", "/events", "/static/app.js", "/static/style.css"):
            with pytest.raises(urllib.error.HTTPError) as info:
                opener.open(base + path)
            assert info.value.code == 401, path
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(urllib.request.Request(base + "/api/fleet", headers={"Cookie": "openpalm_session=forged"}))
        assert info.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(base + "/login", data=b"password=wrong-one")
        assert info.value.headers["Location"] == "/login?failed=1"
        login = opener.open(base + "/login?failed=1").read().decode()
        assert 'class="failed shown"' in login
    finally:
        proc.terminate()
        proc.wait(10)
        broker.stop()


def _history(state_dir: Path, today: str, days: int = 13) -> dict[str, float]:
    """Thirteen days before ``today`` in the agent's store: the chart's history."""
    import datetime as dt
    store = Store(state_dir)
    records, hours = {}, {}
    for i in range(1, days + 1):
        day = (dt.date.fromisoformat(today) - dt.timedelta(days=i)).isoformat()
        rec = Day(goal_s=6 * 3600.0).to_json()
        rec["open_s"] = 3600.0 * (1 + (i * 7) % 8)
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


def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1200,1900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait(predicate, timeout=30.0, what="the page"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="Debian's chromium and chromium-driver are not installed")
def test_dashboard_in_a_real_browser(tmp_path):
    """Login; two device cards; today's open hours as the agent reports them; the 14-day
    chart; the live load gauge moving during weight bearing; a killed device goes offline."""
    from selenium.webdriver.common.by import By
    broker = Broker(tmp_path / "broker").start()
    today = "2026-05-01"
    history = _history(tmp_path / "a1" / "state", today)
    fast_will = write_config(tmp_path / "cfg", "[mqtt]\nkeepalive_s = 2\nheartbeat_s = 5\n")
    one = AgentProcess({"start": f"{today}T10:00:00", "timezone": "UTC", "seed": 1,
                        "noise": {"deg": 0.5, "newton": 0.2},
                        "steps": [{"hold": 40, "set": OPEN}, {"ramp": 30, "to": {"pad_palm": 55, "pad_fingers": 30}},
                                  {"hold": 120}, {"ramp": 2, "to": {"pad_palm": 0, "pad_fingers": 0}},
                                  {"hold": 3600}]},
                       tmp_path / "a1", speed=1, broker=broker.url, device="kitchen", config=fast_will)
    two = AgentProcess({"start": f"{today}T08:00:00", "timezone": "UTC", "steps": [{"hold": 5, "set": CLOSED},
                        {"fault": {"kind": "disconnected", "channel": "fingers", "for": 7200}}]},
                       tmp_path / "a2", speed=3, broker=broker.url, device="bedroom", config=fast_will)
    proc, base = start_dashboard(tmp_path, broker)
    listener = Listener(broker.port, topics=("openpalm/kitchen/state",))
    driver = browser(tmp_path)
    try:
        driver.get(base + "/")
        wait(lambda: driver.current_url.endswith("/login"), what="the login page")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login").click()
        devices = wait(lambda: driver.execute_script(
            "const c = [...document.querySelectorAll('article.card')];"
            "return c.filter(x => x.querySelector('.open-today')).length === 2 ? c.map(x => x.dataset.device) : null;"),
            what="two device cards")
        assert devices == ["bedroom", "kitchen"]

        def read(device, selector, attribute=None):
            """Read at once, in the page (it redraws a few times a second)."""
            return driver.execute_script(
                "const e = document.querySelector(arguments[0]);"
                "return e === null ? null : (arguments[1] ? e.getAttribute(arguments[1]) : e.textContent);",
                f'article[data-device="{device}"] {selector}', attribute)

        # Today's open hours: what the agent itself reports at this moment.
        shown = float(read("kitchen", ".open-today", "data-open-s"))
        reported = json.loads(listener.on("/state")[-1]["payload"])["today"]["open_s"]
        assert abs(shown - reported) <= 360, (shown, reported)
        assert read("kitchen", ".open-today").startswith("Open today: ")
        # The 14-day chart, history included.
        by_date = driver.execute_script(
            "return Object.fromEntries([...document.querySelectorAll("
            "'article[data-device=\"kitchen\"] svg.history rect.bar')].map("
            "b => [b.getAttribute('data-date'), b.getAttribute('data-open-h')]));")
        assert len(by_date) == 14
        for day, h in history.items():
            assert float(by_date[day]) == pytest.approx(h, abs=0.01), day
        assert by_date[today] != ""
        # The live load gauge moves while the load ramps up.
        first = float(wait(lambda: read("kitchen", "svg.gauge", "data-load"), 60, "the load gauge"))
        time.sleep(4)
        second = float(read("kitchen", "svg.gauge", "data-load"))
        assert second > first + 3, (first, second)
        assert "target 50–100 N" in read("kitchen", "svg.gauge")
        # Faults in plain words.
        bedroom_faults = wait(lambda: read("bedroom", ".faults"), 30, "the fault")
        assert "finger sensor disconnected" in bedroom_faults
        if os.environ.get("OPENPALM_SCREENSHOT"):
            driver.save_screenshot(os.environ["OPENPALM_SCREENSHOT"])
        # A device whose agent is killed turns offline.
        assert "Online" in read("bedroom", ".status")
        two.kill()
        wait(lambda: "Offline" in read("bedroom", ".status"), 15, "the killed device to turn offline")
    finally:
        driver.quit()
        listener.close()
        one.terminate()
        two.kill()
        proc.terminate()
        proc.wait(10)
        broker.stop()


def test_fleet_keeps_what_the_page_needs():
    """The fleet model: status, state, history, live load, sessions and alerts; junk is skipped."""
    from pi_agent.dashboard.fleet import Fleet
    fleet = Fleet(clock=lambda: 1000.0)
    fleet.receive("openpalm/dev1/status", b"online")
    fleet.receive("openpalm/dev1/state", json.dumps({"position": "open"}).encode())
    fleet.receive("openpalm/dev1/day/2026-05-01", json.dumps({"open_s": 60.0}).encode())
    fleet.receive("openpalm/dev1/load", json.dumps({"load_n": 55.0, "session": True}).encode())
    alert = {"id": "a1", "type": "alert", "time": "2026-05-01T10:00:00+00:00", "text": "Vibration therapy stopped."}
    fleet.receive("openpalm/dev1/event", json.dumps(alert).encode())
    fleet.receive("openpalm/dev1/event", json.dumps(alert).encode())      # a repeat, same id
    fleet.receive("openpalm/dev1/state", b"{not json")
    fleet.receive("elsewhere/dev9/state", b"{}")
    [d] = fleet.snapshot()["devices"]
    assert d["online"] and d["state"] == {"position": "open"} and d["days"] == {"2026-05-01": {"open_s": 60.0}}
    assert d["load"]["load_n"] == 55.0 and [a["id"] for a in d["alerts"]] == ["a1"]
    fleet.receive("openpalm/dev1/status", b"offline")
    assert fleet.snapshot()["devices"][0]["online"] is False
