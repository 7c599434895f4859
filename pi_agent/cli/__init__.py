"""``pi-agent``: the command line. One module per command; this one builds the parser
from them and runs the command asked for.

A command module has ``add_parser(sub)``, which adds its sub-command(s) to the parser,
each with the function that runs it (``set_defaults(handler=...)``), and that function,
which returns the exit status. What several commands share (exit statuses, the zone, the
store's folder, signals) is in ``common.py``. A new command is a module here and its name
in ``COMMAND_MODULES``. Command modules import what they run inside their functions, so
that ``pi-agent --version`` or ``status`` does not load the agent.
"""

from __future__ import annotations

import faulthandler
import signal

# SIGUSR1 writes every thread's stack to standard error (the journal) and stops nothing:
# where a process that stopped answering waits. Set before the heavier imports below, since
# until a handler is set SIGUSR1 kills the process (``python -m pi_agent`` sets it even
# earlier, in ``__main__``). ``import pi_agent`` alone sets nothing.
faulthandler.register(signal.SIGUSR1, all_threads=True)

import argparse  # noqa: E402
import errno  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from pi_agent import __version__, config  # noqa: E402
from pi_agent.cli import calibrate, check_config, common, dashboard, report, run, simulate, status  # noqa: E402
from pi_agent.errors import ConfigError, InputError, OutputError, StoreAccessError, StoreError  # noqa: E402
from pi_agent.logs import one_line  # noqa: E402

# What a write to a full or failing standard output raises (with no file name: files the
# commands write name themselves in their errors).
OUTPUT_ERRNOS = (errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG)

# In the order of ``pi-agent --help``.
COMMAND_MODULES = (run, simulate, status, report, check_config, dashboard, calibrate)

# Commands that write next to the configuration file, so cannot run on the shipped defaults.
WRITES_BESIDE_CONFIG = {"calibrate": "to save the calibration with",
                        "dashboard": "that holds the dashboard's password",
                        "dashboard-password": "to store the password in"}


def _say(error) -> None:
    """An error, one line on standard error: whatever a bad name or value in it holds (a
    line break, an escape sequence, 100,000 characters) cannot start another line."""
    print(one_line(str(error)), file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (argparse prints the whole usage before it),
    and the same exit status, 2."""

    def error(self, message: str):
        _say(f"{self.prog}: {message} (see {self.prog} --help)")
        sys.exit(2)


def _of_command(args, line: str) -> str:
    """An option's error is said by its command ('pi-agent report: --from: ...'), as argparse
    says its own; a file's error keeps the file's name first."""
    return f"pi-agent {args.command}: {line}" if line.startswith("--") else line


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pi-agent", description="OpenPalm: a monitor for a stroke survivor's hand.")
    p.add_argument("--version", action="version", version=f"pi-agent {__version__}")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra:                           # said by the command's own name, as its other usage errors
        _Parser(prog=f"pi-agent {args.command}").error(f"unrecognized arguments: {' '.join(extra)}")
    from pi_agent import logs
    logs.setup(args.log_level)
    try:
        if hasattr(args, "config"):
            args.config = config.locate(args.config)
            if args.config is None and args.command in WRITES_BESIDE_CONFIG:
                raise ConfigError(f"pi-agent {args.command}: expected a configuration file "
                                  f"{WRITES_BESIDE_CONFIG[args.command]} (--config FILE, ${config.PATH_ENV} "
                                  f"or {config.SYSTEM_PATH}), found none")
        code = args.handler(args)
        try:
            if sys.stdout is not None:   # (None: started with standard output closed)
                sys.stdout.flush()       # a closed pipe or a full disk shows here, not at exit
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            raise OutputError(f"pi-agent {args.command}: cannot write the standard output: "
                              f"{exc.strerror or exc}") from None
        return code
    except BrokenPipeError:
        # The reader went away (`... | head -1`): as any Unix tool, stop quietly. Python
        # flushes stdout again at exit, so it is pointed at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OutputError as exc:
        # What was not written must not be tried again at exit (a second error, a traceback).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _say(_of_command(args, str(exc)))
        return common.EX_IOERR
    except ConfigError as exc:
        for line in exc.problems:
            _say(_of_command(args, line))
        return common.EX_CONFIG
    except InputError as exc:
        for line in exc.problems:
            _say(_of_command(args, line))
        return common.EX_DATAERR
    except StoreAccessError as exc:
        _say(f"pi-agent {args.command}: {exc}")
        return common.EX_NOPERM
    except StoreError as exc:
        _say(f"pi-agent {args.command}: {exc}")
        return common.EX_UNAVAILABLE
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        if exc.filename is not None or exc.errno not in OUTPUT_ERRNOS:
            raise
        # A write to a full or broken standard output, inside the command: as at the end.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"pi-agent {args.command}: cannot write the standard output: {exc.strerror or exc}", file=sys.stderr)
        return common.EX_IOERR
