"""What a training source is, and the checks every source shares.

A source is one or more public git repositories pinned at a commit. Its module (one per
source in this package) lists the pages it trains on with :func:`scan`-style functions that
only ever look at the folders the source uses (never a test split or a visualization); this
module checks clones, hashes files, chooses and checks dev documents.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from layoutft.errors import DatasetError

#: Folder names a source never reads: the test splits reserved for independent evaluation
#: and the repositories' drawings of their own labels.
RESERVED_PARTS = frozenset({"TestSet", "test", "Visualization"})


@dataclass(frozen=True)
class Repo:
    """A public repository pinned at the commit the dev manifest was made from.

    Attributes:
        name: the repository's name, also the folder ``git clone`` makes.
        url: its GitHub address.
        commit: 40 hex digits.
    """

    name: str
    url: str
    commit: str

    @property
    def clone_command(self) -> str:
        """Shell commands that make a clone at the pinned commit."""
        return f"git clone {self.url} && git -C {self.name} checkout {self.commit}"


@dataclass(frozen=True)
class Page:
    """One training page of a source.

    Attributes:
        document: the document the page belongs to (dev sets hold out whole documents).
        image: the page image, ``<repo name>/<path in the repository>`` (posix).
        labels: the label files describing it, same form (a COCO file may describe many).
    """

    document: str
    image: str
    labels: tuple[str, ...]

    @property
    def files(self) -> tuple[str, ...]:
        """Image and label files."""
        return (self.image, *self.labels)


@dataclass
class Scan:
    """The pages a source found in its clones, and remarks (pages skipped and why)."""

    pages: list[Page] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceInfo:
    """Description of a source, shown by ``layoutft dataset list`` and kept in ``source.json``.

    Attributes:
        name: the name ``layoutft dataset build`` takes.
        title: one line saying what the pages are.
        repos: the repositories, pinned.
        licence: the licence as the repository states it.
        reads: folders (glob patterns, ``<repo>/...``) the build reads.
        splits: which of the repository's splits are used, and which are never read.
        fmt: the ``layoutft convert --from`` format of its labels.
        label_map: the built-in label map into DocLayNet's classes.
        labelled: DocLayNet classes labelled exhaustively on every page.
        documents: how pages are grouped into documents.
    """

    name: str
    title: str
    repos: tuple[Repo, ...]
    licence: str
    reads: tuple[str, ...]
    splits: str
    fmt: str
    label_map: str
    labelled: tuple[str, ...]
    documents: str


def check_reserved(paths: Iterable[str]) -> None:
    """Refuse any path inside a reserved folder (:data:`RESERVED_PARTS`).

    Sources build their page lists from the allowed folders only; this is the second lock.
    """
    for path in paths:
        bad = RESERVED_PARTS.intersection(PurePosixPath(path).parts)
        if bad:
            raise DatasetError(
                f"{path}: inside {sorted(bad)[0]}/, which is reserved for independent "
                "evaluation and never read"
            )


def git_head(clone: Path) -> str | None:
    """The commit checked out in ``clone``, or None when it is not a git work tree."""
    try:
        done = subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "--verify", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def match_clones(
    info: SourceInfo, clones: Sequence[Path], allow_other_commit: bool
) -> tuple[dict[str, Path], dict[str, str], list[str]]:
    """Which clone is which repository, and at which commit.

    A clone is matched to a repository by its pinned commit, else by its folder name
    (``git clone`` names it after the repository; a name may also end with the repository's
    name, e.g. ``Gallicorpora+HTR-imprime-17e-siecle``).

    Returns:
        ``(roots, commits, notes)``: clone folder and HEAD commit per repository name.

    Raises:
        DatasetError: a folder that is not a git clone, a clone no repository matches, a
            repository without a clone, or a clone at another commit (unless allowed).
    """
    roots: dict[str, Path] = {}
    commits: dict[str, str] = {}
    notes: list[str] = []
    for clone in clones:
        if not clone.is_dir():
            raise DatasetError(f"{clone}: not a folder; clone the source first ({_how(info)})")
        head = git_head(clone)
        if head is None:
            raise DatasetError(
                f"{clone}: not a git clone (git rev-parse HEAD failed); clone it with {_how(info)}"
            )
        repo = _which_repo(info, clone, head)
        if repo is None:
            names = ", ".join(r.name for r in info.repos)
            raise DatasetError(
                f"{clone}: at commit {head[:12]}, which is none of {info.name}'s repositories "
                f"({names}); keep the folder name git clone gives it"
            )
        if repo.name in roots:
            raise DatasetError(f"{clone}: {repo.name} given twice ({roots[repo.name]})")
        if head != repo.commit:
            message = f"{clone}: at commit {head[:12]}, not the pinned {repo.commit[:12]}"
            if not allow_other_commit:
                raise DatasetError(
                    f"{message}; run `git -C {clone} checkout {repo.commit}` or pass "
                    "--allow-other-commit (the dev files are still checked by hash)"
                )
            notes.append(message + " (--allow-other-commit)")
        roots[repo.name] = clone
        commits[repo.name] = head
    missing = [r for r in info.repos if r.name not in roots]
    if missing and len(info.repos) == 1:
        raise DatasetError(f"no clone of {missing[0].name} given ({_how(info)})")
    for repo in missing:
        notes.append(f"{repo.name}: no clone given; its pages are left out")
    return roots, commits, notes


def _which_repo(info: SourceInfo, clone: Path, head: str) -> Repo | None:
    for repo in info.repos:
        if head == repo.commit:
            return repo
    name = clone.resolve().name
    for repo in info.repos:
        if name == repo.name or name.endswith(f"+{repo.name}"):
            return repo
    return info.repos[0] if len(info.repos) == 1 else None


def _how(info: SourceInfo) -> str:
    return "; ".join(f"`{r.clone_command}`" for r in info.repos)


def local_path(roots: dict[str, Path], path: str) -> Path:
    """The file behind a ``<repo name>/<path>`` page path."""
    repo, _, rest = path.partition("/")
    return roots[repo] / rest


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def choose_dev_documents(
    pages: Sequence[Page],
    fraction: float = 0.12,
    min_pages: int = 50,
    max_fraction: float = 0.15,
) -> list[str]:
    """Documents to hold out: whole documents, about ``fraction`` of the pages.

    Documents are taken in the order of the SHA-256 of their names (a fixed order that
    depends on nothing else), skipping any that would push the dev set past
    ``max(max_fraction * pages, min_pages)``, until it holds ``max(fraction * pages,
    min_pages)`` pages or ``max_fraction`` of them, whichever is fewer. When no document
    fits, the smallest one.

    Returns:
        The chosen document names, sorted.
    """
    sizes: dict[str, int] = {}
    for page in pages:
        sizes[page.document] = sizes.get(page.document, 0) + 1
    total = sum(sizes.values())
    target = min(max(fraction * total, min_pages), max_fraction * total)
    cap = max(max_fraction * total, min(min_pages, target))
    chosen: list[str] = []
    held = 0
    order = sorted(sizes, key=lambda d: hashlib.sha256(d.encode("utf-8")).hexdigest())
    for doc in order:
        if held >= target:
            break
        if held + sizes[doc] > cap:
            continue
        chosen.append(doc)
        held += sizes[doc]
    if not chosen and sizes:
        chosen.append(min(order, key=lambda d: sizes[d]))
    return sorted(chosen)


def link_or_copy(source: Path, dest: Path) -> None:
    """Make ``dest`` a symbolic link to ``source`` (a copy where links are not allowed)."""
    import shutil

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        dest.symlink_to(source.resolve())
    except OSError:
        shutil.copyfile(source, dest)
