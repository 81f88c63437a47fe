"""Opening the database: engine, schema migrations (Alembic), sessions, gallery generation."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, Integer, String, cast, create_engine, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.storage.models import Meta

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
GENERATION_KEY = "gallery_generation"


class DatabaseError(RuntimeError):
    """The database cannot be opened or migrated."""


def open_database(url: str, create: bool = True) -> sessionmaker[Session]:
    """An engine on ``url`` with the schema migrated to the newest revision.

    ``create=False`` refuses a SQLite file that does not exist yet: a door daemon pointed at a
    wrong path must not start on a fresh, empty database as if nobody had been enrolled.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not create and not path.is_file():
            raise DatabaseError(f"database {path} does not exist (enroll people first, or set GATEKEEPER_DATA_DIR / GATEKEEPER_DATABASE_URL)")
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        migrate(engine)
    except Exception as exc:
        raise DatabaseError(f"cannot open database {_redact(url)}: {exc}") from exc
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets the door daemon read while an admin enrolls; foreign keys make deletes cascade;
    # the busy timeout turns brief writer contention into a wait instead of an error.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def gallery_generation(session: Session) -> int:
    row = session.get(Meta, GENERATION_KEY)
    return int(row.value) if row else 0


def bump_generation(session: Session) -> int:
    """Called FIRST in every transaction that changes who is enrolled; the index follows it.

    Being a write, it takes the database's write lock before anything is read: concurrent
    enrollments queue here (a PostgreSQL row lock; SQLite's writer lock, waited for through the
    busy timeout) instead of both reading the same next vector id, or SQLite failing a read
    transaction that later wants to write.
    """
    session.execute(
        update(Meta).where(Meta.key == GENERATION_KEY).values(value=cast(cast(Meta.value, Integer) + 1, String)),
        execution_options={"synchronize_session": False},
    )
    return int(session.execute(select(Meta.value).where(Meta.key == GENERATION_KEY)).scalar_one())
