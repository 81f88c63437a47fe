"""Use cases: the only place they live. The CLI, the public API, the demo and the tests call these."""
