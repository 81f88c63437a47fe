"""Door actuators: what happens on a grant. Log-only by default; shell command or signed HTTP webhook.

An actuator is called only for a grant. Any failure (non-zero exit, timeout, HTTP error) raises
``ActuatorError``; the daemon then records an error event and the door stays locked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
from datetime import datetime, timezone
from typing import Protocol

import httpx

from gatekeeper.config import Settings
from gatekeeper.errors import EnvironmentFault
from gatekeeper.core.redaction import redact_url

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
    """POSTs ``{"door", "person", "action": "unlock", "at", "nonce"}`` as JSON (httpx); any non-2xx
    answer or timeout is a failure.

    With a shared secret the body is signed: ``X-Gatekeeper-Signature: sha256=<HMAC of the body>``.
    The relay controller checks it, and rejects an ``at`` older than a few seconds or a nonce it
    has seen, so nobody else on the network can open the door by posting the same JSON, nor by
    replaying a recorded unlock. Only connection failures are retried: once a request may have
    reached the relay it is never sent again, so a late duplicate cannot open the door after the
    audit log recorded the failure."""

    def __init__(self, url: str, timeout_s: float, secret: bytes | None = None, retries: int = 2) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.secret = secret
        self._client = httpx.Client(transport=httpx.HTTPTransport(retries=retries), timeout=timeout_s)

    def body(self, door_id: str, person_id: str) -> bytes:
        at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        return json.dumps({"door": door_id, "person": person_id, "action": "unlock", "at": at, "nonce": secrets.token_hex(16)}).encode()

    def unlock(self, door_id: str, person_id: str) -> None:
        body = self.body(door_id, person_id)
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        try:
            resp = self._client.post(self.url, content=body, headers=headers)
        except Exception as exc:
            # The URL carries a token (query or user info): the message goes to the audit log.
            raise ActuatorError(f"webhook {redact_url(self.url)} failed: {str(exc).replace(self.url, redact_url(self.url))}") from exc
        if not resp.is_success:
            raise ActuatorError(f"webhook {redact_url(self.url)} answered HTTP {resp.status_code}")


SIGNATURE_HEADER = "X-Gatekeeper-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for ``body``: what a relay controller recomputes and compares."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _kill_group(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already
    if proc.returncode is None:
        proc.wait()


def make_actuator(settings: Settings) -> DoorActuator:
    """The configured actuator (settings have checked that its command or URL is there)."""
    if settings.actuator == "command" and settings.actuator_command:
        return CommandActuator(settings.actuator_command, settings.actuator_timeout_s)
    if settings.actuator == "webhook" and settings.actuator_url:
        secret = settings.actuator_secret.get_secret_value().encode() if settings.actuator_secret else None
        if secret is None:
            log.warning("webhook unlocks to %s are NOT signed (actuator_allow_unsigned): anyone who can reach the relay can open the door", settings.actuator_url)
        return WebhookActuator(settings.actuator_url, settings.actuator_timeout_s, secret)
    return LogOnlyActuator()
