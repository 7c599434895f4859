"""``pi-agent dashboard``: the caregiver dashboard, served from what the devices publish
over MQTT; ``pi-agent dashboard-password``: its password, stored hashed."""

from __future__ import annotations

import sys
import threading

from pi_agent import config
from pi_agent.cli.common import EX_NOPERM, EX_UNAVAILABLE, log, on_signals, with_config
from pi_agent.errors import ConfigError


def add_parser(sub) -> None:
    dash = with_config(sub.add_parser("dashboard", help="serve the caregiver dashboard from MQTT"))
    dash.add_argument("--broker", metavar="URL", help="MQTT broker (default: mqtt.broker)")
    dash.add_argument("--listen", metavar="HOST:PORT", help="where to listen (default: dashboard.listen)")
    dash.set_defaults(handler=cmd_dashboard)
    with_config(sub.add_parser("dashboard-password", help="set the dashboard's password (stored hashed)")) \
        .set_defaults(handler=cmd_dashboard_password)


def cmd_dashboard(args) -> int:
    from pi_agent.dashboard import auth
    from pi_agent.dashboard.fleet import Fleet
    from pi_agent.dashboard.link import sender, subscribe
    from pi_agent.dashboard.link import stop as stop_link
    from pi_agent.dashboard.server import serve
    cfg = config.load(args.config)
    broker = args.broker or cfg.mqtt.broker
    if not broker:
        raise ConfigError(f"{cfg.path}: mqtt.broker: expected a broker for the dashboard (or --broker URL), got none")
    from pi_agent.mqtt import check_credentials, parse_broker
    _, broker_host, broker_port = parse_broker(broker)    # a bad --broker: said first, as run says it
    password_hash = auth.read_hash(cfg)
    if password_hash == cfg.dashboard.password_hash:
        log.warning("%s: the dashboard's password hash is in the configuration, which others may read; "
                    "run `pi-agent dashboard-password` to move it to a file of its own", cfg.path)
    elif auth.readable_by_others(auth.read_path(cfg)):
        log.warning("%s: others may read the dashboard's password hash: chmod 600 it", auth.read_path(cfg))
    listen = args.listen or cfg.dashboard.listen
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen: expected HOST:PORT, got '{listen}'")
    password = config.mqtt_password(cfg)
    check_credentials(cfg, broker, password)
    fleet = Fleet(heartbeat_s=cfg.mqtt.heartbeat_s, keepalive_s=cfg.mqtt.keepalive_s,
                  broker=f"{broker_host}:{broker_port}")
    client = subscribe(fleet, cfg, broker, password)
    try:
        dashboard, server = serve(fleet, password_hash, cfg.dashboard.session_hours,
                                  host.strip("[]"), int(port), send=sender(client))
    except OSError as exc:
        print(f"pi-agent dashboard: cannot listen on {listen}: {exc.strerror}", file=sys.stderr)
        return EX_UNAVAILABLE
    on_signals(lambda: threading.Thread(target=server.shutdown, daemon=True).start())
    log.info("dashboard on http://%s/ (devices from %s)", listen, broker)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        dashboard.stopping.set()
        server.server_close()
        stop_link(client)
    return 0


def cmd_dashboard_password(args) -> int:
    import getpass
    from pi_agent.dashboard import auth
    cfg = config.load(args.config)
    if sys.stdin.isatty():
        first = getpass.getpass("New dashboard password: ")
        if getpass.getpass("Again: ") != first:
            print("pi-agent dashboard-password: the two passwords differ; nothing changed", file=sys.stderr)
            return 1
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("pi-agent dashboard-password: the password must have at least 8 characters; nothing changed", file=sys.stderr)
        return 1
    path = auth.hash_path(cfg)
    from pi_agent.cli.common import state_dir_of
    from pi_agent.store import refuse_own_file
    refuse_own_file(path, (state_dir_of(cfg, None),), "dashboard.password_file")
    try:
        auth.write_hash(path, auth.hash_password(first))
    except OSError as exc:
        print(f"pi-agent dashboard-password: cannot write '{path}': {exc.strerror}; nothing changed", file=sys.stderr)
        return EX_NOPERM if isinstance(exc, PermissionError) else EX_UNAVAILABLE
    if cfg.dashboard.password_hash:             # an older version's place: readable by others
        config.set_key(cfg.path, "dashboard", "password_hash", "")
    print(f"The dashboard password is set (stored hashed in {path}, readable by you only).")
    return 0
