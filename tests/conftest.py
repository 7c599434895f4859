"""Shared fixtures: the shipped configuration, simulated hardware, virtual time."""

from __future__ import annotations

import contextlib
import fcntl
import json
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

# No per-example time limit and no "too slow" check: on a busy machine one example can take
# a second, and Hypothesis then fails the test as "flaky" (it ran fast the second time). What
# is timed is the agent's own clock, never the test's.
settings.register_profile("openpalm", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("openpalm")

CONFIG = ROOT / "config" / "agent.toml"
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def cfg():
    from pi_agent import config
    return config.load(CONFIG)


@pytest.fixture
def channels(cfg):
    from pi_agent.agent import load_channels
    return load_channels(cfg)


@pytest.fixture
def clock():
    from pi_agent.clock import VirtualClock
    return VirtualClock(start_wall=1_776_000_000.0)


# A guard against a hang, not a time limit: on a busy machine a whole simulated day can
# take minutes, and a test that asserts no speed must not fail for want of one.
HANG_S = 600


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = HANG_S,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``pi-agent`` as a real process, as a person would."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1")
    full_env.pop("JOURNAL_STREAM", None)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "pi_agent", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, input=input)


@pytest.fixture(autouse=True)
def gpiozero_default_is_left_as_found():
    """Whatever a test builds on gpiozero's mock pins (a simulated rig, a simulation), it
    closes: gpiozero's default pin factory is the same after the test as before."""
    from gpiozero import Device
    before = Device.pin_factory
    yield
    assert Device.pin_factory is before, "a Rig or SimulatedRun was left open (close it, or use `with`)"


class JournalStream(io.StringIO):
    """A log stream kept in memory that systemd would take for the journal: it has the file
    number of a real file, whose device and inode ``journal_env`` puts in ``$JOURNAL_STREAM``."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = open(path, "w")

    def fileno(self) -> int:
        return self._file.fileno()

    def journal_env(self) -> str:
        st = os.fstat(self._file.fileno())
        return f"{st.st_dev}:{st.st_ino}"

    def close(self) -> None:
        self._file.close()
        super().close()


def run_once(tmp_path_factory, key: str, make):
    """``make(folder)`` once per test run, also across pytest-xdist's workers: the first
    process to ask makes it (the others wait on a lock), and every one reads the JSON of
    its result. For what costs many seconds of CPU and is the same for every test."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                      # this run's folder, shared by its workers
    folder = root / f"once-{key}"
    with open(root / f"once-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "result.json"
        if not done.exists():
            folder.mkdir(exist_ok=True)
            result = make(folder)
            done.write_text(json.dumps(result))
        return json.loads(done.read_text())


@pytest.fixture(scope="session")
def shipped_day(tmp_path_factory):
    """``shipped_day(name)``: the report and the events of ``pi-agent simulate`` on
    scenarios/<name>.json, run once: a whole simulated day costs many seconds of CPU, and
    the golden and the ground-truth tests read the same run."""
    def simulate(name: str, folder: Path) -> tuple[dict, list[str]]:
        events = folder / "events.jsonl"
        # Its temporary store in memory: the report is the subject, not the disk.
        result = run_cli("simulate", str(SCENARIOS / f"{name}.json"), "--report", "json", "--events", str(events),
                         env={"TMPDIR": str(RAM)} if RAM else None)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout), events.read_text().splitlines()
    return lambda name: run_once(tmp_path_factory, f"simulate-{name}", lambda folder: simulate(name, folder))


