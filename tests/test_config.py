"""Configuration: the shipped file is valid and documented; every user mistake is one
clear line and exit status 78, with no traceback."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import pi_agent
from conftest import CONFIG, ROOT, run_cli
from pi_agent import config
from pi_agent.errors import ConfigError


def test_shipped_config_passes_check_config():
    """The shipped config/agent.toml passes `pi-agent check-config` with exit 0."""
    result = run_cli("check-config", "--config", str(CONFIG))
    assert result.returncode == 0, result.stderr
    assert "OK (5 channels on 3 chips" in result.stdout


def test_shipped_config_is_rendered_from_the_schema():
    """config/agent.toml documents every key beside its default, straight from the schema."""
    assert CONFIG.read_text(encoding="utf-8") == config.render_toml()
    for section, spec in config.SCHEMA.items():
        keys = spec.keys if isinstance(spec, config.Named) else spec
        for key, k in keys.items():
            assert f"# {k.doc}" in CONFIG.read_text(encoding="utf-8"), f"{section}.{key} undocumented"


def test_readme_configuration_reference_matches_the_schema():
    """The README's configuration reference is the one the schema renders."""
    assert config.render_markdown() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_default_layout_is_the_documented_hardware():
    """The default layout: the splint's ADS1115 at 0x48 (wrist, fingers, palm) converting
    on demand; one ADS1115 per pad zone, at 0x49 and 0x4A, converting continuously, each
    reading a load cell on its A0-A1 pair at gain 16."""
    cfg = config.load(CONFIG)
    chips = {n: (c.address, c.mode) for n, c in cfg.chips.items()}
    assert chips == {"splint": (0x48, "single"), "pad_palm": (0x49, "continuous"),
                     "pad_fingers": (0x4A, "continuous")}
    kinds = {n: (s.chip, s.kind) for n, s in cfg.sensors.items()}
    assert kinds == {"wrist": ("splint", "flex"), "fingers": ("splint", "flex"), "palm": ("splint", "force"),
                     "pad_palm": ("pad_palm", "load_cell"), "pad_fingers": ("pad_fingers", "load_cell")}
    pads = {(s.input, s.gain, s.rating_kg) for n, s in cfg.sensors.items() if n.startswith("pad_")}
    assert pads == {(0, 16, 20.0)}


def _write(tmp_path: Path, text: str, calibration: bool = True) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text, encoding="utf-8")
    if calibration:
        (tmp_path / "calibration.toml").write_text((ROOT / "config" / "calibration.toml").read_text())
    return path


SPLINT = ("[sensors.wrist]\nchip='splint'\ninput=0\nkind='flex'\n[sensors.fingers]\nchip='splint'\ninput=1\nkind='flex'\n"
          "[sensors.palm]\nchip='splint'\ninput=2\nkind='force'\n")
