"""``layoutft serve`` learning and async jobs (issue #30), in process:

- ``POST /parse?async=1`` -> a job id; ``GET /jobs/<id>`` gives status, progress and then the
  result the synchronous request gives; a full queue answers 429; results expire (404);
- a project's model switches while requests are in flight: none fails, each answers with the
  ``model_version`` of the model whose regions it returns, and requests after the switch get
  the new model;
- the trainer fine-tunes the real bundled model from a Label Studio stand-in's export (its
  labelling config's classes, held-out pages), keeps the old model when the new one is not
  better and says why, coalesces requests, writes the manifest, and a new trainer (a restart)
  serves the last good model again.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.active_loop import labelstudio_tasks
from layoutft.parsing.preannotations import labeling_config
from layoutft.pretrained import BUNDLED_MODEL
from layoutft.serving.fetch import FetchSettings
from layoutft.serving.training import BaseModel, ModelStore, Trainer, TrainSettings
from tests.serve_helpers import FileServer, call
from tests.test_parse_preannotations import BOXES, FixedModel
from tests.test_serve import CountingModel, Server, direct, make_service, pdf_bytes, png_bytes
from tests.train_helpers import DATA, TINY

pytestmark = pytest.mark.timeout(600)


def poll(url: str, seconds: float = 60) -> dict[str, Any]:
    """``GET url`` until the job is done or failed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, answer = call(url)
        assert status == 200, answer
        if answer["status"] in ("done", "failed"):
            return dict(answer)
        time.sleep(0.05)
    raise AssertionError(f"{url} did not finish")


def test_async_parse_jobs_progress_result_queue_and_expiry() -> None:
    model = CountingModel()
    with Server(make_service(model, max_jobs=2, job_ttl_s=1.5)) as running:
        pdf = pdf_bytes(4)
        status, answer = call(running.url + "/parse?async=1&pages=1-3", pdf)
        assert status == 202, answer
        job = answer["job"]
        assert answer["url"] == f"/jobs/{job['id']}" and len(job["id"]) == 32
        assert job["status"] in ("queued", "running")
        done = poll(running.url + answer["url"])
        assert done["status"] == "done"
        assert done["progress"] == {"pages_done": 3, "pages": 3}
        assert done["result"] == direct(pdf, pages="1-3")
        assert 0 < done["expires_in_s"] <= 1.5

        # a body that is no PDF or image: the job fails with the status /parse would give
        status, answer = call(running.url + "/parse?async=true", b"not a pdf")
        failed = poll(running.url + answer["url"])
        assert (failed["status"], failed["error_status"]) == ("failed", 422)
        assert "not a readable PDF or image" in failed["error"]

        # bounded: with the model held, two jobs fill the queue and the third gets 429
        model.release.clear()
        model.entered.clear()
        ids = []
        for _ in range(2):
            status, answer = call(running.url + "/parse?async=1", png_bytes())
            assert status == 202
            ids.append(answer["job"]["id"])
        assert model.entered.wait(30)
        status, answer = call(running.url + "/parse?async=1", png_bytes())
        assert status == 429 and "job queue is full (2 jobs" in answer["error"]
        assert call(running.url + f"/jobs/{ids[0]}")[1]["status"] == "running"
        assert call(running.url + f"/jobs/{ids[1]}")[1]["status"] == "queued"
        model.release.set()
        for job_id in ids:
            assert poll(running.url + f"/jobs/{job_id}")["status"] == "done"
        # results expire
        time.sleep(1.7)
        status, answer = call(running.url + f"/jobs/{ids[0]}")
        assert status == 404 and "expired" in answer["error"]
        assert call(running.url + "/jobs/" + "0" * 32)[0] == 404
        status, answer = call(running.url + "/parse?async=maybe&dpi=x", png_bytes())
        assert status == 400  # options are checked before a job is queued


class ShiftedModel(FixedModel):
    """FixedModel whose boxes sit ``dx`` px to the right: its regions tell it apart."""

    def __init__(self, dx: float) -> None:
        self.dx = dx

    def predict(self, images: list[np.ndarray], *args: Any, **kwargs: Any) -> Any:
        out = super().predict(images, *args, **kwargs)
        for det in out:
            det.boxes[:, [0, 2]] += self.dx
        time.sleep(0.01)
        return out


