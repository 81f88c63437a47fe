"""The door at scale: staff and strangers against galleries of 30 to 10,000 people, one photo each.

Everything is decided by the product's own code: ``DecisionThresholds`` as the shipped settings
resolve them (the threshold follows the gallery's size and the target share of strangers,
``max_stranger_rate``), ``DoorPolicy`` for each frame's vote and each visit's verdict. Embeddings
are the shipped encoder's on the face cache (``gatekeeper.training.scale_data``): staff and
strangers come only from the *evaluation* share of people the model never trained on (the open-set
calibration in the model card was measured on the other share); distractor employees fill each
gallery. Per gallery size:

- single photos: staff granted as themselves / as someone else / refused; strangers let in;
  FNIR at FPIR 1 % and 0.1 % (threshold alone, read off this run's strangers); what the product
  predicts for that size (``config show`` prints the same);
- door visits: three frames of one photo (the landmarks jittered by 2 px and the exposure by
  10 % per frame, as a camera's frames of one approach differ), fused and voted on as the door
  does (2 of 3, the track's mean embedding): face alone, and card + face (the claimed person only,
  at the card threshold), where a stranger presents a random employee's badge;
- the duplicate-person rule at enrollment: distinct newcomers refused, and second ids (another
  photo of an enrolled person) caught.

    python bench/gallery_scale.py [--sizes 30 1000 3000 10000] [--visits 1500]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.config import Settings  # noqa: E402
from gatekeeper.core import Candidate, Decision, DoorPolicy, VoteKind  # noqa: E402
from gatekeeper.core.policy import TrackVotes  # noqa: E402
from gatekeeper.match.thresholds import DecisionThresholds  # noqa: E402
from gatekeeper.training.scale_data import Faces, protocol  # noqa: E402
from gatekeeper.vision.encoder import FaceEncoder  # noqa: E402
from gatekeeper.vision.pipeline import door_encoder  # noqa: E402


@dataclass
class Probes:
    emb: np.ndarray  # (P, D)
    person: np.ndarray  # (P,) the staff id each probe is of ("" for strangers)
    paths: np.ndarray  # (P,) dataset-relative photo paths


def split(share_identities: Faces, unlabelled: Faces, seed: int) -> tuple[Faces, Probes, Probes]:
    """(staff enrollment photos, staff probes, stranger probes)."""
    labels = share_identities.labels
    names, counts = np.unique(labels, return_counts=True)
    multi = np.random.default_rng(seed).permutation(names[counts >= 2])
    staff = set(multi[: len(multi) // 2].tolist())
    first = np.array([np.flatnonzero(labels == n)[0] for n in sorted(staff)])
    is_staff = np.isin(labels, list(staff))
    later = np.setdiff1d(np.flatnonzero(is_staff), first)
    gallery = share_identities.rows(first)
    strangers = np.concatenate([share_identities.emb[~is_staff], unlabelled.emb])
    stranger_paths = np.concatenate([share_identities.paths[~is_staff], unlabelled.paths])
    return gallery, Probes(share_identities.emb[later], labels[later], share_identities.paths[later]), Probes(strangers, np.full(len(strangers), "", dtype=object), stranger_paths)


def top2(queries: np.ndarray, gallery: np.ndarray, ids: np.ndarray) -> list[list[Candidate]]:
    sims = queries @ gallery.T
    k = min(2, sims.shape[1])
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(part, np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1), axis=1)
    return [[Candidate(str(ids[j]), float(sims[i, j])) for j in row] for i, row in enumerate(order)]


def galleries(staff: Faces, distractors: Faces, size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(template matrix, ids, which staff rows are in it) for each gallery of ``size`` people:
    all-staff groups while the staff outnumber ``size``, else all staff plus random distractors."""
    rng = np.random.default_rng(seed)
    ids = staff.labels.astype(object)
    if size <= len(staff):
        order = rng.permutation(len(staff))
        groups = [order[i : i + size] for i in range(0, len(order) - size + 1, size)][:12]
        return [(staff.emb[g], ids[g], g) for g in groups]
    extra = rng.choice(len(distractors), size - len(staff), replace=False)
    emb = np.concatenate([staff.emb, distractors.emb[extra]])
    return [(emb, np.concatenate([ids, np.array([f"distractor-{i}" for i in extra], dtype=object)]), np.arange(len(staff)))]


