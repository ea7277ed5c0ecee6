"""``layoutft serve`` as the ML backend of a real Label Studio: a project with layoutft's
labelling config, an uploaded page image (``/data/upload/...``, which layoutft fetches from
Label Studio with a personal access token), the backend connected over Label Studio's REST
API, and the predictions Label Studio stored read back: layoutft's regions, in percent, as
a direct parse of the same image gives them.

Label Studio pins packages that clash with layoutft's, so it lives in its own venv:
``LAYOUTFT_LABEL_STUDIO`` names its ``label-studio`` executable (``.ci/run`` creates
``.venv-labelstudio``); without it the test is skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from layoutft.parsing.parser import parse
from layoutft.parsing.preannotations import labeling_config, labelstudio_results
from tests.serve_helpers import call, free_port, multipart, wait_until_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CASE = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask"
PAGE = CASE / "images" / "doc002_p0.png"
LABELS = ["text", "title", "list", "table", "figure"]
SMALL = ["INPUT.MIN_SIZE_TEST", "320", "INPUT.MAX_SIZE_TEST", "640"]
TOKEN = "0123456789abcdef0123456789abcdef01234567"  # the admin's legacy token (REST calls)
VERSION = "layoutft-test-model"


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    log: Path
    url: str

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def start(args: list[str], env: dict[str, str], log: Path, url: str, seconds: float) -> Process:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    process = Process(proc, log, url)
    try:
        wait_until_up(url + "/health", seconds, alive=lambda: proc.poll() is None)
    except AssertionError as exc:
        stop(process)
        raise AssertionError(f"{exc}\n--- {log.name} ---\n{process.tail()}") from None
    return process


def stop(process: Process) -> None:
    process.proc.terminate()
    try:
        process.proc.wait(30)
    except subprocess.TimeoutExpired:
        process.proc.kill()
        process.proc.wait(30)


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    executable = os.environ.get("LAYOUTFT_LABEL_STUDIO")
    if not executable:
        pytest.skip("LAYOUTFT_LABEL_STUDIO (a label-studio executable) is not set")
    root = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(root),
        "LABEL_STUDIO_BASE_DATA_DIR": str(root / "data"),
        # the ML backend runs on this machine: Label Studio refuses local addresses by default,
        # for the backend and for the webhook it adds with it
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
    }
    args = [
        executable, "start", "--no-browser", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(root / "data"), "--username", "admin@example.com",
        "--password", "layoutft-test-pw", "--user-token", TOKEN, "--enable-legacy-api-token",
    ]  # fmt: skip
    process = start(args, env, root / "label-studio.log", f"http://127.0.0.1:{port}", 600)
    yield process
    stop(process)


def rest(ls: Process, path: str, body: Any = None, **kwargs: Any) -> Any:
    """A Label Studio REST call with the admin's token; asserts a 2xx answer."""
    headers = {"Authorization": f"Token {TOKEN}", **kwargs.pop("headers", {})}
    status, answer = call(ls.url + path, body, headers, **kwargs)
    assert 200 <= status < 300, (path, status, str(answer)[:2000], ls.tail())
    return answer


def test_label_studio_gets_layoutft_predictions(label_studio: Process, tmp_path: Path) -> None:
    ls = label_studio
    # a personal access token (Label Studio's default kind) for layoutft to fetch images with
    personal = rest(ls, "/api/token/", {})["token"]
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_URL": ls.url,
        "LABEL_STUDIO_API_KEY": personal,
        "OMP_NUM_THREADS": "2",
    }
    layoutft = str(Path(sys.executable).with_name("layoutft"))
    serve = start(
        [
            layoutft, "serve", "--weights", str(CASE / "model_final.pth"),
            "--config", str(CASE / "config.yaml"), "--labels", ",".join(LABELS),
            "--device", "cpu", "--port", str(port), "--model-version", VERSION, *SMALL,
        ],
        env,
        tmp_path / "serve.log",
        f"http://127.0.0.1:{port}",
        120,
    )  # fmt: skip
    try:
        project = rest(
            ls,
            "/api/projects",
            {"title": "layoutft pages", "label_config": labeling_config(LABELS)},
        )
        body, ctype = multipart({}, {"file": (PAGE.name, PAGE.read_bytes(), "image/png")})
        rest(ls, f"/api/projects/{project['id']}/import", body, headers={"Content-Type": ctype})
        # and a task whose image cannot be fetched: no prediction for it, the other one gets its
        missing = f"http://127.0.0.1:{free_port()}/gone.png"
        rest(ls, f"/api/projects/{project['id']}/import", [{"data": {"image": missing}}])
        tasks = rest(ls, f"/api/tasks?project={project['id']}")["tasks"]
        assert len(tasks) == 2
        task, broken = sorted(tasks, key=lambda t: str(t["data"]["image"]) == missing)
        assert task["data"]["image"].startswith("/data/upload/")  # Label Studio serves it

        backend = rest(
            ls, "/api/ml", {"url": serve.url, "project": project["id"], "title": "layoutft"}
        )
        assert backend["state"] == "CO", backend  # connected: /health and /setup answered
        rest(
            ls,
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={project['id']}",
            {"selectedItems": {"all": True, "excluded": []}},
        )
        predictions = rest(ls, f"/api/predictions?task={task['id']}")
        assert len(predictions) == 1, (predictions, serve.tail())
        assert rest(ls, f"/api/predictions?task={broken['id']}") == []
        assert "gone.png" in serve.tail()  # layoutft logged why
        prediction = predictions[0]
        assert prediction["model_version"] == VERSION

        document = parse(
            PAGE, weights=CASE / "model_final.pth", config=CASE / "config.yaml",
            labels=LABELS, overrides=SMALL, device="cpu", text=False,
        )  # fmt: skip
        page = document.pages[0]
        want = labelstudio_results(page, page.width_px, page.height_px)
        got = prediction["result"]
        assert len(want) >= 1 and len(got) == len(want)
        assert {label for r in got for label in r["value"][r["type"]]} <= set(LABELS)
        for mine, theirs in zip(want, got, strict=True):
            assert theirs["from_name"] == mine["from_name"] and theirs["to_name"] == "image"
            assert theirs["type"] == mine["type"]
            assert theirs["original_width"] == 850 and theirs["original_height"] == 1100
            for key, value in mine["value"].items():
                if key == "points":
                    flat = [c for point in theirs["value"][key] for c in point]
                    assert flat == pytest.approx([c for point in value for c in point], abs=1e-3)
                elif isinstance(value, float):
                    assert theirs["value"][key] == pytest.approx(value, abs=1e-3)
                else:
                    assert theirs["value"][key] == value
        assert prediction["score"] == pytest.approx(
            sum(r.score for r in page.regions) / len(page.regions), abs=1e-3
        )
    finally:
        stop(serve)
