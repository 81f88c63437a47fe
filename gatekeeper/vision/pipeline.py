"""One code path from pixels to embeddings: detect -> align -> quality -> liveness -> embed.

Enrollment, the door daemon, `verify` and evaluation all call this, so a face is treated the same
way wherever it comes from.
"""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from gatekeeper.vision.align import ARCFACE_112, align_face
from gatekeeper.config import Settings
from gatekeeper.vision.faces import PHOTO_PROFILE, Detector, DetectorProfile, FaceDetection
from gatekeeper.vision.model_card import Embedder, read_card
from gatekeeper.vision.model_files import resolve_model_path
from gatekeeper.vision.quality import FaceQuality, QualityGate, assess
from gatekeeper.errors import EnvironmentFault, InputError
from gatekeeper.vision.liveness import EyeOpenness, PassiveLiveness


class FaceError(InputError):
    """A photo holds no usable face: names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class AnalysedFace:
    detection: FaceDetection
    crop: np.ndarray  # aligned on the encoder's template (e.g. 150x150 for DoorNet v2)
    quality: FaceQuality
    problems: list[str]
    embedding: np.ndarray | None = None  # set only for faces that passed the quality gate
    liveness: float | None = None  # passive live score, for usable faces where the profile checks it
    eyes: tuple[float, float] | None = None  # (left, right) eye openness, where the door looks for blinks
    note: str | None = None  # enrollment: which of several faces was taken
    border: tuple[int, int, int] | None = None  # a face-filling photo: the plain border it was detected and aligned in

    @property
    def usable(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PipelineProfile:
    """How one kind of picture is read: which detector finds its faces, which quality gate they
    must pass and how they are embedded. The door, `verify` and enrollment each have one."""

    name: str
    detector: Detector
    gate: QualityGate
    flip: bool | None  # mirror-averaged embedding; None: the encoder's own default
    liveness: bool = False  # score usable faces for liveness (door and verify; never enrollment photos)
    blinks: bool = False  # measure eye openness (the door: a blink needs video, a photo has none)
    pad_tight: bool = False  # photos: re-detect with a plain border when the face fills the frame
    encoder: Embedder | None = None  # None: the pipeline's own (full precision; enrollment always)


class FacePipeline:
    """detect -> align -> judge -> embed, each a public stage; ``analyse`` runs them in order.

    Benchmarks and evaluation time or reuse the stages one by one; nothing re-implements them."""

    def __init__(self, settings: Settings, encoder: Embedder | None = None, liveness: PassiveLiveness | None = None) -> None:
        self.settings = settings
        self._encoder = encoder
        self._passive = liveness
        # OpenCV's DNN (YuNet, MTCNN's last stage, the liveness nets) otherwise takes every core for
        # each call. With one CPU-bound neighbour on a 2-core box, its threads waiting on each other
        # put the door frame's p95 at 33.8 ms; one thread, as torch and ONNX Runtime get: 24.1 ms
        # (bench/vs_dlib.py). Process-wide, like torch's thread count.
        cv2.setNumThreads(settings.threads)
        # Door frames need speed and hold faces of a known size; photos may be anything. A photo
        # given to `verify` is judged and embedded as the door judges a frame; enrollment photos
        # get their own (lower) face-size bar, as a badge photo is often smaller than a door face.
        self._door_gate = QualityGate(settings)
        self.door = PipelineProfile("door", door_detector(settings), self._door_gate, settings.door_flip_average, settings.liveness != "off", blinks=settings.liveness == "passive+blink", encoder=door_encoder(settings))

    # The full-precision encoder and MTCNN for photos load on first use: a door on YuNet and the
    # int8 encoder never needs them, nor torch (tests/test_door_without_torch.py).
    @cached_property
    def encoder(self) -> Embedder:
        """The full-precision encoder: enrollment's, and the door's unless it runs int8."""
        if self._encoder is None:
            FaceEncoder = torch_part("gatekeeper.vision.encoder", "the full-precision encoder (enrollment; encoder_precision fp32 or bf16)").FaceEncoder
            self._encoder = FaceEncoder(self.settings.model, threads=self.settings.threads, precision="bf16" if self.settings.encoder_precision == "bf16" else "fp32")
        return self._encoder

    @property
    def door_embedder(self) -> Embedder:
        """What embeds door frames; its ``version`` names the gallery the door reads."""
        return self.door.encoder or self.encoder

    @property
    def model_version(self) -> str:
        """The embedding space of templates and probes (enrollment's encoder and the door's share
        it: an int8 export is tied to its weights' sha256), read without loading torch."""
        return self.door_embedder.version

    @property
    def embedding_dim(self) -> int:
        return self.door_embedder.dim

    @cached_property
    def photo(self) -> PipelineProfile:
        return PipelineProfile("photo", self._photo_detector, self._door_gate, self.settings.door_flip_average, self.settings.liveness != "off", pad_tight=True, encoder=self.door.encoder)

    @cached_property
    def enrollment(self) -> PipelineProfile:
        return PipelineProfile("enrollment", self._photo_detector, QualityGate(self.settings, self.settings.min_enroll_inter_eye_px), None, pad_tight=True)

    def load_enrollment(self) -> None:
        """Load what enrollment runs (the photo detector, the full-precision encoder) now, not on
        first use: before forking workers, so that they share it instead of each loading its own."""
        self.enrollment.detector  # noqa: B018 (loads it)
        self.encoder  # noqa: B018

    @cached_property
    def _photo_detector(self) -> Detector:
        return torch_part("gatekeeper.vision.detect", "MTCNN (photos and enrollment)").FaceDetector.from_profile(PHOTO_PROFILE)

    # Liveness models load on first use (enrollment never needs them); the door calls
    # require_liveness() at start, so missing or damaged nets stop it before it opens for anyone.
    @cached_property
    def passive(self) -> PassiveLiveness:
        return self._passive or PassiveLiveness()

    @cached_property
    def eyes(self) -> EyeOpenness:
        return EyeOpenness()

    def require_liveness(self) -> None:
        if self.door.liveness:
            self.passive
        if self.door.blinks:
            self.eyes

    # -- stages ---------------------------------------------------------------------------------
    def detect(self, image_rgb: np.ndarray, profile: PipelineProfile) -> list[FaceDetection]:
        """Confident faces, largest first."""
        return self._detect(image_rgb, profile)[0]

    def _detect(self, image_rgb: np.ndarray, profile: PipelineProfile) -> tuple[list[FaceDetection], tuple[int, int, int] | None]:
        """(confident faces, largest first; the plain border they were found in, if any).
        Low-confidence detections are mostly not faces (patterns, posters): they are dropped
        rather than reported as low-quality faces."""
        faces, border = profile.detector.detect(image_rgb), None
        if profile.pad_tight and fills_frame(faces, image_rgb.shape):
            faces, border = detect_with_border(profile.detector, image_rgb), BORDER_GREY
        bar = profile.detector.min_score if profile.detector.min_score is not None else self.settings.min_detection_score
        confident = [f for f in faces if f.score >= bar]
        return sorted(confident, key=lambda f: f.width, reverse=True), border

    def align(self, image_rgb: np.ndarray, detection: FaceDetection, border: tuple[int, int, int] | None = None) -> tuple[np.ndarray, FaceQuality]:
        """The crop the encoder was trained on, and the face's quality. Quality is measured on
        the fixed ArcFace crop, so its thresholds mean the same thing whatever encoder runs."""
        quality = assess(detection, align_face(image_rgb, detection.landmarks, ARCFACE_112, border))
        return align_face(image_rgb, detection.landmarks, self.door_embedder.template, border), quality

    def judge(self, detection: FaceDetection, crop: np.ndarray, quality: FaceQuality, profile: PipelineProfile, border: tuple[int, int, int] | None = None) -> AnalysedFace:
        return AnalysedFace(detection, crop, quality, profile.gate.problems(quality), border=border)

    def check_liveness(self, image_rgb: np.ndarray, profile: PipelineProfile, passive: list[AnalysedFace], eyes: list[AnalysedFace]) -> None:
        """Sets the passive live score of the usable faces in ``passive`` and the eye openness of
        those in ``eyes``, as far as the profile checks either (between quality and matching)."""
        self._check(image_rgb, *self._due(profile, passive, eyes))

    @staticmethod
    def _due(profile: PipelineProfile, passive: list[AnalysedFace], eyes: list[AnalysedFace]) -> tuple[list[AnalysedFace], list[AnalysedFace]]:
        """The usable faces each check must run on under ``profile`` (enrollment checks none)."""
        return ([a for a in passive if a.usable] if profile.liveness else []), ([a for a in eyes if a.usable] if profile.blinks else [])

    def _check(self, image_rgb: np.ndarray, passive: list[AnalysedFace], eyes: list[AnalysedFace]) -> None:
        if passive:
            for face, score in zip(passive, self.passive.scores(image_rgb, [a.detection for a in passive])):
                face.liveness = float(score)
        for face in eyes:
            if _inside(face.detection.box, image_rgb.shape):  # a face cut by the frame edge gives false "blinks"
                face.eyes = self.eyes.measure(image_rgb, face.detection.landmarks)

    @cached_property
    def _liveness_worker(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatekeeper-liveness")

    def embed_with_liveness(self, image_rgb: np.ndarray, faces: list[AnalysedFace], profile: PipelineProfile, passive: list[AnalysedFace], eyes: list[AnalysedFace]) -> None:
        """``embed`` for every usable face, and beside it ``check_liveness`` on ``passive`` and
        ``eyes``.

        The two need nothing from each other, so the checks run on a second thread while the
        encoder runs on this one (OpenCV's DNN, LiteRT and torch all release the GIL): on a
        two-core door box the liveness stage then adds almost nothing to a frame's latency
        (bench/frame_latency.py). Its results are still all in before anything is matched, and a
        failure in either re-raises here, so the frame fails closed."""
        passive, eyes = self._due(profile, passive, eyes)
        if not passive and not eyes:  # nothing to check: no thread (enrollment never starts one)
            self.embed(faces, profile)
            return
        pending = self._liveness_worker.submit(self._check, image_rgb, passive, eyes)
        try:
            self.embed(faces, profile)
        finally:
            wait([pending])  # never leave the worker writing into faces the caller goes on with
        pending.result()

    def embed(self, faces: list[AnalysedFace], profile: PipelineProfile) -> None:
        """Sets the embedding of every usable face, in one encoder batch."""
        usable = [a for a in faces if a.usable]
        if usable:
            for face, emb in zip(usable, (profile.encoder or self.encoder).embed(np.stack([a.crop for a in usable]), flip=profile.flip)):
                face.embedding = emb

    # -- the stages in order --------------------------------------------------------------------
    def analyse(self, image_rgb: np.ndarray, profile: PipelineProfile | None = None) -> list[AnalysedFace]:
        """Every face in the picture (a door frame unless told otherwise), largest first; usable
        ones carry an embedding and the profile's liveness evidence (the door daemon instead picks
        each face's check from its visit: DoorDaemon._liveness_plan)."""
        profile = profile or self.door
        faces = self.judged_faces(image_rgb, profile)
        self.embed_with_liveness(image_rgb, faces, profile, faces, faces)
        return faces

    def judged_faces(self, image_rgb: np.ndarray, profile: PipelineProfile | None = None) -> list[AnalysedFace]:
        """detect -> align -> judge: every face, largest first, not yet checked or embedded."""
        profile = profile or self.door
        faces, border = self._detect(image_rgb, profile)
        return [self.judge(det, *self.align(image_rgb, det, border), profile, border) for det in faces]

    def analyse_photo(self, image_rgb: np.ndarray) -> list[AnalysedFace]:
        """Every face in a photo (any size, thorough detection), judged and embedded as the door
        judges and embeds a frame."""
        return self.analyse(image_rgb, self.photo)

    def enrollment_face(self, image_rgb: np.ndarray, path: Path | str) -> AnalysedFace:
        """The subject of an enrollment photo (its most prominent face: large and central), or a
        ``FaceError`` saying why not. People in the background are left out; the photo is refused
        only when a second face is nearly as prominent as the first (which of them is enrolled?)."""
        faces = self.judged_faces(image_rgb, self.enrollment)
        if not faces:
            raise FaceError(path, "no face found")
        ranked = sorted(faces, key=lambda f: prominence(f.detection, image_rgb.shape), reverse=True)
        main = ranked[0]
        if len(ranked) > 1 and prominence(ranked[1].detection, image_rgb.shape) >= self.settings.second_face_ratio * prominence(main.detection, image_rgb.shape):
            raise FaceError(path, f"{len(faces)} faces, two of them equally prominent (size and place): which one to enroll is unclear; crop the photo to one person")
        if main.problems:
            raise FaceError(path, "; ".join(main.problems))
        if len(faces) > 1:
            x1, y1, x2, y2 = (int(round(float(v))) for v in main.detection.box)
            main.note = f"{len(faces)} faces: took the most prominent, at x {x1}-{x2}, y {y1}-{y2}; the others are in the background"
        self.embed([main], self.enrollment)
        return main


# A face whose box spans at least this share of the photo's shorter side is a tight crop (badge
# and ID photos): MTCNN's landmarks need context around the face, so such photos are detected
# again inside a plain border (the face then sits as in a portrait).
TIGHT_FACE_SHARE = 0.7
BORDER_SHARE = 0.25  # of the long side, on each side
BORDER_GREY = (128, 128, 128)


def fills_frame(faces: list[FaceDetection], shape: tuple[int, ...]) -> bool:
    """No face found, or the largest fills the frame: worth detecting again with a border."""
    if not faces:
        return True
    return max(max(f.width, float(f.box[3] - f.box[1])) for f in faces) >= TIGHT_FACE_SHARE * min(shape[:2])


def detect_with_border(detector: Detector, image_rgb: np.ndarray) -> list[FaceDetection]:
    """Faces found in ``image_rgb`` framed by a plain border, in the photo's own coordinates."""
    pad = int(round(BORDER_SHARE * max(image_rgb.shape[:2])))
    framed = cv2.copyMakeBorder(image_rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=BORDER_GREY)
    shift = np.array([pad, pad], dtype=np.float32)
    return [FaceDetection(f.box - np.tile(shift, 2), f.landmarks - shift, f.score) for f in detector.detect(framed)]


def prominence(face: FaceDetection, shape: tuple[int, ...]) -> float:
    """How much a face is the photo's subject: its width, discounted by its distance from the
    centre (half the shorter side away halves it)."""
    centre = np.array([shape[1] / 2, shape[0] / 2])
    off = float(np.linalg.norm(face.centre - centre)) / (0.5 * min(shape[:2]))
    return face.width / (1.0 + off)


def door_detector(settings: Settings) -> Detector:
    """The detector door frames go through: MTCNN as profiled, or YuNet (``door_detector``)."""
    if settings.door_detector == "yunet":
        from gatekeeper.vision.yunet import YuNetDetector

        return YuNetDetector(settings.detect_max_side, settings.detect_min_face_px)
    return torch_part("gatekeeper.vision.detect", "door_detector = mtcnn").FaceDetector.from_profile(door_profile(settings))


def door_encoder(settings: Settings) -> Embedder | None:
    """What embeds door frames (and photos judged as door frames) when it is not the enrollment
    encoder: its int8 export under ONNX Runtime (``encoder_precision = int8``), embeddings in the
    same space at about half the time (bench/door_detector.py --precision int8). ``auto`` takes it
    where the model's manifest names one; a named export that is missing or damaged is an error."""
    if settings.encoder_precision == "int8" or (settings.encoder_precision == "auto" and read_card(resolve_model_path(settings.model)).onnx_int8):
        from gatekeeper.vision.onnx_encoder import Int8FaceEncoder

        return Int8FaceEncoder(settings.model, settings.threads)
    return None


class TorchMissing(EnvironmentFault):
    """A part that needs torch was asked for on a box installed without it (requirements/door.txt)."""


def torch_part(module: str, what: str) -> ModuleType:
    """``module``, or a clear error where torch is not installed (a door box installed from
    requirements/door.txt runs YuNet and the int8 encoder, which need none of it)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise TorchMissing(f"{what} needs torch and facenet-pytorch, and {exc.name} is not installed here (a door install): "
                           "set door_detector = yunet and encoder_precision = int8, or install the full package (pip install gatekeeper)") from exc


def door_profile(settings: Settings) -> DetectorProfile:
    """The door's detector settings (also what the benchmarks time as "shipped")."""
    return DetectorProfile(settings.detect_min_face_px, settings.detect_max_side, settings.detect_pyramid_factor, settings.detect_thresholds)


def _inside(box: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Whether the face box lies wholly inside the frame. The eye model's lids collapse now and then
    on a face that runs off the frame (bench/liveness.py: the one still photo that "blinked"
    deepest in the tuning half), so such frames carry no eye evidence either way."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return x1 >= 0 and y1 >= 0 and x2 <= shape[1] and y2 <= shape[0]