def single_photos(th: DecisionThresholds, staff: Faces, staff_probes: Probes, strangers: Probes, distractors: Faces, size: int, seed: int) -> dict[str, float]:
    at = th.for_gallery(size)
    policy = DoorPolicy(at.rules(10.0))
    right = wrong = refused = let_in = n_strangers = 0
    staff_top1, staff_ok, stranger_top1 = [], [], []
    dup_refused = dup_caught = 0
    dup_t = th.duplicate_for(size)
    for emb, ids, rows in galleries(staff, distractors, size, seed):
        members = set(staff.labels[rows].tolist())
        mine = np.isin(staff_probes.person, list(members))
        for cands, who in zip(top2(staff_probes.emb[mine], emb, ids), staff_probes.person[mine]):
            vote = policy.frame_vote(cands)
            right += vote.kind == VoteKind.PERSON and vote.person_id == who
            wrong += vote.kind == VoteKind.PERSON and vote.person_id != who
            refused += vote.kind != VoteKind.PERSON
            staff_top1.append(cands[0].similarity)
            staff_ok.append(cands[0].person_id == who)
            dup_caught += cands[0].similarity >= dup_t
        for cands in top2(strangers.emb, emb, ids):
            let_in += policy.frame_vote(cands).kind == VoteKind.PERSON
            stranger_top1.append(cands[0].similarity)
            dup_refused += cands[0].similarity >= dup_t
            n_strangers += 1
    n_staff = right + wrong + refused
    point = at.predicted_at(size)  # the operating point for the target, or what a fixed threshold gives
    out = {"threshold": at.match, "margin": at.margin, "staff_probes": n_staff, "strangers": n_strangers,
           "staff_granted": right / n_staff, "staff_as_someone_else": wrong / n_staff, "staff_refused": refused / n_staff,
           "strangers_let_in": let_in / n_strangers,
           "predicted_staff_granted": point.staff_granted if point else None, "predicted_strangers_let_in": point.strangers_let_in if point else None,
           "duplicate_threshold": dup_t, "duplicate_newcomers_refused": dup_refused / n_strangers, "duplicate_second_ids_caught": dup_caught / n_staff}
    out.update(fnir_at_fpir(np.array(staff_top1), np.array(staff_ok), np.array(stranger_top1)))
    return out


FRAMES = 3  # a visit: the door decides on votes_window frames


def visit_frames(encoder: FaceEncoder, paths: np.ndarray, seed: int) -> np.ndarray:
    """(P, FRAMES, D): each chosen photo as a short approach to the camera: re-aligned from its
    cached landmarks moved by up to 2 px and its exposure scaled by up to 10 % per frame, each
    frame embedded as the door embeds one."""
    from gatekeeper.training.facecache import _read_rgb
    from gatekeeper.training.recipes import datasets_root
    from gatekeeper.vision.align import align_face

    rng = np.random.default_rng(seed)
    crops = []
    for path in paths:
        cache_name, folder, tight = _where(str(path))
        points = _landmarks(cache_name)[str(path)]
        image, pad = _read_rgb(datasets_root() / folder / str(path), pad=tight)
        for _ in range(FRAMES):
            jitter = points + pad + rng.uniform(-2, 2, points.shape).astype(np.float32)
            crop = align_face(image, jitter, encoder.template).astype(np.float32) * rng.uniform(0.9, 1.1)
            crops.append(np.clip(crop, 0, 255).astype(np.uint8))
    return encoder.embed(np.stack(crops), flip=True).reshape(len(paths), FRAMES, -1)


_LANDMARKS: dict[str, dict[str, np.ndarray]] = {}


