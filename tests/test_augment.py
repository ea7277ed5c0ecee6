"""Document augmentations: geometry moves with the pixels, seeds reproduce samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layoutft.config import load_config
from layoutft.data.augment import (
    AugmentSettings,
    Sample,
    augment,
    flip,
    photometric,
    resize,
    rotate,
    sample_train_size,
)
from layoutft.errors import ConfigError

CONFIGS = Path(__file__).parent.parent / "configs"
OFF = AugmentSettings()  # no photometric change, no rotation, no flip


def page_with_block(h: int = 200, w: int = 160) -> Sample:
    """White page with one black block; its box and polygon."""
    image = np.full((h, w, 3), 255, np.uint8)
    image[40:80, 30:130] = 0
    box = np.array([[30, 40, 130, 80]], np.float32)
    poly = [[np.array([30, 40, 130, 40, 130, 80, 30, 80], np.float32)]]
    return Sample(image, box, poly)


def dark_bounds(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image[:, :, 0] < 128)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_choice_and_range_sampling_follow_detectron2_resize() -> None:
    rng = np.random.default_rng(0)
    choice = AugmentSettings(min_sizes=(100, 200), sampling="choice", max_size=1000)
    sizes = {sample_train_size(400, 300, choice, rng) for _ in range(50)}
    assert sizes == {(133, 100), (267, 200)}  # short edge 100/200, rounded half up
    ranged = AugmentSettings(min_sizes=(100, 110), sampling="range", max_size=1000)
    shorts = {sample_train_size(400, 300, ranged, rng)[1] for _ in range(200)}
    assert shorts == set(range(100, 111))
    capped = AugmentSettings(min_sizes=(300,), max_size=500)
    assert sample_train_size(1000, 300, capped, rng) == (500, 150)  # long side capped


def test_resize_scales_boxes_and_polygons_with_pixels() -> None:
    out = resize(page_with_block(), 100, 80)
    np.testing.assert_allclose(out.boxes, [[15, 20, 65, 40]])
    assert out.polygons is not None
    np.testing.assert_allclose(out.polygons[0][0], [15, 20, 65, 20, 65, 40, 15, 40])
    assert out.image.shape == (100, 80, 3)
    assert dark_bounds(out.image) == (15, 20, 65, 40)


def test_rotation_recomputes_boxes_from_rotated_polygons() -> None:
    out = rotate(page_with_block(), 2.0)
    x0, y0, x1, y1 = out.boxes[0]
    # the box is the bounds of the rotated corners, and matches the rotated pixels
    assert out.polygons is not None
    corners = out.polygons[0][0].reshape(-1, 2)
    np.testing.assert_allclose(out.boxes[0], [*corners.min(0), *corners.max(0)], atol=1e-4)
    assert all(
        abs(a - b) <= 1.5 for a, b in zip((x0, y0, x1, y1), dark_bounds(out.image), strict=True)
    )
    # counter-clockwise on screen: the top edge's right corner rises above its left corner
    top_left, top_right = corners[0], corners[1]
    assert top_right[1] < top_left[1] - 3
    # grows the box of a wide block by about w * sin(2 deg) in height
    assert (y1 - y0) - 40 == pytest.approx(
        100 * np.sin(np.radians(2)) + 40 * (np.cos(np.radians(2)) - 1), abs=1e-3
    )


def test_flip_mirrors_boxes_and_is_off_in_document_configs() -> None:
    out = flip(page_with_block(), "horizontal")
    np.testing.assert_allclose(out.boxes, [[30, 40, 130, 80]])  # 160 - 130 = 30, 160 - 30 = 130
    out = flip(
        Sample(np.zeros((10, 20, 3), np.uint8), np.array([[0, 1, 5, 2]], np.float32)), "horizontal"
    )
    np.testing.assert_allclose(out.boxes, [[15, 1, 20, 2]])
    cfg = load_config(CONFIGS / "Base-Document.yaml")
    assert AugmentSettings.from_config(cfg).flip == "none"


def test_photometric_off_is_identity_and_seeded() -> None:
    image = page_with_block().image
    assert np.array_equal(photometric(image, OFF, np.random.default_rng(0)), image)
    noisy = AugmentSettings(brightness=(0.8, 1.2), jpeg_prob=1.0, noise_prob=1.0, blur_prob=1.0)
    a = photometric(image, noisy, np.random.default_rng(5))
    b = photometric(image, noisy, np.random.default_rng(5))
    assert np.array_equal(a, b) and not np.array_equal(a, image)
    assert a.dtype == np.uint8 and a.shape == image.shape


def test_full_augmentation_is_reproducible_from_its_seed() -> None:
    cfg = load_config(CONFIGS / "Base-Document.yaml", ["LAYOUTFT.AUG.ROTATION_PROB", "1.0"])
    settings = AugmentSettings.from_config(cfg)
    a = augment(page_with_block(), settings, np.random.default_rng(11))
    b = augment(page_with_block(), settings, np.random.default_rng(11))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)
    assert 800 <= min(a.image.shape[:2]) <= 1216  # Base-Document's multi-scale range


def test_bad_sampling_setting_is_a_config_error() -> None:
    cfg = load_config(CONFIGS / "Base-Document.yaml", ["INPUT.MIN_SIZE_TRAIN_SAMPLING", "random"])
    with pytest.raises(ConfigError, match="MIN_SIZE_TRAIN_SAMPLING"):
        AugmentSettings.from_config(cfg)
