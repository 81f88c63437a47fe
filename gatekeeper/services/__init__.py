"""Use cases the CLI, the demo, the tests and later the web app call (issue #12 moves them here
one by one; enrollment, people, audit and privacy still live beside it for now)."""
