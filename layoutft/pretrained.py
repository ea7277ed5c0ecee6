"""The model registry: known public checkpoints, a local cache, and safe downloads.

The manifest (``pretrained/manifest.yaml``, shipped as ``layoutft.pretrained_data``)
names every checkpoint with its URL, config, label map and card. Files are cached
under ``$LAYOUTFT_HOME/weights`` (default ``~/.cache/layoutft/weights``). A
download goes to ``<file>.part`` (resumed with an HTTP Range request or a seek for
``file://`` URLs; a server that ignores Range sends the whole file again), must declare
and deliver its full length, must look like a checkpoint (zip or legacy torch file,
pickle; an HTML error page is refused), is checked against the manifest's size and
sha256, then renamed atomically. Its size and sha256 are recorded beside it
(``<file>.verified.json``; trust on first use where the manifest has no checksum) and
checked on every use; ``layoutft weights verify`` re-hashes, ``layoutft weights download
NAME --force`` replaces a bad file. ``LAYOUTFT_DOWNLOAD_TIMEOUT`` (seconds, default 60)
bounds each wait for the server. ``LAYOUTFT_OFFLINE=1`` forbids network access.

No torch import here: ``layoutft weights list`` stays instant.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from layoutft.download import download_timeout, fetch_part
from layoutft.errors import CheckpointError

_CHUNK = 1 << 20
# The bundled default model ships inside the package: no download, works offline.
BUNDLED_MODEL = "layoutft-doclaynet-narrow-r50"


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
    #: the model exported by `layoutft export -f onnx` (bundled models: beside the .pth)
    onnx: str | None = None

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


def onnx_path(name: str) -> Path | None:
    """The ONNX export of a registered model (the ONNX backend's file), None when it has
    none. Bundled exports ship inside the package; CheckpointError when one is missing."""
    card = get_card(name)
    if card.onnx is None:
        return None
    if card.kind != "bundled":
        return None  # only bundled models ship an export; the others are torch checkpoints
    path = Path(str(resources.files("layoutft.pretrained_data").joinpath(card.onnx)))
    if not path.exists():
        raise CheckpointError(
            f"the bundled ONNX model {path} is missing from this installation; reinstall layoutft"
        )
    return path


def record_path(path: Path) -> Path:
    """The JSON sidecar of a cached file: its size and sha256 when first verified."""
    return path.with_name(path.name + ".verified.json")


def redownload_hint(card: ModelCard) -> str:
    return f"re-download it with `layoutft weights download {card.name} --force`"


def weights_path(
    name: str,
    *,
    download: bool = True,
    progress: bool | None = None,
    timeout: float | None = None,
) -> Path:
    """Local path of a registered model's weights, downloading it when needed.

    A cached file is checked against the record made when it was first verified (size
    every time; sha256 when the file changed since, or is small); a file without a
    record is checked (format, the manifest's size/sha256) and recorded (trust on first
    use). Raises CheckpointError when the cached file fails those checks (saying how to
    re-download it), or when offline (``LAYOUTFT_OFFLINE=1`` or ``download=False``) and
    the file is not cached, saying where to put the file.
    """
    card = get_card(name)
    path = cached_path(card)
    if path.exists():
        if card.kind != "bundled":
            try:
                check_cached(card)
            except OSError as exc:
                raise CheckpointError(
                    f"cannot read cached weights {path} ({exc.strerror or exc}); "
                    f"{redownload_hint(card)}"
                ) from None
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
    return download_card(card, progress=progress, timeout=timeout)


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


# ----- verification of cached files ---------------------------------------------------------
# a file up to this size is re-hashed on every use; a larger one when its size or mtime
# differs from its record (and always by `layoutft weights verify`)
HASH_ON_USE_BYTES = 64 * 2**20


def cache_state(card: ModelCard) -> str:
    """``cached``, ``changed`` (differs from its record), ``unverified`` (no record yet),
    ``partial`` (an interrupted download) or ``-``; cheap (no hashing)."""
    path = cached_path(card)
    if not path.exists():
        part = path.with_name(path.name + ".part")
        return "partial" if card.kind != "bundled" and part.exists() else "-"
    if card.kind == "bundled":
        return "cached"
    record = _read_record(path)
    if record is None:
        return "unverified"
    return "cached" if path.stat().st_size == record["size"] else "changed"


def check_cached(card: ModelCard, *, full: bool = False) -> dict[str, Any]:
    """Check a cached file against its record (making the record on first use).

    The size is always compared; the sha256 when ``full``, when the file is small
    (``HASH_ON_USE_BYTES``) or when its size/mtime differ from the record. Returns the
    record. Raises CheckpointError naming the file, what differs and how to re-download.
    """
    path = cached_path(card)
    stat = path.stat()
    record = _read_record(path)
    if record is None:  # trust on first use (or the manifest's size/sha256)
        return _first_use(path, card)
    if stat.st_size != record["size"]:
        raise CheckpointError(
            f"cached weights {path} are {stat.st_size} bytes but were {record['size']} when "
            f"verified (truncated or modified); {redownload_hint(card)}"
        )
    changed = stat.st_mtime_ns != record.get("mtime_ns")
    if full or changed or stat.st_size <= HASH_ON_USE_BYTES:
        digest = file_sha256(path)
        expected = (card.sha256 or record["sha256"]).lower()
        if digest != expected:
            source = "the manifest's" if card.sha256 else "the one recorded when first verified"
            raise CheckpointError(
                f"cached weights {path} changed since they were verified (sha256 {digest} is "
                f"not {source}); {redownload_hint(card)}"
            )
        if changed:  # same content, touched: remember the new mtime
            _write_record(path, digest, str(record.get("source", "first use")))
    return record


def remove_cached(card: ModelCard) -> None:
    """Delete a card's cached file, its record and any partial download."""
    path = cached_path(card)
    for victim in (path, record_path(path), path.with_name(path.name + ".part")):
        victim.unlink(missing_ok=True)


def _read_record(path: Path) -> dict[str, Any] | None:
    import json

    try:
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("size"), int)
        and isinstance(record.get("sha256"), str)
    ):
        return None
    return record


