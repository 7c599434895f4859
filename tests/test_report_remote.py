"""The report from afar: the agent's answer to an MQTT ``report`` request and the dashboard's
download give the numbers ``pi-agent report`` gives on the device's store (a real Mosquitto,
real agent and dashboard processes)."""

from __future__ import annotations

import csv
import http.cookies
import io
import json
import time
import urllib.error
import urllib.request


from agentproc import AgentProcess, teardown, write_config
from broker import Broker, Listener
from conftest import run_cli
from mock_hw import scenario_file as scenario_mod
from pi_agent.clock import VirtualClock
from pi_agent.core.days import report_day
from pi_agent.simulated_run import SimulatedRun
from pi_agent.store import Store
from dashboard_proc import PASSWORD, NoRedirect, start_dashboard, stop
from test_report import CHROMEDRIVER, CHROMIUM, CLOSED, FIRST, OFF, OPEN, browser, week_scenario

TODAY = "2026-04-01"


def test_the_agent_answers_a_report_with_its_store_and_its_fresher_days(cfg, tmp_path):
    """A report request mid-run: the store's days, with today as the agent has it now (past the last checkpoint)."""
    scen = scenario_mod.parse({"start": "2026-06-01T10:00:00", "timezone": "Europe/Berlin", "steps": [
        {"hold": 600, "set": OPEN}, {"hold": 30, "set": CLOSED}]}, {n: s.kind for n, s in cfg.sensors.items()})
    clock = VirtualClock(start_wall=scen.start_wall("Europe/Berlin"))
    answers = []
    with SimulatedRun(cfg, scen, clock, zone=scen.zone(), state_dir=tmp_path) as sim:
        sim.run()
        sim.agent.command("report", json.dumps({"from": "2026-05-31", "to": "2026-06-01", "transaction": "r"}),
                          answers.append)
        sim.agent.command("report", b'{"from": "2026-06-01", "to": "2026-12-31"}', answers.append)
        live = sim.agent.core.days()["2026-06-01"]
    stored = Store(tmp_path, readonly=True).days()["2026-06-01"]
    ok, refused = answers
    assert ok["status"] == "ok" and ok["transaction"] == "r"
    assert ok["data"] == {"from": "2026-05-31", "to": "2026-06-01", "days": {"2026-06-01": report_day(live)}}
    assert stored["worn_s"] < live.worn_s - 20, "the store is at its last checkpoint; the answer is fresher"
    assert refused["status"] == "error" and "at most 93 days" in refused["error"]


def _login(base: str) -> str:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(base + "/login", data=f"password={PASSWORD}".encode())
    except urllib.error.HTTPError as exc:        # the 303 to the page, with the session cookie
        cookie = http.cookies.SimpleCookie(exc.headers["Set-Cookie"])
        return f"openpalm_session={cookie['openpalm_session'].value}"
    raise AssertionError("no redirect after the login")


def _get(base: str, path: str, cookie: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, headers={"Cookie": cookie})) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def _card_download(folder, base: str, device: str, fmt: str) -> str:
    """Log in in a real Chromium, find the device card's download link and fetch what it gives."""
    from selenium.webdriver.common.by import By
    driver = browser(folder)
    try:
        driver.get(base + "/login")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login").click()
        deadline = time.monotonic() + 30
        while True:
            links = driver.find_elements(By.CSS_SELECTOR, f'article[data-device="{device}"] a.download.{fmt}')
            if links:
                break
            assert time.monotonic() < deadline, "no download link on the card"
            time.sleep(0.2)
        href = links[0].get_attribute("href")
        assert links[0].get_attribute("download") is not None and href.startswith(base + "/api/report?")
        return driver.execute_async_script(
            "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(arguments[1]);", href)
    finally:
        driver.quit()


