"""The last few readings of one channel, as a mean or a median dated at their middle.

The clinical rules are written for noiseless values. A reading carries Gaussian noise,
and a rule applied to raw readings turns that noise into events: the lowest of twelve
noisy readings lies well under the truth, and a long stretch just over a threshold
shows readings under it. The mean of the last few readings shrinks the noise by the
root of their number; the median does a little less of that but never stretches a short
pulse. Either is dated at the middle of its window (the mean time of its readings), so
smoothing delays a decision by half a window but moves nothing in time. Pure.
"""

from __future__ import annotations

from collections import deque


class Recent:
    """The last ``n`` readings; a gap longer than ``max_gap_s`` between two readings (a
    fault, the channel read slowly) starts the window afresh."""

    def __init__(self, n: int, max_gap_s: float) -> None:
        self.n = max(1, n)
        self.max_gap_s = max_gap_s
        self._t: deque[float] = deque(maxlen=self.n)
        self._v: deque[float] = deque(maxlen=self.n)

    def reset(self) -> None:
        self._t.clear()
        self._v.clear()

    def __len__(self) -> int:
        return len(self._v)

    def feed(self, t: float, value: float) -> None:
        if self._t and t - self._t[-1] > self.max_gap_s:
            self.reset()
        self._t.append(t)
        self._v.append(value)

    @property
    def middle_t(self) -> float:
        """The time the window stands for: the mean time of its readings."""
        return sum(self._t) / len(self._t)

    def mean(self, t: float, value: float) -> tuple[float, float]:
        """Take a reading; (the window's middle time, the mean of the window)."""
        self.feed(t, value)
        return self.middle_t, sum(self._v) / len(self._v)

    def median(self, t: float, value: float) -> tuple[float, float]:
        """Take a reading; (the window's middle time, the median of the window)."""
        self.feed(t, value)
        ordered = sorted(self._v)
        k = len(ordered)
        mid = ordered[k // 2] if k % 2 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2
        return self.middle_t, mid
