"""`gatekeeper`: the admin's command line (Typer + Rich)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from gatekeeper.cli.access import access_app, door_app
from gatekeeper.app import App
from gatekeeper.config import Settings
from gatekeeper.core.types import Decision
from gatekeeper.errors import GatekeeperError, InputError
from gatekeeper.core.when import parse_when
from gatekeeper.core.redaction import redact_database_url, redact_source
from gatekeeper.cli.display import audit_table, print_enrollment, safe
from gatekeeper.services.people import count_people, find_person, list_people, names_of
from gatekeeper.cli.train import calibrate_cmd, eval_app, plot_cmd, train_app

class _RefusalsAreMessages(TyperGroup):
    """Every deliberate refusal (a GatekeeperError, an invalid setting) becomes one clear
    "error:" line and exit 2, whichever command raised it, and however the CLI is invoked."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except (GatekeeperError, ValidationError) as exc:
            err.print(f"[red]error:[/red] {safe(_one_line(exc))}")
            raise typer.Exit(getattr(exc, "exit_code", 2)) from None


app = typer.Typer(cls=_RefusalsAreMessages, help="Face-verification door access: enroll, run the door, audit.", no_args_is_help=True, pretty_exceptions_enable=False)
people_app = typer.Typer(help="List, show, rename and remove enrolled people.", no_args_is_help=True)
config_app = typer.Typer(help="Effective configuration.", no_args_is_help=True)
app.add_typer(people_app, name="people")
app.add_typer(config_app, name="config")
# Audit tables are wide: when piped (no terminal to measure), don't squeeze them into 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)  # an error line names a path: never wrap it


@app.callback()
def _options(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="also show the libraries' own log lines (faiss, Alembic)")] = False) -> None:
    _quiet_libraries(verbose)


