# Two commands do all the set-up on a fresh machine (Python 3.11+ with venv):
#   make demo   the agent on a simulated day: no Raspberry Pi, no MQTT broker needed
#   make test   the whole test suite (it needs Mosquitto, OpenSSL, Chromium and chromedriver)
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo report-demo test setup clean

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

# Four simulated weeks, then the therapist's report of them in state/four-weeks/report.html.
report-demo: $(STAMP)
	rm -rf state/four-weeks
	$(VENV)/bin/pi-agent simulate scenarios/four-weeks.json --state-dir state/four-weeks --report text
	$(VENV)/bin/pi-agent report --state-dir state/four-weeks --output state/four-weeks/report.html
	@echo "The report: state/four-weeks/report.html (open it in a browser; it prints on A4)"

# Eight workers on any machine: most tests wait on real processes (a broker, agents, a
# browser), so they overlap well even on two cores, and with a CPU-bound job beside them
# more workers keep the CPU busier (on two cores: 8 min 2 s on four, 6 min 27 s on six,
# 4 min 14 s on eight).
# PYTEST_ARGS: more options, e.g. -k or a file.
# The real parts the tests use, said in one line when one is missing (as .ci/run installs them).
NEEDED := mosquitto mosquitto_pub openssl chromedriver
test: $(STAMP)
	@missing=""; for tool in $(NEEDED); do command -v $$tool >/dev/null || [ -x /usr/sbin/$$tool ] || missing="$$missing $$tool"; done; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then echo "make test: not installed:$$missing (Debian, Ubuntu: sudo apt-get install mosquitto mosquitto-clients openssl chromium chromium-driver)" >&2; exit 1; fi
	$(VENV)/bin/python -m pytest -n 8 $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
