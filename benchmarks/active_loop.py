"""The correction loop that learns, measured: a real Label Studio, ``layoutft serve`` as its ML
backend with a data folder, and DTA book pages annotated round after round.

    python -m benchmarks.active_loop                       # rounds of 10, 20, 40, 80 pages
    python -m benchmarks.active_loop --rounds 2,4 --epochs 1 --size 256 --heldout 4  # smoke

Data: ``dta-books`` of the shared real-data folder (``--real``; absent: one line, exit 0),
converted and split by book exactly as ``benchmarks.finetune_real`` does (label map
pagexml-transkribus; ~20% of the pages, whole books, held out, seed 0). The training books'
pages are shuffled (seed 0) and annotated in that order.

Each round (N = 10, 20, 40, 80 annotated pages in all):

1. the round's new pages are uploaded to the Label Studio project (layoutft's labelling
   config with the DTA classes) and their ground truth is submitted as annotations through
   the REST API (rectangles, as a person correcting layoutft's rectangles would leave them);
2. Label Studio's ``ANNOTATION_CREATED`` webhooks reach ``layoutft serve``, which coalesces
   them and fine-tunes the project's model from its current one (finetune_cpu, the recipe of
   ``benchmarks.finetune_real``, here ``--epochs`` passes over the pages; 20% of the
   annotated pages held out for its own check) and switches when the check improves;
3. the held-out books are predicted by the new model (``candidate``) and by the model the
   server serves after the round (``served``): bbox AP50 per class with pycocotools; the
   round's figure is the mean over the classes with >= 50 instances in the training books
   (finetune_real's target classes);
4. by hand: the project's Label Studio export, the same training pages, ``layoutft convert
   --from labelstudio`` and ``layoutft train`` (same config, overrides and starting weights as
   the server's fine-tune), evaluated the same way.

The time of a round is from the first annotation submitted to the server's fine-tune ending
(switched or kept). Meanwhile a client sends ``/predict`` for a held-out page every few
seconds: every answer must be 200 with a prediction (the switch drops nothing). Label
Studio: ``LAYOUTFT_LABEL_STUDIO`` or ``--label-studio`` (a ``label-studio`` executable in a
venv of its own, as tests/test_serve_labelstudio.py uses).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import command_line, cpu_times, save_plot, save_results, target
from benchmarks.finetune_real import (
    CONFIG,
    DATASET,
    DEFAULT_REAL,
    LABEL_MAP,
    MIN_TRAIN_INSTANCES,
    WEIGHTS,
    instance_counts,
    per_class_ap50,
    size_overrides,
    split_books,
)
from benchmarks.inputs import ROOT

NAME = "active_loop"
ROUNDS = (10, 20, 40, 80)
EPOCHS = 6.0
TARGET_PAGES = 40
TARGET_AP50 = 75.0
AGREE = 3.0
TOKEN = "0123456789abcdef0123456789abcdef01234567"
PROBE_EVERY_S = 20.0
#: the ``layoutft`` command of this interpreter's environment
LAYOUTFT = str(Path(sys.executable).with_name("layoutft"))


def labelstudio_result(ann: dict[str, Any], img: dict[str, Any], name: str) -> dict[str, Any]:
    """A COCO annotation as a Label Studio ``rectanglelabels`` result (percent of the image)."""
    x, y, w, h = (float(v) for v in ann["bbox"])
    width, height = float(img["width"]), float(img["height"])
    return {
        "id": f"a{ann['id']}",
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "original_width": int(img["width"]),
        "original_height": int(img["height"]),
        "image_rotation": 0,
        "value": {
            "x": 100 * x / width,
            "y": 100 * y / height,
            "width": 100 * w / width,
            "height": 100 * h / height,
            "rotation": 0,
            "rectanglelabels": [name],
        },
    }


def annotation_results(coco: dict[str, Any], img: dict[str, Any]) -> list[dict[str, Any]]:
    """The Label Studio results of one COCO image's annotations."""
    names = {c["id"]: str(c["name"]) for c in coco["categories"]}
    return [
        labelstudio_result(a, img, names[a["category_id"]])
        for a in coco["annotations"]
        if a["image_id"] == img["id"]
    ]


