"""The access policy's cost at the door: per decided face (``apply_access`` on a grant) with
10,000 people and 100 doors, and the snapshot reload a running door does after a change.

    python bench/access_policy.py                    # 10,000 people, 100 doors, 40 groups
    python bench/access_policy.py --people 100000
    python bench/access_policy.py --quick            # CI: 1,000 people, a smoke run

The policy: 40 groups, each granting 10 of the 100 doors (Europe/Berlin, America/New_York,
Asia/Tokyo) during one of four schedules (office hours, a night shift past midnight, weekends,
always) with holidays; every person in two groups, one in five with validity limits, a few
suspended; one door in lockdown. Instants: random over a year (DST changes included).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gatekeeper.core import Decision, Verdict, apply_access  # noqa: E402
from gatekeeper.core.access import AccessGroup, AccessPolicy, DoorRecord, PersonAccess, Schedule, parse_windows  # noqa: E402

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def schedules() -> dict[str, Schedule]:
    from datetime import date

    holidays = frozenset({date(2026, 1, 1), date(2026, 12, 25), date(2026, 12, 26)})
    specs = {"office": ["mon-fri 08:00-18:00"], "night": ["mon-fri 22:00-06:00"], "weekend": ["sat,sun 09:00-17:00"]}
    out = {name: Schedule(name, tuple(w for s in spec for w in parse_windows(s)), holidays) for name, spec in specs.items()}
    out["always"] = Schedule("always", parse_windows("daily 00:00-24:00"))
    return out


def build_policy(people: int, doors: int, groups: int, rng: random.Random) -> AccessPolicy:
    door_ids = [f"door-{i:03d}" for i in range(doors)]
    door_rows = {d: DoorRecord(d, ZONES[i % len(ZONES)], lockdown=(i == 0)) for i, d in enumerate(door_ids)}
    names = list(schedules())
    group_rows = {f"g{i:02d}": AccessGroup(f"g{i:02d}", tuple((d, names[i % len(names)]) for d in rng.sample(door_ids, 10)), override=(i == 0)) for i in range(groups)}
    person_rows = {}
    for i in range(people):
        start = START + timedelta(days=rng.randrange(365)) if i % 5 == 0 else None
        end = start + timedelta(days=rng.randrange(1, 60)) if start else None
        person_rows[f"p{i:06d}"] = PersonAccess(frozenset(rng.sample(sorted(group_rows), 2)), start, end, suspended=(i % 97 == 0))
    return AccessPolicy(door_rows, schedules(), group_rows, person_rows, "UTC")


def per_face(policy: AccessPolicy, trials: int, rng: random.Random) -> np.ndarray:
    people, doors = sorted(policy.people), sorted(policy.doors)
    out = np.empty(trials)
    for i in range(trials):
        verdict = [Verdict(Decision.GRANTED, rng.choice(people), 0.9, 0.3)]
        at = START + timedelta(seconds=rng.randrange(365 * 86400))
        door = rng.choice(doors)
        t = time.perf_counter()
        apply_access(verdict, policy, door, at)
        out[i] = time.perf_counter() - t
    return out * 1e6


def reload_from_database(people: int, doors: int, groups: int) -> float:
    """Seconds for ``load_access_policy`` on a SQLite database holding this policy."""
    from sqlalchemy import insert

    from gatekeeper.storage import models
    from gatekeeper.storage.access import load_access_policy
    from gatekeeper.storage.database import open_database

    rng = random.Random(1)
    policy = build_policy(people, doors, groups, rng)
    with tempfile.TemporaryDirectory() as tmp:
        sessions = open_database(f"sqlite:///{tmp}/bench.db")
        with sessions.begin() as s:
            s.execute(insert(models.Person), [{"person_id": p, "name": p, "vector_id": i, "template": b"", "model_version": "bench", "valid_from": a.valid_from, "valid_until": a.valid_until, "suspended": a.suspended} for i, (p, a) in enumerate(policy.people.items())])
            s.execute(insert(models.Door), [{"door_id": d.door_id, "name": d.door_id, "timezone": d.timezone, "lockdown": d.lockdown} for d in policy.doors.values()])
            for sch in policy.schedules.values():
                if sch.name != "always":
                    s.add(models.Schedule(name=sch.name, windows=[models.ScheduleWindow(weekday=w.weekday, start_minute=w.start, end_minute=w.end) for w in sch.windows], holidays=[models.ScheduleHoliday(day=d) for d in sch.holidays]))
            s.execute(insert(models.AccessGroup), [{"name": g.name, "override": g.override} for g in policy.groups.values()])
            s.execute(insert(models.GroupDoor), [{"group": g.name, "door_id": d, "schedule": sch} for g in policy.groups.values() for d, sch in g.grants])
            s.execute(insert(models.GroupMember), [{"group": g, "person_id": p} for p, a in policy.people.items() for g in a.groups])
        times = []
        for _ in range(3):
            with sessions() as s:
                t = time.perf_counter()
                loaded = load_access_policy(s, "UTC")
                times.append(time.perf_counter() - t)
        assert len(loaded.people) == people and len(loaded.groups) == groups
        sessions.kw["bind"].dispose()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--doors", type=int, default=100)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--trials", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="1,000 people and 2,000 checks: that it runs, not its figures")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    if args.quick:
        args.people, args.trials = 1000, 2000
    rng = random.Random(0)
    policy = build_policy(args.people, args.doors, args.groups, rng)
    per_face(policy, 1000, rng)  # warm up (zoneinfo caches, branch paths)
    us = per_face(policy, args.trials, rng)
    print(f"policy per decided face, {args.people} people x {args.doors} doors x {args.groups} groups, {args.trials} checks:")
    print(f"  p50 {np.percentile(us, 50):.1f} us, p95 {np.percentile(us, 95):.1f} us, p99 {np.percentile(us, 99):.1f} us, max {us.max():.1f} us  (bar: 200 us)")
    reload_ms = 1000 * reload_from_database(args.people, args.doors, args.groups)
    print(f"snapshot reload from SQLite after a change: {reload_ms:.0f} ms (once per change, not per frame)")
    if args.out:
        figures = {"people": args.people, "doors": args.doors, "groups": args.groups, "p50_us": float(np.percentile(us, 50)), "p95_us": float(np.percentile(us, 95)), "reload_ms": reload_ms}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
