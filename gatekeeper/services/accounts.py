"""Console accounts: who may use the web console and the REST API, and as what.

Two roles: ``admin`` (enroll, rename, remove, anonymise, change access) and ``auditor`` (read and
export, never change). Passwords are hashed with argon2id (argon2-cffi's defaults: its own salt
and cost in the hash); sessions and API tokens are random 256-bit values of which only the
sha256 is stored, so a copy of the database signs nobody in. Every account change is an admin
row in the audit chain.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.core.types import Decision
from gatekeeper.errors import InputError
from gatekeeper.core.identifiers import PERSON_ID
from gatekeeper.services.audit import AuditLog
from gatekeeper.storage.database import take_write_lock
from gatekeeper.storage.models import ApiToken, ConsoleSession, ConsoleUser

SESSION_LIFETIME = timedelta(hours=8)  # a working day; then sign in again
TOKEN_DAYS = 90  # an integration's token is renewed each quarter unless told otherwise
MAX_TOKEN_DAYS = 730
MIN_PASSWORD = 12
_HASHER = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs what a wrong password costs.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


class Role(StrEnum):
    ADMIN = "admin"
    AUDITOR = "auditor"


class AccountError(InputError):
    """A username, password or role that cannot be used, with the reason."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a console user or an API token, and their role."""

    name: str
    role: Role
    csrf_token: str | None = None  # browser sessions only; API tokens need none

    @property
    def can_change(self) -> bool:
        return self.role == Role.ADMIN


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog, actor: str) -> None:
        self.sessions = sessions
        self.audit = audit
        self.actor = actor

    # -- users -------------------------------------------------------------------------------
    def create_user(self, username: str, password: str, role: str) -> None:
        _check_username(username)
        checked = _role(role)
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password is {len(password)} characters long: use at least {MIN_PASSWORD}")
        with self.sessions.begin() as session:
            take_write_lock(session)
            if session.get(ConsoleUser, username) is not None:
                raise AccountError(f"console user {username!r} exists already")
            session.add(ConsoleUser(username=username, role=checked.value, password_hash=_HASHER.hash(password)))
            self.audit.admin_action(session, Decision.ACCOUNT_CHANGED, self.actor, detail=f"console user {username} created ({checked.value})")

    def remove_user(self, username: str) -> None:
        """Delete an account and end its sessions; the last admin stays (someone must be able to
        sign in and change things)."""
        with self.sessions.begin() as session:
            take_write_lock(session)
            user = self._user(session, username)
            if user.role == Role.ADMIN.value and session.scalar(select(func.count()).select_from(ConsoleUser).where(ConsoleUser.role == Role.ADMIN.value)) == 1:
                raise AccountError(f"{username} is the last admin: create another admin first")
            session.delete(user)
            session.execute(delete(ConsoleSession).where(ConsoleSession.username == username))
            self.audit.admin_action(session, Decision.ACCOUNT_CHANGED, self.actor, detail=f"console user {username} removed")

    def set_password(self, username: str, password: str) -> None:
        """A new password; every session the user had is ended."""
        if len(password) < MIN_PASSWORD:
            raise AccountError(f"password is {len(password)} characters long: use at least {MIN_PASSWORD}")
        with self.sessions.begin() as session:
            take_write_lock(session)
            self._user(session, username).password_hash = _HASHER.hash(password)
            session.execute(delete(ConsoleSession).where(ConsoleSession.username == username))
            self.audit.admin_action(session, Decision.ACCOUNT_CHANGED, self.actor, detail=f"console user {username}: password changed, sessions ended")

    def end_sessions(self, username: str) -> int:
        """Sign the user out everywhere; how many sessions ended."""
        with self.sessions.begin() as session:
            take_write_lock(session)
            self._user(session, username)
            ended = session.execute(delete(ConsoleSession).where(ConsoleSession.username == username)).rowcount or 0
            self.audit.admin_action(session, Decision.ACCOUNT_CHANGED, self.actor, detail=f"console user {username}: {ended} sessions ended")
        return int(ended)

    @staticmethod
    def _user(session: Session, username: str) -> ConsoleUser:
        user = session.get(ConsoleUser, username) if PERSON_ID.fullmatch(username or "") else None
        if user is None:
            raise AccountError(f"no console user {ascii(username[:64])}")
        return user

    def users(self) -> list[tuple[str, str]]:
        with self.sessions() as session:
            return [(u.username, u.role) for u in session.scalars(select(ConsoleUser).order_by(ConsoleUser.username))]

    def authenticate(self, username: str, password: str) -> Principal | None:
        """The user, if the password is theirs; None otherwise (the same work either way)."""
        with self.sessions() as session:
            user = session.get(ConsoleUser, username) if PERSON_ID.fullmatch(username or "") else None
            stored = user.password_hash if user else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return Principal(user.username, Role(user.role)) if user else None

    def record_sign_in(self, username: str, address: str, succeeded: bool) -> None:
        """A sign-in, or a failed one, as a row of the audit chain (the name as typed, made safe
        to print: a failed attempt's name is the guesser's to choose)."""
        shown = ascii(username[:64])[1:-1]
        with self.sessions.begin() as session:
            take_write_lock(session)
            self.audit.admin_action(session, Decision.SIGNED_IN if succeeded else Decision.SIGN_IN_FAILED, f"console:{shown}", detail=f"from {ascii(address[:64])[1:-1]}")

    # -- browser sessions --------------------------------------------------------------------
    def open_session(self, principal: Principal, now: datetime | None = None) -> tuple[str, Principal]:
        """A NEW session for a user who just signed in (never one the browser brought: no
        fixation); returns the cookie value and the principal with its CSRF token."""
        now = now or datetime.now(timezone.utc)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
            session.add(ConsoleSession(token_hash=token_digest(token), username=principal.name, csrf_token=csrf, created_at=now, expires_at=now + SESSION_LIFETIME))
        return token, Principal(principal.name, principal.role, csrf)

    def session_principal(self, token: str | None, now: datetime | None = None) -> Principal | None:
        if not token:
            return None
        now = now or datetime.now(timezone.utc)
        with self.sessions() as session:
            row = session.get(ConsoleSession, token_digest(token))
            if row is None or _aware(row.expires_at) <= now:
                return None
            user = session.get(ConsoleUser, row.username)
            return Principal(user.username, Role(user.role), row.csrf_token) if user else None

    def close_session(self, token: str | None) -> None:
        if token:
            with self.sessions.begin() as session:
                session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_digest(token)))

    # -- API tokens --------------------------------------------------------------------------
    def create_token(self, name: str, role: str, days: int = TOKEN_DAYS) -> str:
        """A new API token valid for ``days``; shown once, stored only as its sha256."""
        _check_username(name, "token name")
        checked = _role(role)
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise AccountError(f"a token lives 1 to {MAX_TOKEN_DAYS} days, not {days}")
        token = "gk_" + secrets.token_urlsafe(32)
        with self.sessions.begin() as session:
            take_write_lock(session)
            if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
                raise AccountError(f"an API token named {name!r} exists already")
            expires = datetime.now(timezone.utc) + timedelta(days=days)
            session.add(ApiToken(token_hash=token_digest(token), name=name, role=checked.value, expires_at=expires))
            self.audit.admin_action(session, Decision.ACCOUNT_CHANGED, self.actor, detail=f"API token {name} created ({checked.value}, until {expires:%Y-%m-%d})")
        return token

    def revoke_token(self, name: str) -> None:
        with self.sessions.begin() as session:
            take_write_lock(session)
            if not session.execute(delete(ApiToken).where(ApiToken.name == name)).rowcount:
                raise AccountError(f"no API token named {ascii(name[:64])}")
            self.audit.admin_action(session, Decision.ACCOUNT_CHANGED, self.actor, detail=f"API token {name} revoked")

    def tokens(self) -> list[tuple[str, str, datetime | None]]:
        """(name, role, expiry) of every API token."""
        with self.sessions() as session:
            return [(t.name, t.role, _aware(t.expires_at) if t.expires_at else None) for t in session.scalars(select(ApiToken).order_by(ApiToken.name))]

    def token_principal(self, token: str | None) -> Principal | None:
        if not token:
            return None
        with self.sessions() as session:
            row = session.get(ApiToken, token_digest(token))
            if row is None or (row.expires_at is not None and _aware(row.expires_at) <= datetime.now(timezone.utc)):
                return None
            return Principal(f"token:{row.name}", Role(row.role))


def _check_username(name: str, what: str = "username") -> None:
    if not PERSON_ID.fullmatch(name):
        raise AccountError(f"{what} {ascii(name[:40])} is not allowed: use 1-64 characters of letters, digits and . _ @ - (starting with a letter or digit)")


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"role {role!r} is not one of {', '.join(r.value for r in Role)}") from None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
