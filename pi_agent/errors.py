"""Every error OpenPalm raises on purpose.

One root, one base per subsystem, and each also inherits the builtin it resembles, so
callers may catch either (the way gpiozero's ``PinInvalidPull(PinError, ValueError)``
does). Third-party errors are translated at the boundary with ``raise ... from exc``.
"""


class OpenPalmError(Exception):
    """Root of every OpenPalm error."""


class InputError(OpenPalmError, ValueError):
    """A person's file or command is unusable. ``problems`` holds one line per problem,
    each naming where, what was expected and what was found: shown without traceback."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# Configuration and calibration: exit status 78 (EX_CONFIG).
class ConfigError(InputError):
    """The configuration is unusable."""


class CalibrationError(ConfigError):
    """A calibration file or a calibration step is unusable."""


class ScenarioError(InputError):
    """A scenario file does not follow the scenario format."""


class OutputError(OpenPalmError, OSError):
    """A file or stream a person asked to be written cannot take it (a full disk,
    ``/dev/full``): one line, exit status 74 (EX_IOERR)."""


# Sensors: hardware misbehaving at run time.
class SensorError(OpenPalmError, OSError):
    """Base of errors reading the ADCs."""


class BusError(SensorError):
    """An I2C transfer to a chip failed (the chip's channels are in fault)."""


class ConversionTimeout(SensorError, TimeoutError):
    """An ADS1115 never reported its conversion as ready (a wedged chip)."""


# Store.
class StoreError(OpenPalmError, OSError):
    """The durable store cannot be used."""


class StoreDamagedError(StoreError):
    """The store's file is damaged, or holds a value no OpenPalm writes (JSON that does not
    decode, a day that is no date, a time out of the clock's range): the agent moves such
    a store aside at start; status and report say so in one line."""


class StoreAccessError(StoreError, PermissionError):
    """The store or its folder cannot be read or written by this user: a fault of the
    set-up (owner, mode, a read-only file system), never damage; it does not heal by a
    restart, so the agent exits with its own status (77) and changes nothing."""
