"""The dashboard's web server as a real process: closed to anyone without the password,
a login storm neither exhausts it nor locks the caregiver out, and every report download
is answered (a device's odd day refused by the schema; a bug, a 500)."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from broker import Broker, Listener
from dashboard_proc import PASSWORD, NoRedirect, start_dashboard, stop


def test_without_the_password_every_page_and_endpoint_is_closed(tmp_path):
    """Without logging in: pages redirect to the login, data answers 401; only the login
    page, the icons and the manifest are public; a wrong password fails; headers are strict.
    SIGTERM then stops it with exit 0, and the disconnection it asked for logs no warning."""
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker.url)
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
        login = opener.open(base + "/login?failed=1")
        assert "That password did not work" in login.read().decode()
        assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
        for path, ctype in (("/favicon.ico", "image/png"), ("/static/icon.svg", "image/svg+xml"),
                            ("/static/icon-192.png", "image/png"), ("/static/icon-512.png", "image/png"),
                            ("/manifest.webmanifest", "application/manifest+json")):
            got = opener.open(base + path)
            assert got.status == 200 and got.headers["Content-Type"] == ctype and got.read(), path
        with pytest.raises(urllib.error.HTTPError) as info:
            opener.open(base + "/login", data=b"password=" + b"x" * 5000)
        assert info.value.code == 413
    finally:
        stop(proc)
        broker.stop()
    log = (tmp_path / "dashboard.log").read_text()
    assert proc.returncode == 0 and "connected to the broker" in log, log
    assert "WARNING" not in log and "lost the broker" not in log, log


def _post_login(base: str, password: str, source: str) -> http.client.HTTPResponse:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    conn.request("POST", "/login", body=f"password={password}",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _storm(base: str, sources: list[str]) -> list[int | str]:
    """All at once (a barrier), one wrong login from each source address."""
    statuses: list[int] = []
    barrier = threading.Barrier(len(sources))
    lock = threading.Lock()

    def one(source):
        barrier.wait()
        try:
            status = _post_login(base, "wrong-guess", source).status
        except ConnectionError:           # a connection over the address's 16 is answered 503 and
            status = "closed"             # closed at once: the request may still be on its way
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(s,)) for s in sources]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    return statuses


def test_a_login_storm_leaves_the_dashboard_small_and_the_right_password_working(tmp_path):
    """40 parallel wrong logins from 40 addresses, then 40 from one: the dashboard's peak
    memory stays under 200 MB, the excess is refused at once (busy, or wait), and the right
    password still logs in, from a fresh address at once and from a stormy one after its wait."""
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker.url)
    try:
        before = _peak_rss_mb(proc.pid)
        many = _storm(base, [f"127.0.0.{10 + i}" for i in range(40)])
        assert len(many) == 40 and set(many) <= {303, 503}, many
        assert many.count(503) >= 1, "beyond 2 checks running and 6 waiting: busy, at once"
        one = _storm(base, ["127.0.0.99"] * 40)
        assert len(one) == 40 and set(one) <= {303, 429, 503, "closed"} and one.count(303) <= 2, one   # 503, closed:
                                                                                                    # over 16 at once
        peak = _peak_rss_mb(proc.pid)
        assert peak < 200, f"peak RSS {peak:.0f} MB (from {before:.0f} MB)"
        ok = _post_login(base, PASSWORD, "127.0.0.1")
        assert ok.status == 303 and ok.headers["Location"] == "/" and "openpalm_session=" in ok.headers["Set-Cookie"]
        # One more wrong guess from the stormy address, checked once its wait is over: the wait
        # doubles (2 s at least), so the right password sent just after is surely inside it.
        deadline = time.monotonic() + 30
        while (wrong := _post_login(base, "wrong-guess", "127.0.0.99")).status == 429:
            assert time.monotonic() < deadline, "the storm's wait never ended"
            time.sleep(0.2)
        assert wrong.status == 303 and wrong.headers["Location"] != "/", wrong.status
        refused = _post_login(base, PASSWORD, "127.0.0.99")
        assert refused.status == 429, "the stormy address waits, even with the right password"
        wait_s = int(refused.headers["Retry-After"])
        assert 1 <= wait_s <= 60
        deadline = time.monotonic() + wait_s + 10
        while True:
            answer = _post_login(base, PASSWORD, "127.0.0.99")
            if answer.status == 303:
                break
            assert answer.status == 429 and time.monotonic() < deadline, answer.status
            time.sleep(0.5)
        assert answer.headers["Location"] == "/"
        print(f"dashboard peak RSS: {before:.0f} MB before, {peak:.0f} MB after 2 x 40 parallel wrong logins")
    finally:
        stop(proc)
        broker.stop()


def test_a_device_with_a_day_out_of_range_gets_an_unreadable_card_and_a_report(tmp_path):
    """A device that publishes only day/0001-01-05, one only day/9999-12-31: each card says its
    day message could not be read, and each report download (json, csv, html) is answered, 200."""
    from dashboard_payloads import real_payloads
    from pi_agent import config
    from test_report_remote import _get, _login
    day = real_payloads(config.load(config.locate(None)))["day"]
    broker = Broker(tmp_path / "broker").start()
    proc, base = start_dashboard(tmp_path, broker.url)
    device = Listener(broker.port, topics=("openpalm/none",))
    try:
        assert device.connected.wait(10)
        for name, date in (("ev3", "0001-01-05"), ("ev4", "9999-12-31")):
            device.publish(f"openpalm/{name}/day/{date}", json.dumps(dict(day, date=date)), retain=True)
        cookie = _login(base)

        def both_marked():
            cards = {d["id"]: d for d in json.loads(_get(base, "/api/fleet", cookie)[1])["devices"]}
            return all((cards.get(n) or {}).get("problem") for n in ("ev3", "ev4")) and cards
        deadline = time.monotonic() + 20
        while not (cards := both_marked()):
            assert time.monotonic() < deadline, "the day messages never reached the dashboard"
            time.sleep(0.1)
        for name, date in (("ev3", "0001-01-05"), ("ev4", "9999-12-31")):
            assert cards[name]["days"] == {} and "expected a date from 1971 to 9998" in cards[name]["problem"]["text"]
            for fmt in ("json", "csv", "html"):
                status, body, _ = _get(base, f"/api/report?device={name}&format={fmt}", cookie)
                assert status == 200 and date not in body, (name, fmt, status, body[:200])
    finally:
        device.close()
        stop(proc)
        broker.stop()
    assert "Traceback" not in (tmp_path / "dashboard.log").read_text()


def test_a_bug_in_the_report_download_is_a_500_with_one_line_and_one_logged_traceback(
        dashboard_base, monkeypatch, caplog):
    """Whatever fails inside the download, the browser gets an HTTP answer (a 500 with a
    one-line JSON error), not a dropped connection, and the log gets one record with the traceback."""
    from pi_agent.dashboard import report

    def broken(fleet, query):
        raise OverflowError("date value out of range")
    monkeypatch.setattr(report, "download", broken)
    host, cookie = dashboard_base
    with caplog.at_level(logging.ERROR, logger="pi_agent.dashboard"):
        for fmt in ("json", "csv", "html"):
            conn = http.client.HTTPConnection(host, timeout=20)
            conn.request("GET", f"/api/report?device=ev3&format={fmt}", headers={"Cookie": cookie})
            answer = conn.getresponse()
            body = answer.read()
            conn.close()
            assert answer.status == 500 and answer.headers["Content-Type"] == "application/json", answer.status
            assert b"\n" not in body and set(json.loads(body)) == {"error"}, body
    records = [r for r in caplog.records if r.name == "pi_agent.dashboard"]
    assert len(records) == 3 and all(r.exc_info and r.exc_info[0] is OverflowError for r in records), records
    assert all("/api/report" in r.getMessage() and "\n" not in r.getMessage() for r in records)
