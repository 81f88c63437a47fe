"""The door's Prometheus metrics (`gatekeeper run --metrics-port`): decisions by kind and door,
frame latency, camera faults, gallery size and generation. A registry per daemon, so two doors
in one process (tests) never mix their counts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

# Frame -> decision latency: 5 ms steps where the shipped door runs (p95 17 ms idle, 24 ms beside a
# busy process: bench/frame_latency.py), 0.033 for "within a 30 fps camera's frame"; the earlier
# buckets are all kept, so dashboards built on them keep working.
LATENCY_BUCKETS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.033, 0.04, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)


class DoorMetrics:
    def __init__(self, door_id: str) -> None:
        self.registry = CollectorRegistry()
        self.door_id = door_id
        self._decisions = Counter("gatekeeper_decisions", "Door decisions written to the audit log", ["door", "decision"], registry=self.registry)
        self._latency = Histogram("gatekeeper_frame_seconds", "Frame processing time, camera frame to decision", ["door"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._camera = Counter("gatekeeper_camera_faults", "Camera faults and reconnects", ["door"], registry=self.registry)
        self._gallery_size = Gauge("gatekeeper_gallery_people", "People in the door's gallery", ["door"], registry=self.registry)
        self._dropped = Counter("gatekeeper_side_work_dropped", "Background jobs (heartbeats, old-snapshot sweeps) dropped because the queue was full", ["door"], registry=self.registry)
        self._last_frame = Gauge("gatekeeper_last_frame_timestamp_seconds", "When the door last processed a camera frame (Unix time): alert on time() minus this", ["door"], registry=self.registry)
        self._generation = Gauge("gatekeeper_gallery_generation", "Gallery generation the door holds", ["door"], registry=self.registry)

    def decision(self, decision: str) -> None:
        self._decisions.labels(self.door_id, decision).inc()

    def frame(self, seconds: float) -> None:
        self._latency.labels(self.door_id).observe(seconds)
        self._last_frame.labels(self.door_id).set_to_current_time()

    def camera_fault(self) -> None:
        self._camera.labels(self.door_id).inc()

    def side_work_dropped(self) -> None:
        self._dropped.labels(self.door_id).inc()

    def gallery(self, people: int, generation: int) -> None:
        self._gallery_size.labels(self.door_id).set(people)
        self._generation.labels(self.door_id).set(generation)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """/metrics on ``host:port`` in a daemon thread (loopback unless told otherwise)."""
        start_http_server(port, addr=host, registry=self.registry)