def _write_record(path: Path, digest: str, source: str) -> None:
    import json

    from layoutft.outputs import write_text_atomic

    stat = path.stat()
    record = {
        "file": path.name,
        "size": stat.st_size,
        "sha256": digest,
        "mtime_ns": stat.st_mtime_ns,
        "source": source,
    }
    target = record_path(path)
    # best effort: a read-only cache is still checked against the manifest
    with contextlib.suppress(OSError):
        write_text_atomic(target, json.dumps(record, indent=1))


def _verify_file(path: Path, url: str, card: ModelCard | None, *, keep: bool) -> str:
    """Format, size and sha256 checks of ``path``; returns its sha256. ``keep``: the file
    is in the cache already (a failure says how to re-download it); else it is a
    download's part file, removed on failure."""
    hint = redownload_hint(card) if card is not None and keep else "retry the download"
    where = str(path) if keep else url

    def fail(message: str) -> CheckpointError:
        if not keep:
            path.unlink(missing_ok=True)
        return CheckpointError(f"{where}: {message}; {hint}")

    if checkpoint_kind(path) is None:
        raise fail(
            f"{describe_content(path)}, not a checkpoint (expected a zip-based torch file, "
            "a legacy torch file or a pickled .pkl)"
        )
    size = card.size if card is not None else None
    actual = path.stat().st_size
    if size is not None and actual != size:
        raise fail(f"got {actual} bytes, expected {size}")
    digest = file_sha256(path)
    expected = card.sha256 if card is not None else None
    if expected is not None and digest != expected.lower():
        raise fail(f"sha256 {digest} does not match the manifest's {expected}")
    if size is None or expected is None:  # nothing else tells a file cut short
        problem = _load_problem(path)
        if problem is not None:
            raise fail(f"does not load as weights ({problem})")
    return digest


def _load_problem(path: Path) -> str | None:
    """Why ``path`` does not load as a checkpoint (unreadable, cut short, no tensor or
    array in it), or None when it does. Loaded as training and parsing will (without
    running code from it); its layout is checked when it is used."""
    from layoutft.checkpoint.safe_load import read_checkpoint

    try:
        _, obj = read_checkpoint(path)
    except CheckpointError as err:
        return str(err).removeprefix(f"{path}: ").split("; expected")[0].split(". ")[0]
    return None if _count_tensors(obj) else "it holds no tensor"


