"""The door: camera sources, the per-visit tracker, the daemon loop and the actuators (I/O only)."""
