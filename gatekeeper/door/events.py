"""Every door decision, optionally published to MQTT (`<prefix>/<door>/decision`, JSON; the face
snapshot only with ``mqtt_snapshot``), the convention Frigate and Home Assistant users rely on.

Publishing never delays or opens the door: it happens after the decision is in the audit log and
the door has been actuated; the message is built and the snapshot read on a background thread
behind a bounded drop-oldest queue (``side_work.py``), paho's network loop runs in its own thread,
messages queue (100 at most) while the broker is away and are dropped beyond that, and no error
reaches the door loop.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import Callable
from typing import Protocol

from gatekeeper.config import Settings
from gatekeeper.door.side_work import SideWork
from gatekeeper.storage.models import AuditEvent

log = logging.getLogger(__name__)
QUEUE_LIMIT = 100


class DecisionEvents(Protocol):
    def publish(self, row: AuditEvent) -> None: ...

    def close(self) -> None: ...


class NoEvents:
    def publish(self, row: AuditEvent) -> None:
        return None

    def close(self) -> None:
        return None


def decision_payload(row: AuditEvent) -> dict[str, object]:
    """What integrations get: the decision and its evidence, never the face snapshot."""
    return {
        "event_id": row.event_id, "at": row.at.isoformat(), "door": row.door_id, "decision": row.decision,
        "person": row.person_id, "nearest": row.nearest_id, "best": row.best_similarity, "second": row.second_similarity,
        "threshold": row.threshold, "detail": row.detail,
    }


class MqttEvents:
    def __init__(self, settings: Settings, face_of: Callable[[int], bytes] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.prefix = settings.mqtt_topic_prefix
        # The face goes out only when asked (mqtt_snapshot) and when the door saved one.
        self._face_of = face_of if settings.mqtt_snapshot else None
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"gatekeeper-{settings.door_id}")
        self._client.max_queued_messages_set(QUEUE_LIMIT)
        self._client.reconnect_delay_set(1, 30)
        if settings.mqtt_username:
            self._client.username_pw_set(settings.mqtt_username, settings.mqtt_password.get_secret_value() if settings.mqtt_password else None)
        if settings.mqtt_tls:
            self._client.tls_set(ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        self._client.connect_async(settings.mqtt_host, settings.mqtt_port, keepalive=30)
        self._client.loop_start()
        self._side = SideWork(f"{settings.door_id} mqtt", limit=QUEUE_LIMIT)

    def publish(self, row: AuditEvent) -> None:
        """Hands the row over and returns: reading a sealed snapshot takes milliseconds."""
        payload = decision_payload(row)
        snapshot = row.event_id if (self._face_of is not None and row.snapshot) else None
        self._side.submit(lambda: self._send(row.door_id, payload, snapshot))

    def _send(self, door_id: str, payload: dict[str, object], snapshot: int | None) -> None:
        try:
            if snapshot is not None and self._face_of is not None:
                payload["snapshot_jpeg"] = base64.b64encode(self._face_of(snapshot)).decode()
            self._client.publish(f"{self.prefix}/{door_id}/decision", json.dumps(payload), qos=1)
        except Exception as exc:  # noqa: BLE001 - an integration's trouble is never the door's
            log.warning("MQTT publish failed (%s); the decision is in the audit log", exc)

    def close(self) -> None:
        self._side.close()
        self._client.loop_stop()
        self._client.disconnect()


def decision_events(settings: Settings, face_of: Callable[[int], bytes] | None = None) -> DecisionEvents:
    """MQTT when ``mqtt_host`` is set; ``face_of(event_id)`` reads a row's snapshot JPEG."""
    return MqttEvents(settings, face_of) if settings.mqtt_host else NoEvents()
