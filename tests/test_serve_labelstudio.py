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

import json
import os
import subprocess
import sys
import time
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


def test_label_studio_annotations_fine_tune_the_served_model(
    label_studio: Process, tmp_path: Path
) -> None:
    """The loop with a real Label Studio: pages uploaded, their true regions submitted as
    annotations through the REST API; Label Studio's ANNOTATION_CREATED webhooks make layoutft
    serve fine-tune the bundled model (two tiny iterations) in a separate process, check it
    on a held-out page and switch or keep; /setup and the predictions Label Studio stores
    then carry the served model_version, and a restarted server serves the same one."""
    from benchmarks.active_loop import annotation_results
    from tests.train_helpers import DATA, TINY

    ls = label_studio
    coco = json.loads((DATA / "annotations.json").read_text())
    labels = [c["name"] for c in coco["categories"]]
    port = free_port()
    env = {**os.environ, "LABEL_STUDIO_URL": ls.url, "LABEL_STUDIO_API_KEY": TOKEN}
    tiny = [*TINY, "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "1"]
    sets = [
        a for k, v in zip(tiny[::2], tiny[1::2], strict=True) for a in ("--train-set", f"{k}={v}")
    ]
    layoutft = str(Path(sys.executable).with_name("layoutft"))
    args = [
        layoutft, "serve", "--device", "cpu", "--port", str(port), "--data-dir",
        str(tmp_path / "serve-data"), "--train-config", "quick_cpu", "--train-delay", "3", *sets,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    serve = start(args, env, tmp_path / "serve.log", url, 120)
    try:
        base = call(url + "/health")[1]["model_version"]
        project = rest(
            ls, "/api/projects", {"title": "learn", "label_config": labeling_config(labels)}
        )
        pid = project["id"]
        for img in coco["images"]:
            data = (DATA / "images" / img["file_name"]).read_bytes()
            body, ctype = multipart({}, {"file": (img["file_name"], data, "image/png")})
            rest(ls, f"/api/projects/{pid}/import", body, headers={"Content-Type": ctype})
        backend = rest(ls, "/api/ml", {"url": url, "project": pid, "title": "layoutft"})
        assert backend["state"] == "CO", backend
        tasks = rest(ls, f"/api/tasks?project={pid}")["tasks"]
        assert len(tasks) == 2
        for task in tasks:
            name = str(task["data"]["image"]).rsplit("/", 1)[-1].split("-", 1)[-1]
            img = next(i for i in coco["images"] if i["file_name"] == name)
            rest(
                ls,
                f"/api/tasks/{task['id']}/annotations",
                {"result": annotation_results(coco, img)},
            )
        # the webhooks arrive; the fine-tune runs (one: the two events coalesce)
        deadline = time.monotonic() + 600
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = call(f"{url}/train/status?project={pid}")[1]
            if status["state"] == "idle" and status["last"]:
                break
            time.sleep(2)
        last = status["last"]
        assert last is not None and last["outcome"] in ("switched", "kept"), (status, serve.tail())
        assert status["runs"] == 1 and "ANNOTATION_CREATED" in serve.tail()
        assert (last["train_pages"], last["heldout_pages"]) == (1, 1)
        manifest = json.loads(
            (tmp_path / "serve-data/projects" / str(pid) / "manifest.json").read_text()
        )
        [entry] = manifest["models"]
        assert entry["labels"] == labels and entry["annotated_pages"] == 2
        served = entry["version"] if entry["accepted"] else base
        assert (manifest["current"] == entry["version"]) == entry["accepted"]
        assert last["version"] == served
        assert status["model_version"] == (served if entry["accepted"] else None)
        setup = call(url + "/setup", {"project": f"{pid}.1", "schema": labeling_config(labels)})
        assert setup[1] == {"model_version": served}
        rest(
            ls,
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={pid}",
            {"selectedItems": {"all": True, "excluded": []}},
        )
        predictions = rest(ls, f"/api/predictions?task={tasks[0]['id']}")
        assert [p["model_version"] for p in predictions] == [served], serve.tail()
    finally:
        stop(serve)
    # a restart serves the manifest's current model again
    serve = start(args, env, tmp_path / "serve2.log", url, 120)
    try:
        setup = call(url + "/setup", {"project": f"{pid}.1", "schema": labeling_config(labels)})
        assert setup[1] == {"model_version": served}
    finally:
        stop(serve)
