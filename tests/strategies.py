"""Hypothesis strategies shared by the tests."""

from hypothesis import strategies as st

from sensors.units import DATA_RATES, GAINS

gains = st.sampled_from(GAINS)
data_rates = st.sampled_from(DATA_RATES)


def _values():
    return st.fixed_dictionaries({}, optional={
        "wrist": st.floats(-40, 60), "fingers": st.floats(-10, 100), "palm": st.floats(0, 5)})


steps = st.one_of(
    st.builds(lambda s, v: {"hold": s, "set": v}, st.floats(1, 400), _values()),
    st.builds(lambda s, v: {"ramp": s, "to": v}, st.floats(1, 120), _values()),
    st.builds(lambda s: {"clock_step": s}, st.sampled_from([-7200, -3600, -60, 30, 3600, 7200])),
    st.builds(lambda k, c, s: {"fault": {"kind": k, "channel": c, "for": s}},
              st.sampled_from(["disconnected", "stuck", "i2c_error"]),
              st.sampled_from(["wrist", "fingers", "palm"]), st.floats(1, 120)),
    st.builds(lambda s: {"power_cut": {"off": s}}, st.floats(1, 300)),
)

# Starts near midnight so that day boundaries are crossed often.
starts = st.sampled_from(["2026-06-01T23:50:00", "2026-03-29T00:40:00", "2026-10-25T00:50:00",
                          "2026-06-01T12:00:00"])
