"""Image inputs (PNG, JPEG, TIFF incl. multi-page) as pages, via Pillow; :func:`read_bgr`
reads an image file as the model's path inputs (the pixels ``cv2.imread`` gives)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from layoutft.errors import RenderError
from layoutft.geometry import PageTransform
from layoutft.render.pages import PageSpec, capped_scale, parse_page_spec
from layoutft.render.source import Source
from layoutft.render.types import RenderedPage, failed_page


@contextlib.contextmanager
def open_image(source: Source) -> Iterator[Any]:
    """Open an image with Pillow (closed on exit); RenderError naming the file if unreadable."""
    from PIL import Image, UnidentifiedImageError

    stream: Any = io.BytesIO(source.data) if source.data is not None else source.path
    try:
        img = Image.open(stream)
    except Image.DecompressionBombError:
        raise RenderError(
            f"{source.name}: the image declares more pixels than Pillow decodes (limit "
            f"{2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels, a decompression-bomb guard); "
            "downscale it"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise RenderError(
            f"{source.name}: not a readable PDF or image (PNG, JPEG, TIFF): {exc}"
        ) from None
    try:
        yield img
    finally:
        img.close()


def frame_count(img: Any) -> int:
    """Frames (pages) of an opened image: several for multi-page TIFFs, else 1."""
    return int(getattr(img, "n_frames", 1))


def image_dpi_of(img: Any, default: float) -> float:
    """Horizontal resolution stored in the image (pixels per inch), else ``default``."""
    dpi = img.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        value = 0.0
    # Many writers store 1 or 0 when they mean "unknown". PNG stores pixels per metre, so
    # 300 dpi reads back as 299.9994: round to 0.01.
    return round(value, 2) if value >= 10 else float(default)


def to_rgb(img: Any) -> np.ndarray:
    """A Pillow frame as uint8 [H,W,3] RGB (EXIF orientation applied, alpha over white)."""
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = arr.max() if arr.size else 0
        arr = arr / 257.0 if peak > 255 else arr
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def read_bgr(path: str | Path) -> np.ndarray:
    """uint8 [H, W, 3] BGR pixels of an image file, as ``cv2.imread(path, IMREAD_COLOR)``
    reads them (PNG, JPEG, TIFF, ... decoded by Pillow; the tests check PNGs byte for byte).

    EXIF orientation is applied; gray and palette images are expanded to three channels;
    alpha is dropped (not composited); 16-bit samples keep their high byte (``>> 8``).
    Raises :class:`RenderError` for a missing or undecodable file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                # Pillow's own conversion clips 16-bit gray at 255; cv2 scales by 1/256
                gray = np.clip(np.asarray(image, dtype=np.int64) >> 8, 0, 255).astype(np.uint8)
                rgb = np.repeat(gray[:, :, None], 3, axis=2)
            else:
                rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise RenderError(f"cannot read image {path}: missing file or unsupported format") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


#: Images are decoded at full size, then scaled down to ``max_pixels``: decoding is
#: refused above this multiple of ``max_pixels`` (memory stays bounded by the cap).
DECODE_FACTOR = 4


def check_decodable(size: tuple[int, int], max_pixels: int | None) -> None:
    """RenderError when an image of ``size`` (from its header) has more pixels than
    ``DECODE_FACTOR * max_pixels``."""
    width, height = size
    if max_pixels is None or width * height <= DECODE_FACTOR * max_pixels:
        return
    raise RenderError(
        f"the image is {width} x {height} = {width * height} pixels, more than "
        f"{DECODE_FACTOR} x --max-pixels ({DECODE_FACTOR * max_pixels}) that layoutft decodes "
        "before scaling down; downscale it or raise --max-pixels"
    )


def iter_image_pages(
    source: Source, pages: PageSpec, max_pixels: int | None, image_dpi: float, on_error: str
) -> Iterator[RenderedPage]:
    """The selected frames of an image file as pages; points are pixels * 72 / image dpi."""
    from PIL import Image

    with open_image(source) as img:
        for number in parse_page_spec(pages, frame_count(img), source.name):
            transform = PageTransform(0.0, 0.0)
            try:
                img.seek(number - 1)
                dpi = image_dpi_of(img, image_dpi)
                check_decodable(img.size, max_pixels)  # from the header, before decoding
                rgb = to_rgb(img)
                height, width = rgb.shape[:2]
                scale = capped_scale(width, height, 1.0, max_pixels)
                if scale < 1.0:
                    size = (max(1, round(width * scale)), max(1, round(height * scale)))
                    rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))
                    scale = size[0] / width
                transform = PageTransform(
                    width * 72.0 / dpi,
                    height * 72.0 / dpi,
                    scale_x=scale * dpi / 72.0,
                    scale_y=scale * dpi / 72.0,
                )
            except Exception as exc:
                if on_error == "raise":
                    raise RenderError(f"{source.name}: page {number} failed: {exc}") from exc
                yield failed_page(number, transform, "image", f"image decode failed: {exc}")
                continue
            yield RenderedPage(
                number=number,
                image=rgb,
                transform=transform,
                source_kind="image",
            )
