"""MQTT: live state, daily totals and events for caregivers (the dashboard, Home
Assistant); commands in.

- ``link.py``: the paho-mqtt client (connection, TLS, credentials, callbacks) and the
  publishing done in the agent's thread;
- ``outbox.py``: the durable event outbox and the events on their way to the broker;
- ``payloads.py``: every payload, and when the state and the days are due (pure);
- ``discovery.py``: Home Assistant's MQTT discovery message (pure);
- ``problems.py``: why a connection failed, in words that say what to check (pure).
"""

from pi_agent.mqtt.link import MqttLink, check_credentials, device_id, is_loopback, parse_broker
from pi_agent.mqtt.outbox import Outbox

__all__ = ["MqttLink", "Outbox", "check_credentials", "device_id", "is_loopback", "parse_broker"]