def _quiet_libraries(verbose: bool) -> None:
    """gatekeeper's own warnings always reach the admin; faiss's loader and Alembic's INFO lines
    ("Could not load library with AVX2 support", "Context impl SQLiteImpl") only with --verbose."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("faiss", "alembic"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.WARNING)


def _app(create: bool = False) -> App:
    """The installation in force. Only `enroll` and `init` may create its database: any other
    command on a wrong path refuses, naming the path, instead of showing an empty installation."""
    return App(Settings(), create_database=create)


def _one_line(exc: Exception) -> str:
    """A pydantic validation error as 'setting: problem' lines, without its documentation links."""
    if isinstance(exc, ValidationError):
        return "invalid settings: " + "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
    return str(exc)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {safe(message)}")
    raise typer.Exit(code)


# -- enroll ---------------------------------------------------------------------------------
@app.command()
def enroll(
    folder: Annotated[Optional[Path], typer.Argument(help="folder with one sub-folder of photos per person")] = None,
    manifest: Annotated[Optional[Path], typer.Option(help="CSV person_id,name for display names")] = None,
    photo: Annotated[Optional[list[Path]], typer.Option("--photo", help="a single photo (repeatable); needs --id")] = None,
    person_id: Annotated[Optional[str], typer.Option("--id", help="person id for --photo")] = None,
    name: Annotated[Optional[str], typer.Option(help="display name for --photo")] = None,
    extend: Annotated[bool, typer.Option(help="add photos to an enrolled person instead of replacing them")] = False,
    force: Annotated[bool, typer.Option(help="enroll even if the face matches another enrolled person")] = False,
) -> None:
    """Enroll employees from photos.

    Exit 0: everyone enrolled (photos that could not be used are listed as warnings); 1: someone
    was not enrolled (each reason listed); 2: a usage or setup error, nothing enrolled."""
    from gatekeeper.services.enrollment import discover_people

    if photo:
        if not person_id:
            _fail("--photo needs --id", 2)
        batch = [(person_id, name, list(photo))]  # no --name: an enrolled person keeps theirs
    elif folder is not None:
        try:
            batch = discover_people(folder, manifest)
        except (OSError, ValueError) as exc:
            _fail(str(exc), 2)
    else:
        _fail("give a FOLDER of per-person sub-folders, or --photo with --id", 2)
    gk = _app(create=True)
    results = []
    total = sum(len(p) for _, _, p in batch)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("enrolling", total=total)
        with gk.enrollment.batch():
            for pid, display, embedded in gk.enrollment.embed_people(batch):
                bar.update(task, description=f"enrolling {safe(pid)}")
                results.append(gk.enrollment.enroll(pid, display, embedded, extend=extend, force=force))
                bar.advance(task, len(embedded))
    print_enrollment(console, results)
    _index_note(gk)
    if not all(r.enrolled for r in results):
        raise typer.Exit(1)


# -- init, people -----------------------------------------------------------------------------
@app.command()
def init() -> None:
    """Create an empty installation (database, audit key) where the settings point. `enroll`
    does this on first use; every other command refuses a missing database."""
    gk = _app(create=True)
    gk.audit.verify()  # opens the database (created and migrated) and the audit key
    console.print(f"installation ready: database {safe(_database_shown(gk.settings))}, data in {safe(gk.settings.data_dir.resolve())}")


def _database_shown(settings: Settings) -> str:
    return redact_database_url(settings.resolved_database_url)


@app.command()
def migrate() -> None:
    """Re-embed every enrolled person with the configured model (after a model change).

    One transaction: a running door sees the old gallery or the new one, never a mix. Exit 1 when
    someone cannot be migrated (enrolled before face crops were kept): nothing is changed then."""
    from gatekeeper.services.migration import migrate_gallery

    gk = _app()
    report = migrate_gallery(gk.enrollment)
    if not report.complete:
        _fail(f"nothing changed: {len(report.without_crops)} people were enrolled before face crops were kept and must be "
              f"re-enrolled from photos: {', '.join(report.without_crops[:20])}", 1)
    console.print(f"migrated {len(report.migrated)} people to {report.model_version}; {len(report.already_current)} already on it")


@people_app.command("list")
def people_list() -> None:
    """Everyone enrolled, by id."""
    gk = _app()
    rows = list_people(gk.sessions)
    table = Table(title=f"{len(rows)} enrolled")
    for col in ("id", "name", "photos", "model", "updated (UTC)"):
        table.add_column(col)
    for p in rows:
        table.add_row(safe(p.person_id), safe(p.name), str(p.photos), safe(p.model_version), p.updated_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)
    _door_outlook(gk.settings, len(rows))


def _door_outlook(settings: Settings, enrolled: int) -> None:
    """What the face alone gives a gallery of this size (from the model card, no model loaded)."""
    from gatekeeper.match.thresholds import door_outlook, liveness_outlook

    line = door_outlook(settings, enrolled)
    if line is not None:
        console.print(safe(line))
    console.print(safe(liveness_outlook(settings)))


@people_app.command("show")
def people_show(person_id: str) -> None:
    """One person, with the photos their template was built from and each one's quality."""
    found = find_person(_app().sessions, person_id)
    if found is None:
        _fail(f"no enrolled person {person_id!r}")
    p, photos = found
    console.print(f"[bold]{safe(p.person_id)}[/bold]  {safe(p.name)}  model {safe(p.model_version)}  created {p.created_at:%Y-%m-%d %H:%M} UTC")
    table = Table()
    for col in ("photo", "quality"):
        table.add_column(col)
    for ph in photos:
        table.add_row(safe(ph.source), safe(json.dumps(ph.quality)))
    console.print(table)


@people_app.command("remove")
def people_remove(
    person_id: str,
    anonymise_audit: Annotated[bool, typer.Option("--anonymise-audit", help="also clear the person from their audit rows")] = False,
    reason: Annotated[str, typer.Option(help="why (logged with an anonymisation), e.g. a request number")] = "person removed",
) -> None:
    """Delete the person's vectors (database and index) and the snapshots of their face."""
    gk = _app()
    report = gk.forget(person_id, anonymise_audit, reason)
    if not report.removed and not report.audit_rows_anonymised:
        _fail(f"no enrolled person {person_id!r}")
    console.print(f"removed {safe(person_id)} from the database: doors refuse them from their next gallery check" if report.removed else f"{safe(person_id)} was not enrolled")
    _index_note(gk)
    for other in gk.enrollment.same_face_as:
        err.print(f"[yellow]warning:[/yellow] {safe(other.person_id)} is enrolled with a face that matches {safe(person_id)}'s: "
                  f"if it is the same person under a second id, remove it too (`gatekeeper people remove {safe(other.person_id)}`)")
    _forget_summary(report)


