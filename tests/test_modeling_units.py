"""Unit tests of the Mask R-CNN building blocks against detectron2's rules and names."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from layoutft.config import Config, load_config
from layoutft.errors import ConfigError, RenderError
from layoutft.model.preprocess import prepare_pixels, resize_shortest_edge, shortest_edge_size
from layoutft.modeling import build_model
from layoutft.modeling.anchors import AnchorGenerator
from layoutft.modeling.box_coder import decode_boxes, encode_boxes
from layoutft.modeling.layers import FrozenBatchNorm2d
from layoutft.modeling.paste import paste_masks_in_image
from layoutft.modeling.poolers import assign_levels

# float results against references: .ci/run reruns them under other CPU kernels
pytestmark = pytest.mark.numerics

CONFIG = Path(__file__).parent / "fixtures" / "d2_parity" / "narrow_r50_mask" / "config.yaml"
# keeps test models tiny: bottleneck width 4, FPN/heads 32 channels
TINY = [
    "MODEL.RESNETS.WIDTH_PER_GROUP", "4", "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "32", "MODEL.ROI_MASK_HEAD.CONV_DIM", "32",
]  # fmt: skip


def _cfg(*overrides: str) -> Config:
    return load_config(CONFIG, [*TINY, *overrides])


def _meta_state_dict(cfg: Config) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return build_model(cfg).state_dict()


# ----- box coding -----------------------------------------------------------------------------
def test_box_coder_round_trip_and_known_deltas() -> None:
    src = torch.tensor([[0.0, 0.0, 10.0, 20.0], [5.0, 5.0, 50.0, 30.0]])
    dst = torch.tensor([[1.0, 2.0, 12.0, 18.0], [0.0, 0.0, 40.0, 40.0]])
    weights = (10.0, 10.0, 5.0, 5.0)
    deltas = encode_boxes(src, dst, weights)
    # centre (5, 10) -> (6.5, 10): dx = 10 * 1.5 / 10; width 10 -> 11: dw = 5 * log(1.1)
    assert deltas[0].tolist() == pytest.approx([1.5, 0.0, 5 * math.log(1.1), 5 * math.log(0.8)])
    torch.testing.assert_close(decode_boxes(deltas, src, weights), dst)
    two = decode_boxes(torch.cat([deltas, torch.zeros(2, 4)], 1), src, weights)
    assert two.shape == (2, 8)
    torch.testing.assert_close(two[:, 4:], src)  # zero deltas give the box back


def test_box_decoding_clamps_scale() -> None:
    box = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    out = decode_boxes(torch.tensor([[0.0, 0.0, 100.0, 100.0]]), box, (1.0, 1.0, 1.0, 1.0))
    assert float(out[0, 2] - out[0, 0]) == pytest.approx(1000.0, rel=1e-5)


# ----- resizing -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1100, 850), (1035, 800)),  # 800 / 850 * 1100 = 1035.29
        ((1650, 1275), (1035, 800)),
        ((850, 1100), (800, 1035)),
        ((600, 3000), (267, 1333)),  # long side capped: 800 * 1333 / 4000 = 266.6
        ((800, 800), (800, 800)),
        ((1000, 1333), (800, 1066)),  # 1066.4 rounds down
        ((1000, 1335), (800, 1068)),  # 1068.0
    ],
)
def test_shortest_edge_size_follows_detectron2(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert shortest_edge_size(*size, 800, 1333) == expected


def test_resize_uses_pil_bilinear_on_uint8() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (110, 85, 3), dtype=np.uint8)
    out = resize_shortest_edge(image, 40, 1333)
    assert out.shape == (52, 40, 3) and out.dtype == np.uint8
    want = np.asarray(Image.fromarray(image).resize((40, 52), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(out, want)
    assert resize_shortest_edge(image, 0, 1333) is image


def test_prepare_pixels_swaps_channels_as_if_before_resizing() -> None:
    # the swap runs on the resized image (cheaper); PIL resizes channels independently
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (230, 170, 3), dtype=np.uint8)
    swapped, size = prepare_pixels(image, "RGB", "BGR", 40, 1333)
    want = resize_shortest_edge(np.ascontiguousarray(image[:, :, ::-1]), 40, 1333)
    assert size == (230, 170) and swapped.shape == (54, 40, 3)
    assert swapped.flags.c_contiguous
    np.testing.assert_array_equal(swapped, want)
    kept, _ = prepare_pixels(image, "BGR", "BGR", 40, 1333)
    np.testing.assert_array_equal(kept, resize_shortest_edge(image, 40, 1333))


# ----- anchors, pooling, pasting --------------------------------------------------------------
def test_anchors_are_unrounded_with_configured_strides() -> None:
    gen = AnchorGenerator([[32], [64]], [[0.5, 1.0, 2.0]], [4, 64], offset=0.0)
    level0, level1 = gen([(2, 3), (1, 2)])
    assert gen.num_anchors == 3 and level0.shape == (2 * 3 * 3, 4) and level1.shape == (6, 4)
    w = math.sqrt(32**2 / 0.5)  # 45.2548..., not rounded to 45
    torch.testing.assert_close(level0[0], torch.tensor([-w / 2, -w / 4, w / 2, w / 4]))
    # (H, W, A) order: the next location along x is one stride (4 px) to the right
    torch.testing.assert_close(level0[3] - level0[0], torch.tensor([4.0, 0.0, 4.0, 0.0]))
    torch.testing.assert_close(level1[3] - level1[0], torch.tensor([64.0, 0.0, 64.0, 0.0]))
    shifted = AnchorGenerator([32], [1.0], [8], offset=0.5)([(1, 1)])[0]
    torch.testing.assert_close(shifted[0], torch.tensor([-12.0, -12.0, 20.0, 20.0]))


def test_anchor_sizes_broadcast_or_per_level() -> None:
    with pytest.raises(ConfigError, match="SIZES"):
        AnchorGenerator([[32], [64], [128]], [[1.0]], [4, 8])
    gen = AnchorGenerator([32, 64], [0.5, 1.0], [4, 8])  # flat lists apply to every level
    assert gen.num_anchors == 4


def test_roi_level_assignment() -> None:
    boxes = torch.tensor([[0, 0, 224, 224], [0, 0, 112, 112], [0, 0, 10, 10], [0, 0, 2000, 2000.0]])
    assert assign_levels(boxes, 2, 5).tolist() == [2, 1, 0, 3]  # levels 4, 3, 2 (clamped), 5


def test_paste_masks_maps_pixel_centres_into_the_box() -> None:
    masks = torch.ones(2, 28, 28)
    boxes = torch.tensor([[10.0, 10.0, 20.0, 20.0], [0.0, 0.0, 0.5, 0.5]])
    out = paste_masks_in_image(masks, boxes, (30, 40))
    assert out.shape == (2, 30, 40) and out.dtype == torch.bool
    assert out[0].sum() == 100 and out[0, 10:20, 10:20].all()
    assert out[1].sum() == 0  # no pixel centre falls inside a half-pixel box
    assert paste_masks_in_image(masks[:0], boxes[:0], (30, 40)).shape == (0, 30, 40)


# ----- backbone and heads: detectron2 names and counts ----------------------------------------
@pytest.mark.parametrize(
    ("overrides", "count"),
    [
        ((), 302),  # the parity model (no res2 shortcut since RES2_OUT_CHANNELS == 64)
        (("MODEL.RESNETS.RES2_OUT_CHANNELS", "256"), 307),  # the model zoo's R50-FPN
        (("MODEL.RESNETS.DEPTH", "101", "MODEL.RESNETS.RES2_OUT_CHANNELS", "256"), 562),
        (("MODEL.RESNETS.DEPTH", "18"), 142),
        (("MODEL.RESNETS.DEPTH", "34"), 222),
    ],
)
def test_state_dict_counts(overrides: tuple[str, ...], count: int) -> None:
    state = _meta_state_dict(_cfg(*overrides))
    assert len(state) == count
    assert not any("num_batches_tracked" in k or "pixel_" in k for k in state)


def test_resnet18_uses_basic_blocks() -> None:
    state = _meta_state_dict(_cfg("MODEL.RESNETS.DEPTH", "18"))
    assert "backbone.bottom_up.res2.1.conv2.norm.running_var" in state
    assert not any(".conv3." in k for k in state)
    assert "backbone.bottom_up.res2.0.shortcut.weight" not in state
    assert state["backbone.bottom_up.res3.0.shortcut.weight"].shape == (128, 64, 1, 1)
    assert state["backbone.bottom_up.res5.1.conv2.weight"].shape == (512, 512, 3, 3)
    with pytest.raises(ConfigError, match="RES2_OUT_CHANNELS"):
        build_model(_cfg("MODEL.RESNETS.DEPTH", "34", "MODEL.RESNETS.RES2_OUT_CHANNELS", "256"))


def test_resnext_groups_and_stride_placement() -> None:
    cfg = _cfg(
        "MODEL.RESNETS.DEPTH", "101", "MODEL.RESNETS.NUM_GROUPS", "8",
        "MODEL.RESNETS.STRIDE_IN_1X1", "False", "MODEL.RESNETS.RES2_OUT_CHANNELS", "256",
    )  # fmt: skip
    with torch.device("meta"):
        model = build_model(cfg)
    state = model.state_dict()
    assert len(state) == 562
    assert state["backbone.bottom_up.res2.0.conv2.weight"].shape == (32, 4, 3, 3)  # 8 groups x 4
    assert state["backbone.bottom_up.res4.22.conv3.weight"].shape == (1024, 128, 1, 1)
    block = model.backbone.bottom_up.res3[0]
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)


def test_norms_heads_and_class_agnostic_outputs() -> None:
    cfg = _cfg(
        "MODEL.RESNETS.NORM", "GN", "MODEL.FPN.NORM", "GN", "MODEL.ROI_BOX_HEAD.NUM_CONV", "2",
        "MODEL.ROI_BOX_HEAD.NORM", "GN", "MODEL.ROI_BOX_HEAD.NUM_FC", "1",
        "MODEL.ROI_MASK_HEAD.NORM", "GN", "MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG", "True",
        "MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", "True", "MODEL.RESNETS.DEPTH", "18",
        "MODEL.RESNETS.WIDTH_PER_GROUP", "64",
    )  # fmt: skip
    state = _meta_state_dict(cfg)
    assert "backbone.fpn_lateral2.norm.weight" in state
    assert "backbone.fpn_lateral2.bias" not in state  # convs followed by a norm have no bias
    assert "roi_heads.box_head.conv2.norm.bias" in state
    assert "roi_heads.box_head.fc2.weight" not in state
    assert state["roi_heads.box_predictor.bbox_pred.weight"].shape[0] == 4
    assert state["roi_heads.box_predictor.cls_score.weight"].shape[0] == 6  # 5 + background
    assert state["roi_heads.mask_head.predictor.weight"].shape[0] == 1
    assert "roi_heads.mask_head.mask_fcn4.norm.weight" in state


def test_eval_forward_shapes_for_uncommon_options() -> None:
    """Class-agnostic heads, ROIPool, avg fusion, SyncBN outside DDP, several RPN convs."""
    cfg = _cfg(
        "MODEL.ROI_BOX_HEAD.CLS_AGNOSTIC_BBOX_REG", "True",
        "MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", "True", "MODEL.ROI_BOX_HEAD.POOLER_TYPE",
        "ROIPool", "MODEL.FPN.FUSE_TYPE", "avg", "MODEL.RESNETS.NORM", "SyncBN",
        "MODEL.RPN.CONV_DIMS", "[32, 32]", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
        "TEST.DETECTIONS_PER_IMAGE", "7",
    )  # fmt: skip
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    assert "proposal_generator.rpn_head.conv.conv1.weight" in model.state_dict()
    image = torch.randint(0, 256, (3, 70, 90), dtype=torch.uint8)
    with torch.inference_mode():
        (out,) = model([{"image": image}])
        features = model.backbone(torch.zeros(1, 3, 96, 96))
    assert [tuple(f.shape[-2:]) for f in features.values()] == [
        (24, 24),
        (12, 12),
        (6, 6),
        (3, 3),
        (2, 2),
    ]
    assert out["boxes"].shape == (7, 4) and out["mask_probs"].shape == (7, 1, 28, 28)
    assert out["classes"].dtype == torch.int64 and out["scores"].shape == (7,)
    assert float(out["boxes"][:, 2].max()) <= 90 and float(out["boxes"][:, 3].max()) <= 70


def test_frozen_batchnorm_matches_batchnorm_in_eval() -> None:
    bn = torch.nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    frozen = FrozenBatchNorm2d.convert(bn)
    assert isinstance(frozen, FrozenBatchNorm2d)
    assert set(frozen.state_dict()) == {"weight", "bias", "running_mean", "running_var"}
    x = torch.randn(2, 4, 5, 5, requires_grad=True)
    torch.testing.assert_close(frozen(x), bn(x))  # autograd path
    torch.testing.assert_close(frozen(x.detach()), bn(x.detach()))  # batch_norm path


# ----- training wiring ------------------------------------------------------------------------
def test_training_returns_losses_and_keeps_frozen_parts_frozen() -> None:
    torch.manual_seed(0)
    model = build_model(_cfg()).train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen[0] == "backbone.bottom_up.stem.conv1.weight"
    assert all(
        n.startswith(("backbone.bottom_up.stem.", "backbone.bottom_up.res2.")) for n in frozen
    )
    stem_bn = model.backbone.bottom_up.stem.conv1.norm.running_mean.clone()
    square = np.array([10, 20, 100, 20, 100, 60, 10, 60], dtype=np.float64)
    batch = [
        {
            "image": torch.randint(0, 256, (3, 128, 160), dtype=torch.uint8),
            "boxes": torch.tensor([[10.0, 20.0, 100.0, 60.0]]),
            "classes": torch.tensor([3]),
            "polygons": [[square]],
        },
        {  # a page without objects
            "image": torch.randint(0, 256, (3, 96, 160), dtype=torch.uint8),
            "boxes": torch.zeros(0, 4),
            "classes": torch.zeros(0, dtype=torch.int64),
            "masks": torch.zeros(0, 96, 160, dtype=torch.bool),
        },
    ]
    losses = model(batch)
    assert set(losses) == {"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask"}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.roi_heads.mask_head.predictor.weight.grad is not None
    assert model.backbone.bottom_up.stem.conv1.weight.grad is None
    assert model.backbone.bottom_up.res3[0].conv1.weight.grad is not None
    torch.testing.assert_close(model.backbone.bottom_up.stem.conv1.norm.running_mean, stem_bn)


def test_page_without_regions_gives_zero_box_and_mask_losses() -> None:
    torch.manual_seed(0)
    model = build_model(_cfg()).train()
    batch = [
        {
            "image": torch.randint(0, 256, (3, 96, 128), dtype=torch.uint8),
            "boxes": torch.zeros(0, 4),
            "classes": torch.zeros(0, dtype=torch.int64),
            "polygons": [],
        }
    ]
    losses = model(batch)
    for name in ("loss_rpn_loc", "loss_box_reg", "loss_mask"):
        assert losses[name].item() == 0.0, name
    assert losses["loss_rpn_cls"].item() > 0 and losses["loss_cls"].item() > 0
    sum(losses.values()).backward()  # still connected to the graph


def test_inference_folds_frozen_bn_into_the_conv() -> None:
    """Without grad, conv + FrozenBN runs as one conv (BN's forward is never called) and
    gives the same numbers as conv then BN."""
    from layoutft.modeling.layers import Conv2d, FrozenBatchNorm2d

    torch.manual_seed(0)
    norm = FrozenBatchNorm2d(8)
    for buffer in (norm.weight, norm.bias, norm.running_mean):
        buffer.copy_(torch.randn(8))
    norm.running_var.copy_(torch.rand(8) + 0.5)
    conv = Conv2d(4, 8, kernel_size=3, padding=1, bias=False, norm=norm, activation=torch.relu)
    x = torch.randn(2, 4, 9, 7)
    expected = conv(x)  # grad enabled: conv, then the frozen affine
    calls: list[int] = []
    norm.register_forward_hook(lambda *_: calls.append(1))
    with torch.inference_mode():
        folded = conv(x)
    assert not calls
    torch.testing.assert_close(folded, expected.detach(), rtol=1e-5, atol=1e-5)


def test_eval_runs_the_backbone_channels_last_on_cpu_with_the_same_detections() -> None:
    import layoutft.modeling.meta_arch as meta_arch

    torch.manual_seed(0)
    model = build_model(_cfg("INPUT.MIN_SIZE_TEST", "64")).eval()
    layouts: list[bool] = []
    model.backbone.register_forward_pre_hook(
        lambda _m, args: layouts.append(args[0].is_contiguous(memory_format=torch.channels_last))
    )
    batch = [{"image": torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8)}]
    with torch.inference_mode():
        (fast,) = model(batch)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(meta_arch, "_conv_layout", lambda images: images)
            (plain,) = model(batch)
    assert layouts == [True, False]
    assert len(fast["scores"]) > 0
    for key in ("boxes", "scores", "mask_probs"):
        torch.testing.assert_close(fast[key], plain[key], rtol=1e-3, atol=1e-3)


def test_stem_max_pool_shortcut_is_exact() -> None:
    from layoutft.modeling.resnet import _max_pool_3x3_s2

    for shape in [(1, 4, 33, 25), (2, 3, 8, 9), (1, 1, 1, 1)]:
        x = torch.randn(*shape)
        torch.testing.assert_close(
            _max_pool_3x3_s2(x), torch.nn.functional.max_pool2d(x, 3, 2, 1), rtol=0, atol=0
        )


def test_predict_batches_only_pages_of_one_padded_size() -> None:
    """A page of another padded size is run apart, so batching never changes results."""
    from layoutft.model import LayoutModel

    torch.manual_seed(0)
    cfg = _cfg("INPUT.MIN_SIZE_TEST", "64", "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0")
    model = LayoutModel.from_config(cfg, device="cpu")
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, 256, size, dtype=np.uint8) for size in ((80, 64, 3), (64, 120, 3))]
    pages.append(pages[0][::-1].copy())
    batched = model.predict(pages, batch_size=4, format="BGR")
    for page, det in zip(pages, batched, strict=True):
        (alone,) = model.predict(page, batch_size=1, format="BGR")
        assert det.image_size == page.shape[:2] and len(det) == len(alone) > 0
        # batched convs round differently, which may swap detections of near-equal score
        box_diff = np.abs(det.boxes[:, None] - alone.boxes[None]).max(axis=2)
        twin = (
            (box_diff <= 1e-2)
            & (det.classes[:, None] == alone.classes[None])
            & (np.abs(det.scores[:, None] - alone.scores[None]) <= 1e-3)
        )
        assert twin.any(axis=1).all() and twin.any(axis=0).all()
        assert det.masks is not None and det.masks.shape == (len(det), *page.shape[:2])
    # the debugging entry point returns the proposals that predict() used
    captured: list = []
    hook = model.model.proposal_generator.register_forward_hook(
        lambda _m, _i, output: captured.extend(output[0])
    )
    model.predict(pages[1], format="BGR")
    hook.remove()
    ((boxes, logits),) = model.predict_proposals(pages[1], format="BGR")
    np.testing.assert_allclose(boxes, captured[0].boxes.numpy(), atol=1e-4)
    np.testing.assert_allclose(logits, captured[0].objectness_logits.numpy(), atol=1e-5)
    assert boxes.dtype == np.float32 and len(boxes) == len(logits) > 0


def test_save_and_reload_layoutft_checkpoint(tmp_path: Path) -> None:
    from layoutft.model import LayoutModel

    cfg = _cfg("LAYOUTFT.LABELS", "['text', 'title', 'list', 'table', 'figure']")
    model = LayoutModel.from_config(cfg, device="cpu")
    assert model.labels == ["text", "title", "list", "table", "figure"]
    model.save(tmp_path / "model.pth")
    model.save(tmp_path / "d2.pth", format="detectron2")
    again = LayoutModel.from_checkpoint(tmp_path / "model.pth", device="cpu")
    assert again.labels == model.labels and again.config == model.config
    theirs = again.model.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in model.model.state_dict().items())
    from_d2 = LayoutModel.from_checkpoint(tmp_path / "d2.pth", config=cfg, device="cpu")
    assert torch.equal(
        from_d2.model.state_dict()["roi_heads.box_predictor.cls_score.weight"],
        model.model.state_dict()["roi_heads.box_predictor.cls_score.weight"],
    )
    with pytest.raises(ConfigError, match="format"):
        model.save(tmp_path / "x.pth", format="onnx")


# ----- configuration and input errors ----------------------------------------------------------
def test_bad_configs_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="NORM"):
        build_model(_cfg("MODEL.RESNETS.NORM", "XYZ"))
    with pytest.raises(ConfigError, match="ASPECT_RATIOS"):
        build_model(_cfg("MODEL.ANCHOR_GENERATOR.ASPECT_RATIOS", "[[1.0], [1.0]]"))


def test_predictor_input_errors(tmp_path: Path) -> None:
    from layoutft.model import LayoutModel

    model = LayoutModel.from_config(_cfg("INPUT.MIN_SIZE_TEST", "64"), device="cpu")
    assert model.labels == [f"class_{i}" for i in range(5)]
    with pytest.raises(RenderError, match=r"missing\.png"):
        model.predict(tmp_path / "missing.png")
    with pytest.raises(ConfigError, match="format"):
        model.predict(np.zeros((10, 10, 3), np.uint8), format="HSV")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            LayoutModel.from_config(_cfg(), device="cuda")
    with pytest.raises(ConfigError, match="--config"):
        LayoutModel.from_checkpoint(CONFIG.parent / "model_final.pth", device="cpu")
