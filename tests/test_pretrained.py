"""The model registry: manifest integrity, cache, offline mode, file:// downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import layoutft.cli
from layoutft import pretrained
from layoutft.errors import CheckpointError


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("LAYOUTFT_HOME", str(home))
    monkeypatch.delenv("LAYOUTFT_OFFLINE", raising=False)
    return home


ZIP = b"PK\x03\x04"  # what a torch.save file starts with


def _checkpoint(size: int) -> bytes:
    """A real torch.save file of about ``size`` bytes (downloads are loaded before they are
    cached when no size and checksum are known)."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(size // 4, dtype=torch.float32)}}, buffer)
    return buffer.getvalue()


def _payload(tmp_path: Path, size: int = 3_000_000) -> tuple[Path, str]:
    data = _checkpoint(size)
    src = tmp_path / "remote" / "model.pth"
    src.parent.mkdir()
    src.write_bytes(data)
    return src, hashlib.sha256(data).hexdigest()


def test_manifest_lists_the_zoo_with_labels_in_model_order() -> None:
    names = {card.name for card in pretrained.list_models()}
    for expected in [
        "publaynet-mask-rcnn-r50",
        "publaynet-faster-rcnn-r50",
        "publaynet-mask-rcnn-x101",
        "primalayout-mask-rcnn-r50",
        "newspapernavigator-faster-rcnn-r50",
        "tablebank-faster-rcnn-r50",
        "hjdataset-mask-rcnn-r50",
        "mfd-faster-rcnn-r50",
        "ibm-publaynet-mask-rcnn-x101",
        "imagenet-r50-msra",
        "imagenet-x101-32x8d-fair",
        "imagenet-r50-torchvision",
    ]:
        assert expected in names
    card = pretrained.get_card("publaynet")  # alias
    assert card.name == "publaynet-mask-rcnn-r50"
    assert card.labels == ["text", "title", "list", "table", "figure"]


def test_every_card_config_exists_and_matches_its_labels() -> None:
    from layoutft.config import load_config

    for card in pretrained.list_models():
        assert card.config_path.exists(), card.name
        cfg = load_config(card.config_path)
        if card.labels is not None:
            assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == len(card.labels), card.name
            assert list(cfg.LAYOUTFT.LABELS) == card.labels, card.name


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(CheckpointError, match=r"did you mean publaynet"):
        pretrained.get_card("publaynt")


def test_download_verifies_checksum_and_renames_atomically(
    tmp_path: Path, cache_home: Path
) -> None:
    src, digest = _payload(tmp_path)
    target = cache_home / "weights" / "m.pth"
    out = pretrained.download(src.as_uri(), target, sha256=digest, size=src.stat().st_size)
    assert out == target
    assert target.read_bytes() == src.read_bytes()
    assert not target.with_name("m.pth.part").exists()


def test_download_resumes_a_partial_file(tmp_path: Path, cache_home: Path) -> None:
    src, digest = _payload(tmp_path)
    target = cache_home / "weights" / "m.pth"
    target.parent.mkdir(parents=True)
    part = target.with_name("m.pth.part")
    data = src.read_bytes()
    part.write_bytes(data[:1_234_567])  # an interrupted earlier download
    pretrained.download(src.as_uri(), target, sha256=digest)
    assert pretrained.file_sha256(target) == digest


def test_checksum_mismatch_removes_the_file_and_says_so(tmp_path: Path, cache_home: Path) -> None:
    src, _ = _payload(tmp_path)
    target = cache_home / "weights" / "m.pth"
    with pytest.raises(CheckpointError, match="does not match the manifest"):
        pretrained.download(src.as_uri(), target, sha256="0" * 64)
    assert not target.exists()
    assert not target.with_name("m.pth.part").exists()


def test_offline_and_not_cached_says_where_to_put_the_file(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYOUTFT_OFFLINE", "1")
    with pytest.raises(CheckpointError) as info:
        pretrained.weights_path("publaynet-mask-rcnn-r50")
    message = str(info.value)
    assert "LAYOUTFT_OFFLINE" in message
    assert str(cache_home / "weights" / "publaynet_mask_rcnn_R_50_FPN_3x.pth") in message


def test_cached_file_is_used_offline_and_names_resolve(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYOUTFT_OFFLINE", "1")
    cached = cache_home / "weights" / "publaynet_mask_rcnn_R_50_FPN_3x.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(_checkpoint(100))
    assert pretrained.resolve_weights("publaynet") == cached
    assert pretrained.resolve_weights(str(cached)) == cached
    with pytest.raises(CheckpointError, match="does not exist"):
        pretrained.resolve_weights(str(cache_home / "missing.pth"))


def test_cli_download_from_a_file_mirror(
    tmp_path: Path, cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, digest = _payload(tmp_path, size=100_000)
    card = pretrained.get_card("tablebank-faster-rcnn-r50")
    patched = pretrained.ModelCard(
        **{
            **card.__dict__,
            "url": "file:///nonexistent/x.pth",
            "mirrors": [src.as_uri()],
            "sha256": digest,
        }
    )
    monkeypatch.setattr(pretrained, "get_card", lambda name: patched)
    runner = CliRunner()
    result = runner.invoke(layoutft.cli.app, ["weights", "download", "tablebank", "-q"])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().splitlines()[-1])
    assert pretrained.file_sha256(path) == digest
    result = runner.invoke(layoutft.cli.app, ["weights", "path", "tablebank"])
    assert result.exit_code == 0 and result.output.strip() == str(path)


def test_cli_offline_error_is_one_line(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYOUTFT_OFFLINE", "1")
    result = CliRunner().invoke(layoutft.cli.app, ["weights", "download", "publaynet"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: publaynet-mask-rcnn-r50 is not cached")
    assert "Traceback" not in result.output


def test_shipped_configs_name_registry_weights() -> None:
    from importlib import resources

    from layoutft.config import load_config

    root = resources.files("layoutft.configs")
    for entry in root.iterdir():
        if entry.name.endswith(".yaml"):
            weights = str(load_config(Path(str(entry))).MODEL.WEIGHTS)
            assert weights == "" or pretrained.is_model_name(weights), (entry.name, weights)


def test_bundled_model_ships_in_the_package_with_its_card() -> None:
    card = pretrained.get_card(pretrained.BUNDLED_MODEL)
    assert card.kind == "bundled"
    path = pretrained.weights_path(card.name, download=False)
    assert path.stat().st_size <= 40 * 2**20
    assert card.training_command and "layoutft train" in card.training_command
    assert card.accuracy is not None and card.accuracy["metric"] == "bbox AP50"
    from layoutft.checkpoint import load_weights

    loaded = load_weights(path)
    assert loaded.source_format == "layoutft"
    assert loaded.labels == card.labels
