"""The pure core: every decision of OpenPalm, from the times and readings it is given.

Nothing in this package does I/O, reads a clock, sleeps, locks or starts a thread (a
test checks its imports). ``Core`` (``monitor.py``) owns the trackers (``position``,
``days``, ``weight_bearing``, ``therapy``, ``reminders``, ``faults``, ``tare``) and
answers each call with a ``Step`` of events and orders (``orders.py``); ``snapshot()``
gives its state as one immutable ``Snapshot`` for every view.
"""

from pi_agent.core.monitor import PAD_CHANNELS, SPLINT_CHANNELS, Core
from pi_agent.core.orders import Step
from pi_agent.core.snapshot import Snapshot

__all__ = ["Core", "Step", "Snapshot", "PAD_CHANNELS", "SPLINT_CHANNELS"]