def test_the_model_switches_with_requests_in_flight(tmp_path: Path) -> None:
    image = png_bytes()
    files = {"/data/upload/1/page.png": image}
    versions = {"fixed-model": 0.0, "project1-v2": 10.0, "project1-v3": 20.0}
    with FileServer(files, token="t").running() as ls:
        fetch = FetchSettings(label_studio_url=ls.url, api_key="t", timeout_s=10)
        service = make_service(ShiftedModel(0.0), fetch=fetch, max_queue=64)
        config = labeling_config(["text", "title", "list", "table", "figure"])
        request = {
            "tasks": [{"id": 1, "data": {"image": "/data/upload/1/page.png"}}],
            "project": "1.1712345678",
            "label_config": config,
        }
        answers: list[tuple[int, Any]] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                answers.append(call(running.url + "/predict", request))

        with Server(service) as running:
            clients = [threading.Thread(target=client) for _ in range(6)]
            for thread in clients:
                thread.start()

            def answered(count: int) -> None:  # no wall-clock: wait for answers, not seconds
                while len(answers) < count:
                    assert any(t.is_alive() for t in clients)
                    time.sleep(0.01)

            answered(10)
            service.switch("1", ShiftedModel(10.0), "project1-v2")  # 6 requests in flight
            answered(len(answers) + 10)
            service.switch("1", ShiftedModel(20.0), "project1-v3")
            answered(len(answers) + 10)
            stop.set()
            for thread in clients:
                thread.join(60)
            after = call(running.url + "/predict", request)
            setup = call(running.url + "/setup", {"project": "1.1", "schema": config})
            other = call(running.url + "/setup", {"project": "2.1", "schema": config})
    assert len(answers) >= 30
    assert all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    seen = []
    for _, answer in [*answers, after]:
        [item] = answer["results"]
        assert "error" not in item, item
        version = item["model_version"]
        title = next(r for r in item["result"] if r["value"]["rectanglelabels"] == ["title"])
        x = title["value"]["x"] * 400 / 100  # percent of the 400 px page
        assert x == pytest.approx(BOXES[0][0] + versions[version], abs=0.01)  # its own model
        seen.append(version)
    assert set(seen) == set(versions)  # requests before, between and after the switches
    assert seen[-1] == "project1-v3" and after[1]["results"][0]["model_version"] == "project1-v3"
    assert setup[1] == {"model_version": "project1-v3"}
    assert other[1] == {"model_version": "fixed-model"}  # another project: the base model


# -- the trainer ------------------------------------------------------------------------------


def label_studio_standin(tmp_path: Path) -> tuple[dict[str, bytes], list[str]]:
    """The files a Label Studio with one project serves: the project (its labelling config),
    its export (the two fixture pages, each annotated with its true regions) and the images."""
    coco = json.loads((DATA / "annotations.json").read_text())
    labels = [c["name"] for c in coco["categories"]]
    files = {}
    for img in coco["images"]:
        files[f"/data/upload/1/{img['file_name']}"] = (
            DATA / "images" / img["file_name"]
        ).read_bytes()
    tasks = labelstudio_tasks(coco, lambda img: f"/data/upload/1/{img['file_name']}")
    project = {"id": 1, "label_config": labeling_config(labels)}
    files["/api/projects/1"] = json.dumps(project).encode()
    files["/api/projects/1/export?exportType=JSON"] = json.dumps(tasks).encode()
    return files, labels


