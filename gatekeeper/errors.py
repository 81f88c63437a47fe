"""One root for everything gatekeeper raises on purpose, so callers (the CLI, the web app, an
integrator) can tell "a clear refusal with a reason" from a bug. Each subclass also keeps its
builtin base (ValueError for bad input, RuntimeError for a broken environment)."""

from __future__ import annotations


class GatekeeperError(Exception):
    """A refusal or failure gatekeeper explains in its message."""

    exit_code = 2  # what the CLI exits with


class InputError(GatekeeperError, ValueError):
    """Bad input: a photo, an id, a setting, a model file."""


class EnvironmentFault(GatekeeperError, RuntimeError):
    """The environment is not as it must be: a database, a key, a camera, an actuator."""
