"""What the benchmarks measure on: models and synthetic documents, made on the fly.

Models:

- ``narrow``: the detectron2-parity checkpoint (``tests/fixtures/d2_parity/narrow_r50_mask``),
  a narrow R50-FPN Mask R-CNN trained by detectron2 on synthetic pages, 5 PubLayNet classes.
  Real weights, so detection counts and scores are those of a trained model.
- ``r50``: detectron2's standard R50-FPN Mask R-CNN (``configs/zoo/publaynet_mask_rcnn_R_50_
  FPN_3x.yaml``) with random weights (seed 0): full-size compute, meaningless detections.
  Its heads are set to do a trained model's work (see :func:`_trained_like_heads`): the
  RPN's box deltas are zero, so the ROI heads get ``POST_NMS_TOPK_TEST`` (1000) proposals,
  and class logits are scaled to unit spread. ``TEST.DETECTIONS_PER_IMAGE`` is capped at 20
  (a typical page's region count); pass other overrides to change it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from layoutft.model import LayoutModel

ROOT = Path(__file__).resolve().parent.parent
PARITY_DIR = ROOT / "tests" / "fixtures" / "d2_parity" / "narrow_r50_mask"
PARITY_LABELS = ["text", "title", "list", "table", "figure"]
R50_CONFIG = ROOT / "configs" / "zoo" / "publaynet_mask_rcnn_R_50_FPN_3x.yaml"
QUICK_CONFIG = ROOT / "configs" / "quick_cpu.yaml"
R50_OVERRIDES = ["TEST.DETECTIONS_PER_IMAGE", "20"]
MODELS = ("narrow", "r50")


def load_model(name: str, device: str = "cpu", overrides: Sequence[str] = ()) -> LayoutModel:
    """The benchmark model ``name`` (see the module docstring) on ``device``.

    ``overrides``: extra ``KEY VALUE`` config pairs (tests shrink ``INPUT.MIN_SIZE_TEST``).
    """
    import torch

    from layoutft.model import LayoutModel

    if name == "narrow":
        return LayoutModel.from_checkpoint(
            PARITY_DIR / "model_final.pth",
            config=PARITY_DIR / "config.yaml",
            overrides=list(overrides),
            device=device,
            labels=PARITY_LABELS,
        )
    if name == "r50":
        torch.manual_seed(0)
        model = LayoutModel.from_config(
            R50_CONFIG, overrides=[*R50_OVERRIDES, *overrides], device=device
        )
        _trained_like_heads(model)
        return model
    raise ValueError(f"unknown model {name!r}; use one of {MODELS}")


def _trained_like_heads(model: LayoutModel) -> None:
    """Make a random model's heads cost what a trained model's do, in place.

    A random RPN regresses every anchor to nearly the same page-sized box, so NMS leaves a
    handful of proposals and the ROI heads (RoIAlign and the box head: a quarter of a
    trained model's page) have almost nothing to do. With zero box deltas the proposals are
    the anchors themselves, and NMS keeps ``POST_NMS_TOPK_TEST`` of them as for a trained
    RPN. Random class logits run into the hundreds (scores of exactly 1.0, tied at the
    detection cap); divided by their spread on a synthetic page, scores spread below 1 and
    the top ``DETECTIONS_PER_IMAGE`` are well defined, as detectron2 and layoutft must agree.
    """
    import torch

    rpn_head = model.model.proposal_generator.rpn_head
    cls_score = model.model.roi_heads.box_predictor.cls_score
    with torch.no_grad():
        rpn_head.anchor_deltas.weight.zero_()
        rpn_head.anchor_deltas.bias.zero_()
    logits: list[torch.Tensor] = []
    hook = cls_score.register_forward_hook(lambda _m, _i, out: logits.append(out))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model.predict(render_images(synth_pdf(Path(tmp) / "page.pdf", 1), 72))
    finally:
        hook.remove()
    with torch.no_grad():
        cls_score.weight /= torch.cat(logits).std()


def model_files(name: str, work_dir: Path) -> tuple[Path, Path | None]:
    """(weights, config) files for ``name`` as a CLI user would pass them.

    ``narrow``: the fixture's detectron2 .pth and YAML; ``r50``: the random model saved as a
    layoutft checkpoint in ``work_dir`` (it carries its config, so no YAML).
    """
    if name == "narrow":
        return PARITY_DIR / "model_final.pth", PARITY_DIR / "config.yaml"
    path = Path(work_dir) / f"{name}_random.pth"
    if not path.exists():
        load_model(name, "cpu").save(path)
    return path, None


def synth_pdf(path: Path, pages: int, seed: int = 0, unique: int = 10) -> Path:
    """A born-digital PDF of ``pages`` synthetic pages (``layoutft synth`` pages) at ``path``.

    At most ``unique`` distinct pages are drawn; longer documents repeat them in order, which
    keeps generation fast and still gives every page real text, tables and figures.
    """
    import pymupdf

    from layoutft.data.synth import generate_dataset

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # images are rendered by the generator too: the lowest dpi keeps that cheap
        generate_dataset(tmp, 1, min(pages, unique), dpi=36, seed=seed, quiet=True)
        source = pymupdf.open(Path(tmp) / "pdfs" / "doc000.pdf")
        out = pymupdf.open()
        while out.page_count < pages:
            last = min(source.page_count, pages - out.page_count) - 1
            out.insert_pdf(source, from_page=0, to_page=last)
        out.save(path, garbage=3, deflate=True)
        out.close()
        source.close()
    return path


def synth_dataset(out_dir: Path, docs: int, pages: int, dpi: int, seed: int) -> Path:
    """A ``layoutft synth`` dataset in ``out_dir``; returns its COCO ``annotations.json``."""
    from layoutft.data.synth import generate_dataset

    return generate_dataset(out_dir, docs, pages, dpi=dpi, seed=seed, quiet=True)


def render_images(pdf: Path, dpi: float, pages: int | None = None) -> list[Any]:
    """RGB uint8 [H, W, 3] page images of ``pdf`` at ``dpi`` (first ``pages`` pages)."""
    from layoutft.render import iter_pages

    selection = None if pages is None else list(range(1, pages + 1))
    return [page.image for page in iter_pages(pdf, dpi=dpi, pages=selection)]
