"""Enroll employees from photos: the use case (``enroll``), photo reading (``photos``), the kept
face crops (``keepsakes``), the worker pool (``workers``) and folder discovery (``discovery``)."""

from gatekeeper.services.enrollment.discovery import discover_people, read_manifest
from gatekeeper.services.enrollment.enroll import Enrollment, PersonResult, person_vector
from gatekeeper.services.enrollment.keepsakes import decode_keepsake, encode_keepsake
from gatekeeper.services.enrollment.photos import PhotoResult, embed_image, embed_photo

__all__ = ["Enrollment", "PersonResult", "PhotoResult", "decode_keepsake", "discover_people", "embed_image", "embed_photo", "encode_keepsake", "person_vector", "read_manifest"]