PAD_CHIPS = "[chips.pad_palm]\naddress=0x49\nmode='continuous'\n[chips.pad_fingers]\naddress=0x4A\nmode='continuous'\n"
BROKEN = {
    "toml syntax": ("[device\nid = 'x'\n", r"agent\.toml: not valid TOML: "),
    "unknown key": ("[sensors.wrist]\nchip='splint'\ninput=0\nkind='flex'\ngian=2\n",
                    r"agent\.toml: sensors\.wrist\.gian: unknown key \(did you mean 'gain'\?\)"),
    "unknown section": ("[hardwar]\nvdd=3.3\n", r"agent\.toml: hardwar: unknown section \(did you mean 'hardware'\?\)"),
    "wrong type": ("[hardware]\nvdd='3.3'\n", r"agent\.toml: hardware\.vdd: expected a number from 2 to 5\.5, got '3\.3'"),
    "gain out of set": ("[sensors.wrist]\nchip='splint'\ninput=0\nkind='flex'\ngain=3\n[sensors.fingers]\nchip='splint'\ninput=1\nkind='flex'\n"
                        "[sensors.palm]\nchip='splint'\ninput=2\nkind='force'\n[sensors.pad_palm]\nchip='pad_palm'\ninput=0\nkind='load_cell'\n"
                        "[sensors.pad_fingers]\nchip='pad_fingers'\ninput=0\nkind='load_cell'\n",
                        r"agent\.toml: sensors\.wrist\.gain: expected one of 2/3, 1, 2, 4, 8, 16, got 3"),
    "out of range": ("[chips.splint]\naddress=0x48\nrate_hz=0\n" + PAD_CHIPS,
                     r"agent\.toml: chips\.splint\.rate_hz: expected a number from 0\.1 to 200, got 0"),
    "bad address": ("[chips.splint]\naddress=0x20\n" + PAD_CHIPS,
                    r"agent\.toml: chips\.splint\.address: expected an ADS1115 address 0x48 to 0x4B"),
    "continuous with many channels": ("[chips.splint]\naddress=0x48\nmode='continuous'\n" + PAD_CHIPS,
                                      r"agent\.toml: chips\.splint\.mode: expected 'single' for a chip with 3 channels "
                                      r"\(fingers, palm, wrist\), got 'continuous'"),
    "bad mode": ("[chips.splint]\naddress=0x48\nmode='fast'\n" + PAD_CHIPS,
                 r"agent\.toml: chips\.splint\.mode: expected one of 'single', 'continuous', got 'fast'"),
    "bad zone": ("[device]\ntimezone='Mars/Olympus'\n", r"agent\.toml: device\.timezone: expected an IANA time zone"),
    "state folder of spaces": ("[device]\nstate_dir = ' '\n",
                               r"device\.state_dir: expected a file or folder name with no NUL and no space at "
                               r"either end, got ' '"),
    "NUL in a file name": ('[hardware]\ncalibration = "cal\\u0000.toml"\n',
                           r"hardware\.calibration: expected a file or folder name .*, got 'cal\\x00\.toml'"),
    "NUL in the password file": ('[mqtt]\npassword_file = "pw\\u0000"\n', r"mqtt\.password_file: expected a file"),
    "fsr pad below the band": (
        SPLINT + "[sensors.pad_palm]\nchip='pad_palm'\ninput=0\nkind='force'\n"
        "[sensors.pad_fingers]\nchip='pad_fingers'\ninput=0\nkind='force'\nrange_n=20\n",
        r"agent\.toml: sensors\.pad_palm\.range_n, sensors\.pad_fingers\.range_n: expected at least the target "
        r"band's top \(100 N, which may rest on one zone\), got 20, 20: force-sensing resistors cannot measure the "
        r"band; build the pad with load cells"),
    "fsr pad below a band in % of body weight": (
        "[weight_bearing]\ntarget_unit='percent_body_weight'\nbody_weight_kg=80\ntarget_low=3\ntarget_high=6\n"
        + SPLINT + "[sensors.pad_palm]\nchip='pad_palm'\ninput=0\nkind='force'\nrange_n=100\n"
        "[sensors.pad_fingers]\nchip='pad_fingers'\ninput=0\nkind='force'\nrange_n=20\n",
        r"sensors\.pad_fingers\.range_n: expected at least the target band's top \(47\.0719 N"),
    "load cells rated below the band": (
        "[weight_bearing]\ntarget_low=100\ntarget_high=250\n",
        r"sensors\.pad_palm\.rating_kg, sensors\.pad_fingers\.rating_kg: expected load cells rated for at least "
        r"the target band's top \(250 N = 25\.5 kg, which may rest on one zone\), got 20, 20"),
    "load cell on an odd input": (
        SPLINT + "[sensors.pad_palm]\nchip='pad_palm'\ninput=1\nkind='load_cell'\n"
        "[sensors.pad_fingers]\nchip='pad_fingers'\ninput=0\nkind='load_cell'\n",
        r"sensors\.pad_palm\.input: expected 0 \(the pair A0-A1\) or 2 \(A2-A3\) for a load cell, got 1"),
    "load cell pair overlaps a channel": (
        "[chips.splint]\naddress=0x48\n[sensors.wrist]\nchip='splint'\ninput=0\nkind='flex'\n"
        "[sensors.pad]\nchip='splint'\ninput=0\nkind='load_cell'\n",
        r"sensors\.pad\.input: expected an input no other channel uses, got 0 \(A0 is also sensors\.wrist\)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_configuration_is_one_clear_line_and_exit_78(tmp_path, case):
    """Each broken configuration gives one line naming file, key, expected and found; exit 78."""
    text, pattern = BROKEN[case]
    path = _write(tmp_path, text)
    for command in ("check-config", "run"):
        result = run_cli(command, "--config", str(path))
        assert result.returncode == 78, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert re.search(pattern, lines[0]), lines[0]


def test_every_problem_is_reported_at_once(tmp_path):
    """Validation is complete: two problems give two lines."""
    path = _write(tmp_path, "[hardware]\nvdd=9\ni2c_bus=-1\n")
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 78
    assert len(result.stderr.strip().splitlines()) == 2


def test_missing_configuration_file(tmp_path):
    """A missing configuration file is one line and exit 78."""
    result = run_cli("check-config", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 78
    assert result.stderr.strip() == f"{tmp_path / 'nope.toml'}: configuration file not found"


def test_missing_calibration_file(tmp_path):
    """A configuration whose calibration file is missing is one line and exit 78."""
    path = _write(tmp_path, "", calibration=False)
    # (without the log line that names the configuration, which is valid by itself)
    result = run_cli("--log-level", "WARNING", "check-config", "--config", str(path))
    assert result.returncode == 78
    assert result.stderr.strip() == f"{tmp_path / 'calibration.toml'}: calibration file not found"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("entry, pattern", [
    ("[palm]\nkind='force'\ntare=0\ntable=[[0,0.0],[100,5.0],[90,6.0]]\n", r"palm\.table: not monotonic"),
    ("[wrist]\nkind='flex'\npoints=[[100, 0.0]]\n", r"wrist\.points: expected two \[counts, degrees\] points"),
    ("[wrist]\nkind='bend'\n", r"wrist\.kind: expected 'flex', 'force' or 'load_cell'"),
    ("[pad_palm]\nkind='load_cell'\ngain=16\ntare=224\npoints=[[224,5.0],[1069,196.1]]\n",
     r"pad_palm\.points: expected the empty pad \[counts, 0\.0\] then at least one known weight"),
    ("[pad_palm]\nkind='load_cell'\ngain=16\ntare=224\npoints=[[224,0.0],[1069,196.1],[900,250.0]]\n",
     r"pad_palm\.points: expected counts and newtons that both rise \(a heavier weight reads higher\), "
     r"got \[1069, 196\.1\] then \[900, 250\]"),
    ("[pad_palm]\nkind='force'\ntare=0\ntable=[[0,0.0],[100,5.0]]\n",
     r"pad_palm\.kind: expected 'load_cell' as in the configuration, got 'force' \(the pad is built with load cells"),
    ("[palm\n", r"calibration\.toml: not valid TOML"),
])
def test_bad_calibration_file_is_refused_at_start(tmp_path, entry, pattern):
    """A damaged or non-monotonic calibration file is refused with a clear line, exit 78."""
    path = _write(tmp_path, "")
    cal = tmp_path / "calibration.toml"
    text = cal.read_text()
    name = re.match(r"\[(\w+)", entry).group(1)
    text = re.sub(rf"\[{name}\]\n(?:[^\[].*\n)*", "", text) + entry
    cal.write_text(text)
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 78, result.stdout
    assert re.search(pattern, result.stderr), result.stderr
    assert "Traceback" not in result.stderr


def test_password_comes_from_file_or_environment_and_is_never_printed(tmp_path):
    """The MQTT password is read from its file or the environment, and never printed."""
    secret = "s3cret-hunter2"
    (tmp_path / "pw").write_text(secret + "\n")
    path = _write(tmp_path, "[mqtt]\nbroker='mqtt://localhost:1883'\npassword_file='pw'\n")
    cfg = config.load(path)
    assert config.mqtt_password(cfg, environ={}) == secret
    assert config.mqtt_password(cfg, environ={config.PASSWORD_ENV: "other"}) == "other"
    result = run_cli("check-config", "--config", str(path))
    assert result.returncode == 0 and secret not in result.stdout + result.stderr
    bad = _write(tmp_path, "[mqtt]\npassword = 'oops'\n")
    result = run_cli("check-config", "--config", str(bad))
    assert result.returncode == 78 and "oops" not in result.stderr
    assert "mqtt.password: unknown key (did you mean 'password_file'?)" in result.stderr


def test_configuration_is_found_in_order(tmp_path):
    """--config wins, then $OPENPALM_CONFIG, then the system's file if it exists, else none (the defaults)."""
    given, env, system = tmp_path / "given.toml", tmp_path / "env.toml", tmp_path / "system.toml"
    environ = {config.PATH_ENV: str(env)}
    assert config.locate(given, environ, system) == given
    assert config.locate(None, environ, system) == env
    assert config.locate(None, {config.PATH_ENV: ""}, system) is None
    system.write_text("")
    assert config.locate(None, {}, system) == system
    assert config.locate(None, environ, system) == env
    system.unlink()
    assert config.locate(None, {}, system) is None


def test_shipped_defaults_are_the_shipped_files():
    """With no configuration file, the defaults are config/agent.toml's values, and the
    calibration shipped inside the package is config/calibration.toml."""
    shipped, file = config.load(None), config.load(CONFIG)
    assert shipped.path is None and config.SHIPPED_CALIBRATION.is_relative_to(Path(pi_agent.__file__).parent)
    for section in config.SCHEMA:
        assert getattr(shipped, section) == getattr(file, section), section
    assert shipped.calibration_path.read_bytes() == file.calibration_path.read_bytes()


def test_configuration_is_typed_and_frozen():
    """Every schema key is a field of its section's frozen dataclass, typed by its check and
    defaulting to its default; named tables are read-only mappings; nothing can be assigned."""
    cfg = config.defaults()
    assert [f.name for f in dataclasses.fields(cfg)] == [*config.SCHEMA, "path", "calibration_path"]
    for section, spec in config.SCHEMA.items():
        keys = spec.keys if isinstance(spec, config.Named) else spec
        fields = {f.name: f for f in dataclasses.fields(config.SECTIONS[section])}
        assert list(fields) == (["name"] if isinstance(spec, config.Named) else []) + list(keys), section
        for key, k in keys.items():
            assert fields[key].default == k.default and fields[key].type is k.check.type, f"{section}.{key}"
            assert k.check(k.default) == (k.default, None), f"{section}.{key}: default fails its check"
            assert isinstance(k.default, (int, float) if k.check.type is float else k.check.type), f"{section}.{key}"
        assert config.SECTIONS[section].__dataclass_params__.frozen, section
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.weight_bearing.start_n = 30.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.sensors["wrist"].kind = "force"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.path = Path("elsewhere.toml")
    with pytest.raises(TypeError):
        cfg.chips["spare"] = cfg.chips["splint"]
    with pytest.raises(AttributeError):     # slots: no stray attribute either
        object.__setattr__(cfg.haptics, "bakend", "none")
    assert cfg.sensors["wrist"].name == "wrist" and cfg.chips["splint"].address == 0x48


def test_changed_copy_is_checked_like_the_file():
    """config.changed gives a new configuration with keys set as in the file, leaves the
    original alone, and refuses what the file would refuse, with the same lines."""
    cfg = config.load(CONFIG)
    new = config.changed(cfg, haptics={"backend": "none"}, sensors={"wrist": {"gain": "2/3"}})
    assert (new.haptics.backend, new.sensors["wrist"].gain, new.sensors["fingers"].gain) == ("none", 2 / 3, 1)
    assert (cfg.haptics.backend, cfg.sensors["wrist"].gain) == ("erm", 1)
    assert new.path == cfg.path and new.calibration_path == cfg.calibration_path
    with pytest.raises(ConfigError) as err:
        config.changed(cfg, haptics={"bakend": "none"}, weight_bearing={"end_n": 30.0}, hardwar={})
    assert err.value.problems == [
        f"{CONFIG}, changed: haptics.bakend: unknown key (did you mean 'backend'?)",
        f"{CONFIG}, changed: hardwar: unknown section (did you mean 'hardware'?)",
        f"{CONFIG}, changed: weight_bearing.end_n: expected less than start_n (20), got 30"]
    with pytest.raises(ConfigError, match=r"sensors\.extra\.chip: missing"):
        config.changed(cfg, sensors={"extra": {"input": 3, "kind": "flex"}})


def test_commands_that_write_need_a_configuration_file(tmp_path):
    """calibrate, dashboard and dashboard-password refuse the read-only shipped defaults
    with one line and exit 78, and write nothing."""
    env = {config.PATH_ENV: ""}
    if config.SYSTEM_PATH.exists():
        pytest.skip(f"{config.SYSTEM_PATH} exists on this machine")
    before = (ROOT / "config" / "calibration.toml").read_bytes()
    for command in (["calibrate", "pad", "--simulate", str(ROOT / "scenarios" / "example-weight-bearing.json")],
                    ["dashboard", "--broker", "mqtt://127.0.0.1:1"], ["dashboard-password"]):
        result = run_cli(*command, cwd=tmp_path, env=env, input="a-long-password\n")
        assert result.returncode == 78, (command, result.stdout, result.stderr)
        assert result.stderr.strip().splitlines() == [
            f"pi-agent {command[0]}: expected a configuration file {config_purpose(command[0])} "
            f"(--config FILE, ${config.PATH_ENV} or {config.SYSTEM_PATH}), found none"]
    assert (ROOT / "config" / "calibration.toml").read_bytes() == before
    assert list(tmp_path.iterdir()) == []


def config_purpose(command: str) -> str:
    from pi_agent.cli import WRITES_BESIDE_CONFIG
    return WRITES_BESIDE_CONFIG[command]


def test_check_config_without_a_file_checks_the_shipped_defaults(tmp_path):
    """`check-config` with no configuration anywhere checks the shipped defaults, says so, exit 0."""
    if config.SYSTEM_PATH.exists():
        pytest.skip(f"{config.SYSTEM_PATH} exists on this machine")
    result = run_cli("check-config", cwd=tmp_path, env={config.PATH_ENV: ""})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{config.SHIPPED}: OK (5 channels on 3 chips")
    assert f"configuration: {config.SHIPPED}" in result.stderr


@pytest.mark.parametrize("value, shown", [
    (3, "got 3"),
    ("fast", "got 'fast'"),
    ("a\nb", "got 'a\\nb'"),                                     # a line break stays one line
    ("x" * 3000, "got '" + "x" * 39 + "... (3000 characters)"),
    ([1] * 100, "got [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ... (300 characters as written)"),
    (10 ** 30, "got an integer of about 31 digits"),
])
def test_a_bad_value_is_shown_on_one_short_line(value, shown):
    """A value in an error line: as written when short, cut to 40 characters with its
    length when long (it was echoed whole, up to 4 KiB), control characters quoted."""
    from pi_agent.config.checks import got
    assert got(value) == shown


@pytest.mark.parametrize("change, line", [
    ({"chips": {"pad_palm": {"address": 0x99}}}, "chips.pad_palm.address: expected an ADS1115 address"),
    ({"sensors": {"fingers": {"input": 9}}}, "sensors.fingers.input: expected a whole number from 0 to 3"),
])
def test_a_refused_value_is_said_once_not_judged_again_as_its_stand_in(change, line):
    """An address or an input out of range: one problem line (its stand-in value was also
    judged, 'got 0x48 (also chips.splint)', a problem the file does not have)."""
    cfg = config.load(CONFIG)
    with pytest.raises(ConfigError) as err:
        config.changed(cfg, **change)
    assert len(err.value.problems) == 1 and line in err.value.problems[0], err.value.problems


@pytest.mark.parametrize("url, says", [
    ("mqtt://[zz]:1883", "expected a host name, an IPv4 address or an IPv6 address in brackets ([::1])"),
    ("mqtt://127.0.0.1:0", "expected a port number from 1 to 65535"),
])
def test_check_config_run_and_the_dashboard_refuse_a_broker_url_alike(tmp_path, url, says):
    """A broker URL with a host in brackets that is no IPv6 address (check-config passed it,
    then run died with a traceback) or port 0 (passed, then connected to 1883): check-config
    and run refuse it in mqtt.broker with the same one line, exit 78; as --broker, run and
    the dashboard refuse it with that line too."""
    from agentproc import write_config
    from test_bad_input import _one_line_error
    day = ("--simulate", str(ROOT / "scenarios" / "example-day.json"), "--speed", "100000")
    bad = write_config(tmp_path / "bad", f'[mqtt]\nbroker = "{url}"')
    checked = _one_line_error(run_cli("check-config", "--config", str(bad)), 78)
    assert checked == f"{bad}: mqtt.broker: {says}, got '{url}'"
    assert _one_line_error(run_cli("run", "--config", str(bad), *day), 78) == checked
    fine = write_config(tmp_path / "fine")
    for command in (("run", *day), ("dashboard",)):
        line = _one_line_error(run_cli(*command, "--config", str(fine), "--broker", url), 78)
        assert line == f"pi-agent {command[0]}: --broker: {says}, got '{url}'", command


def test_check_config_refuses_a_password_in_clear_text_as_run_does(tmp_path):
    """A user name for a broker that is not on this machine, over plain mqtt://: run refused
    it (exit 78) while check-config said OK; now both say the same line."""
    from agentproc import write_config
    from test_bad_input import _one_line_error
    cfgfile = write_config(tmp_path / "cfg", '[mqtt]\nbroker = "mqtt://broker.example.org:1883"\nusername = "dev1"')
    checked = _one_line_error(run_cli("check-config", "--config", str(cfgfile)), 78)
    assert "would travel in clear text to broker.example.org" in checked
    ran = run_cli("run", "--config", str(cfgfile), "--simulate", str(ROOT / "scenarios" / "example-day.json"),
                  "--speed", "100000")
    assert _one_line_error(ran, 78) == checked
