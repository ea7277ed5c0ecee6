"""Hostile parse results get one line from `layoutft view`, not a traceback or a huge
allocation (issue #27): page sizes past the documented cap, dpi that is not a positive finite
number, non-finite boxes, a broken JSON Lines record; pages within the cap but larger than
the viewer draws are drawn scaled down."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from PIL import Image
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.errors import DatasetError
from layoutft.parsing import viewer as viewer_module
from layoutft.schema import MAX_PAGE_SIDE_PX, Document, json_schema
from tests.view_helpers import documents


def results(tmp_path: Path) -> dict[str, Any]:
    """The first viewer test document (a 400 x 300 px TIFF page) as a dict."""
    data: dict[str, Any] = json.loads(documents(tmp_path)[0].to_json())
    return data


def view(tmp_path: Path, data: dict[str, Any] | str) -> tuple[int, str, Path]:
    path = tmp_path / "res.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["view", str(path), "-o", str(tmp_path / "v")])
    return result.exit_code, result.output, path


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("width_px", 200_000, f"must be an integer from 0 to {MAX_PAGE_SIDE_PX}, got 200000"),
        ("height_px", -5, f"must be an integer from 0 to {MAX_PAGE_SIDE_PX}, got -5"),
        ("dpi", -200, "must be a finite number > 0, got -200"),
        ("dpi", 0, "must be a finite number > 0, got 0"),
        ("dpi", math.nan, "must be a finite number > 0, got nan"),
        ("dpi", math.inf, "must be a finite number > 0, got inf"),
        ("width_pt", math.inf, "must be a finite number >= 0, got inf"),
    ],
)
def test_view_refuses_page_sizes_and_dpi_in_one_line(
    tmp_path: Path, field: str, value: float, message: str
) -> None:
    data = results(tmp_path)
    data["pages"][1][field] = value
    code, output, path = view(tmp_path, data)
    assert code == 1, output
    assert output == f"Error: {path}: pages[1].{field}: {message}\n"
    assert not (tmp_path / "v" / "pages").exists()  # nothing drawn


def test_a_page_rendering_past_the_cap_at_its_dpi_is_refused(tmp_path: Path) -> None:
    data = results(tmp_path)
    data["pages"][0].update(width_px=0, height_px=0, dpi=1e300)  # drawn from points x dpi
    with pytest.raises(DatasetError) as info:
        Document.from_json(json.dumps(data))
    assert str(info.value) == (
        f"JSON text: pages[0].dpi: 1e+300 makes the page 5.56e+300 x 4.17e+300 px, past "
        f"{MAX_PAGE_SIDE_PX} px a side"
    )


def test_non_finite_boxes_are_refused(tmp_path: Path) -> None:
    data = results(tmp_path)
    data["pages"][0]["regions"][2]["bbox_px"] = [1, 2, math.inf, 4]
    with pytest.raises(DatasetError, match=r"pages\[0\]\.regions\[2\]\.bbox_px: must be 4 "):
        Document.from_json(json.dumps(data))
    data["pages"][0]["regions"][2]["bbox_px"] = [1, 2, 3, 4]
    data["pages"][0]["regions"][1]["polygon_pt"] = [[[0, 0], [math.nan, 1], [2, 2]]]
    with pytest.raises(DatasetError, match=r"pages\[0\]\.regions\[1\]\.polygon_pt: .* finite"):
        Document.from_json(json.dumps(data))


def test_wrong_types_name_the_field(tmp_path: Path) -> None:
    data = results(tmp_path)
    data["pages"][0]["width_px"] = [1]
    code, output, path = view(tmp_path, data)
    assert code == 1 and output.count("\n") == 1, output
    assert output == (
        f"Error: {path}: pages[0].width_px: must be an integer from 0 to {MAX_PAGE_SIDE_PX}, "
        "got [1]\n"
    )
    del data["pages"][0]["width_px"]
    data["pages"][0]["dpi"] = "high"
    code, output, path = view(tmp_path, data)
    assert code == 1 and output.count("\n") == 1, output
    assert output == f"Error: {path}: pages[0].dpi: must be a finite number > 0, got 'high'\n"
    data["pages"][0]["dpi"] = 72
    del data["pages"][0]["regions"][1]["label"]
    code, output, path = view(tmp_path, data)
    assert output == f"Error: {path}: pages[0].width_px: missing\n"
    data["pages"][0]["width_px"] = 400
    code, output, path = view(tmp_path, data)
    assert output == f"Error: {path}: pages[0].regions[1]: missing field 'label'\n"


def test_a_broken_jsonl_record_names_the_line(tmp_path: Path) -> None:
    lines = documents(tmp_path)[0].to_jsonl_lines()
    text = lines[0] + "\n" + lines[1][:40] + "\n"
    code, output, path = view(tmp_path, text)
    assert code == 1 and output.count("\n") == 1, output
    assert output.startswith(f"Error: {path}: line 2: not JSON") and "Traceback" not in output


def test_within_the_cap_a_huge_page_is_drawn_scaled_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The viewer draws page images of at most VIEW_MAX_PIXELS (the page keeps its size in
    the SVG, so boxes still land): a 60000 x 45000 px page costs no 8 GB."""
    monkeypatch.setattr(viewer_module, "VIEW_MAX_PIXELS", 120_000)
    data = results(tmp_path)
    scale = 150
    page = data["pages"][0]
    page.update(width_px=400 * scale, height_px=300 * scale, dpi=72 * scale)
    code, output, _ = view(tmp_path, data)
    assert code == 0, output
    html = (tmp_path / "v" / "index.html").read_text(encoding="utf-8")
    embedded = json.loads(html.split('type="application/json">')[1].split("</script>")[0])
    first = embedded["documents"][0]["pages"][0]
    assert (first["width"], first["height"]) == (60_000, 45_000)
    with Image.open(tmp_path / "v" / first["image"]) as picture:
        assert picture.size == (400, 300)  # 400 x 300 = 120000 px, the cap


def test_the_json_schema_states_the_same_bounds(tmp_path: Path) -> None:
    data = results(tmp_path)
    data["source"]["sha256"] = "0" * 64
    jsonschema.validate(data, json_schema())
    for field, value in (("width_px", MAX_PAGE_SIDE_PX + 1), ("dpi", 0), ("height_pt", -1)):
        bad = json.loads(json.dumps(data))
        bad["pages"][0][field] = value
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, json_schema())
        with pytest.raises(DatasetError, match=rf"pages\[0\]\.{field}: must be"):
            Document.from_dict(bad)
