"""The door's decision core: value types and the door policy, numpy-free and without I/O.

Everything here is a pure function of its inputs and an injected clock (``now``), so each rule
(threshold, margin, N of M, cooldown, quality, tailgating, throttling of "unknown" rows, the access
policy) is tested by tables (`tests/test_policy.py`, `tests/test_access_policy.py`) without a
camera, a model or a database.
"""

from gatekeeper.core.access import AccessAnswer, AccessPolicy, Refusal
from gatekeeper.core.policy import DoorPolicy, UnknownThrottle, apply_access, apply_tailgating
from gatekeeper.core.types import Candidate, Decision, Verdict, Vote, VoteKind

__all__ = ["AccessAnswer", "AccessPolicy", "Candidate", "Decision", "DoorPolicy", "Refusal", "UnknownThrottle", "Verdict", "Vote", "VoteKind", "apply_access", "apply_tailgating"]