def _where(path: str) -> tuple[str, str, bool]:
    """(face cache, dataset folder, tight crop) of a dataset-relative photo path."""
    if "/" not in path:
        return "utkface-strangers", "utkface", True
    return ("lfw", "lfw", False) if not path.split("/")[0].isdigit() else ("celeba", "celeba", False)


def _landmarks(cache_name: str) -> dict[str, np.ndarray]:
    from gatekeeper.training.facecache import load_cache
    from gatekeeper.training.recipes import cache_root

    if cache_name not in _LANDMARKS:
        cache = load_cache(cache_root() / cache_name)
        _LANDMARKS[cache_name] = dict(zip((str(p) for p in cache.paths), cache.landmarks))
    return _LANDMARKS[cache_name]


def visits(th: DecisionThresholds, staff: Faces, staff_frames: np.ndarray, staff_person: np.ndarray, stranger_frames: np.ndarray,
           distractors: Faces, size: int, seed: int) -> dict[str, float]:
    """Door visits decided as the door decides them: face alone (1:N, the track's fused
    embedding, N of M votes) and card + face (1:1 against the claimed badge holder)."""
    at = th.for_gallery(size)
    rng = np.random.default_rng(seed)
    face = {"staff": [0, 0], "wrong": 0, "strangers": [0, 0]}
    card = {"staff": [0, 0], "strangers": [0, 0]}
    for emb, ids, rows in galleries(staff, distractors, size, seed):
        members = staff.labels[rows]
        template = dict(zip(members.tolist(), staff.emb[rows]))
        mine = np.isin(staff_person, members)
        for frames, who in zip(staff_frames[mine], staff_person[mine]):
            verdict = _visit(DoorPolicy(at.rules(0.0)), frames, emb, ids)
            face["staff"][0] += verdict == who
            face["wrong"] += verdict not in (None, who)
            face["staff"][1] += 1
            card["staff"][0] += _visit(DoorPolicy(at.card_rules(0.0)), frames, template[who][None], np.array([who], dtype=object)) == who
            card["staff"][1] += 1
        for frames in stranger_frames:
            face["strangers"][0] += _visit(DoorPolicy(at.rules(0.0)), frames, emb, ids) is not None
            face["strangers"][1] += 1
            claimed = members[rng.integers(len(members))]
            card["strangers"][0] += _visit(DoorPolicy(at.card_rules(0.0)), frames, template[claimed][None], np.array([claimed], dtype=object)) is not None
            card["strangers"][1] += 1
    return {"visit_staff_granted": face["staff"][0] / face["staff"][1], "visit_staff_as_someone_else": face["wrong"] / face["staff"][1],
            "visit_strangers_let_in": face["strangers"][0] / face["strangers"][1],
            "card_threshold": at.card, "card_staff_granted": card["staff"][0] / card["staff"][1], "card_strangers_with_a_badge_let_in": card["strangers"][0] / card["strangers"][1],
            "visits_staff": face["staff"][1], "visits_strangers": face["strangers"][1]}


def _visit(policy: DoorPolicy, frames: np.ndarray, gallery: np.ndarray, ids: np.ndarray) -> str | None:
    """Whom the door grants on this visit (None: nobody): the track's fused embedding per frame."""
    track = TrackVotes()
    fused = np.cumsum(frames, axis=0)
    fused /= np.linalg.norm(fused, axis=1, keepdims=True)
    for i, cands in enumerate(top2(fused, gallery, ids)):
        verdict = policy.judge(track, policy.frame_vote(cands), cands, i / 15.0)
        if verdict is not None:
            return verdict.person_id if verdict.decision == Decision.GRANTED else None
    return None


