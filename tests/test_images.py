"""Reading photos: bad files fail with the file and a reason; unusual but valid ones are read right."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gatekeeper.vision.images import ImageError, read_rgb


def _jpeg_bytes(img: Image.Image, **kw) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    img.save(buf, format="JPEG", **kw)
    return buf.getvalue()


def _gradient(w: int = 120, h: int = 80) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :, None]
    arr = np.broadcast_to(x, (h, w, 3)).copy()
    arr[:, :, 1] = 50
    return Image.fromarray(arr)


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.jpg", b"", "empty file"),
        ("notes.jpg", b"this is not a picture at all\n" * 10, "not an image"),
        ("truncated.jpg", _jpeg_bytes(_gradient(400, 300))[:600], "corrupt or truncated"),
    ],
)
def test_bad_files_name_the_file_and_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageError) as info:
        read_rgb(path)
    assert info.value.path == str(path)
    assert reason in info.value.reason
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        read_rgb(tmp_path / "absent.png")
    with pytest.raises(ImageError, match="not a regular file"):
        read_rgb(tmp_path)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 6000)).save(path)  # 54 megapixels in a few kilobytes
    assert path.stat().st_size < 100_000
    with pytest.raises(ImageError, match="image too large"):
        read_rgb(path)


def test_tiny_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "icon.png"
    _gradient(20, 20).save(path)
    with pytest.raises(ImageError, match="too small"):
        read_rgb(path)


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "P", "I;16"])
def test_unusual_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    src = _gradient()
    img = src.convert("L").convert("I;16") if mode == "I;16" else src.convert(mode)
    path = tmp_path / f"img-{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
    img.save(path)
    rgb = read_rgb(path)
    assert rgb.shape == (80, 120, 3) and rgb.dtype == np.uint8
    # The left-to-right gradient survives every conversion (16-bit is rescaled, not clipped).
    assert rgb[:, -1].mean() > rgb[:, 0].mean() + 40


def test_exif_rotation_is_applied(tmp_path: Path) -> None:
    img = _gradient(120, 80)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": a phone photo taken in portrait
    path = tmp_path / "phone.jpg"
    path.write_bytes(_jpeg_bytes(img, exif=exif.tobytes()))
    rgb = read_rgb(path)
    assert rgb.shape == (120, 80, 3)
    # After rotating clockwise, the bright right edge of the original is at the bottom.
    assert rgb[-1].mean() > rgb[0].mean() + 40


def test_an_iphone_heic_photo_is_read(tmp_path: Path) -> None:
    """Issue #13 item 7: HEIC is the iPhone's default; it reads like a JPEG of the same picture."""
    pillow_heif = pytest.importorskip("pillow_heif", reason="the test extra's pillow-heif writes the HEIC photo")
    from skimage import data

    path = tmp_path / "IMG_0001.HEIC"
    pillow_heif.from_pillow(Image.fromarray(data.astronaut())).save(path, quality=90)
    rgb = read_rgb(path)
    assert rgb.shape == (512, 512, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - data.astronaut()).mean() < 8, "decoded pixels match the picture"


def test_an_unsupported_file_is_refused_naming_the_supported_formats(tmp_path: Path) -> None:
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(ImageError) as refused:
        read_rgb(path)
    assert "notes.docx" in str(refused.value) and "HEIC/HEIF" in str(refused.value) and "JPEG" in str(refused.value)


def test_a_54_megapixel_photo_gets_the_clean_error_and_no_pillow_warning(tmp_path: Path) -> None:
    """Pillow warns at open (DecompressionBombWarning) for images just above its limit: that warning
    must not reach the admin before the clean refusal."""
    path = tmp_path / "huge.png"
    Image.new("L", (9000, 6000)).save(path, optimize=False)
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ImageError, match="image too large"):
            read_rgb(path)
    assert not [w for w in seen if issubclass(w.category, Image.DecompressionBombWarning)]