def _index_note(gk) -> None:  # type: ignore[no-untyped-def]
    """The change is committed either way; say plainly when only the index cache lagged behind."""
    if gk.enrollment.index_warning:
        err.print(f"[yellow]warning:[/yellow] {safe(gk.enrollment.index_warning)}")


def _forget_summary(report) -> None:  # type: ignore[no-untyped-def]
    console.print(f"snapshots deleted: {report.snapshots_deleted}; audit rows anonymised: {report.audit_rows_anonymised}")
    if report.audit_rows_left_named:
        err.print(f"[yellow]{report.audit_rows_left_named} audit rows predate anonymisable rows (schema 0002) and keep the name; `audit purge` removes them")
    _fail_on_snapshot_failures(report.snapshot_failures)


def _fail_on_snapshot_failures(failures: list[str]) -> None:
    for failure in failures:
        err.print(f"[red]snapshot not deleted:[/red] {safe(failure)}")
    if failures:
        raise typer.Exit(1)


@people_app.command("badge")
def people_badge(
    person_id: str,
    number: Annotated[Optional[str], typer.Argument(help="the badge number a card reader reports")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="take the person's badge away")] = False,
) -> None:
    """Show, give or take away a person's badge number (card + face doors); audited."""
    from gatekeeper.core.access import AccessPolicyError

    admin = _app().access
    try:
        if remove:
            console.print(f"{safe(person_id)}: badge removed" if admin.remove_badge(person_id) else f"{safe(person_id)} holds no badge")
        elif number is None:
            console.print(f"{safe(person_id)}: badge {safe(admin.person(person_id).badge or '(none)')}")
        else:
            admin.set_badge(person_id, number)
            console.print(f"{safe(person_id)} now holds badge {safe(number)}")
    except AccessPolicyError as exc:
        _fail(str(exc))


@people_app.command("candidates")
def people_candidates(person_id: Annotated[Optional[str], typer.Argument(help="only this person's")] = None) -> None:
    """Door frames of confident grants waiting to become template photos (door_templates = review)."""
    rows = _app().door_templates.pending(person_id)
    table = Table(title=f"{len(rows)} door template candidates")
    for col in ("candidate", "person", "door", "at (UTC)", "similarity"):
        table.add_column(col)
    for c in rows:
        table.add_row(str(c.candidate_id), safe(c.person_id), safe(c.door_id), f"{c.at:%Y-%m-%d %H:%M:%S}", f"{c.similarity:.3f}")
    console.print(table)


@people_app.command("accept")
def people_accept(candidate: int) -> None:
    """Add a door frame to its person's template (the enrollment rules apply; audited)."""
    gk = _app()
    try:
        result = gk.door_templates.accept(candidate)
    except KeyError:
        _fail(f"no door template candidate {candidate}")
    if not result.enrolled:
        _fail(f"candidate {candidate} not added to {result.person_id}: {result.reason}")
    console.print(f"candidate {candidate} added to {safe(result.person_id)}'s template")
    _index_note(gk)


@people_app.command("dismiss")
def people_dismiss(candidate: int) -> None:
    """Turn a door frame down (audited)."""
    if not _app().door_templates.dismiss(candidate):
        _fail(f"no door template candidate {candidate}")
    console.print(f"candidate {candidate} dismissed")


@people_app.command("rename")
def people_rename(person_id: str, name: str) -> None:
    if not _app().enrollment.rename(person_id, name):
        _fail(f"no enrolled person {person_id!r}")
    console.print(f"{safe(person_id)} is now {safe(repr(name))}")


