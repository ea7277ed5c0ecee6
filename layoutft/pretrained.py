"""The model registry: known public checkpoints, a local cache, and safe downloads.

The manifest (``pretrained/manifest.yaml``, shipped as ``layoutft.pretrained_data``)
names every checkpoint with its URL, config, label map and card. Files are cached
under ``$LAYOUTFT_HOME/weights`` (default ``~/.cache/layoutft/weights``). A
download goes to ``<file>.part`` (resumed with an HTTP Range request or a seek for
``file://`` URLs), is checked against the manifest's size and sha256, then renamed
atomically. ``LAYOUTFT_OFFLINE=1`` forbids network access.

No torch import here: ``layoutft weights list`` stays instant.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from layoutft.errors import CheckpointError

_CHUNK = 1 << 20
# The bundled default model ships inside the package: no download, works offline.
BUNDLED_MODEL = "layoutft-synth-narrow-r50"


@dataclass(frozen=True)
class ModelCard:
    """One registry entry; ``labels`` are class names in model order (index 0 first)."""

    name: str
    kind: str  # "detector" | "backbone" | "bundled"
    description: str
    url: str | None
    filename: str
    config: str
    labels: list[str] | None
    mirrors: list[str] = field(default_factory=list)
    size: int | None = None
    sha256: str | None = None
    training_data: str | None = None
    license: str | None = None
    accuracy: dict[str, Any] | None = None
    training_command: str | None = None

    @property
    def config_path(self) -> Path:
        """Absolute path of the config file shipped in ``layoutft.configs``."""
        return Path(str(resources.files("layoutft.configs").joinpath(self.config)))

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [])}


@cache
def _manifest() -> dict[str, Any]:
    text = resources.files("layoutft.pretrained_data").joinpath("manifest.yaml").read_text()
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "models" not in data:
        raise CheckpointError("layoutft's pretrained/manifest.yaml is malformed (no 'models' map)")
    return data


def list_models(kind: str | None = None) -> list[ModelCard]:
    """All registry entries (optionally of one kind), in manifest order."""
    cards = [_card(name, entry) for name, entry in _manifest()["models"].items()]
    return [c for c in cards if kind is None or c.kind == kind]


def _card(name: str, entry: dict[str, Any]) -> ModelCard:
    known = set(ModelCard.__dataclass_fields__) - {"name"}
    return ModelCard(name=name, **{k: v for k, v in entry.items() if k in known})


def get_card(name: str) -> ModelCard:
    """The card of a registered model or alias; CheckpointError naming close matches."""
    manifest = _manifest()
    name = manifest.get("aliases", {}).get(name, name)
    entry = manifest["models"].get(name)
    if entry is None:
        import difflib

        candidates = [*manifest["models"], *manifest.get("aliases", {})]
        close = difflib.get_close_matches(name, candidates, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CheckpointError(
            f"unknown model name {name!r}{hint} (see `layoutft weights list`, or pass a file path)"
        )
    return _card(name, entry)


def is_model_name(name_or_path: str) -> bool:
    """True when the string names a registry entry or alias rather than a file."""
    manifest = _manifest()
    return name_or_path in manifest["models"] or name_or_path in manifest.get("aliases", {})


def home() -> Path:
    """layoutft's cache root: ``$LAYOUTFT_HOME`` or ``~/.cache/layoutft``."""
    env = os.environ.get("LAYOUTFT_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "layoutft"


def offline() -> bool:
    return os.environ.get("LAYOUTFT_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def cached_path(card: ModelCard) -> Path:
    """Where the card's file lives (bundled files live inside the package)."""
    if card.kind == "bundled":
        return Path(str(resources.files("layoutft.pretrained_data").joinpath(card.filename)))
    return home() / "weights" / card.filename


def weights_path(name: str, *, download: bool = True, progress: bool | None = None) -> Path:
    """Local path of a registered model's weights, downloading it when needed.

    Raises CheckpointError when offline (``LAYOUTFT_OFFLINE=1`` or ``download=False``)
    and the file is not cached, saying where to put the file.
    """
    card = get_card(name)
    path = cached_path(card)
    if path.exists():
        return path
    if card.kind == "bundled":
        raise CheckpointError(
            f"the bundled model file {path} is missing from this installation; reinstall layoutft"
        )
    if offline() or not download:
        why = "LAYOUTFT_OFFLINE is set" if offline() else "downloads are disabled"
        raise CheckpointError(
            f"{card.name} is not cached and {why}; download {card.url} and save it as {path} "
            f"(or run `layoutft weights download {card.name}` where the network is available)"
        )
    return download_card(card, progress=progress)


def resolve_weights(name_or_path: str | os.PathLike[str]) -> Path:
    """A weights argument as users give it: a registry name/alias or a file path."""
    text = os.fspath(name_or_path)
    if is_model_name(text):
        return weights_path(text)
    path = Path(text).expanduser()
    if not path.exists():
        raise CheckpointError(
            f"weights file {text} does not exist (nor is it a registry name: "
            f"see `layoutft weights list`)"
        )
    return path


def download_card(card: ModelCard, *, progress: bool | None = None) -> Path:
    """Download a card's file into the cache (resumable, verified, atomic)."""
    if card.url is None:
        raise CheckpointError(f"{card.name} has no download URL")
    target = cached_path(card)
    errors: list[str] = []
    for url in [card.url, *card.mirrors]:
        try:
            return download(url, target, sha256=card.sha256, size=card.size, progress=progress)
        except CheckpointError as exc:
            errors.append(str(exc))
    raise CheckpointError(f"could not download {card.name}: " + " | ".join(errors))


def download(
    url: str,
    target: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Fetch ``url`` to ``target``: resume ``target.part``, verify, rename atomically.

    ``file://`` URLs are supported (tests, local mirrors). A checksum or size
    mismatch deletes the partial file and raises CheckpointError.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    try:
        stream, total = _open(url, offset)
    except (OSError, urllib.error.URLError, ValueError) as exc:
        raise CheckpointError(f"cannot download {url}: {exc}") from None
    if total is None and size is not None:
        total = size
    with stream, open(part, "ab" if offset else "wb") as out:
        _copy(stream, out, _progress_bar(target.name, offset, total, progress))
    _verify(part, url, sha256=sha256, size=size)
    os.replace(part, target)
    return target


def _open(url: str, offset: int) -> tuple[BinaryIO, int | None]:
    """Open ``url`` positioned at ``offset``; returns the stream and the full size."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        handle = open(path, "rb")  # noqa: SIM115 (the caller closes it)
        handle.seek(offset)
        return handle, path.stat().st_size
    request = urllib.request.Request(url, headers={"User-Agent": "layoutft"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    response = urllib.request.urlopen(request, timeout=60)
    length = response.headers.get("Content-Length")
    if offset and response.status != 206:
        raise OSError("the server ignored the resume request; delete the .part file and retry")
    total = int(length) + offset if length is not None else None
    return response, total


def _copy(stream: BinaryIO, out: BinaryIO, update: Callable[[int], None]) -> None:
    while chunk := stream.read(_CHUNK):
        out.write(chunk)
        update(len(chunk))
    update(0)


def _progress_bar(
    name: str, offset: int, total: int | None, enabled: bool | None
) -> Callable[[int], None]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=name, file=sys.stderr)

    def update(n: int) -> None:
        if n:
            bar.update(n)
        else:
            bar.close()

    return update


def _verify(part: Path, url: str, *, sha256: str | None, size: int | None) -> None:
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        part.unlink()
        raise CheckpointError(f"{url}: got {actual_size} bytes, expected {size}; removed")
    if sha256 is not None:
        digest = file_sha256(part)
        if digest != sha256.lower():
            part.unlink()
            raise CheckpointError(
                f"{url}: sha256 {digest} does not match the manifest's {sha256}; "
                "the partial file was removed, retry the download"
            )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