def _count_tensors(obj: Any, depth: int = 0) -> int:
    """Tensors and numpy arrays in ``obj`` and the dicts and lists in it (4 levels)."""
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return 1
    if depth >= 4:
        return 0
    if isinstance(obj, dict):
        return sum(_count_tensors(v, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_count_tensors(v, depth + 1) for v in obj)
    return 0


def _first_use(path: Path, card: ModelCard) -> dict[str, Any]:
    """Verify a cached file that has no record yet and record it."""
    digest = _verify_file(path, card.url or str(path), card, keep=True)
    _write_record(path, digest, _source(card))
    return {"size": path.stat().st_size, "sha256": digest, "source": _source(card)}


def _source(card: ModelCard | None) -> str:
    return "manifest" if card is not None and card.sha256 else "first use"


# ----- recognising checkpoints by their first bytes ------------------------------------------
_ZIP_MAGIC = b"PK\x03\x04"
# torch.save's legacy format: a protocol-2 pickle of the magic number 0x1950a86a20f9469cfc6c
_LEGACY_TORCH = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"


def checkpoint_kind(path: Path) -> str | None:
    """``zip`` (torch), ``legacy-torch``, ``pickle`` (detectron2/Caffe2 .pkl) or None,
    from the file's first bytes."""
    import re

    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head.startswith(_LEGACY_TORCH):
        return "legacy-torch"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"  # protocols 2-5
    # protocols 0/1 (Python 2 era Detectron files): MARK, EMPTY_DICT/LIST or GLOBAL module\nname
    if head[:1] in (b"(", b"}", b"]") or re.match(rb"c[\w.]+\n\w+\n", head):
        return "pickle"
    return None


def describe_content(path: Path) -> str:
    """What a non-checkpoint file looks like (HTML, text, empty...), never its content."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    if not head:
        return "an empty file"
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "an HTML page (an error or login page?)"
    if text.startswith((b"{", b"[")):
        return "JSON text"
    if text.startswith(b"<"):
        return "an XML/HTML document"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "an unrecognised binary file"
    return "a text file"


# ----- downloads (the transfer itself: layoutft.download) --------------------------------------
def download_card(
    card: ModelCard, *, progress: bool | None = None, timeout: float | None = None
) -> Path:
    """Download a card's file into the cache (resumable, verified, atomic)."""
    if card.url is None:
        raise CheckpointError(f"{card.name} has no download URL")
    target = cached_path(card)
    errors: list[str] = []
    for url in [card.url, *card.mirrors]:
        try:
            return download(url, target, card=card, progress=progress, timeout=timeout)
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
    timeout: float | None = None,
    card: ModelCard | None = None,
) -> Path:
    """Fetch ``url`` to ``target``: resume ``target.part``, verify, rename atomically.

    The server's declared length is checked (a connection closed early keeps the part
    file, to be resumed by the next call); a server that ignores the Range request
    sends the whole file again, which replaces the part file. The result must look like
    a checkpoint (zip/legacy torch file or pickle: an HTML page is refused) and match
    ``size``/``sha256`` (or the card's); its size and sha256 are recorded next to it
    (``<file>.verified.json``). ``timeout``: seconds to wait for the server (default
    :func:`~layoutft.download.download_timeout`); the transfer is
    :func:`~layoutft.download.fetch_part`. ``file://`` URLs are supported (tests, local mirrors).
    Every failure is a one-line CheckpointError.
    """
    if card is None and (sha256 is not None or size is not None):
        card = ModelCard(
            name=target.name, kind="file", description="", url=url, filename=target.name,
            config="", labels=None, size=size, sha256=sha256,
        )  # fmt: skip
    elif card is not None:
        size = card.size
    wait = download_timeout() if timeout is None else timeout
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    fetch_part(url, part, size=size, progress=progress, timeout=wait, name=target.name)
    digest = _verify_file(part, url, card, keep=False)
    os.replace(part, target)
    _write_record(target, digest, _source(card))
    return target


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
