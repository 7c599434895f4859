"""``python -m pi_agent``: the command line (``pi_agent.cli``).

SIGUSR1 writes every thread's stack to standard error (the journal) and stops nothing. It
is set here, before the command line's imports: until a handler is set, SIGUSR1 kills the
process (``pi_agent.cli`` sets it again at its top, for the ``pi-agent`` script)."""

import faulthandler
import signal

faulthandler.register(signal.SIGUSR1, all_threads=True)

from pi_agent.cli import main  # noqa: E402  (after the handler, on purpose)

raise SystemExit(main())