def labelstudio_tasks(
    coco: dict[str, Any], url_of: Callable[[dict[str, Any]], str]
) -> list[dict[str, Any]]:
    """A Label Studio export of ``coco``: a task per image (``id`` the image id,
    ``data.image`` = ``url_of(image)``) annotated with its regions."""
    return [
        {
            "id": img["id"],
            "data": {"image": url_of(img)},
            "annotations": [{"id": img["id"], "result": annotation_results(coco, img)}],
        }
        for img in coco["images"]
    ]


# -- processes ------------------------------------------------------------------------------


def _call(url: str, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    import urllib.error
    import urllib.request

    data = body
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, headers=hdrs, method=kw.get("method"))
    try:
        with urllib.request.urlopen(request, timeout=kw.get("timeout", 300)) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def start(args: list[str], env: dict[str, str], log: Path, url: str, seconds: float) -> Process:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    process = Process(proc, url, log)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args[0]} exited:\n{process.tail()}")
        try:
            if _call(url + "/health", timeout=5)[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.5)
    process.stop()
    raise RuntimeError(f"{url} did not come up in {seconds} s:\n{process.tail()}")


def label_studio(executable: str, root: Path) -> Process:
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {
        **os.environ,
        "HOME": str(root),
        "LABEL_STUDIO_BASE_DATA_DIR": str(root / "data"),
        "ML_BLOCK_LOCAL_IP": "false",
        "SSRF_PROTECTION_ENABLED": "false",
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
    }
    args = [
        executable, "start", "--no-browser", "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(root / "data"), "--username", "admin@example.com",
        "--password", "layoutft-bench-pw", "--user-token", TOKEN, "--enable-legacy-api-token",
    ]  # fmt: skip
    return start(args, env, root / "label-studio.log", f"http://127.0.0.1:{port}", 2400)


class Rest:
    """Label Studio's REST API with the admin's legacy token."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {"Authorization": f"Token {TOKEN}", **kw.pop("headers", {})}
        status, answer = _call(self.url + path, body, headers, **kw)
        if not 200 <= status < 300:
            raise RuntimeError(f"Label Studio {path}: {status} {str(answer)[:500]}")
        return answer


def upload(rest: Rest, project: int, files: Sequence[Path]) -> None:
    """Import image files into ``project`` (one task each, ``/data/upload/...``)."""
    import uuid

    boundary = uuid.uuid4().hex
    parts = []
    for path in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{path.name}"; '
            f'filename="{path.name}"\r\nContent-Type: image/png\r\n\r\n'
        )
        parts.append(head.encode() + path.read_bytes() + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    rest(f"/api/projects/{project}/import", body, headers=headers)


def upload_name(url: str) -> str:
    """The original file name of an upload URL (``/data/upload/1/3f2a9c1b-page.png``)."""
    return url.rsplit("/", 1)[-1].split("-", 1)[-1]


# -- evaluation ---------------------------------------------------------------------------------


def held_out_ap50(
    weights: str, test: dict[str, Any], images: Path, classes: Sequence[str], device: str
) -> tuple[float, dict[str, float]]:
    """(mean bbox AP50 over ``classes``, per-class AP50) of ``weights`` on ``test``."""
    from layoutft.engine.evaluation import predict_dataset
    from layoutft.model import LayoutModel

    model = LayoutModel.from_checkpoint(weights, device=device)
    ap50 = per_class_ap50(test, predict_dataset(model, test, images))
    measured = [ap50[c] for c in classes if not math.isnan(ap50.get(c, math.nan))]
    return (sum(measured) / len(measured) if measured else math.nan), ap50


class Prober:
    """``/predict`` for one task every ``PROBE_EVERY_S`` seconds in a thread: answers counted
    by status, and the model versions seen."""

    def __init__(self, url: str, request: dict[str, Any]) -> None:
        self.url = url
        self.request = request
        self.sent = self.failed = 0
        self.versions: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(PROBE_EVERY_S):
            status, answer = _call(self.url + "/predict", self.request, timeout=600)
            self.sent += 1
            items = answer.get("results") if isinstance(answer, dict) else None
            if status != 200 or not items or "result" not in items[0]:
                self.failed += 1
            else:
                self.versions.append(str(items[0]["model_version"]))


def wait_round(serve_url: str, project: int, pages: int, timeout: float) -> dict[str, Any]:
    """Poll ``/train/status`` until the fine-tune on ``pages`` annotated pages has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, answer = _call(f"{serve_url}/train/status?project={project}")
        if status == 200 and answer["state"] == "idle" and answer.get("last"):
            manifest = answer
            last = manifest["last"]
            if last.get("outcome") in ("switched", "kept", "failed") and _pages_of(last) >= pages:
                return dict(answer)
        time.sleep(2)
    raise RuntimeError(f"no fine-tune on {pages} pages ended within {timeout} s")


