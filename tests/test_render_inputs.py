"""Rendering: page selection, sizes, pixel caps, image inputs, bytes, and errors."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from layoutft.errors import RenderError
from layoutft.render import (
    capped_scale,
    expand_inputs,
    inspect_source,
    iter_pages,
    parse_page_spec,
)
from layoutft.render.source import Source


def pdf_bytes(sizes: list[tuple[float, float]]) -> bytes:
    doc = pymupdf.open()
    for i, (w, h) in enumerate(sizes):
        page = doc.new_page(width=w, height=h)
        page.insert_text((20, 30), f"Page {i + 1}", fontsize=8)
        page.draw_rect(pymupdf.Rect(100, 100, 200, 150), color=None, fill=(0, 0, 0), width=0)
    return doc.tobytes()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, [1, 2, 3, 4, 5, 6, 7, 8]),
        ("1-3,7", [1, 2, 3, 7]),
        (" 2 , 2,1 ", [2, 1]),
        ("6-", [6, 7, 8]),
        ("-2", [1, 2]),
        ([3, 1], [3, 1]),
    ],
)
def test_page_spec(spec: str | list[int] | None, expected: list[int]) -> None:
    assert parse_page_spec(spec, 8) == expected


@pytest.mark.parametrize("spec", ["a", "1-2-3", "3-1", "1,,x", "1.5"])
def test_bad_page_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(RenderError, match=r"bad page selection.*'1-3,7'"):
        parse_page_spec(spec, 8)


def test_page_out_of_range_names_the_file() -> None:
    with pytest.raises(RenderError, match=r"doc\.pdf: page 9 out of range; it has 8 page"):
        parse_page_spec("1,9", 8, "doc.pdf")
    with pytest.raises(RenderError, match="page 0 out of range"):
        parse_page_spec("0", 8, "doc.pdf")


def test_pdf_pages_sizes_and_selection(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pdf"
    # letter, A4, and a wide non-standard page
    path.write_bytes(pdf_bytes([(612, 792), (595, 842), (1000, 300)]))
    pages = list(iter_pages(path, dpi=72, pages="3,1"))
    assert [p.number for p in pages] == [3, 1]
    assert pages[0].image.shape == (300, 1000, 3)
    assert pages[1].image.shape == (792, 612, 3)
    assert pages[1].image.dtype == np.uint8
    (a4,) = iter_pages(path, dpi=144, pages=[2])
    assert (a4.width_pt, a4.height_pt, a4.dpi) == (595, 842, 144)
    assert a4.image.shape == (1684, 1190, 3)
    # the black rectangle at (100,100)-(200,150) pt is at twice that in pixels
    ys, xs = np.nonzero(a4.image[100:, :, 0] < 50)  # below the page-number text
    box = [xs.min(), ys.min() + 100, xs.max() + 1, ys.max() + 101]
    assert box == [200, 200, 400, 300]
    info = inspect_source(path)
    assert (info.page_count, info.kind, info.path) == (3, "pdf", str(path))
    assert len(info.sha256) == 64


def test_pages_are_streamed_and_document_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    import layoutft.render.pdf as pdf_mod

    opened: list[pymupdf.Document] = []
    original = pdf_mod.open_pdf

    @contextlib.contextmanager
    def spy(source: Source) -> Iterator[pymupdf.Document]:
        with original(source) as doc:
            opened.append(doc)
            yield doc

    monkeypatch.setattr(pdf_mod, "open_pdf", spy)
    pages = iter_pages(pdf_bytes([(200, 200)] * 5), dpi=36)
    first = next(pages)
    assert first.number == 1 and not opened[0].is_closed
    pages.close()  # stopping early closes the document
    assert opened[0].is_closed


def test_max_pixels_scales_down_and_records_dpi() -> None:
    data = pdf_bytes([(3000, 2000)])
    (page,) = iter_pages(data, dpi=200, max_pixels=1_000_000)
    height, width = page.image.shape[:2]
    assert height * width <= 1_000_000
    assert page.dpi < 200
    assert page.dpi == pytest.approx(72 * np.sqrt(1_000_000 / (3000 * 2000)), rel=0.01)
    # the pixel <-> point transform follows the effective dpi
    top = int(page.transform.pt_to_px([0, 50, 0, 50])[0, 1])  # below the page-number text
    ys, xs = np.nonzero(page.image[top:, :, 0] < 50)
    found = [xs.min(), ys.min() + top, xs.max() + 1, ys.max() + 1 + top]
    expected = page.transform.pt_to_px([100, 100, 200, 150])[0]
    np.testing.assert_allclose(found, expected, atol=1)


def test_capped_scale_fits_rounded_sizes() -> None:
    s = capped_scale(1001, 999, 3.0, 12345)
    assert np.ceil(1001 * s) * np.ceil(999 * s) <= 12345
    assert capped_scale(10, 10, 2.0, None) == 2.0
    assert capped_scale(10, 10, 2.0, 10_000) == 2.0


def png_bytes(size: tuple[int, int], dpi: float | None, fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", size, "white")
    img.paste((0, 0, 0), (10, 20, 30, 40))
    buf = io.BytesIO()
    kwargs = {"dpi": (dpi, dpi)} if dpi else {}
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def test_image_dpi_from_metadata_or_default(tmp_path: Path) -> None:
    png = tmp_path / "scan.png"
    png.write_bytes(png_bytes((300, 150), dpi=300))
    (page,) = iter_pages(png, dpi=200)
    assert page.source_kind == "image" and page.image.shape == (150, 300, 3)
    assert page.dpi == 300
    assert page.width_pt == pytest.approx(300 * 72 / 300, abs=0.01)
    np.testing.assert_allclose(page.transform.px_to_pt([10, 20, 30, 40])[0], [2.4, 4.8, 7.2, 9.6])
    jpg = tmp_path / "photo.jpg"
    jpg.write_bytes(png_bytes((100, 80), dpi=None, fmt="JPEG"))
    (page,) = iter_pages(jpg)
    assert page.dpi == 72 and page.width_pt == 100
    (page,) = iter_pages(jpg, image_dpi=150)
    assert page.dpi == 150 and page.width_pt == pytest.approx(48)


def test_multipage_tiff_and_bytes(tmp_path: Path) -> None:
    frames = [Image.new("L", (40 + 10 * i, 30), 255 - 60 * i) for i in range(3)]
    path = tmp_path / "scan.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(200, 200))
    pages = list(iter_pages(path, pages="2-3"))
    assert [p.number for p in pages] == [2, 3]
    assert [p.image.shape for p in pages] == [(30, 50, 3), (30, 60, 3)]
    assert pages[1].image[0, 0].tolist() == [135, 135, 135]
    assert pages[0].dpi == pytest.approx(200)
    assert inspect_source(path.read_bytes()).page_count == 3
    (from_bytes,) = iter_pages(path.read_bytes(), pages=[3])
    np.testing.assert_array_equal(from_bytes.image, pages[1].image)


def test_image_max_pixels(tmp_path: Path) -> None:
    (page,) = iter_pages(png_bytes((400, 200), dpi=100), max_pixels=20_000)
    assert page.image.shape == (100, 200, 3)
    assert page.dpi == pytest.approx(50)
    assert page.width_pt == pytest.approx(288)  # 400 px at 100 dpi, whatever the cap


def test_rgba_is_composited_on_white() -> None:
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    (page,) = iter_pages(buf.getvalue())
    assert page.image.min() == 255


def test_corrupt_and_unreadable_inputs_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.7\n garbage garbage")
    with pytest.raises(RenderError, match=r"broken\.pdf"):
        list(iter_pages(bad))
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(RenderError, match=r"notes\.png: not a readable PDF or image"):
        list(iter_pages(junk))
    with pytest.raises(RenderError, match=r"missing\.pdf: not found"):
        list(iter_pages(tmp_path / "missing.pdf"))
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(RenderError, match="empty"):
        inspect_source(empty)


def test_encrypted_pdf_is_a_clear_error(tmp_path: Path) -> None:
    doc = pymupdf.open()
    doc.new_page()
    path = tmp_path / "secret.pdf"
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    with pytest.raises(RenderError, match=r"secret\.pdf: the PDF is encrypted"):
        list(iter_pages(path))


def test_page_that_fails_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    import layoutft.render.pdf as pdf_mod

    original = pdf_mod._render_pymupdf

    def flaky(page, scale):  # type: ignore[no-untyped-def]
        if page.number == 1:
            raise RuntimeError("bad content stream")
        return original(page, scale)

    monkeypatch.setattr(pdf_mod, "_render_pymupdf", flaky)
    data = pdf_bytes([(100, 100)] * 3)
    pages = list(iter_pages(data, dpi=72, on_error="record"))
    assert [(p.number, p.ok) for p in pages] == [(1, True), (2, False), (3, True)]
    assert "bad content stream" in (pages[1].error or "")
    assert pages[1].image.shape == (0, 0, 3)
    assert (pages[1].width_pt, pages[1].height_pt) == (100, 100)
    with pytest.raises(RenderError, match="page 2 failed: bad content stream"):
        list(iter_pages(data, dpi=72))


def test_expand_inputs(tmp_path: Path) -> None:
    (tmp_path / "b.pdf").write_bytes(pdf_bytes([(100, 100)]))
    (tmp_path / "a.PNG").write_bytes(png_bytes((10, 10), None))
    (tmp_path / "notes.txt").write_text("x")
    single = tmp_path / "b.pdf"
    assert expand_inputs([tmp_path]) == [tmp_path / "a.PNG", single]
    assert expand_inputs([single]) == [single]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RenderError, match=r"empty: folder has no .*nope\.pdf: not found"):
        expand_inputs([empty, tmp_path / "nope.pdf"])
