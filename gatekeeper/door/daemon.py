"""The door-camera daemon: camera -> detect -> align -> embed -> match -> decide -> actuate -> audit.

Fail closed: anything that goes wrong while a frame is processed, or while the door is being
unlocked, ends in *no unlock* and an ``error`` row in the audit log; the daemon carries on with the
next frame. Enrollment and access-policy changes (a lockdown) reach a running daemon through two
generation counters in the database, polled every few seconds; a grant stands only if the access
policy lets that person through this door now (denied-not-permitted otherwise).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import cv2
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from gatekeeper.door.actuate import DoorActuator
from gatekeeper.door.events import DecisionEvents, NoEvents
from gatekeeper.door.heartbeat import DoorPulse
from gatekeeper.door.side_work import SideWork
from gatekeeper.door.metrics import DoorMetrics
from gatekeeper.services.audit import AuditLog, Reading
from gatekeeper.services.review import REVIEWED, ReviewQueue
from gatekeeper.match.negatives import Negatives, load_negatives
from gatekeeper.door.camera import FrameReader, FrameSource
from gatekeeper.config import Settings
from gatekeeper.core import AccessPolicy, Candidate, Decision, DoorPolicy, UnknownThrottle, Verdict, Vote, apply_access, apply_tailgating
from gatekeeper.core.policy import TrackVotes
from gatekeeper.door.claims import BadgeQueue, BadgeReader, Claim
from gatekeeper.services.door_templates import DoorTemplates, confident_grant
from gatekeeper.vision.align import ENROLLMENT_KEEPSAKE, align_face
from gatekeeper.core.identifiers import BADGE_NUMBER
from gatekeeper.match.gallery import INDEX_SEAL_PURPOSE, GalleryIndex, load_gallery
from gatekeeper.vision.pipeline import AnalysedFace, FacePipeline
from gatekeeper.storage.access import access_generation, load_access_policy
from gatekeeper.storage.database import gallery_generation
from gatekeeper.storage.files import write_private
from gatekeeper.storage.templates import TemplateCodec
from gatekeeper.match.thresholds import DecisionThresholds
from gatekeeper.door.track import FaceTracker, Track

log = logging.getLogger(__name__)
SEALED_SNAPSHOT = ".jpg.sealed"
SNAPSHOT_SWEEP_S = 3600.0  # how often old snapshot files are looked for
REPLAY_FPS = 15.0  # replayed files run on a synthetic clock, so votes and cooldowns are repeatable


@dataclass
class DaemonStats:
    frames: int = 0
    faces: int = 0
    errors: int = 0  # processing, gallery and actuator errors (each an audit row)
    camera_errors: int = 0  # camera and stream faults (each an audit row)
    decisions: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the admin: frames, each decision by name, errors of both kinds."""
        decided = ", ".join(f"{n} {d}" for d, n in sorted(self.decisions.items())) or "no decisions"
        return f"{self.frames} frames, {self.faces} faces: {decided}; {self.errors} errors, {self.camera_errors} camera errors"