# -- the order of the run ----------------------------------------------------------------------------
# The tests that hold a worker longest (measured with --durations on a 2-core machine with a
# CPU-bound job beside it), slowest first. pytest-xdist hands tests to its workers in
# collection order, one at a time (--maxschedchunk 1 in pyproject.toml), each worker holding
# the one it runs and the next. So the slow tests go first, each followed by a short one:
# every worker starts on a slow test with a short one queued behind it (never a second slow
# one), and the run ends with short tests, not with one worker in a minutes-long test while
# the others are done. Only the order changes: every test runs.
# The two realistic days of test_positioning are left where they are, later: they read the
# simulations that the golden tests of the same days make first (run_once).
SLOWEST_FIRST = (
    "test_golden.py::test_scenario_gives_the_saved_report_and_events[demo-day]",
    "test_dashboard_browser.py::test_two_monitors_in_a_real_browser",
    "test_bench.py::test_bench_quick_measurement_writes_its_keys[cpu_states]",
    "test_golden.py::test_scenario_gives_the_saved_report_and_events[example-day]",
    "test_dashboard_browser_devices.py::test_clinical_signals_of_a_real_monitor",
    "test_mqtt_resilience.py::test_ten_thousand_generated_requests",
    "test_crash.py::test_sigkill_at_random_moments_loses_at_most_one_checkpoint_each",
    "test_totals_properties.py::test_totals_only_grow_within_a_day_and_open_never_exceeds_worn",
    "test_faults.py::test_no_fault_on_healthy_noiseless_values",
    "test_bench.py::test_bench_quick_measurement_writes_its_keys[feedback_latency]",
    "test_report_remote.py::test_dashboard_download_and_mqtt_report_equal_the_command_line",
    "test_clinical_sim.py::test_spasm_vibration_starts_within_1_s_of_detection_in_real_time",
    "test_exercise_agent.py::test_in_real_time_the_motor_rewards_each_repetition_within_50_ms_and_no_twitch",
    "test_mqtt.py::test_every_topic_of_the_contract",
    "test_mqtt_resilience.py::test_broker_down_for_two_minutes_loses_no_event",
    "test_dashboard_browser.py::test_a_lost_broker_is_said_within_15_s_and_cleared_when_it_returns",
    "test_bench.py::test_bench_quick_measurement_writes_its_keys[clinic]",
    "test_outbox.py::test_a_long_time_without_broker_keeps_the_newest_and_says_so_once_when_it_returns",
    "test_mqtt_security.py::test_tls_and_password_failures_each_have_their_own_line_once",
    "test_dose_safety.py::",
    "test_positioning.py::test_dst_changes",
    "test_positioning.py::test_midnight_crossing_splits_time_between_days",
    "test_bench.py::",
    "test_dashboard_browser_devices.py::",
    "test_mqtt_resilience.py::",
    "test_therapy.py::test_daily_maximum",
    "test_clinic.py::",
    "test_weight_bearing.py::test_cues_follow_the_crossing_within_a_tenth_of_a_second",
)


def pytest_collection_modifyitems(items):
    """The tests of SLOWEST_FIRST first, in its order, each followed by one of the others;
    then the rest of the others, as collected."""
    def rank(item) -> int:
        name = item.nodeid.rsplit("/", 1)[-1]
        return next((i for i, prefix in enumerate(SLOWEST_FIRST) if name.startswith(prefix)), len(SLOWEST_FIRST))
    ranked = sorted(items, key=rank)
    slow = [item for item in ranked if rank(item) < len(SLOWEST_FIRST)]
    rest = ranked[len(slow):]
    items[:] = [item for pair in zip(slow, rest) for item in pair] + slow[len(rest):] + rest[len(slow):]


# Memory to keep a store in, where a test's subject is not the disk: an fsync there costs
# nothing. The disk is shared by the suite's workers (their stores, the browser's profiles),
# and on it one fsync took up to 0.7 s; a simulated day's checkpoints were half its time.
SHM = Path("/dev/shm")
RAM = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else None


@contextlib.contextmanager
def ram_folder(fallback: Path):
    """A new folder in memory, removed afterwards (``fallback`` without /dev/shm)."""
    if RAM is None:
        yield fallback
        return
    folder = Path(tempfile.mkdtemp(prefix="openpalm-test-", dir=RAM))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ram_dir(tmp_path):
    """A folder in memory for the store of a test that times the agent in real time: what it
    measures is then the agent's loop, not this machine's disk."""
    with ram_folder(tmp_path / "store") as folder:
        yield folder


@pytest.fixture
def dashboard_base():
    """A dashboard in this process on a free loopback port, and a valid session cookie."""
    import threading
    from pi_agent.dashboard.auth import hash_password
    from pi_agent.dashboard.fleet import Fleet
    from pi_agent.dashboard.server import COOKIE, serve
    dashboard, server = serve(Fleet(), hash_password("a long enough password"), 1.0, "127.0.0.1", 0,
                              send=lambda *_: True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", f"{COOKIE}={dashboard.sessions.new()}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
