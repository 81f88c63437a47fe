"""Face tracks across frames: the same face in consecutive frames keeps one track id.

Greedy IoU matching is enough at a door: few faces, high frame rate, slow motion. Tracks let the
decision vote over several frames and make one visit produce one decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gatekeeper.core.policy import TrackVotes


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    track_id: int
    box: np.ndarray
    last_seen: float
    state: TrackVotes = field(default_factory=TrackVotes)  # what the door policy remembers
    evidence: list[tuple[np.ndarray, float]] = field(default_factory=list)  # recent (embedding, weight)

    def fused(self, embedding: np.ndarray, weight: float, window: int) -> np.ndarray:
        """Add this frame's embedding; return the weighted mean of the last ``window``, unit length.

        Averaging the frames of one face cancels per-frame noise (blur, a half-turned head) that a
        vote of independent per-frame matches cannot: the mean is matched once, like a template."""
        self.evidence = (self.evidence + [(embedding, weight)])[-window:]
        mean = sum(w * e for e, w in self.evidence)
        return (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)


class FaceTracker:
    def __init__(self, min_iou: float = 0.3, max_age_s: float = 1.5) -> None:
        self.min_iou = min_iou
        self.max_age_s = max_age_s
        self.tracks: dict[int, Track] = {}
        self._next = 1

    def update(self, boxes: list[np.ndarray], now: float) -> list[Track]:
        """One track per box, in the order given; unmatched boxes start new tracks."""
        self.tracks = {k: t for k, t in self.tracks.items() if now - t.last_seen <= self.max_age_s}
        free = dict(self.tracks)
        out = []
        for box in boxes:
            best = max(free.values(), key=lambda t: iou(t.box, box), default=None)
            if best is None or iou(best.box, box) < self.min_iou:
                best = Track(self._next, box, now)
                self.tracks[best.track_id] = best
                self._next += 1
            else:
                del free[best.track_id]
            best.box, best.last_seen = box, now
            out.append(best)
        return out