# -- verify ---------------------------------------------------------------------------------
class OutputFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def verify(
    photos: Annotated[list[Path], typer.Argument(help="photos, or folders of photos")],
    top: Annotated[int, typer.Option(min=1, max=20, help="candidates shown per face")] = 3,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.table,
    claim: Annotated[Optional[str], typer.Option(help="card + face: judge each photo against this person id alone (1:1)")] = None,
) -> None:
    """Who is this? Each face judged as the door judges a frame (threshold and margin).

    Exit 0: a face in every photo could be judged; 1: some photo had none (unreadable, no face,
    or no face usable at the door); 2: usage or setup error. With --claim ID: exit 0 when every
    photo is that person at the card + face threshold, 1 otherwise, 2 when nobody has that id."""
    from gatekeeper.services.verify import verify_photos

    gk = _app()
    gallery = gk.gallery()
    if claim is not None:
        _verify_claim(gk, gallery, claim, photos, fmt)
        return
    thresholds = gk.thresholds.for_gallery(len(gallery))
    results = verify_photos(gk.pipeline, gallery, gk.door_policy(len(gallery)), photos, top)
    if not results:
        _fail("no photos found in " + ", ".join(str(p) for p in photos), 2)
    names = names_of(gk.sessions, {c.person_id for r in results for f in r.faces for c in f.candidates})
    live = gk.thresholds.liveness
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps([_verdict_json(r, names, live) for r in results], indent=2) + "\n")
    else:
        for r in results:
            _print_verdict(r, names, thresholds.match, thresholds.margin, live)
    if not all(r.judged for r in results):
        raise typer.Exit(1)


def _verify_claim(gk: App, gallery, person_id: str, photos: list[Path], fmt: OutputFormat) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.verify import check_claim

    threshold = gk.thresholds.card
    try:
        checks = check_claim(gk.pipeline, gallery, threshold, person_id, photos)
    except KeyError:
        _fail(f"no enrolled person {person_id!r}", 2)
    if not checks:
        _fail("no photos found in " + ", ".join(str(p) for p in photos), 2)
    if fmt == OutputFormat.json:
        sys.stdout.write(json.dumps([{"photo": c.photo, "claim": person_id, "similarity": None if c.similarity is None else round(c.similarity, 4),
                                      "matches": c.matches, "threshold": round(threshold, 4), "reason": c.reason} for c in checks], indent=2) + "\n")
    else:
        for c in checks:
            said = c.reason or f"similarity {c.similarity:.3f} to {person_id} (threshold {threshold:.3f})"
            console.print(f"{safe(c.photo)}: {'[green]is[/green]' if c.matches else '[red]is not[/red]'} {safe(person_id)}: {safe(said)}")
    if not all(c.matches for c in checks):
        raise typer.Exit(1)


def _who(person_id: str | None, names: dict[str, str]) -> str:
    return f"{names.get(person_id, '')} ({person_id})" if person_id else ""


def _print_verdict(r, names: dict[str, str], threshold: float, margin: float, live: float | None) -> None:  # type: ignore[no-untyped-def]
    if r.error:
        console.print(f"{safe(r.photo)}: [red]{safe(r.error)}")
        return
    for i, face in enumerate(r.faces, 1):
        where = f"{safe(r.photo)} face {i}"
        if face.problems:
            console.print(f"{where}: not usable at the door: {safe('; '.join(face.problems))}")
            continue
        liveness = "" if face.liveness is None or live is None else f"; passive liveness {face.liveness:.3f} ({'passes' if face.liveness >= live else 'FAILS: the door would refuse it'}, threshold {live:.3f}; a photo cannot show the blink the door may also need)"
        table = Table(title=f"{where}: {face.verdict} {safe(_who(face.vote.person_id, names))} (threshold {threshold:.3f}, margin {margin:.3f}{liveness})")
        for col in ("name", "id", "similarity"):
            table.add_column(col)
        for c in face.candidates:
            table.add_row(safe(names.get(c.person_id, "")), safe(c.person_id), f"{c.similarity:.3f}")
        console.print(table)


