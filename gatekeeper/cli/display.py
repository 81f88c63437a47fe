"""Text from admins, cameras and photos, made safe to print on an admin's terminal.

Ids, names, file paths and error messages reach Rich, which reads ``[...]`` as markup (a person
id like ``[/]`` would crash every later listing), and a terminal, which obeys escape sequences
(``\\x1b]...`` can rewrite the screen). ``safe`` escapes the markup and shows every control or
invisible formatting character as a visible ``\\xNN`` / ``\\u....`` code instead.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # types only: printing a table must not load the face pipeline
    from gatekeeper.services.enrollment import PersonResult
    from gatekeeper.storage.models import AuditEvent


def visible(text: str) -> str:
    """Control characters (Cc) and invisible format characters (Cf: zero-width, bidi overrides)
    as visible escape codes; everything else unchanged."""
    return "".join(_code(ch) if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)


def safe(value: object) -> str:
    """``value`` as text for a Rich string or table cell: markup escaped, controls visible."""
    return escape(visible("" if value is None else str(value)))


def _code(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def print_enrollment(console: Console, results: list[PersonResult]) -> None:
    """The enrollment report: one row per person, then every rejected photo and why."""
    table = Table(title="Enrollment")
    for col in ("person", "photos used", "result"):
        table.add_column(col)
    for r in results:
        used = sum(p.ok for p in r.photos)
        hint = "; use --force if they are different people" if r.lookalike else ""
        table.add_row(safe(r.person_id), f"{used}/{len(r.photos)}", "[green]enrolled" if r.enrolled else f"[red]not enrolled: {safe(r.reason)}{hint}")
    console.print(table)
    rejected = [(r.person_id, p) for r in results for p in r.photos if not p.ok]
    if rejected:
        bad = Table(title="Rejected photos")
        for col in ("person", "file", "reason"):
            bad.add_column(col)
        for pid, p in rejected:
            bad.add_row(safe(pid), safe(p.path), safe(p.reason))
        console.print(bad)
    for r in results:
        for p in r.photos:
            if p.ok and p.note:
                console.print(f"{safe(r.person_id)}: {safe(p.path)}: {safe(p.note)}")
    n_ok = sum(r.enrolled for r in results)
    console.print(f"{n_ok} enrolled, {len(results) - n_ok} not enrolled, {len(rejected)} photos rejected")


def audit_table(rows: list[AuditEvent]) -> Table:
    """Audit rows as the admin reads them (newest last, scores to three places)."""
    table = Table(title=f"{len(rows)} decisions")
    # "nearest": a refused face's closest enrolled person, at similarity "best"; "by": the admin of an admin row.
    for col in ("#", "time (UTC)", "door", "decision", "person", "nearest", "best", "2nd", "threshold", "by", "detail"):
        table.add_column(col)
    colour = {"granted": "green", "error": "red"}
    for r in rows:
        fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        table.add_row(str(r.event_id), f"{r.at:%Y-%m-%d %H:%M:%S}", safe(r.door_id), f"[{colour.get(r.decision, 'yellow')}]{safe(r.decision)}", safe(r.person_id or ""), safe(r.nearest_id or ""), fmt(r.best_similarity), fmt(r.second_similarity), fmt(r.threshold), safe(r.actor or ""), safe((r.detail or "")[:60]))
    return table