def _pages_of(last: dict[str, Any]) -> int:
    return int(last.get("train_pages", 0)) + int(last.get("heldout_pages", 0))


def by_hand(
    rest: Rest,
    project: int,
    entry: dict[str, Any],
    start_weights: str,
    images: Path,
    out: Path,
) -> tuple[Path, float]:
    """``layoutft convert`` + ``layoutft train`` on the training pages of the server's
    fine-tune ``entry``, the classes of the labelling config in its order (a label map with
    ``categories``, as a user would write it); (the model, seconds of convert + train)."""
    exported = rest(f"/api/projects/{project}/export?exportType=JSON")
    train_ids = {int(name.split("-")[1].split(".")[0]) for name in entry["train_files"]}
    tasks = [t for t in exported if int(t["id"]) in train_ids]
    out.mkdir(parents=True, exist_ok=True)
    (out / "export.json").write_text(json.dumps(tasks))
    (out / "labels.json").write_text(json.dumps({"map": {}, "categories": entry["labels"]}))
    begin = time.perf_counter()
    layoutft = [LAYOUTFT]
    data = out / "data"
    subprocess.run(
        [*layoutft, "convert", "--from", "labelstudio", str(out / "export.json"), "--images",
         str(images), "-o", str(data), "--overwrite", "--labels", str(out / "labels.json")],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    subprocess.run(
        [*layoutft, "train", "--config", str(CONFIG), "--train", str(data / "annotations.json"),
         "--weights", start_weights, "--device", "cpu", "--output", str(out / "run"),
         "--overwrite", "--quiet", *entry["overrides"]],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out / "run" / "model_final.pth", time.perf_counter() - begin


# -- the benchmark ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    started = cpu_times()
    begin = time.perf_counter()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL, help="shared real-data folder")
    ap.add_argument("--rounds", default=",".join(map(str, ROUNDS)), help="annotated pages")
    ap.add_argument("--epochs", type=float, default=EPOCHS, help="passes per fine-tune")
    ap.add_argument("--size", type=int, default=None, help="short edge override (smoke runs)")
    ap.add_argument("--heldout", type=int, default=None, help="held-out pages evaluated (all)")
    ap.add_argument("--work", type=Path, default=None, help="keep everything here")
    ap.add_argument("--label-studio", default=os.environ.get("LAYOUTFT_LABEL_STUDIO"))
    ap.add_argument("--no-hand", action="store_true", help="skip the by-hand curve")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default: results)")
    args = ap.parse_args(argv)
    rounds = [int(n) for n in args.rounds.split(",")]
    source = args.real / DATASET
    if not source.is_dir():
        print(f"active_loop: skipped, {source} not found (pass --real DIR)")
        return
    executable = args.label_studio or str(ROOT / ".venv-labelstudio" / "bin" / "label-studio")
    if not Path(executable).is_file():
        print(f"active_loop: skipped, no Label Studio at {executable} (--label-studio)")
        return
    tmp = None if args.work is not None else tempfile.mkdtemp(prefix="active_loop.")
    work = args.work if args.work is not None else Path(str(tmp))
    work.mkdir(parents=True, exist_ok=True)

    def write(rows: list[dict[str, Any]], extra: dict[str, Any]) -> None:
        """The results so far (after every round: a cut-short run leaves its rounds)."""
        extra["command"] = command_line(NAME, argv)
        extra["time"] = f"{(time.perf_counter() - begin) / 60:.1f} min so far"
        json_path = save_results(NAME, rows, extra, out_dir=args.out, started=started)
        md = json_path.with_suffix(".md")
        head, _, rest = md.read_text().partition("\n\n")
        lines = "\n".join(t["line"] for t in extra["targets"])
        md.write_text(f"{head}\n\n{lines}\n\n{rest}")

    try:
        run(args, rounds, source, work, executable, write)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def run(
    args: argparse.Namespace,
    rounds: list[int],
    source: Path,
    work: Path,
    executable: str,
    write: Callable[[list[dict[str, Any]], dict[str, Any]], None],
) -> None:
    """The rounds (see the module docstring); ``write(rows, extra)`` after each."""
    from layoutft.data.coco import write_coco
    from layoutft.data.convert import convert
    from layoutft.parsing.preannotations import labeling_config

    data = work / "dta"
    if (data / "annotations.json").is_file():
        coco = json.loads((data / "annotations.json").read_text())
    else:
        coco = convert("pagexml", [source], data, labels=LABEL_MAP, overwrite=True).coco
    train_part, test_part, train_books, test_books = split_books(coco)
    if args.heldout is not None:
        keep = {img["id"] for img in test_part["images"][: args.heldout]}
        test_part = {
            **test_part,
            "images": [i for i in test_part["images"] if i["id"] in keep],
            "annotations": [a for a in test_part["annotations"] if a["image_id"] in keep],
        }
    write_coco(work / "heldout.json", test_part)
    labels = [str(c["name"]) for c in sorted(coco["categories"], key=lambda c: c["id"])]
    counts = instance_counts(train_part)
    classes = [c for c, n in counts.items() if n >= MIN_TRAIN_INSTANCES]
    pool = sorted(train_part["images"], key=lambda i: i["file_name"])
    random.Random(0).shuffle(pool)
    images = data / "images"
    overrides = size_overrides(args.size)
    ls = label_studio(executable, work / "label-studio")
    serve = None
    prober = None
    rows: list[dict[str, Any]] = []
    try:
        rest = Rest(ls.url)
        project = int(
            rest("/api/projects", {"title": "DTA", "label_config": labeling_config(labels)})["id"]
        )
        port = _free_port()
        env = {
            **os.environ,
            "LABEL_STUDIO_URL": ls.url,
            "LABEL_STUDIO_API_KEY": TOKEN,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
        }
        # a fixed seed: the server's and the by-hand run differ only in how they got the data
        pairs = [*overrides, "SEED", "0"]
        sets = [f"{k}={v}" for k, v in zip(pairs[::2], pairs[1::2], strict=True)]
        serve_args = [
            LAYOUTFT, "serve", "--port", str(port), "--device", "cpu",
            "--data-dir", str(work / "serve"), "--train-config", str(CONFIG),
            "--train-epochs", str(args.epochs), "--train-delay", "20", "--log-level", "warning",
            *[a for s in sets for a in ("--train-set", s)],
        ]  # fmt: skip
        serve = start(serve_args, env, work / "serve.log", f"http://127.0.0.1:{port}", 300)
        rest("/api/ml", {"url": serve.url, "project": project, "title": "layoutft"})
        probe_page = test_part["images"][0]
        upload(rest, project, [images / probe_page["file_name"]])
        done = 0
        for n in rounds:
            new = pool[done:n]
            upload(rest, project, [images / img["file_name"] for img in new])
            tasks = rest(f"/api/tasks?project={project}&page_size=1000")["tasks"]
            by_name = {upload_name(str(t["data"]["image"])): t for t in tasks}
            if prober is None:
                probe_task = by_name[probe_page["file_name"]]
                prober = Prober(
                    serve.url,
                    {
                        "tasks": [probe_task],
                        "project": f"{project}.1",
                        "label_config": labeling_config(labels),
                    },
                )
                prober.thread.start()
            print(f"active_loop: round of {n} pages: annotating {len(new)} ...", file=sys.stderr)
            t0 = time.perf_counter()
            for img in new:
                task = by_name[img["file_name"]]
                result = annotation_results(train_part, img)
                rest(f"/api/tasks/{task['id']}/annotations", {"result": result})
            status = wait_round(serve.url, project, n, 7200)
            server_s = time.perf_counter() - t0
            folder = work / "serve" / "projects" / str(project)
            manifest = json.loads((folder / "manifest.json").read_text())
            entry = manifest["models"][-1]
            candidate = folder / entry["weights"]
            print(f"active_loop: {status['last']['reason']}", file=sys.stderr)
            cand_ap, cand_cls = held_out_ap50(str(candidate), test_part, images, classes, "cpu")
            current = next(
                (m for m in manifest["models"] if m["version"] == manifest["current"]), None
            )
            if current is None:
                served_ap, _ = held_out_ap50(WEIGHTS, test_part, images, classes, "cpu")
            elif current["version"] == entry["version"]:
                served_ap = cand_ap
            else:
                served_ap, _ = held_out_ap50(
                    str(folder / current["weights"]), test_part, images, classes, "cpu"
                )
            row: dict[str, Any] = {
                "pages": n,
                "train_pages": entry.get("train_pages"),
                "check_pages": entry.get("heldout_pages"),
                "iterations": entry.get("iterations"),
                "round_s": round(server_s, 1),
                "outcome": "switched" if entry.get("accepted") else "kept",
                "check_ap50_new": entry.get("ap50"),
                "check_ap50_old": entry.get("ap50_before"),
                "heldout_ap50_candidate": round(cand_ap, 2),
                "heldout_ap50_served": round(served_ap, 2),
            }
            if not args.no_hand:
                start_from = entry["from"]
                start_weights = (
                    WEIGHTS
                    if start_from == WEIGHTS
                    else str(folder / f"models/{start_from}/model_final.pth")
                )
                hand, hand_s = by_hand(
                    rest, project, entry, start_weights, images, work / "hand" / f"r{n}"
                )
                hand_ap, _ = held_out_ap50(str(hand), test_part, images, classes, "cpu")
                row.update(
                    heldout_ap50_by_hand=round(hand_ap, 2),
                    hand_s=round(hand_s, 1),
                    difference=round(cand_ap - hand_ap, 2),
                )
            row["per_class_candidate"] = {k: round(v, 1) for k, v in cand_cls.items()}
            rows.append(row)
            print(f"active_loop: {row}", file=sys.stderr)
            done = n
            parts = (train_part, test_part, train_books, test_books)
            extra = summary(rows, rounds, classes, prober, parts, args)
            if n != rounds[-1]:
                extra["partial"] = f"rounds done: {[r['pages'] for r in rows]} of {rounds}"
            write(rows, extra)
    finally:
        if prober is not None:
            prober.stop.set()
            prober.thread.join(600)
        if serve is not None:
            serve.stop()
        ls.stop()


