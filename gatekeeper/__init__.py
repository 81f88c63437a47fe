"""gatekeeper: face-verification door access control."""

import os

# OpenMP's threads spin while they wait for work by default. On a door box that shares its two
# cores (video decoding, the console, log shipping) that spinning steals the neighbour's time and
# its own: with one busy neighbour, p95 went from 62 to 92 ms (2 threads, AMD VM) and from 31 to
# 71 ms (1 thread, Intel VM) when OpenMP spun (bench/threads_under_load.py). OpenMP reads this once, when torch loads, so it is set here,
# before any gatekeeper module imports torch; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
