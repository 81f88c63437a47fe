"""Text from admins, cameras and photos, made safe to print on an admin's terminal.

Ids, names, file paths and error messages reach Rich, which reads ``[...]`` as markup (a person
id like ``[/]`` would crash every later listing), and a terminal, which obeys escape sequences
(``\\x1b]...`` can rewrite the screen). ``safe`` escapes the markup and shows every control or
invisible formatting character as a visible ``\\xNN`` / ``\\u....`` code instead.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape


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
