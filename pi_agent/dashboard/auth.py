"""The dashboard's password (stored hashed, with scrypt) and its expiring sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time

N, R, P = 2 ** 14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def valid_hash(stored: str) -> bool:
    parts = stored.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(parts[1:4]) and parts[1].isdigit()


class Sessions:
    """Random tokens that expire ``hours`` after login."""

    def __init__(self, hours: float, clock=time.monotonic) -> None:
        self.lifetime = hours * 3600.0
        self.clock = clock
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def new(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.lifetime
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expiry = self._tokens.get(token)
            if expiry is None:
                return False
            if expiry <= self.clock():
                del self._tokens[token]
                return False
            return True

    def end(self, token: str | None) -> None:
        with self._lock:
            self._tokens.pop(token or "", None)
