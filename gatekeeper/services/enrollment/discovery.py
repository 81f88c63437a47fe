"""Who to enroll, from a folder of per-person sub-folders and an optional CSV of display names."""

from __future__ import annotations

import csv
from pathlib import Path

from gatekeeper.errors import InputError


def discover_people(root: Path, manifest: Path | None = None) -> list[tuple[str, str, list[Path]]]:
    """``root/<person-id>/*`` folders as (person id, display name, files). Every visible file is
    listed, photo or not: one that cannot be read is rejected by name with the reason, never skipped."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder of per-person sub-folders")
    names = read_manifest(manifest) if manifest else {}
    people = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        people.append((folder.name, names.get(folder.name, folder.name.replace("_", " ")), photos))
    return people


def read_manifest(path: Path) -> dict[str, str]:
    """CSV with columns ``person_id,name``."""
    with path.open(newline="") as fh:
        rows = csv.DictReader(fh)
        if not rows.fieldnames or not {"person_id", "name"} <= set(rows.fieldnames):
            raise InputError(f"{path}: manifest needs the columns person_id,name")
        return {r["person_id"].strip(): r["name"].strip() for r in rows if r.get("person_id")}
