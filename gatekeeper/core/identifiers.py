"""Person ids and display names: what enrollment accepts, checked before anything is stored.

A person id ends up in shell-free actuator arguments, file-system-like listings, CSV exports and
log lines; it must be short, plain and unambiguous. So: 1-64 characters of ASCII letters, digits
and ``. _ @ -``, starting with a letter or digit (``emp-0042``, ``ada.lovelace@example``). A display
name may be any printable text (accents, CJK, apostrophes, spaces) up to 128 characters, NFC
normalised, without control or invisible formatting characters (zero-width, bidi overrides),
which could make two names look alike or rewrite a terminal.
"""

from __future__ import annotations

import re
import unicodedata

from gatekeeper.errors import InputError

PERSON_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
BADGE_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")  # what badge readers print: digits, letters, dashes
MAX_NAME = 128


class InvalidIdentifier(InputError):
    """A person id or display name that enrollment refuses, with the reason."""


def check_person_id(person_id: str) -> str:
    if not PERSON_ID.fullmatch(person_id):
        shown = person_id if len(person_id) <= 40 else person_id[:40] + "…"
        raise InvalidIdentifier(
            f"person id {ascii(shown)} is not allowed: use 1-64 characters of letters, digits and . _ @ - (starting with a letter or digit)"
        )
    return person_id


def clean_display_name(name: str) -> str:
    """The name NFC-normalised and trimmed, or ``InvalidIdentifier`` saying why not."""
    return clean_text(name, "display name", MAX_NAME)


def clean_text(text: str, what: str, max_len: int) -> str:
    """Any free text an admin gives (a name, a reason): NFC-normalised and trimmed, never empty,
    at most ``max_len`` characters, and free of control, formatting (bidi overrides) and
    invisible characters, which would travel into the audit chain, terminals and CSV exports."""
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise InvalidIdentifier(f"{what} is empty")
    if len(text) > max_len:
        raise InvalidIdentifier(f"{what} is {len(text)} characters long (at most {max_len})")
    bad = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")})
    if bad:
        raise InvalidIdentifier(f"{what} contains control or invisible characters ({', '.join(bad[:5])})")
    return text
