"""gatekeeper: face-verification door access control."""

import os

# OpenMP's threads spin while they wait for work by default. On a door box that shares its two
# cores (video decoding, the console, log shipping) that spinning steals the neighbour's time and
# its own: with one busy neighbour, p95 went from 62 to 92 ms (2 threads, AMD VM) and from 31 to
# 71 ms (1 thread, Intel VM) when OpenMP spun (bench/threads_under_load.py). OpenMP reads this once, when torch loads, so it is set here,
# before any gatekeeper module imports torch; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# The public API (gatekeeper/api.py), imported on first use so that `import gatekeeper` stays light.
__all__ = ["open", "Deployment", "Identification", "Person", "EnrollmentResult"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from gatekeeper import api

        return getattr(api, name)
    raise AttributeError(f"module 'gatekeeper' has no attribute {name!r}")