def test_dashboard_download_and_mqtt_report_equal_the_command_line(tmp_path):
    """A week in the store, then a morning live: the MQTT answer's days, the dashboard's JSON and
    CSV, and the CSV behind the card's download button in Chromium equal `pi-agent report` on
    the store once the agent has stopped."""
    broker = Broker(tmp_path / "broker").start()
    cfg = write_config(tmp_path / "cfg", '[device]\ntimezone = "Europe/London"\nid = "kitchen"\n'
                                         '[mqtt]\nheartbeat_s = 2\n')
    folder = tmp_path / "agent"
    week = tmp_path / "week.json"
    week.write_text(json.dumps(week_scenario()))
    sim = run_cli("simulate", "--config", str(cfg), str(week), "--state-dir", str(folder / "state"))
    assert sim.returncode == 0, sim.stderr
    listener = Listener(broker.port, topics=("openpalm/kitchen/#",))
    assert listener.connected.wait(10)
    dash, base = start_dashboard(tmp_path, broker.url)
    agent = AgentProcess({"start": f"{TODAY}T08:00:00", "timezone": "Europe/London", "seed": 2,
                          "steps": [{"hold": 240, "set": OPEN}, {"hold": 60, "set": CLOSED},
                                    {"hold": 3600, "set": OFF}]},
                         folder, speed=30, broker=broker.url, device="kitchen", config=cfg)
    try:
        def settled(ms):
            states = [json.loads(m["payload"]) for m in ms if m["topic"].endswith("/state")]
            return any(s["position"] == "off" and s["today"].get("open_s", 0) > 200 for s in states)
        assert listener.wait_for(settled, 60), agent.log()
        # Everything published again (today's summary as it is now), then the report asked for.
        listener.publish("openpalm/kitchen/request/refresh", b'{"transaction": "again"}')
        assert listener.wait_for(lambda ms: any(m["topic"].endswith("/response/refresh") for m in ms), 20)
        listener.publish("openpalm/kitchen/request/report",
                         json.dumps({"from": FIRST, "to": TODAY, "transaction": "rep-1"}))
        assert listener.wait_for(lambda ms: any(m["topic"].endswith("/response/report") for m in ms), 20)
        [answer] = listener.json("/response/report")
        assert answer["status"] == "ok" and answer["transaction"] == "rep-1", answer
        today_day = answer["data"]["days"][TODAY]
        cookie = _login(base)

        def dashboard_has_today():
            status, body, _ = _get(base, f"/api/report?device=kitchen&format=json&from={FIRST}&to={TODAY}", cookie)
            return status == 200 and json.loads(body)["days"].get(TODAY) == today_day
        deadline = time.monotonic() + 20
        while not dashboard_has_today():
            assert time.monotonic() < deadline, "the dashboard never had today's summary"
            time.sleep(0.1)
        _, dash_json, _ = _get(base, f"/api/report?device=kitchen&format=json&from={FIRST}&to={TODAY}", cookie)
        _, dash_csv, headers = _get(base, f"/api/report?device=kitchen&format=csv&from={FIRST}&to={TODAY}", cookie)
        assert headers["Content-Disposition"] == \
            f'attachment; filename="openpalm-kitchen-{FIRST}-to-{TODAY}.csv"'
        status, page, _ = _get(base, "/api/report?device=kitchen&format=html", cookie)
        assert status == 200 and all(d in page for d in answer["data"]["days"])
        assert _get(base, "/api/report?device=kitchen&format=csv", "")[0] == 401      # closed without a login
        assert _get(base, "/api/report?device=nobody&format=csv", cookie)[0] == 404
        bad = _get(base, "/api/report?device=kitchen&format=csv&from=2026-04-31", cookie)
        assert bad[:2] == (400, "from: expected a date as YYYY-MM-DD, got '2026-04-31'\n")
        assert _get(base, "/api/report?device=kitchen&format=pdf", cookie)[0] == 400
        # The card's button, as a caregiver finds it: every day the dashboard has (here FIRST to TODAY).
        page_csv = _card_download(tmp_path, base, "kitchen", "csv") if CHROMIUM and CHROMEDRIVER else dash_csv
    finally:
        codes = []
        teardown(lambda: codes.append(agent.terminate()), lambda: stop(dash), listener.close, broker.stop)
    assert codes == [0], "a clean stop"
    cli = {fmt: run_cli("report", "--config", str(cfg), "--state-dir", str(folder / "state"), "--from", FIRST,
                        "--to", TODAY, "--format", fmt) for fmt in ("json", "csv")}
    assert all(r.returncode == 0 for r in cli.values()), cli
    days = json.loads(cli["json"].stdout)["days"]
    assert len(days) == 7 and days[TODAY]["open_s"] > 200
    assert answer["data"]["days"] == days
    assert json.loads(dash_json)["days"] == days
    assert json.loads(dash_json)["timezone"] == json.loads(cli["json"].stdout)["timezone"] == "Europe/London"
    assert dash_csv.replace("\r\n", "\n") == cli["csv"].stdout      # (run_cli reads text: \r\n comes as \n)
    assert page_csv.replace("\r\n", "\n") == cli["csv"].stdout
    assert [r["tracked"] for r in csv.DictReader(io.StringIO(dash_csv))] == ["1", "1", "0", "1", "1", "1", "1", "1"]


def test_a_clinic_may_ask_for_reports_and_for_nothing_else(tmp_path):
    """The example broker's ACL: the 'clinic' user's report request reaches the device and it
    reads the answer; its vibration_start, sent first, never arrives."""
    from test_mqtt_security import PASSWORDS, ExampleBroker, tls
    broker = ExampleBroker(tmp_path / "broker").start()
    device = Listener(broker.port, topics=("openpalm/devA/request/#",), host="localhost", username="devA",
                      password=PASSWORDS["devA"], tls=tls(broker))
    clinic = Listener(broker.port, topics=("openpalm/devA/response/#",), host="localhost", username="clinic",
                      password=PASSWORDS["clinic"], tls=tls(broker))
    try:
        assert device.connected.wait(10) and clinic.connected.wait(10)
        clinic.publish("openpalm/devA/request/vibration_start", b'{"level": "high"}')
        clinic.publish("openpalm/devA/request/report", json.dumps({"from": FIRST, "to": TODAY}))
        assert device.wait_for(lambda ms: any(m["topic"].endswith("/request/report") for m in ms), 10)
        assert [m["topic"] for m in device.messages] == ["openpalm/devA/request/report"]
        device.publish("openpalm/devA/response/report", b'{"status": "ok"}')
        assert clinic.wait_for(lambda ms: any(m["topic"].endswith("/response/report") for m in ms), 10)
    finally:
        device.close()
        clinic.close()
        broker.stop()
