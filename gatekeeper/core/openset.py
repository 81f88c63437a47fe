"""The door's operating point for the gallery it has: threshold and margin from a target stranger rate.

A stranger at the door is compared with everyone enrolled, so the chance that *someone* clears a
fixed similarity threshold grows with the gallery (about N x the per-pair false-accept rate). The
admin therefore sets the share of strangers that may get in per visit (the false-positive
identification rate, FPIR), and the door's rule follows from it and the current gallery size.

The rule is the door's own: the best match must reach a threshold *and* lead the runner-up by a
margin. At a large gallery the margin does much of the work (a stranger's best match among
thousands usually has a close second; an enrolled person's own template stands out), so threshold
and margin are chosen together: of the calibrated margins, the one whose threshold for the target
grants the most staff.

The calibration ships in the model manifest (``calibration.openset``), measured once by
``gatekeeper train calibrate-openset`` on held-out people against galleries of each size drawn
from a pool of distractor employees: for each margin ``margins[k]``, gallery size ``sizes[i]``
and threshold ``thresholds[j]``, the share of strangers let in (``fpir[k][i][j]``) and of staff
granted as themselves on a first visit (``staff[k][i][j]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    """What a gallery of ``gallery_size`` people gets at the door."""

    gallery_size: int
    target_fpir: float
    threshold: float  # min similarity of the best match
    margin: float  # min lead of the best match over the runner-up
    strangers_let_in: float  # predicted share of stranger visits granted
    staff_granted: float  # predicted share of enrolled people granted on a first visit
    held: bool  # False: no calibrated threshold holds the target at this size
    measured: bool = True  # False: the size lies beyond the calibrated sizes (extrapolated)

    def summary(self) -> str:
        size = f"{self.gallery_size:,} enrolled"
        if not self.held:
            return (f"{size}: the face alone cannot hold the target of {_pct(self.target_fpir)} strangers per visit "
                    f"(~{_pct(self.strangers_let_in)} at the strictest threshold): use door_mode = card+face")
        line = f"{size}: strangers ~{_pct(self.strangers_let_in)} per visit; staff granted ~{_pct(self.staff_granted)} on a first visit (one enrollment photo each)"
        if not self.measured:
            line += " (extrapolated beyond the calibrated sizes)"
        if self.staff_granted < USABLE_STAFF_RATE:
            line += "; too few staff for the face alone: use door_mode = card+face"
        return line


USABLE_STAFF_RATE = 0.5  # below this share of staff through on a first visit, point the admin to card + face
AIM = 0.8  # share of the target the calibrated tables are aimed at (sampling margin)


@dataclass(frozen=True)
class OpenSetCalibration:
    thresholds: np.ndarray  # (T,) ascending
    sizes: np.ndarray  # (S,) ascending gallery sizes, from 1
    margins: np.ndarray  # (M,) ascending, from 0
    fpir: np.ndarray  # (M, S, T) share of strangers let in
    staff: np.ndarray  # (M, S, T) share of staff granted as themselves

    @classmethod
    def from_manifest(cls, block: Mapping[str, Any]) -> "OpenSetCalibration":
        cal = cls(*(np.asarray(block[k], dtype=np.float64) for k in ("thresholds", "sizes", "margins", "fpir", "staff")))
        shape = (len(cal.margins), len(cal.sizes), len(cal.thresholds))
        if cal.fpir.shape != shape or cal.staff.shape != shape:
            raise ValueError(f"open-set tables must be margins x sizes x thresholds {shape}, not {cal.fpir.shape} / {cal.staff.shape}")
        for name in ("thresholds", "sizes", "margins"):
            if np.any(np.diff(getattr(cal, name)) <= 0):
                raise ValueError(f"open-set {name} must be strictly ascending")
        if cal.sizes[0] < 1:
            raise ValueError("open-set sizes start at 1")
        return cal

    def as_manifest(self) -> dict[str, Any]:
        def table(a: np.ndarray) -> list:  # type: ignore[type-arg]
            return [[[float(f"{v:.4g}") for v in row] for row in block] for block in a]

        return {"thresholds": np.round(self.thresholds, 4).tolist(), "sizes": self.sizes.astype(int).tolist(), "margins": np.round(self.margins, 4).tolist(),
                "fpir": table(self.fpir), "staff": table(self.staff)}

    def operating_point(self, size: int, target_fpir: float, min_margin: float = 0.0, max_margin: float = 1.0) -> OperatingPoint:
        """The threshold and margin (within ``min_margin``..``max_margin``) that keep the predicted
        stranger rate at ``size`` people at or below ``target_fpir`` and grant the most staff;
        the strictest calibrated threshold, flagged not held, where none does. The tables are
        aimed at a little below the target (``AIM``): they were measured on a few thousand
        strangers, and a door should not sit on the edge of what it promises."""
        if not 0.0 < target_fpir < 1.0:
            raise ValueError(f"target stranger rate must lie in (0, 1), not {target_fpir}")
        size = max(1, int(size))
        options = [k for k, m in enumerate(self.margins) if min_margin - 1e-9 <= m <= max_margin + 1e-9] or [len(self.margins) - 1]
        points = [replace(self._point(k, size, AIM * target_fpir), target_fpir=target_fpir) for k in options]
        held = [p for p in points if p.held]
        if held:
            return max(held, key=lambda p: (p.staff_granted, -p.threshold))
        return min(points, key=lambda p: p.strangers_let_in)

    def predicted(self, size: int, threshold: float, margin: float) -> OperatingPoint:
        """What a fixed threshold and margin give at ``size`` people (the nearest calibrated margin
        not above ``margin``: a larger real margin only lets fewer strangers in)."""
        k = max(0, int(np.searchsorted(self.margins, margin + 1e-9)) - 1)
        fpir, staff = self._rows(k, max(1, int(size)))
        rate = float(np.interp(threshold, self.thresholds, fpir))
        return OperatingPoint(size, rate, threshold, margin, rate, float(np.interp(threshold, self.thresholds, staff)), True, size <= self.sizes[-1])

    def _point(self, k: int, size: int, target: float) -> OperatingPoint:
        fpir, staff = self._rows(k, size)
        ok = np.flatnonzero(fpir <= target)
        measured = size <= self.sizes[-1]
        margin = float(self.margins[k])
        if not len(ok):
            j = len(fpir) - 1
            return OperatingPoint(size, target, float(self.thresholds[j]), margin, float(fpir[j]), float(staff[j]), False, measured)
        j = int(ok[0])
        t = float(self.thresholds[j])
        if j > 0 and fpir[j - 1] > target > fpir[j]:  # the rate falls linearly between grid points
            t = float(np.interp(target, [fpir[j], fpir[j - 1]], [self.thresholds[j], self.thresholds[j - 1]]))
        return OperatingPoint(size, target, t, margin, min(target, float(np.interp(t, self.thresholds, fpir))),
                              float(np.interp(t, self.thresholds, staff)), True, measured)

    def _rows(self, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Stranger and staff rates over thresholds at ``size``: log-linear between calibrated sizes;
        beyond the largest, a gallery k times as large as its largest is k such galleries for a
        stranger (1 - (1 - f)^k), and a staff member must also outrank k - 1 more of them."""
        fpir, staff = self.fpir[k], self.staff[k]
        logs = np.log(self.sizes)
        x = math.log(size)
        if x <= logs[0]:
            return fpir[0], staff[0]
        if x >= logs[-1]:
            blocks = size / self.sizes[-1]
            f = 1.0 - (1.0 - fpir[-1]) ** blocks
            return f, staff[-1] * (1.0 - fpir[-1]) ** (blocks - 1.0)
        i = int(np.searchsorted(logs, x)) - 1
        w = (x - logs[i]) / (logs[i + 1] - logs[i])
        return (1 - w) * fpir[i] + w * fpir[i + 1], (1 - w) * staff[i] + w * staff[i + 1]


def _pct(x: float) -> str:
    return f"{x * 100:.2g} %" if x < 0.01 else f"{x * 100:.0f} %"
