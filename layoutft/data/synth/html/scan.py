"""A scanned look for rendered pages: small skew, blur, noise, JPEG artefacts, binarization.

The skew rotates the image about its centre (same size, white corners); the regions'
polygons are rotated with it and their boxes become the rotated polygons' extents, so the
labels stay on the ink. Pixel coordinates, origin top-left, y down.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageFilter

from layoutft.data.synth.html.geometry import Region


def _rotate_point(
    x: float, y: float, cx: float, cy: float, c: float, s: float
) -> tuple[float, float]:
    dx, dy = x - cx, y - cy
    return cx + c * dx - s * dy, cy + s * dx + c * dy


def skew_regions(regions: list[Region], degrees: float, width: int, height: int) -> list[Region]:
    """Regions rotated by ``degrees`` (clockwise on screen, as PIL's ``rotate(-degrees)``)
    about the image centre; boxes are the rotated polygons' extents clipped to the image."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    cx, cy = width / 2, height / 2
    out = []
    for r in regions:
        polys = []
        for poly in r.polygons:
            pts = [
                _rotate_point(poly[i], poly[i + 1], cx, cy, c, s) for i in range(0, len(poly), 2)
            ]
            clipped = [(min(max(x, 0.0), width), min(max(y, 0.0), height)) for x, y in pts]
            polys.append(tuple(round(v, 2) for p in clipped for v in p))
        xs = [v for p in polys for v in p[0::2]]
        ys = [v for p in polys for v in p[1::2]]
        box = (min(xs), min(ys), max(xs), max(ys))
        if box[2] - box[0] > 0.5 and box[3] - box[1] > 0.5:
            out.append(Region(r.label, box, tuple(polys)))
    return out


def scan_look(png: bytes, regions: list[Region], rng: random.Random) -> tuple[bytes, list[Region]]:
    """The page degraded like a scan (PNG bytes) and its regions moved with it."""
    img = Image.open(io.BytesIO(png)).convert("L" if rng.random() < 0.5 else "RGB")
    width, height = img.size
    degrees = rng.uniform(-1.5, 1.5)
    fill = 255 if img.mode == "L" else (255, 255, 255)
    img = img.rotate(-degrees, resample=Image.Resampling.BILINEAR, fillcolor=fill)
    regions = skew_regions(regions, degrees, width, height)
    if rng.random() < 0.6:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    arr = np.asarray(img).astype(np.float32)
    np_rng = np.random.default_rng(rng.randrange(2**32))
    arr = arr * rng.uniform(0.85, 1.0) + rng.uniform(0, 20)  # paper tone, toner contrast
    arr += np_rng.normal(0, rng.uniform(2, 10), size=arr.shape).astype(np.float32)
    if rng.random() < 0.25:
        gray = arr if arr.ndim == 2 else arr.mean(axis=2)
        arr = np.where(gray < rng.uniform(150, 200), 0, 255).astype(np.float32)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=rng.randint(25, 70))
        img = Image.open(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue(), regions
