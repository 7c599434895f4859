"""What the agent writes for the core: checkpoints and the dose log to the store, and a
new tare to the calibration file. Errors are logged here and reported back, so the loop
(and the core's decision about them) goes on."""

from __future__ import annotations

import datetime as dt
import logging

from pi_agent.core import orders
from pi_agent.core.commands import stored_settings
from pi_agent.core.days import damaged_fields
from pi_agent.errors import CalibrationError, StoreError
from sensors.calibration import load_calibration, save_calibration

log = logging.getLogger("pi_agent")

HISTORY_DAYS = 400        # the store's days handed to the core at start (a day before them starts afresh)


class StoreRecords:
    """The core's records in the store (``store`` None: nothing is kept)."""

    def __init__(self, store) -> None:
        self.store = store
        self._doses: dict[str, int] = {}      # the core's dose keys -> the store's rows

    def history(self, wall: float, zone) -> tuple[dict, dict, list, dict | None]:
        """(days, settings, recent doses, the exercise session stored as running) for a core
        starting at ``wall``."""
        if self.store is None:
            return {}, {}, [], None
        first = dt.datetime.fromtimestamp(wall, zone).date() - dt.timedelta(days=HISTORY_DAYS)
        days = self.store.days(first.isoformat())
        for day, record in days.items():
            damaged = damaged_fields(record)
            if damaged:
                log.warning("store %s: day %s has damaged values (%s): they count as nothing, and the dose "
                            "log still holds the vibration limits", self.store.path, day, "; ".join(damaged))
        settings, damaged = stored_settings(self.store.meta("settings"))
        if damaged:
            log.warning("store %s: damaged settings left out, the configuration's hold: %s", self.store.path,
                        "; ".join(damaged))
        return days, settings, self.store.doses(since=wall - 2 * 86400.0), self.store.meta("exercise")

    def dose_log_lost(self, wall: float, zone) -> str | None:
        """The local day whose dose log was lost, if it is today or later by the wall clock:
        the store was found damaged and moved aside (at this start, or at an earlier one;
        said in the store, so that a restart later that day knows it). The daily maximum
        must still hold, so there is no therapy until that day is over. None: the dose log
        is whole."""
        if self.store is None:
            return None
        today = dt.datetime.fromtimestamp(wall, zone).date().isoformat()
        if self.store.moved_aside is not None:
            aside, self.store.moved_aside = self.store.moved_aside, None     # said once, for today
            try:
                self.store.checkpoint({}, [], {"doses_lost": {"day": today, "file": aside}})
            except StoreError as exc:           # this run holds it all the same
                log.error("%s; a restart later today will not know that today's doses were lost", exc)
            return today
        lost = self.store.meta("doses_lost")          # (a clock set back to an earlier day: still held)
        return lost["day"] if lost is not None and isinstance(lost.get("day"), str) and today <= lost["day"] else None

    def checkpoint(self, record: orders.Checkpoint) -> bool:
        """Write a checkpoint in one transaction; False if it failed (logged)."""
        if self.store is None:
            return True
        doses = {self._doses[key]: seconds for key, seconds in record.doses.items() if key in self._doses}
        try:
            self.store.checkpoint(record.days, record.bouts, record.meta, doses)
        except StoreError as exc:
            if "settings" in record.meta:
                log.error("%s; the new setting holds until the agent restarts", exc)
            else:
                log.error("%s; keeping the totals in memory and trying again at the next checkpoint", exc)
            return False
        return True

    def dose(self, order: orders.DoseStart | orders.DoseEnd) -> bool:
        """Write the dose log (a dose is booked before its motor starts); False if it failed."""
        if self.store is None:
            return True
        try:
            if isinstance(order, orders.DoseStart):
                self._doses[order.key] = self.store.dose_start(order.day, order.start, order.planned_end,
                                                               order.level, order.source)
            else:
                row = self._doses.pop(order.key, None)
                if row is None and order.key.startswith("row:"):
                    row = int(order.key[4:])       # a dose of an earlier run, closed after a restart
                if row is not None:
                    self.store.dose_end(row, order.stop, order.seconds, order.reason)
        except StoreError as exc:
            if isinstance(order, orders.DoseStart):
                log.error("%s; the vibration does not start unbooked", exc)
                return False
            log.error("%s; the dose still counts in the day's total", exc)
        return True

    def report(self, order: orders.ReportRequest) -> tuple[dict | None, str | None]:
        """The days of a ``report`` command, as ``simulate --report json`` gives them: the
        store's, with the core's own (fresher than its last checkpoint) over them."""
        from pi_agent.report import live_days, store_days
        from pi_agent.report.period import Period
        period = Period(dt.date.fromisoformat(order.first), dt.date.fromisoformat(order.last))
        try:
            days = store_days(self.store, period) if self.store is not None else {}
        except StoreError as exc:
            return None, f"report: cannot read the store: {exc}"
        days.update(live_days(order.live))
        return {"from": order.first, "to": order.last, "days": dict(sorted(days.items()))}, None


def save_tares(channels, calibration_path, tares: dict[str, float], wall: float,
               zone) -> tuple[dict | None, str | None]:
    """Apply a tare measured at wall time ``wall`` to the channels and save it, dated in
    ``zone`` (``calibration_path`` None: in memory only): (the tares saved, None), or
    (None, why not) with nothing changed."""
    today = dt.datetime.fromtimestamp(wall, zone).date().isoformat()
    new = {ch: channels[ch].calibration.with_tare(tare, today) for ch, tare in tares.items()}
    if calibration_path is not None:
        try:
            entries = load_calibration(calibration_path)
            for ch, cal in new.items():
                old = entries.get(ch)
                entries[ch] = cal.rescaled(old.gain) if old is not None and old.gain != cal.gain else cal
            save_calibration(calibration_path, entries)
        except (OSError, CalibrationError) as exc:
            return None, f"tare: cannot save the calibration: {exc}; nothing changed"
    for ch, cal in new.items():
        channels[ch].calibration = cal
    return {ch: round(cal.tare, 1) for ch, cal in new.items()}, None
