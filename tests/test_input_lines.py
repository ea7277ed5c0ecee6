"""Every input gets a line, not a traceback (issue #27): malformed COCO ids, duplicate merge
inputs, non-finite training metrics, a full disk."""

from __future__ import annotations

import errno
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

import layoutft.cli  # noqa: F401  (registers the commands)
from layoutft.cli.app import app
from layoutft.errors import LayoutftError
from tests.train_helpers import DATA

COCO = DATA / "annotations.json"


def test_validate_a_coco_image_id_that_is_a_list(tmp_path: Path) -> None:
    coco = json.loads(COCO.read_text())
    coco["images"][0]["id"] = [1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(coco))
    result = CliRunner().invoke(app, ["validate", str(path), "--images", str(DATA / "images")])
    assert not isinstance(result.exception, TypeError), repr(result.exception)
    assert result.exit_code == 1
    assert "image id=[1]" in result.output


def test_merge_warns_about_an_input_given_twice(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    result = CliRunner().invoke(app, ["merge", str(COCO), str(COCO), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: {COCO} is given 2 times: its pages are in the merged file 2 times\n"
    )
    assert len(json.loads(out.read_text())["images"]) == 4


def test_metrics_jsonl_never_holds_nan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from layoutft.engine.events import MetricsLog

    log = MetricsLog(tmp_path, period=1, max_iter=2)
    log.write_row({"iteration": 0, "loss_cls": math.nan, "lr": 0.01, "time": math.inf})

    def strict(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    rows = [
        json.loads(line, parse_constant=strict)
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert rows == [
        {"iteration": 0, "loss_cls": None, "lr": 0.01, "time": None,
         "non_finite": ["loss_cls", "time"]}
    ]  # fmt: skip
    assert "metrics.jsonl: loss_cls, time at iteration 0 are not finite (written as null)" in (
        capsys.readouterr().err
    )


def test_a_full_disk_names_the_file(tmp_path: Path) -> None:
    from layoutft.outputs import atomic_path, write_text_atomic

    target = tmp_path / "out" / "result.json"
    with pytest.raises(LayoutftError) as info, atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == (
        f"{target}: no space left on the device (writing it failed); free some space or "
        "choose another output folder"
    )
    assert list(target.parent.iterdir()) == []  # the temporary file is gone too
    write_text_atomic(target, "ok")  # other errors and normal writes unchanged
    assert target.read_text() == "ok"


@pytest.mark.parametrize(
    ("records", "field", "value", "expected"),
    [
        ("images", "id", [1], "image id=[1]: needs a unique 'id' and a 'file_name'"),
        ("images", "id", {"a": 1}, "image id={'a': 1}: needs a unique 'id' and a 'file_name'"),
        ("annotations", "image_id", [1], "unknown image_id"),
        ("annotations", "category_id", [1], "unknown category_id [1]"),
        ("categories", "id", [1], "category id=[1]: needs a unique 'id' and a 'name'"),
    ],
)
def test_convert_coco_with_ids_that_are_lists(
    tmp_path: Path, records: str, field: str, value: object, expected: str
) -> None:
    coco = json.loads(COCO.read_text())
    coco[records][0][field] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(coco))
    out = tmp_path / "out"
    args = ["convert", str(path), "--from", "coco", "--images", str(DATA / "images")]
    result = CliRunner().invoke(app, [*args, "-o", str(out), "-q"])
    assert not isinstance(result.exception, TypeError), repr(result.exception)
    assert result.exit_code == 1, result.output
    assert expected in result.output
    validated = CliRunner().invoke(app, ["validate", str(path), "--images", str(DATA / "images")])
    assert not isinstance(validated.exception, TypeError), repr(validated.exception)
    assert validated.exit_code == 1, validated.output


@pytest.mark.parametrize("command", ["show", "analyze"])
@pytest.mark.parametrize(
    ("records", "field", "expected"),
    [
        ("images", "id", "image 1: 'id'"),
        ("annotations", "category_id", "annotation 1: 'category_id'"),
    ],
)
def test_show_and_analyze_refuse_ids_that_are_lists(
    tmp_path: Path, command: str, records: str, field: str, expected: str
) -> None:
    coco = json.loads(COCO.read_text())
    coco[records][0][field] = [1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(coco))
    args = [command, str(path)]
    if command == "show":
        args += ["--images", str(DATA / "images"), "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args)
    assert not isinstance(result.exception, TypeError), repr(result.exception)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: {expected} must be an integer or a string, got [1]; "
        "run `layoutft validate` on it\n"
    )
