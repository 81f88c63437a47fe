"""`gatekeeper`: the admin's command line (Typer + Rich)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gatekeeper.config import Settings
from gatekeeper.display import safe

app = typer.Typer(help="Face-verification door access: enroll, run the door, audit.", no_args_is_help=True, pretty_exceptions_enable=False)
people_app = typer.Typer(help="List, show, rename and remove enrolled people.", no_args_is_help=True)
config_app = typer.Typer(help="Effective configuration.", no_args_is_help=True)
app.add_typer(people_app, name="people")
app.add_typer(config_app, name="config")
# Audit tables are wide: when piped (no terminal to measure), don't squeeze them into 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)  # an error line names a path: never wrap it


def _app():  # type: ignore[no-untyped-def]
    from gatekeeper.app import App

    return App(Settings())


def _one_line(exc: Exception) -> str:
    """A pydantic validation error as 'setting: problem' lines, without its documentation links."""
    from pydantic import ValidationError

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
    """Enroll employees from photos. Exit code 1 when any photo or person was rejected."""
    from gatekeeper.enrollment import discover_people

    if photo:
        if not person_id:
            _fail("--photo needs --id")
        batch = [(person_id, name, list(photo))]  # no --name: an enrolled person keeps theirs
    elif folder is not None:
        try:
            batch = discover_people(folder, manifest)
        except (OSError, ValueError) as exc:
            _fail(str(exc))
    else:
        _fail("give a FOLDER of per-person sub-folders, or --photo with --id")
    gk = _app()
    results = []
    total = sum(len(p) for _, _, p in batch)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("enrolling", total=total)
        with gk.enrollment.batch():
            for pid, display, embedded in gk.enrollment.embed_people(batch):
                bar.update(task, description=f"enrolling {safe(pid)}")
                results.append(gk.enrollment.enroll(pid, display, embedded, extend=extend, force=force))
                bar.advance(task, len(embedded))
    _print_enrollment(results)
    _index_note(gk)
    if any(not r.enrolled or not all(p.ok for p in r.photos) for r in results):
        raise typer.Exit(1)


def _print_enrollment(results) -> None:  # type: ignore[no-untyped-def]
    table = Table(title="Enrollment")
    for col in ("person", "photos used", "result"):
        table.add_column(col)
    for r in results:
        used = sum(p.ok for p in r.photos)
        table.add_row(safe(r.person_id), f"{used}/{len(r.photos)}", "[green]enrolled" if r.enrolled else f"[red]not enrolled: {safe(r.reason)}")
    console.print(table)
    rejected = [(r.person_id, p) for r in results for p in r.photos if not p.ok]
    if rejected:
        bad = Table(title="Rejected photos")
        for col in ("person", "file", "reason"):
            bad.add_column(col)
        for pid, p in rejected:
            bad.add_row(safe(pid), safe(p.path), safe(p.reason))
        console.print(bad)
    n_ok = sum(r.enrolled for r in results)
    console.print(f"{n_ok} enrolled, {len(results) - n_ok} not enrolled, {len(rejected)} photos rejected")


# -- people ---------------------------------------------------------------------------------
@app.command()
def migrate() -> None:
    """Re-embed every enrolled person with the configured model (after a model change).

    One transaction: a running door sees the old gallery or the new one, never a mix. Exit 1 when
    someone cannot be migrated (enrolled before face crops were kept): nothing is changed then."""
    from gatekeeper.migration import migrate_gallery

    gk = _app()
    report = migrate_gallery(gk.enrollment)
    if not report.complete:
        _fail(f"nothing changed: {len(report.without_crops)} people were enrolled before face crops were kept and must be "
              f"re-enrolled from photos: {', '.join(report.without_crops[:20])}", 1)
    console.print(f"migrated {len(report.migrated)} people to {report.model_version}; {len(report.already_current)} already on it")


@people_app.command("list")
def people_list() -> None:
    from sqlalchemy import select

    from gatekeeper.storage.models import Person

    gk = _app()
    with gk.sessions() as s:
        rows = s.execute(select(Person).order_by(Person.person_id)).scalars().all()
        table = Table(title=f"{len(rows)} enrolled")
        for col in ("id", "name", "photos", "model", "updated (UTC)"):
            table.add_column(col)
        for p in rows:
            table.add_row(safe(p.person_id), safe(p.name), str(len(p.photos)), safe(p.model_version), p.updated_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@people_app.command("show")
def people_show(person_id: str) -> None:
    from gatekeeper.storage.models import Person

    gk = _app()
    with gk.sessions() as s:
        p = s.get(Person, person_id)
        if p is None:
            _fail(f"no enrolled person {person_id!r}")
        console.print(f"[bold]{safe(p.person_id)}[/bold]  {safe(p.name)}  model {safe(p.model_version)}  created {p.created_at:%Y-%m-%d %H:%M} UTC")
        table = Table()
        for col in ("photo", "quality"):
            table.add_column(col)
        for ph in p.photos:
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


@people_app.command("rename")
def people_rename(person_id: str, name: str) -> None:
    if not _app().enrollment.rename(person_id, name):
        _fail(f"no enrolled person {person_id!r}")
    console.print(f"{safe(person_id)} is now {safe(repr(name))}")


# -- verify ---------------------------------------------------------------------------------
@app.command()
def verify(photo: Path, top: int = 3) -> None:
    """Who is this? Each face in PHOTO judged as the door judges a frame (threshold and margin),
    with the top candidates. Exit 1 when no face in it could be judged."""
    from gatekeeper.core import DoorPolicy
    from gatekeeper.images import ImageError, read_rgb
    from gatekeeper.services.verify import judge_photo

    gk = _app()
    try:
        image = read_rgb(photo)
    except ImageError as exc:
        _fail(str(exc))
    judged = judge_photo(gk.pipeline, gk.gallery(), DoorPolicy(gk.thresholds.rules(gk.settings.cooldown_s)), image, top)
    if not judged:
        _fail(f"{photo}: no face found")
    for i, face in enumerate(judged, 1):
        if face.problems:
            console.print(f"face {i}: not usable at the door: {safe('; '.join(face.problems))}")
            continue
        who = f" {safe(face.vote.person_id)}" if face.vote.person_id else ""
        table = Table(title=f"face {i}: {face.verdict}{who} (threshold {gk.thresholds.match:.3f}, margin {gk.thresholds.margin:.3f})")
        table.add_column("person")
        table.add_column("similarity")
        for c in face.candidates:
            table.add_row(safe(c.person_id), f"{c.similarity:.3f}")
        console.print(table)
    if all(face.problems for face in judged):
        raise typer.Exit(1)


# -- run ------------------------------------------------------------------------------------
@app.command()
def run(
    source: Annotated[Optional[str], typer.Option(help="camera index, RTSP/HTTP URL, video file or image folder")] = None,
    door: Annotated[Optional[str], typer.Option(help="door id written to the audit log")] = None,
) -> None:
    """Run the door-camera daemon until SIGINT/SIGTERM (or the end of a replayed file)."""
    overrides = {k: v for k, v in {"source": source, "door_id": door}.items() if v}
    settings = Settings(**overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gatekeeper.app import App
    from gatekeeper.camera import open_source

    gk = App(settings, create_database=False)
    daemon = gk.daemon()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    from gatekeeper.actuate import redact_source

    console.print(f"door {safe(settings.door_id)}: watching {safe(redact_source(settings.source))}; {len(daemon.gallery)} people enrolled; threshold {gk.thresholds.match:.3f}, margin {gk.thresholds.margin:.3f}")
    stats = daemon.run(open_source(settings.source), stop)
    console.print(f"stopped after {stats.frames} frames: {safe(stats.decisions or 'no decisions')}, {stats.errors} errors")


# -- audit ----------------------------------------------------------------------------------
audit_app = typer.Typer(help="Audit the door decisions.", invoke_without_command=True)
app.add_typer(audit_app, name="audit")


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    if text[-1] in "dhm" and text[:-1].isdigit():
        unit = {"d": "days", "h": "hours", "m": "minutes"}[text[-1]]
        try:
            return datetime.now(timezone.utc) - timedelta(**{unit: int(text[:-1])})
        except OverflowError:
            raise typer.BadParameter(f"{text!r} reaches before year 1: give a shorter age or an ISO time") from None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither an age like 90d / 12h / 30m nor an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@audit_app.callback()
def audit(
    ctx: typer.Context,
    since: Annotated[Optional[str], typer.Option(help="ISO time (UTC) or age like 7d, 12h")] = None,
    until: Annotated[Optional[str], typer.Option(help="ISO time (UTC) or age")] = None,
    person: Annotated[Optional[str], typer.Option()] = None,
    decision: Annotated[Optional[str], typer.Option(help="granted, denied-unknown, denied-ambiguous, denied-quality, error")] = None,
    door: Annotated[Optional[str], typer.Option()] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    summary: Annotated[bool, typer.Option("--summary", help="counts per day, person and decision")] = False,
    limit: Annotated[Optional[int], typer.Option()] = None,
) -> None:
    """List decisions (filters combine); `audit verify` checks the hash chain."""
    if ctx.invoked_subcommand:
        return
    from gatekeeper.audit import AuditFilter, summary as summarise, to_csv, to_json

    rows = _app().audit.query(AuditFilter(_when(since), _when(until), person, decision, door, limit))
    if summary:
        for title, counts in summarise(rows).items():
            table = Table(title=title)
            table.add_column(title.removeprefix("per "))
            table.add_column("count", justify="right")
            for key, n in sorted(counts.items()):
                table.add_row(safe(key), str(n))
            console.print(table)
    elif fmt == "csv":
        sys.stdout.write(to_csv(rows))
    elif fmt == "json":
        sys.stdout.write(to_json(rows) + "\n")
    else:
        _audit_table(rows)


def _audit_table(rows) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"{len(rows)} decisions")
    for col in ("#", "time (UTC)", "door", "decision", "person", "best", "2nd", "threshold", "detail"):
        table.add_column(col)
    colour = {"granted": "green", "error": "red"}
    for r in rows:
        fmt = lambda v: "" if v is None else f"{v:.3f}"  # noqa: E731
        table.add_row(str(r.event_id), f"{r.at:%Y-%m-%d %H:%M:%S}", safe(r.door_id), f"[{colour.get(r.decision, 'yellow')}]{safe(r.decision)}", safe(r.person_id or ""), fmt(r.best_similarity), fmt(r.second_similarity), fmt(r.threshold), safe((r.detail or "")[:60]))
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[Optional[Path], typer.Option(help="a checkpoint exported earlier (`audit checkpoint`): proves every row up to it")] = None,
) -> None:
    """Check the keyed hash chain; names every edited, deleted, inserted or reordered row, a
    truncated tail, a faked purge, and rows cleared without an anonymisation record."""
    from gatekeeper.audit_chain import Checkpoint

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
    from gatekeeper.storage.models import AuditEvent

    gk = _app()
    with gk.sessions() as s:
        row = s.get(AuditEvent, event)
    if row is None or not row.snapshot:
        _fail(f"event {event} has no snapshot")
    if not gk.audit.owns_snapshot(row.snapshot):
        _fail(f"event {event} names {row.snapshot}, outside the snapshot folder {gk.settings.snapshot_dir}: not read")
    try:
        data = Path(row.snapshot).read_bytes()
    except OSError as exc:
        _fail(f"{row.snapshot}: {exc.strerror or exc}")
    write_private(out, gk.codec.unseal(data) if row.snapshot.endswith(".sealed") else data)
    console.print(f"event {event}: snapshot written to {safe(out)}")


@audit_app.command("purge")
def audit_purge(older_than: Annotated[str, typer.Option(help="age like 90d, or an ISO time")]) -> None:
    """Delete old rows and their snapshots (retention); the remaining chain stays verifiable."""
    from gatekeeper.privacy import purge_audit

    cutoff = _when(older_than)
    n, deleted, failures = purge_audit(_app().audit, cutoff)
    console.print(f"purged {n} rows older than {cutoff:%Y-%m-%d %H:%M} UTC and {deleted} snapshots")
    _fail_on_snapshot_failures(failures)


@audit_app.command("anonymise")
def audit_anonymise(
    person: Annotated[str, typer.Option(help="the person id to clear from the log")],
    reason: Annotated[str, typer.Option(help="why, e.g. a request number; logged")],
) -> None:
    """Clear a person (id and snapshots) from their audit rows; decisions and times stay, the chain verifies."""
    from gatekeeper.privacy import anonymise_person

    report = anonymise_person(_app().audit, person, reason)
    if not report.audit_rows_anonymised and not report.audit_rows_left_named:
        _fail(f"no audit rows name {person!r}; nothing anonymised")
    _forget_summary(report)


# -- config, demo -----------------------------------------------------------------------------
@config_app.command("show")
def config_show() -> None:
    """Effective settings and where each came from (environment, the file in $GATEKEEPER_CONFIG,
    the model card, or the default); secrets in URLs are shown redacted."""
    from gatekeeper.settings_report import setting_rows
    from gatekeeper.storage.database import redact

    settings = Settings()
    table = Table(title="gatekeeper settings")
    for col in ("setting", "value", "from"):
        table.add_column(col)
    for key, value, source in setting_rows(settings):
        table.add_row(safe(key), safe(value), safe(source))
    table.add_row("(database)", safe(redact(settings.resolved_database_url)), "")
    console.print(table)


@app.command()
def demo(workdir: Annotated[Path, typer.Option(help="where the demo's data goes")] = Path("gatekeeper-demo")) -> None:
    """Enroll public-domain portraits, replay a generated clip through the daemon, print the audit."""
    from gatekeeper.demo import run_demo

    run_demo(workdir, console)


def main() -> None:
    from gatekeeper.training.cli import eval_app, train_app, calibrate_cmd, plot_cmd

    app.add_typer(train_app, name="train")
    app.add_typer(eval_app, name="eval")
    app.command("calibrate")(calibrate_cmd)
    app.command("plot")(plot_cmd)
    try:
        app()
    except Exception as exc:  # a clear one-line error for the admin rather than a traceback
        from pydantic import ValidationError

        from gatekeeper.errors import GatekeeperError

        if isinstance(exc, (GatekeeperError, ValidationError)):
            err.print(f"[red]error:[/red] {safe(_one_line(exc))}")
            sys.exit(getattr(exc, "exit_code", 2))
        raise
