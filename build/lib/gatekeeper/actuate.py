"""Door actuators: what happens on a grant. Log-only by default; shell command or HTTP webhook.

An actuator is called only for a grant. Any failure (non-zero exit, timeout, HTTP error) raises
``ActuatorError``; the daemon then records an error event and the door stays locked.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import urllib.request
from typing import Protocol

from gatekeeper.config import Settings

log = logging.getLogger(__name__)


class ActuatorError(RuntimeError):
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
    """Runs a command, e.g. a GPIO relay script; ``{door}`` and ``{person}`` are substituted."""

    def __init__(self, command: str, timeout_s: float) -> None:
        self.argv = shlex.split(command)
        self.timeout_s = timeout_s

    def unlock(self, door_id: str, person_id: str) -> None:
        argv = [a.replace("{door}", door_id).replace("{person}", person_id) for a in self.argv]
        try:
            done = subprocess.run(argv, timeout=self.timeout_s, capture_output=True, text=True, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ActuatorError(f"actuator command failed: {exc}") from exc
        if done.returncode != 0:
            raise ActuatorError(f"actuator command exited {done.returncode}: {done.stderr.strip()[:200]}")


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
            raise ActuatorError(f"webhook {self.url} failed: {exc}") from exc


def make_actuator(settings: Settings) -> DoorActuator:
    if settings.actuator == "command":
        if not settings.actuator_command:
            raise ValueError("actuator 'command' needs GATEKEEPER_ACTUATOR_COMMAND")
        return CommandActuator(settings.actuator_command, settings.actuator_timeout_s)
    if settings.actuator == "webhook":
        if not settings.actuator_url:
            raise ValueError("actuator 'webhook' needs GATEKEEPER_ACTUATOR_URL")
        return WebhookActuator(settings.actuator_url, settings.actuator_timeout_s)
    return LogOnlyActuator()