def summary(
    rows: list[dict[str, Any]],
    rounds: list[int],
    classes: list[str],
    prober: Prober | None,
    parts: tuple[dict[str, Any], dict[str, Any], list[str], list[str]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Targets, data description and the plot."""
    train_part, test_part, train_books, test_books = parts
    targets = []
    at = next((r for r in rows if r["pages"] == TARGET_PAGES), None)
    name = (
        f"held-out DTA books: bbox AP50 after {TARGET_PAGES} pages corrected through Label "
        f"Studio >= {TARGET_AP50:g} (mean over classes with >= {MIN_TRAIN_INSTANCES} instances)"
    )
    value = None if at is None else at["heldout_ap50_served"]
    row = target(name, None if value is None else value >= TARGET_AP50, f"{value}")
    row["line"] = f"Target: {name}: {row['status']} ({value if value is not None else 'not run'})"
    targets.append(row)
    name = f"within {AGREE:g} points of layoutft train by hand on the same pages (every round)"
    diffs = [r["difference"] for r in rows if "difference" in r]
    worst = max((abs(d) for d in diffs), default=None)
    detail = "not run" if worst is None else f"largest difference {worst:.2f}"
    row = target(name, None if worst is None else worst <= AGREE, detail)
    row["line"] = f"Target: {name}: {row['status']} ({detail})"
    targets.append(row)
    name = "the served model switches without dropping or failing a request"
    if prober is None or prober.sent == 0:
        status, detail = None, "no request sent"
    else:
        status = prober.failed == 0
        detail = (
            f"{prober.sent} /predict requests during the rounds, {prober.failed} failed; "
            f"versions answered: {', '.join(dict.fromkeys(prober.versions))}"
        )
    row = target(name, status, detail)
    row["line"] = f"Target: {name}: {row['status']} ({detail})"
    targets.append(row)
    plot = _plot(rows, args.out)
    return {
        "targets": targets,
        "data": f"{DATASET}: train books {len(train_books)} ({len(train_part['images'])} pages, "
        f"the pool annotated in a seeded order), held-out books {len(test_books)} "
        f"({len(test_part['images'])} pages evaluated)",
        "classes_in_target": classes,
        "recipe": f"configs/{CONFIG.name} from {WEIGHTS}, {args.epochs:g} passes over the "
        "training pages per round (layoutft serve --train-epochs), each round from the "
        "served model" + (f", short edge {args.size} px" if args.size else ""),
        "by_hand": "layoutft convert --from labelstudio of the project's export (the server's "
        "training pages of that round; --labels: the labelling config's classes) + layoutft "
        "train with the server's overrides, from the weights the server's fine-tune started "
        "from",
        "rounds": rounds,
        "plot": plot,
    }


def _plot(rows: list[dict[str, Any]], out_dir: Path | None) -> str:
    def draw(plt: Any) -> None:
        _, ax = plt.subplots(figsize=(6, 4))
        pages = [r["pages"] for r in rows]
        ax.plot(pages, [r["heldout_ap50_served"] for r in rows], "o-", label="served (webhook)")
        candidate = [r["heldout_ap50_candidate"] for r in rows]
        ax.plot(pages, candidate, "s--", label="fine-tuned by the server")
        if rows and "heldout_ap50_by_hand" in rows[0]:
            hand = [r["heldout_ap50_by_hand"] for r in rows]
            ax.plot(pages, hand, "^:", label="layoutft train by hand")
        ax.axhline(TARGET_AP50, color="grey", linewidth=0.8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(pages, [str(p) for p in pages])
        ax.set_xlabel("pages annotated in Label Studio")
        ax.set_ylabel("held-out books: bbox AP50 (target classes)")
        ax.legend(fontsize=8)
        ax.set_title("DTA books: the served model learning from corrections", fontsize=9)

    return save_plot(NAME, draw, out_dir)


if __name__ == "__main__":
    main()