def _verdict_json(r, names: dict[str, str], live: float | None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from gatekeeper.services.verify import FaceVerdictOut

    return {"photo": r.photo, "error": r.error, "faces": [FaceVerdictOut.of(f, names, live).model_dump() for f in r.faces]}


# -- run ------------------------------------------------------------------------------------
@app.command()
def run(
    source: Annotated[Optional[str], typer.Option(help="camera index, RTSP/HTTP URL, video file or image folder")] = None,
    door: Annotated[Optional[str], typer.Option(help="door id written to the audit log")] = None,
    metrics_port: Annotated[Optional[int], typer.Option(min=1, max=65535, help="serve Prometheus /metrics on 127.0.0.1:PORT")] = None,
) -> None:
    """Run the door-camera daemon until SIGINT/SIGTERM; a video file or image folder ends at its
    last frame. Exit 2 at once for a missing file, folder or database."""
    from gatekeeper.door.camera import open_source
    from gatekeeper.match.thresholds import liveness_outlook

    overrides = {k: v for k, v in {"source": source, "door_id": door}.items() if v}
    settings = Settings(**overrides)
    logging.getLogger("gatekeeper").setLevel(logging.INFO)  # the door's own events: reconnects, reloads
    frames = open_source(settings.source)  # a mistyped path fails before the models load
    gk = App(settings, create_database=False)
    daemon = gk.daemon()
    if metrics_port:
        daemon.metrics.serve(metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    live = "off" if gk.thresholds.liveness is None else f"{settings.liveness} (live score {gk.thresholds.liveness:.3f}" + (f", blink {gk.thresholds.blink:.3f} within {settings.liveness_window_s:g} s)" if gk.thresholds.blink else ")")
    console.print(f"door {safe(settings.door_id)}: watching {safe(redact_source(settings.source))}; {len(daemon.gallery)} people enrolled; threshold {daemon.thresholds.match:.4f}, margin {daemon.thresholds.margin:.4f}; liveness {live}")
    point = daemon.thresholds.operating_point(len(daemon.gallery)) if daemon.thresholds.openset is not None else None
    if point is not None:
        console.print(f"  {safe(point.summary())}")
    console.print(f"  {safe(liveness_outlook(settings))}")
    stats = daemon.run(frames, stop)
    console.print(f"stopped after {safe(stats.summary())}")


# -- audit ----------------------------------------------------------------------------------
class AuditFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


audit_app = typer.Typer(help="Audit the door decisions.", invoke_without_command=True)
app.add_typer(audit_app, name="audit")


def _when(text: str | None, bound: Literal["since", "until"]) -> datetime | None:
    """``core.when``'s reading, in the site's timezone: ages, dates (``--until`` a date: that day
    included) and times."""
    if not text:
        return None
    try:
        return parse_when(text, Settings().timezone, bound)
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None


@audit_app.callback()
def audit(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option(help="age like 7d, 12h; ISO date (from its start) or time, in the site's timezone")] = None,
    until: Annotated[Optional[str], typer.Option(help="age, ISO date (that day included) or time, in the site's timezone")] = None,
    person: Annotated[Optional[str], typer.Option(help="rows about this person: their grants, and admin changes to them")] = None,
    nearest: Annotated[Optional[str], typer.Option(help="refusals whose nearest enrolled person this was: who is refused, and by how much")] = None,
    decision: Annotated[Optional[Decision], typer.Option(help="door decisions, or admin actions (enrolled, removed, ...)")] = None,
    door: Annotated[Optional[str], typer.Option(help="a door id, or 'admin' for what admins did")] = None,
    fmt: Annotated[AuditFormat, typer.Option("--format")] = AuditFormat.table,
    summary: Annotated[bool, typer.Option("--summary", help="counts per day, person and decision")] = False,
    limit: Annotated[Optional[int], typer.Option()] = None,
) -> None:
    """List decisions (filters combine); `audit verify` checks the hash chain."""
    if ctx.invoked_subcommand:
        return
    from gatekeeper.services.audit import AuditFilter, summary as summarise, to_csv, to_json

    wanted = AuditFilter(_when(since, "since"), _when(until, "until"), person, decision.value if decision else None, door, limit, nearest)  # bad input first, then the database
    rows = _app().audit.query(wanted)
    if summary:
        for title, counts in summarise(rows).items():
            table = Table(title=title)
            table.add_column(title.removeprefix("per "))
            table.add_column("count", justify="right")
            for key, n in sorted(counts.items()):
                table.add_row(safe(key), str(n))
            console.print(table)
    elif fmt == AuditFormat.csv:
        sys.stdout.write(to_csv(rows))
    elif fmt == AuditFormat.json:
        sys.stdout.write(to_json(rows) + "\n")
    else:
        console.print(audit_table(rows))


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[Optional[Path], typer.Option(help="a checkpoint exported earlier (`audit checkpoint`): proves every row up to it")] = None,
) -> None:
    """Check the keyed hash chain; names every edited, deleted, inserted or reordered row, a
    truncated tail, a faked purge, and rows cleared without an anonymisation record."""
    from gatekeeper.storage.audit_chain import Checkpoint

    try:
        cp = Checkpoint.read(checkpoint) if checkpoint else None
    except ValueError as exc:
        _fail(str(exc), 2)
    problems = _app().audit.verify(cp)
    for p in problems:
        console.print(f"[red]{safe(p)}")
    if problems:
        raise typer.Exit(1)
    console.print("[green]audit chain intact" + (f" and matches the checkpoint of {cp.exported_at}" if cp else ""))


