"""Page selections as people write them: ``"1-3,7"`` (1-based, inclusive), and pixel caps."""

from __future__ import annotations

import math
from collections.abc import Sequence

from layoutft.errors import RenderError

PageSpec = str | Sequence[int] | None


def parse_page_spec(spec: PageSpec, page_count: int, name: str = "input") -> list[int]:
    """1-based page numbers selected by ``spec``, in the order given, without repeats.

    Args:
        spec: None (all pages), a string such as ``"1-3,7"``, ``"5-"`` (5 to the end) or
            ``"-2"`` (1 to 2), or a sequence of 1-based ints.
        page_count: pages in the source.
        name: the source's name, for error messages.

    Raises:
        RenderError: a malformed spec, or a page outside ``1..page_count``.
    """
    if spec is None:
        return list(range(1, page_count + 1))
    numbers = _numbers_from_string(spec, page_count, name) if isinstance(spec, str) else list(spec)
    bad = [n for n in numbers if not 1 <= int(n) <= page_count]
    if bad:
        shown = ", ".join(str(n) for n in bad[:5])
        raise RenderError(
            f"{name}: page {shown} out of range; it has {page_count} page(s), numbered from 1"
        )
    return list(dict.fromkeys(int(n) for n in numbers))


def _numbers_from_string(spec: str, page_count: int, name: str) -> list[int]:
    numbers: list[int] = []
    for part in spec.replace(" ", "").split(","):
        try:
            if "-" in part:
                first, last = part.split("-")
                start = int(first) if first else 1
                stop = int(last) if last else page_count
                if start > stop:
                    raise ValueError
                if start < 1 or stop > page_count:  # before the range is built in memory
                    raise RenderError(
                        f"{name}: pages {start}-{stop} out of range; it has {page_count} "
                        "page(s), numbered from 1"
                    )
                numbers.extend(range(start, stop + 1))
            else:
                numbers.append(int(part))
        except ValueError:
            raise RenderError(
                f"bad page selection {spec!r} at {part!r}: use 1-based numbers and ranges "
                "such as '1-3,7' or '5-'"
            ) from None
    return numbers


def capped_scale(width: float, height: float, scale: float, max_pixels: int | None) -> float:
    """Largest scale <= ``scale`` whose rounded-up image ``width*s x height*s`` fits ``max_pixels``.

    ``width``/``height`` are in source units (points or pixels); the result multiplies them.
    """
    if max_pixels is None or width <= 0 or height <= 0:
        return scale
    if max_pixels < 1:
        raise RenderError(f"max_pixels must be a positive number of pixels, got {max_pixels}")
    s = min(scale, math.sqrt(max_pixels / (width * height)))
    # Renderers round sizes up; shrink a hair until the rounded image fits.
    while s > 0 and math.ceil(width * s) * math.ceil(height * s) > max_pixels:
        s *= 0.999
    return s
