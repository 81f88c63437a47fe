"""Reading photos safely: every failure is an ``ImageError`` naming the file and the reason.

Pillow reads the header first, so size limits are checked before any pixel is decoded
(decompression bombs never reach memory); EXIF orientation is applied; any mode (CMYK, 16-bit,
grayscale, palette, alpha) becomes 8-bit RGB. HEIC/HEIF (the iPhone default) is decoded by
pi-heif, the decode-only build of pillow-heif: no encoder, so none of x265's GPL code ships.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pi_heif import register_heif_opener

from gatekeeper.errors import InputError

MAX_FILE_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 40_000_000  # ~ a 7,700 x 5,200 photo; larger is refused, not downscaled blindly
MIN_SIDE = 32
# What enrollment, `verify` and folder replays read; anything else is reported by name, never skipped silently.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif")
SUPPORTED = "JPEG, PNG, BMP, WebP, TIFF, HEIC/HEIF"

register_heif_opener()


class ImageError(InputError):
    """A photo that cannot be used, with the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_rgb(path: Path | str) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of the photo at ``path``, upright."""
    path = Path(path)
    if not path.exists():
        raise ImageError(path, "no such file")
    if not path.is_file():
        raise ImageError(path, "not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise ImageError(path, "empty file (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise ImageError(path, f"file too large ({size / 2**20:.0f} MiB > {MAX_FILE_BYTES / 2**20:.0f} MiB)")
    try:
        with warnings.catch_warnings():
            # Pillow warns at open about a large image; _check_dimensions refuses it with our message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            _check_dimensions(path, img.size)
            return _decode(path, img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(path, f"not an image in a supported format ({SUPPORTED})") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(path, f"corrupt or truncated image ({exc})") from None


def _check_dimensions(path: Path, size: tuple[int, int]) -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise ImageError(path, f"image too large ({w}x{h} pixels; limit {MAX_PIXELS / 1e6:.0f} megapixels)")
    if min(w, h) < MIN_SIDE:
        raise ImageError(path, f"image too small ({w}x{h} pixels)")


def _decode(path: Path, img: Image.Image) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img.load()  # decode now, inside the error handling, so truncation is reported here
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grayscale: rescale to 8 bits rather than clipping everything to white.
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / hi)).astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(path, f"unsupported pixel layout {rgb.shape}")
    return np.ascontiguousarray(rgb)


Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb guard agrees with ours
