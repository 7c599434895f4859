"""Hypothesis strategies shared by the tests."""

from hypothesis import strategies as st

from sensors.units import DATA_RATES, GAINS

gains = st.sampled_from(GAINS)
data_rates = st.sampled_from(DATA_RATES)
