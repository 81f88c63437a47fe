"""The webhook actuator against a real HTTP server on loopback: a signed body the relay can check,
failures that keep the door shut, and no second request once one may have reached the relay."""

from __future__ import annotations

import hmac
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from gatekeeper.config import Settings
from gatekeeper.door.actuate import SIGNATURE_HEADER, ActuatorError, WebhookActuator, make_actuator, sign

SECRET = b"relay-shared-secret-0123456789"


class Relay(BaseHTTPRequestHandler):
    """A relay controller that checks the signature as the README tells integrators to."""

    status = 200
    received: list[tuple[dict[str, object], str | None]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((json.loads(body), self.headers.get(SIGNATURE_HEADER)))
        signed = self.headers.get(SIGNATURE_HEADER)
        ok = signed is not None and hmac.compare_digest(signed, sign(SECRET, body))
        self.send_response(self.status if ok else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def relay() -> Iterator[str]:
    Relay.received, Relay.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Relay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/open"
    server.shutdown()


def test_signed_unlock_is_accepted_and_names_door_and_person(relay: str) -> None:
    WebhookActuator(relay, timeout_s=2, secret=SECRET).unlock("front", "emp-1")
    (body, signature), = Relay.received
    assert body["door"] == "front" and body["person"] == "emp-1" and body["action"] == "unlock"
    assert signature and signature.startswith("sha256=")


def test_every_unlock_has_a_fresh_nonce_so_a_replay_is_recognisable(relay: str) -> None:
    actuator = WebhookActuator(relay, timeout_s=2, secret=SECRET)
    actuator.unlock("front", "emp-1")
    actuator.unlock("front", "emp-1")
    assert Relay.received[0][0]["nonce"] != Relay.received[1][0]["nonce"]


def test_attack_an_unsigned_or_wrongly_signed_unlock_is_refused_by_the_relay(relay: str) -> None:
    with pytest.raises(ActuatorError, match="HTTP 401"):
        WebhookActuator(relay, timeout_s=2).unlock("front", "intruder")
    with pytest.raises(ActuatorError, match="HTTP 401"):
        WebhookActuator(relay, timeout_s=2, secret=b"guessed-secret-000000000").unlock("front", "intruder")


def test_a_relay_error_is_an_actuator_failure(relay: str) -> None:
    Relay.status = 503
    with pytest.raises(ActuatorError, match="HTTP 503"):
        WebhookActuator(relay, timeout_s=2, secret=SECRET).unlock("front", "emp-1")
    assert len(Relay.received) == 1, "an answered request is never repeated"


def test_a_relay_that_does_not_answer_in_time_is_not_asked_twice() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: [accepted.append(listener.accept()[0]) for _ in range(3)], daemon=True).start()
    with pytest.raises(ActuatorError, match="failed"):
        WebhookActuator(f"http://127.0.0.1:{listener.getsockname()[1]}/open", timeout_s=0.5, secret=SECRET).unlock("front", "emp-1")
    assert len(accepted) == 1, "the request may have reached the relay: a retry could open the door after the log said it failed"
    listener.close()


def test_an_unsigned_webhook_is_refused_unless_explicitly_allowed(caplog: pytest.LogCaptureFixture) -> None:
    """Anyone on the network path can send an unsigned unlock: the door will not start with one
    unless the admin says the relay cannot check signatures, and then it warns."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs actuator_secret"):
        Settings(actuator="webhook", actuator_url="http://127.0.0.1:9/open")
    allowed = Settings(actuator="webhook", actuator_url="http://127.0.0.1:9/open", actuator_allow_unsigned=True)
    with caplog.at_level("WARNING"):
        actuator = make_actuator(allowed)
    assert isinstance(actuator, WebhookActuator) and actuator.secret is None
    assert "NOT signed" in caplog.text


def test_the_secret_comes_from_settings_and_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEKEEPER_ACTUATOR_SECRET", SECRET.decode())
    settings = Settings(actuator="webhook", actuator_url="http://127.0.0.1:9/open")
    actuator = make_actuator(settings)
    assert isinstance(actuator, WebhookActuator) and actuator.secret == SECRET
    assert SECRET.decode() not in repr(settings) and SECRET.decode() not in str(settings.model_dump())
