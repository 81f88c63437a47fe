"""The web console and REST API (`gatekeeper serve`)."""
