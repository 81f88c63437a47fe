"""`gatekeeper verify` judges a photo as the door judges a frame (#12): threshold AND margin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from gatekeeper.door.actuate import LogOnlyActuator
from gatekeeper.cli import app as cli
from gatekeeper.core import Decision, DoorPolicy, VoteKind
from gatekeeper.vision.images import read_rgb
from gatekeeper.services.verify import judge_photo
from tests.conftest import lfw_people

DOOR_OUTCOME = {VoteKind.PERSON: Decision.GRANTED, VoteKind.UNKNOWN: Decision.DENIED_UNKNOWN, VoteKind.AMBIGUOUS: Decision.DENIED_AMBIGUOUS}


def test_verify_and_the_door_agree_on_the_same_photos(lfw: Path, make_app, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (ada, ada_photos), (twin, twin_photos), (stranger, stranger_photos) = lfw_people(lfw, 3, 3, skip=120)
    gk = make_app()
    usable = {n: [r for r in (gk.enrollment.embed_photo(p) for p in ps) if r.ok] for n, ps in ((ada, ada_photos), (twin, twin_photos))}
    assert gk.enrollment.enroll(ada, ada, usable[ada][:2]).enrolled
    # The same face under two ids (forced): a visitor with that face is "too close to a second person".
    assert gk.enrollment.enroll(twin, twin, usable[twin][:1]).enrolled
    assert gk.enrollment.enroll(f"{twin}-alias", twin, usable[twin][:1], force=True).enrolled
    policy = DoorPolicy(gk.thresholds.rules(settings.cooldown_s))
    probes = {"ada": Path(usable[ada][2].path), "twin": Path(usable[twin][1].path), "stranger": stranger_photos[0]}
    expected = {"ada": VoteKind.PERSON, "twin": VoteKind.AMBIGUOUS, "stranger": VoteKind.UNKNOWN}
    for i, (who, photo) in enumerate(probes.items()):
        image = read_rgb(photo)
        (judged, *_) = judge_photo(gk.pipeline, gk.gallery(), policy, image)
        assert judged.vote.kind == expected[who], (who, judged)
        daemon = make_app().daemon(LogOnlyActuator())
        verdicts = [v for t in range(3) for v in daemon.process_frame(image, 100.0 * i + 0.1 * t)]
        decisions = [v.decision for v in verdicts]
        # The door decides once per face: the face verify judged gets the same decision. YuNet at the
        # door also finds faces cut by the photo's edge that MTCNN's photo profile passes over (the
        # stranger's photo holds half of a second man): each is a stranger to the gallery.
        assert decisions[0] == DOOR_OUTCOME[judged.vote.kind] and set(decisions[1:]) <= {Decision.DENIED_UNKNOWN}, (who, verdicts)
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(settings.data_dir))
    out = CliRunner().invoke(cli, ["verify", str(probes["twin"])])
    assert out.exit_code == 0 and "ambiguous" in out.output, out.output  # the old verify said "match"


def test_verify_exits_non_zero_when_no_face_can_be_judged(make_app, settings, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import cv2

    from gatekeeper.demo import astronaut

    make_app().sessions  # creates the database
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(settings.data_dir))
    small = tmp_path / "far-away.png"
    face = cv2.resize(astronaut(), (120, 120))
    cv2.imwrite(str(small), cv2.cvtColor(np.pad(face, ((100, 100), (100, 100), (0, 0)), constant_values=120), cv2.COLOR_RGB2BGR))
    out = CliRunner().invoke(cli, ["verify", str(small)])
    assert out.exit_code == 1 and "not usable at the door" in out.output, out.output


def test_verify_takes_files_and_folders_prints_names_and_speaks_json(make_app, settings, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue #13 item 5: several photos and folders in one call, names beside ids, --format json,
    and exit 1 as soon as one photo could not be judged."""
    import json

    import cv2

    from gatekeeper.demo import astronaut, grace_hopper
    from gatekeeper.services.enrollment import embed_image

    gk = make_app()
    assert gk.enrollment.enroll("emp-1", "Eileen Collins", [embed_image(gk.pipeline, astronaut(), "portrait")]).enrolled
    monkeypatch.setenv("GATEKEEPER_DATA_DIR", str(settings.data_dir))
    visitors = tmp_path / "visitors"
    visitors.mkdir()
    cv2.imwrite(str(visitors / "a-collins.png"), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(visitors / "b-hopper.png"), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    out = CliRunner().invoke(cli, ["verify", str(visitors), "--format", "json"])
    assert out.exit_code == 0, out.output
    collins, hopper = json.loads(out.output)
    assert collins["faces"][0]["verdict"] == "match" and collins["faces"][0]["name"] == "Eileen Collins" and collins["faces"][0]["person_id"] == "emp-1"
    assert hopper["faces"][0]["verdict"] == "no match" and hopper["faces"][0]["candidates"][0]["name"] == "Eileen Collins"
    table = CliRunner().invoke(cli, ["verify", str(visitors / "a-collins.png")])
    assert table.exit_code == 0 and "Eileen Collins (emp-1)" in " ".join(table.output.split())
    (visitors / "c-notes.txt").write_text("not a photo")
    mixed = CliRunner().invoke(cli, ["verify", str(visitors), "--format", "json"])
    assert mixed.exit_code == 1 and json.loads(mixed.output)[2]["error"].startswith("not an image")
    bad_format = CliRunner().invoke(cli, ["verify", str(visitors), "--format", "xml"])
    assert bad_format.exit_code == 2