def test_the_trainer_fine_tunes_keeps_or_switches_and_resumes(tmp_path: Path) -> None:
    files, labels = label_studio_standin(tmp_path)
    switched: list[tuple[str, Path, str]] = []
    settings = TrainSettings(
        tmp_path / "data",
        config="quick_cpu",
        overrides=(*TINY, "SOLVER.MAX_ITER", "2", "SOLVER.IMS_PER_BATCH", "1"),
        holdout=0.5,
        delay_s=0.5,
    )
    with FileServer(files, token="k").running() as ls:
        fetch = FetchSettings(label_studio_url=ls.url, api_key="k", timeout_s=30)
        trainer = Trainer(settings, fetch, BaseModel(BUNDLED_MODEL), lambda *a: switched.append(a))
        # three requests in a row: one fine-tune (they coalesce), from the bundled model
        answers = [trainer.request({"id": 1}, "ANNOTATION_CREATED") for _ in range(3)]
        assert [a["status"] for a in answers] == ["started", "queued", "queued"]
        status = trainer.wait(1, 500)
        assert status["runs"] == 1 and status["state"] == "idle"
        last = status["last"]
        assert last["train_pages"] == 1 and last["heldout_pages"] == 1
        manifest = ModelStore(settings.data_dir).manifest("1")
        [entry] = manifest["models"]
        assert entry["labels"] == labels and entry["from"] == BUNDLED_MODEL
        assert entry["ap50"] == last["ap50"] and entry["ap50_before"] == last["ap50_before"]
        assert 0 <= entry["ap50"] <= 100 and 0 <= entry["ap50_before"] <= 100
        accepted = entry["ap50"] > entry["ap50_before"]
        assert entry["accepted"] == accepted and last["outcome"] == (
            "switched" if accepted else "kept"
        )
        assert ("switched: held-out bbox AP50" if accepted else "not better") in entry["reason"]
        assert [s[2] for s in switched] == (["layoutft-project1-round1"] if accepted else [])
        assert (manifest["current"] is not None) == accepted

        # the decision follows the held-out numbers: a worse model is kept out
        def job(ap50: float, before: float) -> Any:
            def run(pid: str, work: Path, spec: dict[str, Any]) -> dict[str, Any]:
                (work / "m.pth").write_bytes(b"weights")
                return {
                    "ok": True, "ap50": ap50, "ap50_before": before, "train_pages": 1,
                    "heldout_pages": 1, "train_files": ["a"], "heldout_files": ["b"],
                    "weights": str(work / "m.pth"), "iterations": 2,
                }  # fmt: skip

            return run

        trainer._run_job = job(40.0, 55.5)  # type: ignore[method-assign]
        trainer.request(1, "START_TRAINING")
        last = trainer.wait(1, 120)["last"]
        assert last["outcome"] == "kept"
        assert "not better: held-out bbox AP50 40.0 vs 55.5" in last["reason"]
        trainer._run_job = job(70.0, 55.5)  # type: ignore[method-assign]
        trainer.request(1, "START_TRAINING")
        last = trainer.wait(1, 120)["last"]
        assert last["outcome"] == "switched" and last["version"] == "layoutft-project1-round3"
        assert switched[-1][2] == "layoutft-project1-round3"
        store = ModelStore(settings.data_dir)
        assert store.current("1")["version"] == "layoutft-project1-round3"  # type: ignore[index]
        assert (store.folder("1") / "models/layoutft-project1-round3/model_final.pth").is_file()

    # a restart serves the last good model again
    resumed: list[tuple[str, Path, str]] = []
    again = Trainer(settings, fetch, BaseModel(BUNDLED_MODEL), lambda *a: resumed.append(a))
    assert again.resume() == ["1"]
    assert resumed[0][0] == "1" and resumed[0][2] == "layoutft-project1-round3"
    assert resumed[0][1].read_bytes() == b"weights"


def test_training_needs_label_studio_and_a_project() -> None:
    from layoutft.errors import ServeError

    trainer = Trainer(
        TrainSettings(Path("unused")), FetchSettings(), BaseModel(BUNDLED_MODEL), lambda *a: None
    )
    with pytest.raises(ServeError, match="LABEL_STUDIO_URL"):
        trainer.request(1, "START_TRAINING")
    with Server(make_service()) as running:
        status, answer = call(running.url + "/webhook", {"action": "START_TRAINING"})
        assert status == 200 and "--data-dir" in answer["detail"]


def test_held_out_pages_stay_held_out_and_the_schedule_grows_with_the_pages() -> None:
    from layoutft.engine.labelstudio_finetune import heldout_pages, schedule

    names = [f"task-{i}.png" for i in range(1, 81)]
    held = heldout_pages(names, 0.2)
    assert 8 <= len(held) <= 24  # ~20% of 80 (CRC-32 of the names: fixed, not random)
    for n in (10, 20, 40):  # a page held out in an earlier round stays held out
        assert heldout_pages(names[:n], 0.2) == held & set(names[:n])
    assert len(heldout_pages(names[:2], 0.2)) == 1  # at least one, never all
    assert heldout_pages(names[:1], 0.2) == set()
    assert schedule("finetune_cpu", [], 3, 8)[:2] == ["SOLVER.MAX_ITER", "20"]  # at least 20
    assert schedule("finetune_cpu", [], 6, 64) == [
        "SOLVER.MAX_ITER", "192", "SOLVER.STEPS", "(144, 178)",
        "SOLVER.WARMUP_ITERS", "12", "SOLVER.CHECKPOINT_PERIOD", "192",
    ]  # fmt: skip
