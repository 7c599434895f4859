# Two commands do all the set-up on a fresh machine (Python 3.11+ with venv):
#   make demo   the agent on a simulated day: no Raspberry Pi, no MQTT broker needed
#   make test   the whole test suite
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test setup clean

$(STAMP): pyproject.toml
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(STAMP)

# The demo's store is kept in state/demo (afresh each time) for `pi-agent status`.
demo: $(STAMP)
	rm -rf state/demo
	$(VENV)/bin/pi-agent run --simulate scenarios/demo-day.json --speed 1440 --state-dir state/demo

# Four workers: most tests wait on real processes (a broker, agents, a browser), so
# they overlap well even on two cores. PYTEST_ARGS: more options, e.g. -k or a file.
test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 4 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
