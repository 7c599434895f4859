"""The dashboard's password (stored hashed, with scrypt, in a file only its owner may
read), the gate in front of its check, and the expiring sessions.

A password check costs 16 MiB and some tens of milliseconds (that is what makes
guessing slow), so it is the one thing on the page an attacker can use to exhaust a
Pi. ``LoginGate`` bounds it: the checks run on ``checks`` threads of their own (so their
memory is taken, and reused, by those threads only: the allocator keeps what a thread
freed for that thread's next use), ``waiting`` more queue, and beyond that the answer is
"busy". Each client has at most one check in flight, and after each wrong password it
must wait before the next (1 s, doubling up to a minute). A refused attempt costs
nothing: no check, no thread left sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pi_agent.errors import ConfigError

N, R, P = 2 ** 14, 8, 1           # 128 * R * N bytes: 16 MiB per check
MAX_N, MAX_R, MAX_P = 2 ** 16, 16, 4


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or int(n) > MAX_N or int(r) > MAX_R or int(p) > MAX_P:
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def valid_hash(stored: str) -> bool:
    parts = stored.split("$")
    return (len(parts) == 6 and parts[0] == "scrypt" and all(parts[1:]) and parts[1].isdigit()
            and parts[2].isdigit() and parts[3].isdigit() and int(parts[1]) <= MAX_N
            and int(parts[2]) <= MAX_R and int(parts[3]) <= MAX_P)


# -- where the hash lives -------------------------------------------------------------------------
def hash_path(cfg) -> Path:
    """``dashboard.password_file``, relative to the configuration file's folder."""
    path = Path(cfg.dashboard.password_file)
    if not path.is_absolute() and cfg.path is not None:
        path = cfg.path.parent / path
    return path


CREDENTIAL = "dashboard_password"     # systemd's credential of that name, when the service has one


def read_path(cfg, environ=os.environ) -> Path:
    """Where the dashboard reads the hash: the credential ``dashboard_password`` that
    systemd hands over (the unit's ``LoadCredential=``: systemd reads the root-only file and
    gives the service a copy only its user may read), else ``dashboard.password_file``."""
    folder = environ.get("CREDENTIALS_DIRECTORY")
    if folder and (Path(folder) / CREDENTIAL).is_file():
        return Path(folder) / CREDENTIAL
    return hash_path(cfg)


def write_hash(path: Path, stored: str) -> None:
    """Write the hash atomically into a file that only its owner may read (mode 0600,
    from the moment it exists)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(stored + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)                  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_hash(cfg) -> str:
    """The stored hash, from ``dashboard.password_file`` or, for a configuration written by
    an older version, ``dashboard.password_hash`` (systemd's credential first: ``read_path``).
    Raises ConfigError with one line."""
    path = read_path(cfg)
    try:
        stored = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if cfg.dashboard.password_hash:
            return cfg.dashboard.password_hash
        raise ConfigError(f"{cfg.path}: dashboard.password_file: expected a password in '{path}'; set one "
                          f"with `pi-agent dashboard-password --config {cfg.path}`") from None
    except OSError as exc:
        raise ConfigError(f"{cfg.path}: dashboard.password_file: cannot read '{path}': {exc.strerror}") from None
    if not valid_hash(stored):
        raise ConfigError(f"{path}: expected a hash written by `pi-agent dashboard-password`, got something "
                          "else; set the password again")
    return stored


def readable_by_others(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


# -- the gate in front of the check ------------------------------------------------------------
@dataclass
class _Client:
    failures: int = 0
    next_at: float = 0.0          # monotonic: no check before this
    checking: bool = False


@dataclass(frozen=True)
class Verdict:
    """``ok`` (the password is right), ``wrong``, ``wait`` (this client must wait
    ``retry_s`` first) or ``busy`` (too many checks at once, from everyone)."""
    outcome: str
    retry_s: float = 0.0


class LoginGate:
    def __init__(self, *, checks: int = 2, waiting: int = 6, base_s: float = 1.0, max_s: float = 60.0,
                 forget_s: float = 900.0, clients: int = 4096, clock=time.monotonic) -> None:
        self.limit = checks + waiting
        self._checker = ThreadPoolExecutor(max_workers=checks, thread_name_prefix="password-check")
        self.base_s, self.max_s, self.forget_s = base_s, max_s, forget_s
        self.max_clients = clients
        self.clock = clock
        self.admitted = 0             # checks running or queued
        self.peak = 0                 # the most ever admitted at once (for tests and the curious)
        self.checks_done = 0
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._lock = threading.Lock()

    def attempt(self, client: str, password: str, stored: str, check=check_password) -> Verdict:
        with self._lock:
            now = self.clock()
            c = self._clients.get(client)
            if c is not None and not c.checking and now - c.next_at > self.forget_s:
                c = None
                del self._clients[client]
            if c is not None and c.checking:
                return Verdict("wait", max(1.0, c.next_at - now))
            if c is not None and now < c.next_at:
                return Verdict("wait", c.next_at - now)
            if self.admitted >= self.limit:
                return Verdict("busy", 2.0)
            if c is None:
                c = self._client(client)
            c.checking = True
            self.admitted += 1
            self.peak = max(self.peak, self.admitted)
        try:
            ok = bool(stored) and self._checker.submit(check, password, stored).result()
        finally:
            with self._lock:
                self.admitted -= 1
                self.checks_done += 1
                c.checking = False
        with self._lock:
            if ok:
                self._clients.pop(client, None)
                return Verdict("ok")
            c.failures += 1
            c.next_at = self.clock() + min(self.max_s, self.base_s * 2 ** (c.failures - 1))
            return Verdict("wrong", c.next_at - self.clock())

    def _client(self, client: str) -> _Client:
        """A new client's entry; the table stays bounded (the oldest idle ones go first)."""
        if len(self._clients) >= self.max_clients:
            for key in list(self._clients):
                if not self._clients[key].checking:
                    del self._clients[key]
                if len(self._clients) < self.max_clients:
                    break
        c = self._clients[client] = _Client()
        return c


class Sessions:
    """Random tokens that expire ``hours`` after login (at most ``limit`` at once: the
    oldest go first)."""

    def __init__(self, hours: float, clock=time.monotonic, limit: int = 256) -> None:
        self.lifetime = hours * 3600.0
        self.clock = clock
        self.limit = limit
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def new(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            while len(self._tokens) >= self.limit:
                del self._tokens[min(self._tokens, key=self._tokens.__getitem__)]
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
