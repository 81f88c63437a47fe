"""The console's routes, one router per domain; each route calls a service through ``web.deps``."""