def door_templates(th: DecisionThresholds, staff: Faces, visit_a: np.ndarray, visit_b: np.ndarray, owners: np.ndarray,
                   stranger_frames: np.ndarray, distractors: Faces, size: int, seed: int) -> dict[str, float]:
    """Templates that fit the door, as ``door_templates = auto`` (cap 1) does it at a card + face
    door: each staff member's first door visit (A), when its 1:1 grant is confident and its best
    frame matches their enrollment photo at the card's per-pair point, adds that frame to their
    template; their next visit (B) is then decided with and without it."""
    from gatekeeper.services.door_templates import CANDIDATE_LEAD

    at = th.for_gallery(size)
    emb, ids, rows = galleries(staff, distractors, size, seed)[0]
    row_of = {str(p): i for i, p in enumerate(ids[: len(staff)])}
    updated = emb.copy()
    kept = 0
    for frames, who in zip(visit_a, owners):
        own = emb[row_of[who]]
        if _visit(DoorPolicy(at.card_rules(0.0)), frames, own[None], np.array([who], dtype=object)) != who:
            continue
        best = frames[int(np.argmax(frames @ own))]
        if float(best @ own) >= at.card + CANDIDATE_LEAD and float(best @ own) >= max(at.pair_point, at.card):
            mean = own + best
            updated[row_of[who]] = mean / np.linalg.norm(mean)
            kept += 1
    out: dict[str, float] = {"door_templates_kept": kept / len(owners)}
    for name, gallery in (("before", emb), ("after", updated)):
        face = sum(_visit(DoorPolicy(at.rules(0.0)), f, gallery, ids) == w for f, w in zip(visit_b, owners))
        card = sum(_visit(DoorPolicy(at.card_rules(0.0)), f, gallery[row_of[w]][None], np.array([w], dtype=object)) == w for f, w in zip(visit_b, owners))
        strangers = sum(_visit(DoorPolicy(at.rules(0.0)), f, gallery, ids) is not None for f in stranger_frames)
        out |= {f"templates_{name}_face_staff": face / len(owners), f"templates_{name}_card_staff": card / len(owners), f"templates_{name}_strangers": strangers / len(stranger_frames)}
    return out


