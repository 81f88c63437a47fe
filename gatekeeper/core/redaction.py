"""Secrets out of what is logged or shown: URLs carry tokens in their user info and query."""

from __future__ import annotations

import urllib.parse


def redact_url(url: str) -> str:
    """A URL fit for logs: no user info, no query string (tokens live in both)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def redact_source(source: str) -> str:
    """A camera source fit for logs: a stream URL redacted, a device index or file path as is."""
    return redact_url(source) if "://" in source else source


def redact_database_url(url: str) -> str:
    """A database URL without its password (for messages and `config show`)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}://{user}:***@{rest.split('@', 1)[1]}"
    return url
