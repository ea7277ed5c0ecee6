"""Image paths given to the model are read with Pillow to the pixels cv2.imread gives (OpenCV
is a dev dependency only: the reference here)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from layoutft.errors import RenderError
from layoutft.model.preprocess import prepare_pixels
from layoutft.render.image import read_bgr


def _write_images(folder: Path) -> dict[str, Path]:
    """One file per kind of PNG (and a rotated JPEG), random pixels."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)
    files = {name: folder / f"{name}.png" for name in ("rgb", "gray", "rgba", "la", "palette")}
    Image.fromarray(rgb).save(files["rgb"])
    Image.fromarray(rgb[:, :, 0]).save(files["gray"])
    Image.fromarray(rgba).save(files["rgba"])
    Image.fromarray(rgba[:, :, :2].copy(), "LA").save(files["la"])
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(files["palette"])
    files["bilevel"] = folder / "bilevel.png"
    Image.fromarray(rgb[:, :, 0] > 128).save(files["bilevel"])
    # 16-bit samples: Pillow opens gray as I;16 (its own conversion would clip at 255)
    for name, channels in (("gray16", ()), ("rgb16", (3,)), ("rgba16", (4,))):
        files[name] = folder / f"{name}.png"
        cv2.imwrite(str(files[name]), rng.integers(0, 65536, (37, 53, *channels), dtype=np.uint16))
    files["rotated"] = folder / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    Image.fromarray(rgb).save(files["rotated"], exif=exif.tobytes(), quality=95)
    return files


def test_read_bgr_equals_cv2_imread(tmp_path: Path) -> None:
    for name, path in _write_images(tmp_path).items():
        ours = read_bgr(path)
        theirs = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert ours.dtype == np.uint8 and ours.flags.c_contiguous, name
        assert ours.shape == theirs.shape, name
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
    assert read_bgr(tmp_path / "rotated.jpg").shape == (53, 37, 3)  # EXIF orientation applied


def test_image_paths_are_read_as_bgr(tmp_path: Path) -> None:
    path = _write_images(tmp_path)["rgb"]
    rgb = np.asarray(Image.open(path).convert("RGB"))
    from_path, size = prepare_pixels(path, None, "RGB", 20, 1333)
    from_array, _ = prepare_pixels(rgb, "RGB", "RGB", 20, 1333)
    assert size == (37, 53)
    np.testing.assert_array_equal(from_path, from_array)


def test_unreadable_images_raise_render_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    for path in (broken, tmp_path / "missing.png"):
        with pytest.raises(RenderError, match=f"cannot read image {path}: missing file"):
            read_bgr(str(path))
