"""Face tracks across frames: one track per visit of one person.

A track is what the door decides once, so it must follow a *person*, not a place: at a real door B
steps where A stood a second later, with no empty frame between them. A face joins a track when
its box overlaps the track's last box (IoU) *and* its embedding still looks like the track's face;
a face in the same spot that does not (below the model card's FAR 1e-2 point: it would not match
that face even at the loosest operating point) ends that visit and starts a new one. A track also
ends after a gap with no face and after a maximum age, so someone who stays is decided again.

Greedy matching is enough at a door (few faces, high frame rate, slow motion). A ByteTrack-style
tracker was considered: its gain is keeping identities through occlusion in crowds, using motion
models and low-score boxes; at a door the hard case is the opposite one (two people, same spot,
no motion cue), which only appearance separates, so the appearance check is the part built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gatekeeper.core.policy import TrackVotes
from gatekeeper.vision.liveness import blink_depth


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
    started: float = 0.0
    appearance: list[np.ndarray] = field(default_factory=list)  # recent embeddings: who this track is
    eyes: list[tuple[float, float]] = field(default_factory=list)  # eye openness of its recent frames

    def blink(self, eyes: tuple[float, float] | None, history: int = 90) -> float | None:
        """Add this frame's eye openness; the deepest blink of the track so far (None: not measured)."""
        if eyes is None:
            return None
        self.eyes = (self.eyes + [eyes])[-history:]
        return blink_depth(self.eyes[-16:])  # the newest frames: the depth of a blink happening now
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
    def __init__(self, same_person: float, min_iou: float = 0.3, max_gap_s: float = 1.5, max_age_s: float = 20.0, appearance_window: int = 5) -> None:
        self.same_person = same_person  # cosine similarity below which a face is someone else
        self.min_iou = min_iou
        self.max_gap_s = max_gap_s
        self.max_age_s = max_age_s
        self.appearance_window = appearance_window
        self.tracks: dict[int, Track] = {}
        self._ended: list[Track] = []  # visits over since the last take_ended()
        self._next = 1

    def update(self, faces: list[tuple[np.ndarray, np.ndarray | None]], now: float) -> list[Track]:
        """One track per (box, embedding or None), in the order given. A face without an embedding
        (not usable) is matched on position alone: it cannot prove it is someone else."""
        alive = self._alive(now)
        self._ended += [t for k, t in self.tracks.items() if k not in alive]
        self.tracks = alive
        free = dict(self.tracks)
        out = []
        for box, embedding in faces:
            best = self._overlapping(free, box)
            if best is not None and not self._someone_else(best, embedding):
                del free[best.track_id]
            else:
                if best is not None:
                    del free[best.track_id]  # another person in that spot: the earlier visit is over
                    self._ended.append(self.tracks.pop(best.track_id))
                best = Track(self._next, box, now, started=now)
                self.tracks[best.track_id] = best
                self._next += 1
            best.box, best.last_seen = box, now
            if embedding is not None:
                best.appearance = (best.appearance + [embedding])[-self.appearance_window :]
            out.append(best)
        return out

    def take_ended(self) -> list[Track]:
        """The visits that ended (a gap, their maximum age, someone else in their spot) since the
        last call."""
        ended, self._ended = self._ended, []
        return ended

    def end_all(self) -> list[Track]:
        """Every visit, ended now (the stream is over)."""
        ended = self.take_ended() + list(self.tracks.values())
        self.tracks = {}
        return ended

    def continuing(self, boxes: list[np.ndarray], now: float) -> list[Track | None]:
        """The track each box would continue by position alone (None: a new visit), without changing
        anything: what the door knows of a face before its embedding is in. ``update`` may still
        start a new visit where the embedding says someone else stepped into that spot."""
        free = self._alive(now)
        out: list[Track | None] = []
        for box in boxes:
            best = self._overlapping(free, box)
            if best is not None:
                del free[best.track_id]
            out.append(best)
        return out

    def _alive(self, now: float) -> dict[int, Track]:
        """The tracks not ended by a gap with no face or by their maximum age."""
        return {k: t for k, t in self.tracks.items() if now - t.last_seen <= self.max_gap_s and now - t.started <= self.max_age_s}

    def _overlapping(self, free: dict[int, Track], box: np.ndarray) -> Track | None:
        """The free track whose last box overlaps ``box`` most, if enough (greedy: a door has few faces)."""
        best = max(free.values(), key=lambda t: iou(t.box, box), default=None)
        return best if best is not None and iou(best.box, box) >= self.min_iou else None

    def _someone_else(self, track: Track, embedding: np.ndarray | None) -> bool:
        if embedding is None or not track.appearance:
            return False
        mean = np.mean(track.appearance, axis=0)
        return float(embedding @ mean) / float(np.linalg.norm(mean) or 1.0) < self.same_person