class DoorDaemon:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], codec: TemplateCodec, pipeline: FacePipeline, thresholds: DecisionThresholds, actuator: DoorActuator, audit: AuditLog, clock: Callable[[], datetime] | None = None, events: DecisionEvents | None = None, templates: DoorTemplates | None = None, review: ReviewQueue | None = None) -> None:
        self.settings = settings
        self.templates = templates  # door frames of confident grants, offered as template photos (off: None)
        self.review = review  # refused faces kept for the console's review queue (off: None)
        self.negatives = Negatives({})  # faces known not to be a person: loaded with the gallery
        self.events = events or NoEvents()  # MQTT for integrations: after the log and the door, never before
        # Wall-clock time for the access policy (schedules, validity); injected by replays and tests.
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.sessions = sessions
        self.codec = codec
        self.pipeline = pipeline
        self.base_thresholds = thresholds  # ``thresholds`` is these, set for the gallery's size
        self.thresholds = thresholds
        self.actuator = actuator
        self.audit = audit
        pipeline.require_liveness()  # fail closed at start: no liveness model, no door
        self.policy = DoorPolicy(thresholds.rules(settings.cooldown_s))
        # Card + face: a presented badge names one person, and the face is checked against them alone.
        self.claim_policy = DoorPolicy(thresholds.card_rules(settings.cooldown_s))
        self.badges = BadgeQueue()
        self.claim: Claim | None = None
        self.unknown_rows = UnknownThrottle(settings.unknown_log_interval_s)
        self.tracker = FaceTracker(thresholds.same_person, max_age_s=settings.track_max_age_s)
        self.stats = DaemonStats()
        self.metrics = DoorMetrics(settings.door_id)
        self.gallery: GalleryIndex = self._load_gallery()
        self.access: AccessPolicy = self._load_access()
        self._checked_at = time.monotonic()
        self.pulse = DoorPulse(settings.door_id, pipeline.door_embedder.version)
        self.side = SideWork(f"{settings.door_id} side work", on_drop=self.metrics.side_work_dropped)  # heartbeats, old snapshots
        self._stale: str | None = None  # why the gallery in memory is not known to be current
        self._swept_at = float("-inf")  # when old snapshot files were last deleted
        self._last_stale_log = float("-inf")

    # -- the loop ---------------------------------------------------------------------------
    def run(self, source: FrameSource, stop: threading.Event) -> DaemonStats:
        reader = FrameReader(source, drop_stale=not source.finite, on_event=self._camera_event, backoff_initial_s=self.settings.reconnect_initial_s, backoff_max_s=self.settings.reconnect_max_s)
        now = 0.0
        reader.start()
        if self.settings.door_mode != "face" and self.settings.badge_source is not None:
            BadgeReader(self.settings.badge_source, self.badges, stop).start()
        try:
            while not stop.is_set():
                frame = reader.next_frame(timeout=0.5)
                if frame is None:
                    if reader.finished:
                        break
                    self.pulse.report(self.sessions, self.gallery, self.side.submit)  # "no frames", not "stopped"
                    continue
                now = self.stats.frames / REPLAY_FPS if source.finite else time.monotonic()
                self.pulse.frame()
                self.refresh_gallery()
                self.process_frame(frame, now)
        finally:
            reader.stop()
            reader.join(timeout=5)
            try:
                self._close_visits(self.tracker.end_all(), now)
            except Exception:
                log.exception("could not record the visits still open at the end")
            self.events.close()
            self.side.close()
        return self.stats

    def process_frame(self, frame: np.ndarray, now: float) -> list[Verdict]:
        """Decide on every face in the frame; never raises, never unlocks on an error."""
        self.stats.frames += 1
        started = time.perf_counter()
        try:
            return self._decide_frame(frame, now)
        except Exception as exc:  # fail closed: whatever broke, the door stays locked
            self._error(f"frame processing failed: {type(exc).__name__}: {exc}")
            return [Verdict(Decision.ERROR, None, None, None, str(exc))]
        finally:
            self.metrics.frame(time.perf_counter() - started)

    # -- one frame --------------------------------------------------------------------------
    def _decide_frame(self, frame: np.ndarray, now: float) -> list[Verdict]:
        if self._stale is not None:
            return self._refuse_stale()
        faces = self.pipeline.judged_faces(frame)
        self.stats.faces += len(faces)
        passive, eyes = self._liveness_plan(faces, now)
        self.pipeline.embed_with_liveness(frame, faces, self.pipeline.door, passive, eyes)
        tracks = self.tracker.update([(f.detection.box, f.embedding) for f in faces], now)
        self._close_visits(self.tracker.take_ended(), now)
        claim = self._current_claim(now)
        if claim is not None:
            return self._decide_claim(claim, faces, tracks, frame, now)
        if self.settings.door_mode == "card+face":
            return []  # a card door decides nothing until a badge names someone
        usable = [(f, t) for f, t in zip(faces, tracks) if f.usable]
        queries = [self._query(f, t) for f, t in usable]
        found = self.gallery.search(np.stack(queries), k=2) if usable else []
        # A face nearer to a face known not to be its best match is not them (review queue).
        matches = {id(f): self.negatives.screen(c, q) for (f, _), q, c in zip(usable, queries, found)}
        verdicts: list[tuple[Verdict, AnalysedFace]] = []
        votes: list[Vote] = []
        for face, track in zip(faces, tracks):
            candidates = matches.get(id(face), [])
            vote = self.policy.frame_vote(candidates, face.usable)
            votes.append(vote)
            verdict = self.policy.judge(track.state, vote, candidates, now, face.liveness, track.blink(face.eyes))
            if verdict is not None:
                verdicts.append((verdict, face))
        kept = apply_tailgating([v for v, _ in verdicts], votes, self.settings.tailgating)
        kept = apply_access(kept, self.access, self.settings.door_id, self.clock())  # who may enter here, now
        for verdict, (_, face) in zip(kept, verdicts):
            self._act_and_audit(verdict, face, frame, now)
            if verdict.decision == Decision.GRANTED:
                self._offer_template(verdict, face, frame, self.thresholds.match, self.thresholds.margin)
        return kept

    def _liveness_plan(self, faces: list[AnalysedFace], now: float) -> tuple[list[AnalysedFace], list[AnalysedFace]]:
        """(faces for the passive nets, faces for the eye measurement). The liveness stage runs only
        where it can still change a decision, and never both checks on one face in one frame: the
        passive nets on a visit's first votes_window usable frames (the scores the policy
        averages), the eye measurement on its later frames until it is decided. The visit is the
        track the face's box continues; it runs beside the encoder, before the embedding could
        tell that someone else stepped into that spot (then the new visit's passive scores start
        one frame later: a missing score is never a live one)."""
        passive, eyes = [], []
        for face, track in zip(faces, self.tracker.continuing([f.detection.box for f in faces], now)):
            state = None if track is None else self._votes_of(track)
            if state is None or (not state.decided and len(state.live_scores) < self.settings.votes_window):
                passive.append(face)
            elif not state.decided:
                eyes.append(face)
        return passive, eyes

    def _votes_of(self, track: Track) -> TrackVotes:
        """What the deciding policy remembers of this track: the badge claim's 1:1 votes while a
        claim is open, else the track's own."""
        return self.claim.track(track.track_id) if self.claim is not None else track.state

    # -- card + face ------------------------------------------------------------------------
    def _current_claim(self, now: float) -> Claim | None:
        """Take presented badges (a new one replaces an open claim), refuse unknown ones, and end a
        claim whose time ran out; the claim in force, if any."""
        for badge in self.badges.drain():
            holder = self.access.badge_holder(badge) if BADGE_NUMBER.fullmatch(badge) else None
            if holder is None:
                self._record_faceless(Verdict(Decision.DENIED_UNKNOWN_BADGE, None, None, None, self._badge_refusal(badge)))
                continue
            self._expire_claim("another badge was presented")
            self.claim = Claim(badge, holder, now)
        if self.claim is not None and now - self.claim.at > self.settings.claim_ttl_s:
            self._expire_claim(f"no face of the holder decided within {self.settings.claim_ttl_s:g} s")
        return self.claim

    def _badge_refusal(self, badge: str) -> str:
        if not BADGE_NUMBER.fullmatch(badge):
            return "unreadable badge number from the reader"
        if badge in self.access.badges:
            return f"badge {badge}: its holder is suspended"
        return f"badge {badge} is not known"

    def _expire_claim(self, why: str) -> None:
        if self.claim is not None:
            claim, self.claim = self.claim, None
            self._record_faceless(Verdict(Decision.DENIED_CLAIM_EXPIRED, claim.person_id, None, None, f"badge {claim.badge}: {why}"))

    def _decide_claim(self, claim: Claim, faces: list[AnalysedFace], tracks: list[Track], frame: np.ndarray, now: float) -> list[Verdict]:
        """1:1 against the badge holder, for the largest usable face (the one at the reader). One
        decision, a grant or a mismatch, uses the claim up."""
        usable = [(f, t) for f, t in zip(faces, tracks) if f.usable]
        if not usable:
            return []
        face, track = usable[0]
        query = self._query(face, track)
        similarity = self.gallery.similarity_to(claim.person_id, query)
        if similarity is None:  # the holder is no longer enrolled (removed since the badge was given)
            self.claim = None
            verdict = Verdict(Decision.DENIED_UNKNOWN_BADGE, claim.person_id, None, None, f"badge {claim.badge}: its holder is not enrolled")
            self._record_faceless(verdict)
            return [verdict]
        candidates = self.negatives.screen([Candidate(claim.person_id, similarity)], query)  # a known "not them": a mismatch
        verdict = self.claim_policy.judge(claim.track(track.track_id), self.claim_policy.frame_vote(candidates), candidates, now, face.liveness, track.blink(face.eyes))
        if verdict is None:
            return []
        if verdict.decision in (Decision.DENIED_UNKNOWN, Decision.DENIED_AMBIGUOUS, Decision.DENIED_QUALITY):
            verdict = self._mismatch(claim, query, similarity)
        self.claim = None
        kept = apply_access([verdict], self.access, self.settings.door_id, self.clock())
        self._act_and_audit(kept[0], face, frame, now, self.thresholds.card, 0.0)
        if kept[0].decision == Decision.GRANTED:
            self._offer_template(kept[0], face, frame, self.thresholds.card, 0.0)
        return kept

    def _mismatch(self, claim: Claim, query: np.ndarray, similarity: float) -> Verdict:
        nearest = self.gallery.search(query[None], k=1)[0]
        who = nearest[0].person_id if nearest else None
        detail = f"badge {claim.badge}: face is not its holder's (similarity {similarity:.3f} < {self.thresholds.card:.3f})"
        return Verdict(Decision.DENIED_MISMATCH, claim.person_id, similarity, None, detail, who)

    def _close_visits(self, ended: list[Track], now: float) -> None:
        """Every visit with a usable face ends in a row: one that ended undecided (the person left
        before N of M frames agreed, or before blinking) is ``denied-incomplete``, saying what was
        missing; a stranger's is throttled like ``denied-unknown``, an enrolled person's never."""
        for track in ended:
            verdict = self.policy.unfinished(track.state)
            if verdict is not None and (verdict.nearest is not None or self.unknown_rows.due(now)):
                self._record_faceless(verdict)

    def _record_faceless(self, verdict: Verdict) -> None:
        """A decision without a face to show (unknown badge, expired claim, a visit that ended
        undecided): on record, no unlock."""
        row = self.audit.record(self.settings.door_id, verdict, Reading(threshold=self.thresholds.card, model_version=self.pipeline.door_embedder.version))
        self.stats.decisions[str(verdict.decision)] = self.stats.decisions.get(str(verdict.decision), 0) + 1
        self.metrics.decision(str(verdict.decision))
        self.events.publish(row)

    def _query(self, face: AnalysedFace, track: Track) -> np.ndarray:
        """What is matched: the track's fused embedding, or this frame's alone (rule "vote")."""
        if face.embedding is None:  # cannot happen for a usable face; if it does, fail closed
            raise RuntimeError("usable face without an embedding")
        if self.settings.decision_rule == "vote":
            return face.embedding
        return track.fused(face.embedding, face.quality.weight(self.settings.min_inter_eye_px), self.settings.votes_window)

    def _act_and_audit(self, verdict: Verdict, face: AnalysedFace, frame: np.ndarray, now: float, threshold: float | None = None, margin: float | None = None) -> None:
        if verdict.decision == Decision.DENIED_UNKNOWN and not self.unknown_rows.due(now):
            return
        # Write-ahead: the decision is on record before the door opens. When it cannot be
        # recorded (database gone, disk full) record() raises and the door stays shut: no
        # unlock ever goes unaudited.
        reading = Reading(self.thresholds.match if threshold is None else threshold, self.thresholds.margin if margin is None else margin,
                          self.pipeline.door_embedder.version, _evidence(face, verdict), self._snapshot(verdict, face))
        row = self.audit.record(self.settings.door_id, verdict, reading)
        self.stats.decisions[str(verdict.decision)] = self.stats.decisions.get(str(verdict.decision), 0) + 1
        self.metrics.decision(str(verdict.decision))
        self._offer_for_review(row.event_id, verdict, face, frame)
        if verdict.decision == Decision.GRANTED:
            try:
                self.actuator.unlock(self.settings.door_id, verdict.person_id or "")
            except Exception as exc:
                # The person is in the row's person column, not the text: anonymising clears only that.
                self._error(f"actuator failed, door not opened: {exc}", verdict, face)
        self.events.publish(row)

    def _offer_for_review(self, event_id: int, verdict: Verdict, face: AnalysedFace, frame: np.ndarray) -> None:
        """A refused face goes to the review queue, off the frame loop (never part of the decision)."""
        if self.review is None or verdict.decision not in REVIEWED or face.embedding is None:
            return
        review, embedding, landmarks, quality = self.review, face.embedding, face.detection.landmarks, face.quality.as_dict()

        def keep() -> None:
            review.capture(event_id, self.settings.door_id, str(verdict.decision), verdict.nearest or verdict.person_id, verdict.best, embedding,
                           align_face(frame, landmarks, ENROLLMENT_KEEPSAKE), quality)

        self.side.submit(keep)

    def _offer_template(self, verdict: Verdict, face: AnalysedFace, frame: np.ndarray, threshold: float, margin: float) -> None:
        """After the door has opened: a confident grant's frame becomes a candidate template photo
        (auto mode: added at once). Never a condition of the decision: a failure is logged only."""
        if self.templates is None or verdict.person_id is None or face.embedding is None or not confident_grant(verdict.best, verdict.second, threshold, margin):
            return
        try:
            keepsake = align_face(frame, face.detection.landmarks, ENROLLMENT_KEEPSAKE)
            kept = self.templates.offer(verdict.person_id, self.settings.door_id, face.embedding, keepsake, float(verdict.best or 0.0), face.quality.as_dict(),
                                         max(self.thresholds.pair_point, self.thresholds.card))  # 1:1 against their own photos
            if kept is not None and self.settings.door_templates == "auto":
                self.templates.accept(kept)
        except Exception:
            log.exception("%s: door template for %s not kept", self.settings.door_id, verdict.person_id)

    def _snapshot(self, verdict: Verdict, face: AnalysedFace) -> str | None:
        """The face as evidence, sealed: by default of every grant (who really came in, when a
        stranger is let in as an employee), or of every decision, or none (``snapshots``)."""
        if self.settings.snapshots == "off" or (self.settings.snapshots == "grants" and verdict.decision != Decision.GRANTED):
            return None
        folder = self.settings.snapshot_dir
        # Absolute, so removal and purge find the file from any working directory; the random
        # part keeps two faces in one frame from sharing a file. Sealed with the template key, or
        # without one a key derived from the audit key (`gatekeeper audit snapshot` opens it).
        path = (folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{self.stats.frames:08d}-{uuid.uuid4().hex[:8]}{SEALED_SNAPSHOT}").resolve()
        try:
            _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(face.crop, cv2.COLOR_RGB2BGR))
            write_private(path, self.audit.seal_snapshot(jpeg.tobytes(), self.codec))
        except OSError as exc:  # a snapshot is evidence, not a condition of the decision
            log.error("%s: snapshot not saved (%s); the decision is logged without it", self.settings.door_id, exc)
            path.unlink(missing_ok=True)
            return None
        return str(path)

    # -- errors, camera, gallery ------------------------------------------------------------
    def _error(self, message: str, verdict: Verdict | None = None, face: AnalysedFace | None = None) -> None:
        self.stats.errors += 1
        self.metrics.decision(str(Decision.ERROR))
        log.error("%s: %s", self.settings.door_id, message)
        try:
            error = Verdict(Decision.ERROR, verdict.person_id if verdict else None, verdict.best if verdict else None, verdict.second if verdict else None, message[:1000])
            reading = Reading(self.thresholds.match, self.thresholds.margin, self.pipeline.door_embedder.version, face.quality.as_dict() if face else None)
            self.audit.record(self.settings.door_id, error, reading)
        except Exception:  # the audit store itself is down: the log line above is all we can do
            log.exception("could not write the error to the audit log")

    def _camera_event(self, kind: str, message: str) -> None:
        self.stats.camera_errors += 1
        self.pulse.camera = kind[:32]
        self.metrics.camera_fault()
        log.warning("%s %s: %s", self.settings.door_id, kind, message)
        try:
            self.audit.record(self.settings.door_id, Verdict(Decision.ERROR, None, None, None, f"{kind}: {message}"[:1000]))
        except Exception:
            log.exception("could not write the camera event to the audit log")

    def _load_gallery(self) -> GalleryIndex:
        gallery = load_gallery(self.sessions, self.codec, self.settings.index_path, self.pipeline.door_embedder.dim, self.pipeline.door_embedder.version,
                               self.audit.derived_key(INDEX_SEAL_PURPOSE))
        self.metrics.gallery(len(gallery), gallery.generation)
        self.negatives = load_negatives(self.sessions, self.codec, self.pipeline.door_embedder.version)
        # The threshold follows the gallery: more people, more chances for a stranger to match one.
        self.thresholds = self.base_thresholds.for_gallery(len(gallery))
        self.policy.rules = self.thresholds.rules(self.settings.cooldown_s)
        return gallery

    def _load_access(self) -> AccessPolicy:
        with self.sessions() as session:
            return load_access_policy(session, self.settings.timezone)

    def expire_snapshots(self, force: bool = False) -> None:
        """Delete snapshot files older than ``snapshot_retention_days`` (their rows stay, and say
        a snapshot was taken), at most once an hour, off the frame loop. Never a door fault."""
        if not force and time.monotonic() - self._swept_at < SNAPSHOT_SWEEP_S:
            return
        self._swept_at = time.monotonic()
        self.side.submit(self._delete_old_snapshots)

    def _delete_old_snapshots(self) -> None:
        cutoff = time.time() - self.settings.snapshot_retention_days * 86400
        gone = 0
        try:
            for path in self.settings.snapshot_dir.glob("*.jpg*"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    gone += 1
        except OSError as exc:
            log.error("%s: old snapshots not deleted (%s)", self.settings.door_id, exc)
        if gone:
            log.info("%s: %d snapshots past their retention deleted", self.settings.door_id, gone)
        if self.review is not None:
            self.review.expire()

    def refresh_gallery(self, force: bool = False) -> None:
        """Pick up enrollments, removals and access changes (a lockdown) made by other processes:
        two cheap generation checks."""
        if not force and time.monotonic() - self._checked_at < self.settings.gallery_refresh_s:
            return
        self.expire_snapshots()
        self._checked_at = time.monotonic()
        try:
            with self.sessions() as session:
                generation = gallery_generation(session)
                access = access_generation(session)
            enrollment_changed = generation != self.gallery.generation
            if enrollment_changed:
                self.gallery = self._load_gallery()
                log.info("gallery reloaded: %d people (generation %d)", len(self.gallery), generation)
            self.pulse.report(self.sessions, self.gallery, self.side.submit)
            if enrollment_changed or access != self.access.generation:
                self.access = self._load_access()  # new people may carry validity; a lockdown must land
                log.info("access policy reloaded (generation %d)", self.access.generation)
            if self._stale is not None:
                log.warning("%s: gallery current again (generation %d); deciding again", self.settings.door_id, generation)
            self._stale = None
        except Exception as exc:
            # A removal may be in the database that this memory does not have: fail closed until
            # a refresh succeeds, rather than keep granting from a gallery that may be outdated.
            if self._stale is None:
                self._error(f"gallery refresh failed, everyone refused until it succeeds: {exc}")
            self._stale = str(exc)

    def _refuse_stale(self) -> list[Verdict]:
        detail = f"gallery not verified current ({self._stale}); door kept shut"
        now = time.monotonic()
        if now - self._last_stale_log >= self.settings.gallery_refresh_s:
            self._last_stale_log = now
            self._error(detail)
        return [Verdict(Decision.ERROR, None, None, None, detail)]


def _evidence(face: AnalysedFace, verdict: Verdict) -> dict[str, float]:
    """The face's quality and, when the door checks it, the track's liveness score."""
    out = face.quality.as_dict()
    if verdict.liveness is not None:
        out["liveness"] = round(verdict.liveness, 4)
    return out
