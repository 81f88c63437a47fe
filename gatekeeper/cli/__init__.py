"""The command line (`gatekeeper ...`): Typer apps that parse arguments, call the services and
print with Rich. No use case lives here."""

from gatekeeper.cli.commands import app, main

__all__ = ["app", "main"]
