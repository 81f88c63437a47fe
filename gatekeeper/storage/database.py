"""Opening the database: engine, schema migrations (Alembic), sessions, gallery generation."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from cryptography.fernet import Fernet
from sqlalchemy import Engine, Integer, String, cast, create_engine, event, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.redaction import redact_database_url
from gatekeeper.storage.models import Meta, Person
from gatekeeper.storage.templates import TemplateCodec, TemplateKeyError
from gatekeeper.errors import EnvironmentFault

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
GENERATION_KEY = "gallery_generation"
INDEX_KEY = "gallery_index_key"
KEY_CHECK = "template_key_check"
_KEY_CHECK_PLAINTEXT = b"gatekeeper template key check"


class DatabaseError(EnvironmentFault):
    """The database cannot be opened or migrated."""


def open_database(url: str, create: bool = True) -> sessionmaker[Session]:
    """An engine on ``url`` with the schema migrated to the newest revision.

    ``create=False`` refuses a SQLite file that does not exist yet: a door daemon pointed at a
    wrong path must not start on a fresh, empty database as if nobody had been enrolled.
    """
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not create and not path.is_file():
            raise DatabaseError(f"database {path} does not exist: enroll people first (or `gatekeeper init`), or point GATEKEEPER_DATA_DIR / GATEKEEPER_DATABASE_URL at the installation")
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)  # SQLite would create it 0644 under the usual umask; its WAL files copy this mode
    try:
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        migrate(engine)
    except Exception as exc:
        raise DatabaseError(f"cannot open database {redact_database_url(url)}: {exc}") from exc
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


def index_seal_key(session: Session) -> bytes:
    """The random key that authenticates the gallery index file when no template key is set
    (seeded by migration 0005; created here for a database that lost it)."""
    row = session.get(Meta, INDEX_KEY)
    if row is None:
        row = Meta(key=INDEX_KEY, value=Fernet.generate_key().decode())
        try:
            with session.begin_nested():
                session.add(row)
            session.commit()
        except IntegrityError:  # another process created it first
            session.rollback()
            row = session.get(Meta, INDEX_KEY)
    return row.value.encode()  # type: ignore[union-attr]


def check_template_key(sessions: sessionmaker[Session], codec: TemplateCodec) -> None:
    """Refuse a wrong, missing or unexpected template key before anything is written with it.

    The first use stores a sealed check value; every later use must open it. A database that
    predates the check is probed through one stored template first."""
    with sessions() as session:
        row = session.get(Meta, KEY_CHECK)
        if row is not None:
            _open_key_check(codec, bytes.fromhex(row.value))
            return
    with sessions.begin() as session:
        take_write_lock(session)  # two first uses at once: the second waits, then finds the row
        row = session.get(Meta, KEY_CHECK)
        if row is not None:
            _open_key_check(codec, bytes.fromhex(row.value))
            return
        sample = session.execute(select(Person.template).limit(1)).scalar_one_or_none()
        if sample is not None:
            codec.decode(sample)  # raises TemplateKeyError on a wrong or missing key
            if codec.encrypting and sample.startswith(b"GKv1"):
                raise TemplateKeyError("people were enrolled without a template key; unset it, or re-enroll into a new database with the key set")
        session.add(Meta(key=KEY_CHECK, value=codec.seal(_KEY_CHECK_PLAINTEXT).hex()))


def _open_key_check(codec: TemplateCodec, blob: bytes) -> None:
    if codec.encrypting and blob.startswith(b"GKv1"):
        raise TemplateKeyError("this database was set up without a template key, but one is set: unset GATEKEEPER_TEMPLATE_KEY / template_key_file")
    if codec.unseal(blob) != _KEY_CHECK_PLAINTEXT:
        raise TemplateKeyError("template key check failed: the stored check value is corrupt")


def take_write_lock(session: Session) -> None:
    """A no-op write on the generation row as a transaction's first statement: it takes the write
    lock (SQLite's writer lock, PostgreSQL's row lock) before anything is read, so two writers
    queue instead of both reading the same state (SQLite ignores SELECT ... FOR UPDATE)."""
    session.execute(update(Meta).where(Meta.key == GENERATION_KEY).values(value=Meta.value), execution_options={"synchronize_session": False})


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