def fnir_at_fpir(top1: np.ndarray, correct: np.ndarray, stranger_top1: np.ndarray) -> dict[str, float]:
    out = {}
    srt = np.sort(stranger_top1)
    for fpir in (1e-2, 1e-3):
        k = int(np.floor(fpir * len(srt)))
        t = float(srt[len(srt) - k - 1]) + 1e-6
        out[f"fnir_at_fpir_{fpir:g}"] = float(1 - (correct & (top1 > t)).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 1_000, 3_000, 10_000])
    parser.add_argument("--target", type=float, nargs="+", default=[1e-3, 1e-2], help="max_stranger_rate values to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--visits", type=int, default=100_000, help="at most this many staff and stranger door visits (each 3 embedded frames)")
    parser.add_argument("--quick", action="store_true", help="CI: two small sizes, to keep the script working")
    parser.add_argument("--door-precision", choices=("auto", "fp32", "int8"), default=Settings().encoder_precision, help="what embeds the door visits' frames (default: the shipped door's, the int8 export)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/gallery_scale.json"))
    args = parser.parse_args()
    started = time.time()
    try:
        encoder = FaceEncoder()
        share = protocol("evaluation", encoder, build=not args.quick)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return
    sizes = [30, 300] if args.quick else args.sizes
    staff, staff_probes, strangers = split(share.identities, share.unlabelled, args.seed)
    print(f"evaluation share: {len(staff)} staff ({len(staff_probes.emb)} probe photos), {len(strangers.emb)} stranger photos, {len(share.distractors)} distractors in the pool")
    n_visits = 60 if args.quick else args.visits
    rng = np.random.default_rng(args.seed)
    staff_pick = np.sort(rng.permutation(len(staff_probes.emb))[:n_visits])
    stranger_pick = np.sort(rng.permutation(len(strangers.emb))[:n_visits])
    t0 = time.time()
    # Door frames are embedded as the door embeds them (int8 probes against fp32 templates), and
    # its thresholds move by the export's measured shift as the door's do; single photos stay fp32.
    door = door_encoder(Settings(encoder_precision=args.door_precision)) or encoder
    staff_frames = visit_frames(door, staff_probes.paths[staff_pick], args.seed)
    stranger_frames = visit_frames(door, strangers.paths[stranger_pick], args.seed + 1)
    print(f"door visits: {len(staff_pick)} staff and {len(stranger_pick)} stranger visits of {FRAMES} frames embedded ({door.precision}) in {time.time() - t0:.0f} s", flush=True)
    owners, a_paths, b_paths = [], [], []
    for who in np.unique(staff_probes.person):
        mine = np.flatnonzero(staff_probes.person == who)
        if len(mine) >= 2:
            owners.append(str(who)), a_paths.append(staff_probes.paths[mine[0]]), b_paths.append(staff_probes.paths[mine[1]])
    owners_arr = np.array(owners, dtype=object)
    visit_a, visit_b = visit_frames(door, np.array(a_paths), args.seed + 2), visit_frames(door, np.array(b_paths), args.seed + 3)
    rows = []
    fixed = encoder.card.calibration["match_threshold"]  # the per-pair point every door used before, whatever its size
    runs = [(f"target {t:g}", Settings(max_stranger_rate=t, liveness="off")) for t in args.target] + [(f"fixed {fixed}", Settings(min_match_similarity=fixed, liveness="off"))]
    for label, settings in runs:  # liveness: bench/liveness.py
        th = DecisionThresholds.resolve(settings, encoder.card)
        th_door = DecisionThresholds.resolve(settings, encoder.card, probe_shift=door.similarity_shift)
        target = settings.max_stranger_rate if settings.min_match_similarity is None else None
        for size in sizes:
            row = {"rule": label, "target": target, "gallery": size, "door_precision": door.precision, **single_photos(th, staff, staff_probes, strangers, share.distractors, size, args.seed),
                   **visits(th_door, staff, staff_frames, staff_probes.person[staff_pick], stranger_frames, share.distractors, size, args.seed),
                   **(door_templates(th_door, staff, visit_a, visit_b, owners_arr, stranger_frames, share.distractors, size, args.seed) if size > len(staff) else {})}
            rows.append(row)
            print(f"{label} gallery {size:>6,}: threshold {row['threshold']:.4f}; staff granted {row['staff_granted']:.1%} (predicted {row['predicted_staff_granted']:.1%}), "
                  f"as someone else {row['staff_as_someone_else']:.2%}, refused {row['staff_refused']:.1%}; strangers let in {row['strangers_let_in']:.2%} "
                  f"(predicted {row['predicted_strangers_let_in']:.2%}); FNIR@FPIR1% {row['fnir_at_fpir_0.01']:.1%}, @0.1% {row['fnir_at_fpir_0.001']:.1%}; "
                  f"duplicate rule ({row['duplicate_threshold']:.4f}): newcomers refused {row['duplicate_newcomers_refused']:.2%}, second ids caught {row['duplicate_second_ids_caught']:.1%}\n"
                  f"    visits: face alone staff {row['visit_staff_granted']:.1%}, as someone else {row['visit_staff_as_someone_else']:.2%}, strangers {row['visit_strangers_let_in']:.2%}; "
                  f"card + face ({row['card_threshold']:.4f}) staff {row['card_staff_granted']:.1%}, strangers with someone's badge {row['card_strangers_with_a_badge_let_in']:.2%}", flush=True)
            if "door_templates_kept" in row:
                print(f"    door templates ({len(owners)} staff, kept for {row['door_templates_kept']:.0%}): next visit face alone {row['templates_before_face_staff']:.1%} -> {row['templates_after_face_staff']:.1%}, "
                  f"card + face {row['templates_before_card_staff']:.1%} -> {row['templates_after_card_staff']:.1%}; strangers {row['templates_before_strangers']:.2%} -> {row['templates_after_strangers']:.2%}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"staff": len(staff), "staff_probes": len(staff_probes.emb), "strangers": len(strangers.emb), "pool": len(share.distractors),
                                    "seconds": round(time.time() - started), "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
