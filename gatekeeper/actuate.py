"""Door actuators: what happens on a grant. Log-only by default; shell command or HTTP webhook.

An actuator is called only for a grant. Any failure (non-zero exit, timeout, HTTP error) raises
``ActuatorError``; the daemon then records an error event and the door stays locked.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import urllib.parse
import urllib.request
from typing import Protocol

from gatekeeper.config import Settings
from gatekeeper.errors import InputError, EnvironmentFault

log = logging.getLogger(__name__)


class ActuatorError(EnvironmentFault):
    pass


class DoorActuator(Protocol):
    def unlock(self, door_id: str, person_id: str) -> None: ...


class LogOnlyActuator:
    def __init__(self) -> None:
        self.unlocks: list[tuple[str, str]] = []

    def unlock(self, door_id: str, person_id: str) -> None:
        self.unlocks.append((door_id, person_id))
        log.info("UNLOCK %s for %s (log-only actuator)", door_id, person_id)


class CommandActuator:
    """Runs a command, e.g. a GPIO relay script; ``{door}`` and ``{person}`` are substituted as
    whole arguments (never through a shell), and ids are validated at enrollment.

    The command runs in its own process group: on a timeout the whole group is killed, so a
    relay script's own child cannot fire the relay after the audit log said "door not opened"."""

    def __init__(self, command: str, timeout_s: float) -> None:
        self.argv = shlex.split(command)
        self.timeout_s = timeout_s

    def unlock(self, door_id: str, person_id: str) -> None:
        argv = [a.replace("{door}", door_id).replace("{person}", person_id) for a in self.argv]
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        except OSError as exc:
            raise ActuatorError(f"actuator command failed to start: {exc}") from exc
        try:
            _, stderr = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise ActuatorError(f"actuator command timed out after {self.timeout_s:g} s; its process group was killed") from None
        if proc.returncode != 0:
            raise ActuatorError(f"actuator command exited {proc.returncode}: {stderr.strip()[:200]}")


class WebhookActuator:
    """POSTs ``{"door": ..., "person": ...}`` as JSON; any non-2xx answer or timeout is a failure."""

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = url
        self.timeout_s = timeout_s

    def unlock(self, door_id: str, person_id: str) -> None:
        body = json.dumps({"door": door_id, "person": person_id, "action": "unlock"}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                if not 200 <= resp.status < 300:
                    raise ActuatorError(f"webhook answered HTTP {resp.status}")
        except ActuatorError:
            raise
        except Exception as exc:
            # The URL carries a token (query or user info): the message goes to the audit log.
            raise ActuatorError(f"webhook {redact_url(self.url)} failed: {str(exc).replace(self.url, redact_url(self.url))}") from exc


def _kill_group(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already
    if proc.returncode is None:
        proc.wait()


def redact_url(url: str) -> str:
    """A URL fit for logs: no user info, no query string (tokens live in both)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def redact_source(source: str) -> str:
    """A camera source fit for logs: a stream URL redacted, a device index or file path as is."""
    return redact_url(source) if "://" in source else source


def make_actuator(settings: Settings) -> DoorActuator:
    if settings.actuator == "command":
        if not settings.actuator_command:
            raise InputError("actuator 'command' needs GATEKEEPER_ACTUATOR_COMMAND")
        return CommandActuator(settings.actuator_command, settings.actuator_timeout_s)
    if settings.actuator == "webhook":
        if not settings.actuator_url:
            raise InputError("actuator 'webhook' needs GATEKEEPER_ACTUATOR_URL")
        return WebhookActuator(settings.actuator_url, settings.actuator_timeout_s)
    return LogOnlyActuator()
