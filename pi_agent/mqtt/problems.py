"""Why the broker cannot be reached, in words that say what to check.

A connection fails for very different reasons: no broker listens there, the broker's
certificate is not trusted or is for another name, the broker refuses the user name and
password. Each gets its own log line (once, until the link has been up again), naming
the configuration key to look at. Pure: the link hands in the exception or the
broker's reason code.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

# OpenSSL's verification results (X509_V_ERR_*) that mean "this CA is not trusted here".
UNTRUSTED = {2, 18, 19, 20, 21, 27}
HOSTNAME_MISMATCH = 62
EXPIRED, NOT_YET_VALID = 10, 9


@dataclass(frozen=True)
class Problem:
    kind: str        # 'no_broker', 'untrusted', 'hostname', 'expired', 'tls', 'credentials', 'not_authorised', ...
    text: str        # the log line


AGENT_GOES_ON = "tracking goes on, events wait in the outbox"


def connect_problem(exc: BaseException | None, host: str, port: int, *, ca_file: str, tls: bool,
                    goes_on: str = AGENT_GOES_ON) -> Problem:
    """The problem behind a failed connection attempt (``exc``: what the socket raised);
    ``goes_on``: what the program does meanwhile, said when no broker answers."""
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        code, why = exc.verify_code, exc.verify_message or exc.reason or str(exc)
        if code == HOSTNAME_MISMATCH:
            return Problem("hostname", f"TLS: the broker's certificate at {where} is not valid for the name "
                                       f"'{host}' ({why}); connect with a name the certificate lists "
                                       f"(mqtt.broker), or give the broker a certificate for '{host}'")
        if code in (EXPIRED, NOT_YET_VALID):
            return Problem("expired", f"TLS: the broker's certificate at {where} is out of its dates ({why}); "
                                      f"check the certificate's dates and this device's clock")
        check = (f"check that mqtt.ca_file ({ca_file}) is the CA that signed the broker's certificate" if ca_file
                 else "mqtt.ca_file is empty, so only the system's CAs are trusted: set it to the CA file that "
                      "signed the broker's certificate")
        return Problem("untrusted", f"TLS: the broker's certificate at {where} is not trusted ({why}); {check}")
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if "alert" in reason.lower() and "certificate" in reason.lower():
            return Problem("client_cert", f"TLS: the broker at {where} refused this device's certificate "
                                          f"({reason}); check mqtt.cert_file and mqtt.key_file")
        return Problem("tls", f"TLS: the handshake with {where} failed ({reason}); check that the port speaks "
                              f"TLS (mqtts://) and what the broker's log says")
    if isinstance(exc, socket.gaierror):
        return Problem("no_host", f"no MQTT broker at {where}: the name '{host}' is not known here ({exc.strerror}); "
                                  f"check mqtt.broker; {goes_on}")
    if isinstance(exc, ConnectionResetError | BrokenPipeError) and tls:
        return Problem("tls", f"TLS: {where} closed the connection during the handshake ({exc.strerror}); "
                              f"the port may be a plain mqtt:// listener (such as 1883), not TLS; else check "
                              f"the broker's log (a client certificate it wants, a TLS version)")
    detail = f" ({exc.strerror or exc})" if isinstance(exc, OSError) else ""
    return Problem("no_broker", f"no MQTT broker at {where}{detail}; {goes_on}")


def refusal_problem(reason_code, host: str, port: int, username: str) -> Problem:
    """The broker answered, and refused the connection (paho's ``ReasonCode``)."""
    where, name = f"{host}:{port}", getattr(reason_code, "getName", lambda: str(reason_code))()
    value = getattr(reason_code, "value", None)
    if value in (134, 135):     # Bad user name or password; Not authorized (Mosquitto's answer to a bad password)
        who = f"user '{username}'" if username else "a connection without a user name"
        why = "bad user name or password" if value == 134 else "bad user name or password, or not authorised"
        return Problem("credentials", f"the broker at {where} refused {who}: {why}; check mqtt.username, the "
                                      f"password (mqtt.password_file, systemd's credential mqtt_password or "
                                      f"OPENPALM_MQTT_PASSWORD) and the broker's password file")
    if value == 133:            # Client identifier not valid (3.1.1: 2)
        return Problem("client_id", f"the broker at {where} refused this device's client id; check device.id")
    return Problem("refused", f"the broker at {where} refused the connection: {name}")