@audit_app.command("checkpoint")
def audit_checkpoint(out: Annotated[Path, typer.Option(help="where to write it; ship it off this box (log shipper, another host)")]) -> None:
    """Export the chain's current head, MAC'd with the audit key. Later `audit verify --checkpoint`
    proves that no row up to it was changed, even by someone who has the key."""
    from gatekeeper.storage.files import write_private

    cp = _app().audit.checkpoint()
    write_private(out, cp.to_json().encode())
    console.print(f"checkpoint of event {cp.event_id} ({cp.rows} rows) written to {safe(out)}")


@audit_app.command("seal-legacy")
def audit_seal_legacy() -> None:
    """Protect rows written before the chain was keyed (after an upgrade), once you have checked them."""
    through = _app().audit.seal_legacy()
    console.print(f"sealed: events up to {through} are now covered by the keyed chain" if through else "nothing to seal")


@audit_app.command("snapshot")
def audit_snapshot(event: int, out: Annotated[Path, typer.Option(help="JPEG file to write")]) -> None:
    """Write the face snapshot of one audit row as a JPEG (opening it with the template key when sealed)."""
    from gatekeeper.storage.files import write_private

    gk = _app()
    try:
        jpeg = gk.audit.snapshot_jpeg(event, gk.codec)
    except GatekeeperError as exc:
        _fail(str(exc))
    write_private(out, jpeg)
    console.print(f"event {event}: snapshot written to {safe(out)}")


@audit_app.command("purge")
def audit_purge(older_than: Annotated[str, typer.Option(help="age like 90d, or an ISO time")]) -> None:
    """Delete old rows and their snapshots (retention); the remaining chain stays verifiable."""
    from gatekeeper.services.privacy import purge_audit

    cutoff = _when(older_than, "since")  # a date: rows before that day's start
    n, deleted, failures = purge_audit(_app().audit, cutoff)
    console.print(f"purged {n} rows older than {cutoff:%Y-%m-%d %H:%M} UTC and {deleted} snapshots")
    _fail_on_snapshot_failures(failures)


@audit_app.command("anonymise")
def audit_anonymise(
    person: Annotated[str, typer.Option(help="the person id to clear from the log")],
    reason: Annotated[str, typer.Option(help="why, e.g. a request number; logged")],
) -> None:
    """Clear a person (id and snapshots) from their audit rows; decisions and times stay, the chain verifies."""
    from gatekeeper.services.privacy import anonymise_person

    report = anonymise_person(_app().audit, person, reason)
    if not report.audit_rows_anonymised and not report.audit_rows_left_named:
        _fail(f"no audit rows name {person!r}; nothing anonymised")
    _forget_summary(report)


# -- config, demo -----------------------------------------------------------------------------
@config_app.command("show")
def config_show() -> None:
    """Effective settings and where each came from (environment, the file in $GATEKEEPER_CONFIG,
    the model card, or the default); secrets in URLs are shown redacted."""
    from gatekeeper.cli.settings_report import setting_rows
    settings = Settings()
    table = Table(title="gatekeeper settings")
    for col in ("concern", "setting", "value", "from"):
        table.add_column(col)
    for concern, key, value, source in setting_rows(settings):
        table.add_row(concern, safe(key), safe(value), safe(source))
    table.add_row("storage", "(database)", safe(redact_database_url(settings.resolved_database_url)), "")
    console.print(table)
    try:
        _door_outlook(settings, count_people(App(settings, create_database=False).sessions))
    except Exception as exc:  # no database yet: the settings are still worth showing
        err.print(f"(no door outlook: {safe(str(exc))})")


@config_app.command("reference")
def config_reference() -> None:
    """Every setting, its type, default and meaning, as Markdown (the manual's settings reference)."""
    from gatekeeper.cli.settings_report import reference_markdown
    typer.echo(reference_markdown())


