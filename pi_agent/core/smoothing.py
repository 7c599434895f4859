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
        self._t: deque[float] = deque()
        self._v: deque[float] = deque()
        self._sum_t = self._sum_v = 0.0      # running sums (a reading costs the same whatever n)

    def reset(self) -> None:
        self._t.clear()
        self._v.clear()
        self._sum_t = self._sum_v = 0.0

    def __len__(self) -> int:
        return len(self._v)

    def feed(self, t: float, value: float) -> None:
        times = self._t
        if times and t - times[-1] > self.max_gap_s:
            self.reset()
        elif len(times) == self.n:
            self._sum_t -= times.popleft()
            self._sum_v -= self._v.popleft()
        times.append(t)
        self._v.append(value)
        self._sum_t += t
        self._sum_v += value

    @property
    def middle_t(self) -> float:
        """The time the window stands for: the mean time of its readings."""
        return self._sum_t / len(self._t)

    def mean(self, t: float, value: float) -> tuple[float, float]:
        """Take a reading; (the window's middle time, the mean of the window)."""
        self.feed(t, value)
        k = len(self._v)
        return self._sum_t / k, self._sum_v / k

    def median(self, t: float, value: float) -> tuple[float, float]:
        """Take a reading; (the window's middle time, the median of the window)."""
        self.feed(t, value)
        ordered = sorted(self._v)
        k = len(ordered)
        mid = ordered[k // 2] if k % 2 else (ordered[k // 2 - 1] + ordered[k // 2]) / 2
        return self.middle_t, mid
