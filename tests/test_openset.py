"""The door's operating point follows the gallery: threshold and margin from a target stranger rate.

The shipped calibration (models/doornet-v2.json, ``calibration.openset``) is read as the door reads
it; the door's own threshold is checked on a real gallery of LFW faces, as it grows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gatekeeper.config import Settings
from gatekeeper.core.openset import OpenSetCalibration
from gatekeeper.vision.model_files import manifest_calibration
from gatekeeper.services.audit import AuditFilter
from gatekeeper.match.thresholds import DecisionThresholds
from gatekeeper.training.openset import MARGINS, THRESHOLDS, granted_counts
from tests.conftest import door_frame, lfw_people


@pytest.fixture(scope="module")
def shipped() -> DecisionThresholds:
    return DecisionThresholds.from_calibration(Settings(liveness="off"), "doornet-v2", manifest_calibration("doornet-v2"))


def test_the_threshold_rises_with_the_gallery_and_the_stranger_rate_stays_at_the_target(shipped: DecisionThresholds) -> None:
    sizes = [1, 10, 100, 1_000, 10_000, 100_000]
    points = [shipped.operating_point(n) for n in sizes]
    assert all(p is not None for p in points)
    thresholds = [shipped.for_gallery(n).match for n in sizes]
    assert thresholds == sorted(thresholds) and thresholds[-1] > thresholds[0] + 0.03, thresholds
    for p in points[:-1]:  # calibrated sizes: at most the target
        assert p.held and p.strangers_let_in <= shipped.max_stranger_rate
    staff = [p.staff_granted for p in points]
    assert staff == sorted(staff, reverse=True), "more people never lets more staff through"
    assert not points[-1].measured and "extrapolated" in points[-1].summary()


def test_a_looser_target_grants_more_staff_at_the_same_size(shipped: DecisionThresholds) -> None:
    from dataclasses import replace

    strict, loose = shipped.operating_point(1_000), replace(shipped, max_stranger_rate=0.01).operating_point(1_000)
    assert loose.threshold < strict.threshold and loose.staff_granted > strict.staff_granted + 0.2


def test_the_summary_says_what_the_gallery_costs_and_points_to_card_and_face(shipped: DecisionThresholds) -> None:
    small, large = shipped.predicted_at(20).summary(), shipped.predicted_at(10_000).summary()
    assert small.startswith("20 enrolled: strangers ~") and "staff granted ~" in small and "card+face" not in small
    assert large.startswith("10,000 enrolled") and "use door_mode = card+face" in large


def test_a_fixed_threshold_is_kept_and_its_cost_predicted() -> None:
    fixed = DecisionThresholds.from_calibration(Settings(liveness="off", min_match_similarity=0.95), "doornet-v2", manifest_calibration("doornet-v2"))
    assert fixed.for_gallery(10_000).match == 0.95
    assert fixed.predicted_at(10_000).strangers_let_in > fixed.predicted_at(30).strangers_let_in


def test_granted_counts_apply_the_doors_rule() -> None:
    """Threshold and margin as DoorPolicy.frame_vote applies them, counted for every grid point."""
    best = np.array([0.95, 0.95, 0.99, 0.91])
    second = np.array([0.90, 0.945, 0.80, 0.50])
    ok = np.array([True, True, True, False])
    counts = granted_counts(best, second, ok)
    j = int(np.searchsorted(THRESHOLDS, 0.95))
    assert counts[list(MARGINS).index(0.0), j] == 3  # 0.95, 0.95, 0.99 (0.91 is not ok)
    assert counts[list(MARGINS).index(0.02), j] == 2  # the 0.005 lead is too small
    assert counts[list(MARGINS).index(0.0), int(np.searchsorted(THRESHOLDS, 0.99))] == 1  # only 0.99 reaches 0.99
    assert counts[list(MARGINS).index(0.0), int(np.searchsorted(THRESHOLDS, 0.991))] == 0


def test_a_malformed_calibration_is_refused_by_name() -> None:
    block = dict(manifest_calibration("doornet-v2")["openset"])
    block["fpir"] = block["fpir"][:-1]
    with pytest.raises(ValueError, match="margins x sizes x thresholds"):
        OpenSetCalibration.from_manifest(block)


def test_the_door_uses_the_threshold_of_its_gallery_size_and_follows_enrollments(lfw: Path, make_app) -> None:  # type: ignore[no-untyped-def]
    """A running door with 1 person enrolled, then 6: its threshold (and each audit row's) is the
    one the calibration gives for the size it serves, picked up at the next gallery check."""
    from gatekeeper.door.actuate import LogOnlyActuator
    from gatekeeper.vision.images import read_rgb

    gk = make_app()
    people = lfw_people(lfw, 6, 2, skip=400)
    first, *others = people
    assert gk.enrollment.enroll(first[0], first[0], [gk.enrollment.embed_photo(first[1][0])]).enrolled
    daemon = gk.daemon(LogOnlyActuator())
    assert daemon.thresholds.match == pytest.approx(gk.thresholds.for_gallery(1).match)
    for name, photos in others:
        assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    daemon.refresh_gallery(force=True)
    assert len(daemon.gallery) == 6
    assert daemon.thresholds.match == pytest.approx(gk.thresholds.for_gallery(6).match)
    assert daemon.policy.rules.match == daemon.thresholds.match and daemon.policy.rules.margin == daemon.thresholds.margin
    rng = np.random.default_rng(0)
    for i in range(3):
        daemon.process_frame(door_frame(read_rgb(first[1][1]), rng), 0.1 * i)
    rows = gk.audit.query(AuditFilter(door_id="test-door"))
    assert rows and all(r.threshold == pytest.approx(daemon.thresholds.match, abs=1e-6) for r in rows)


def test_people_list_and_config_show_say_what_the_gallery_costs(lfw: Path, make_app, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    gk = make_app()
    for name, photos in lfw_people(lfw, 2, 1, skip=420):
        assert gk.enrollment.enroll(name, name, [gk.enrollment.embed_photo(photos[0])]).enrolled
    env = {**os.environ, "GATEKEEPER_DATA_DIR": str(settings.data_dir), "COLUMNS": "200"}
    for command in (["people", "list"], ["config", "show"]):
        out = subprocess.run([sys.executable, "-m", "gatekeeper", *command], capture_output=True, text=True, env=env, check=True).stdout
        assert "door, face alone (target 0.10% strangers per visit): 2 enrolled: strangers ~" in " ".join(out.split()), out