@app.command()
def demo(workdir: Annotated[Path, typer.Option(help="where the demo's data goes")] = Path("gatekeeper-demo")) -> None:
    """Enroll public-domain portraits, replay a generated clip through the daemon, print the audit."""
    from gatekeeper.demo import run_demo

    run_demo(workdir, console)


# -- the web console ------------------------------------------------------------------------
admin_app = typer.Typer(help="Web console accounts and API tokens.", no_args_is_help=True)


class ConsoleRole(str, Enum):
    admin = "admin"
    auditor = "auditor"


@admin_app.command("create")
def admin_create(
    username: str,
    role: Annotated[ConsoleRole, typer.Option(help="admin: may change things; auditor: read and export only")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input (scripts)")] = False,
) -> None:
    """A console account. The password is asked for (twice) or read from stdin, never taken as an
    argument (it would land in the shell history and the process list)."""
    from gatekeeper.services.accounts import Accounts

    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("password", hide_input=True, confirmation_prompt=True)
    gk = _app()
    Accounts(gk.sessions, gk.audit, gk.actor).create_user(username, password, role.value)
    console.print(f"console user {safe(username)} created ({role.value})")


@admin_app.command("token")
def admin_token(
    name: str,
    role: Annotated[ConsoleRole, typer.Option(help="what the integration may do")] = ConsoleRole.auditor,
    days: Annotated[int, typer.Option(min=1, max=730, help="how long the token works")] = 90,
) -> None:
    """An API token for an integration (Authorization: Bearer ...); shown once, stored hashed."""
    token = _accounts().create_token(name, role.value, days)
    console.print(f"API token {safe(name)} ({role.value}, {days} days), shown once:")
    print(token)


@admin_app.command("list")
def admin_list() -> None:
    """Console users and API tokens (with their expiry)."""
    accounts = _accounts()
    for username, role in accounts.users():
        console.print(f"user {safe(username)}: {role}")
    for name, role, expires in accounts.tokens():
        console.print(f"token {safe(name)}: {role}, {'expired' if expires and expires <= datetime.now(timezone.utc) else 'valid'} until {expires:%Y-%m-%d %H:%M} UTC" if expires else f"token {safe(name)}: {role}")


@admin_app.command("remove")
def admin_remove(username: str) -> None:
    """Delete a console user and end their sessions (never the last admin); audited."""
    _account_change(lambda a: a.remove_user(username), f"console user {username} removed")


@admin_app.command("password")
def admin_password(username: str, password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the new password from standard input")] = False) -> None:
    """Set a console user's password (asked for twice); ends every session they had; audited."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    _account_change(lambda a: a.set_password(username, password), f"{username}: password changed, signed out everywhere")


@admin_app.command("signout")
def admin_signout(username: str) -> None:
    """End every console session of a user (a lost laptop); audited."""
    _account_change(lambda a: a.end_sessions(username), f"{username}: signed out everywhere")


@admin_app.command("revoke")
def admin_revoke(name: str) -> None:
    """Revoke an API token at once; audited."""
    _account_change(lambda a: a.revoke_token(name), f"API token {name} revoked")


def _accounts():  # type: ignore[no-untyped-def]
    from gatekeeper.services.accounts import Accounts

    gk = _app()
    return Accounts(gk.sessions, gk.audit, gk.actor)


def _account_change(change, done: str) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.services.accounts import AccountError

    try:
        change(_accounts())
    except AccountError as exc:
        _fail(str(exc))
    console.print(safe(done))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on; keep 127.0.0.1 unless a TLS proxy is in front")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8080,
    secure_cookies: Annotated[bool, typer.Option(help="mark cookies Secure (the console is served behind TLS)")] = False,
) -> None:
    """The web console and REST API (OpenAPI schema at /api/v1/openapi.json)."""
    import uvicorn

    from gatekeeper.web.app import create_app

    gk = _app()
    console.print(f"gatekeeper console on http://{safe(host)}:{port} (database {safe(_database_shown(gk.settings))})")
    uvicorn.run(create_app(gk, secure_cookies=secure_cookies), host=host, port=port, log_level="warning")


app.add_typer(admin_app, name="admin")
app.add_typer(access_app, name="access")
app.add_typer(door_app, name="door")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.command("calibrate")(calibrate_cmd)
app.command("plot")(plot_cmd)


def main() -> None:
    app()
