"""The dashboard's link to the broker, as a real process, in its log (the terminal, the
journal): a broker it cannot reach is said in one line with the reason, once, not at
every retry; connecting and losing the broker are said too, as the agent says them."""

from __future__ import annotations

import re
import time

from broker import Broker, free_port
from dashboard_proc import start_dashboard, stop

# Retries every second (mqtt.reconnect_max_s = 1), so that a few happen in a few seconds.
FAST = "[mqtt]\nkeepalive_s = 5\nreconnect_max_s = 1\n"
RETRIES_S = 3.5         # at 1 s apart: at least two retries


def broker_lines(log_path, port) -> list[str]:
    """The log's lines about the broker at 127.0.0.1:``port``."""
    return [line for line in log_path.read_text().splitlines() if f"127.0.0.1:{port}" in line
            and "dashboard on http" not in line]


def wait_for_line(log_path, port, pattern, count=1, timeout=20.0) -> list[str]:
    """Wait (with a deadline) until ``count`` broker lines match ``pattern``: the broker lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = broker_lines(log_path, port)
        if sum(bool(re.search(pattern, line)) for line in lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {count} x '{pattern}' within {timeout} s:\n{log_path.read_text()}")


def test_an_unreachable_broker_is_logged_once_then_connected_lost_and_back(tmp_path):
    """Nothing listening: one WARNING line says there is no broker there and why (not one a
    retry); then the broker starts (connected), stops (lost, and the failed reconnections
    say nothing more) and comes back (connected)."""
    port = free_port()
    proc, _ = start_dashboard(tmp_path, f"mqtt://127.0.0.1:{port}", FAST)
    log_path = tmp_path / "dashboard.log"
    broker = Broker(tmp_path / "broker", port=port)
    try:
        lines = wait_for_line(log_path, port, r"no MQTT broker at")
        assert re.search(rf"WARNING pi_agent\.dashboard: no MQTT broker at 127\.0\.0\.1:{port} "
                         r"\(Connection refused\); the dashboard keeps trying", lines[0]), lines
        time.sleep(RETRIES_S)           # lets it retry: the retries are what must stay silent
        assert proc.poll() is None
        broker.start()
        wait_for_line(log_path, port, r"dashboard connected to the broker")
        broker.stop()
        wait_for_line(log_path, port, r"WARNING pi_agent\.dashboard: dashboard lost the broker")
        time.sleep(RETRIES_S)           # the reconnections fail, silently: "lost" said it
        broker.start()
        lines = wait_for_line(log_path, port, r"dashboard connected to the broker", count=2)
        kinds = [re.search(r"no MQTT broker|connected|lost", line).group(0) for line in lines]
        assert kinds == ["no MQTT broker", "connected", "lost", "connected"], lines
    finally:
        stop(proc)
        broker.stop()


class ClosedBroker(Broker):
    """A Mosquitto that refuses anyone without a user name and password."""

    def config(self) -> str:
        return super().config().replace("allow_anonymous true", "allow_anonymous false")


def test_a_refusing_broker_is_logged_once_and_never_as_lost(tmp_path):
    """A broker that refuses the dashboard: one ERROR line naming what to check, not one
    a retry, and no "lost the broker" after each refusal."""
    broker = ClosedBroker(tmp_path / "broker").start()
    proc, _ = start_dashboard(tmp_path, broker.url, FAST)
    log_path = tmp_path / "dashboard.log"
    try:
        wait_for_line(log_path, broker.port, r"refused")
        deadline = time.monotonic() + 20        # the broker's own log counts the refusals
        while time.monotonic() < deadline and \
                (broker.folder / "mosquitto.log").read_text().count("not authorised") < 3:
            time.sleep(0.05)
        assert (broker.folder / "mosquitto.log").read_text().count("not authorised") >= 3
        lines = broker_lines(log_path, broker.port)
        assert len(lines) == 1 and "ERROR pi_agent.dashboard: the broker at" in lines[0], lines
        assert "bad user name or password" in lines[0] and "mqtt.username" in lines[0], lines
    finally:
        stop(proc)
        broker.stop()
