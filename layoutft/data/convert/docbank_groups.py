"""Grouping DocBank tokens into PubLayNet-style regions (lines, blocks, paragraphs, areas);
the rules are in :mod:`layoutft.data.convert.docbank`'s docstring. Coordinates are image
pixels (top-left origin). No file is read here.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from layoutft.geometry import linked_groups

#: Labels grouped by area (union of neighbouring tokens) rather than by lines.
AREA_LABELS = frozenset({"figure", "table"})
#: Text labels whose blocks are split into paragraphs (indent, short last line).
PARAGRAPH_LABELS = frozenset({"paragraph", "abstract", "footer"})
#: Fewest text rows (median tokens over an x position) for detecting column gutters.
MIN_COLUMN_ROWS = 5
#: Tokens taller than this many ems are cut to the height of the line they join.
TALL = 1.6
_NUMBER_LIKE = re.compile(r"^\(?[\w.\-\u2013\u2032*']{1,8}\)?[.,;]?$")
_EQ_NUMBER = re.compile(r"^\([0-9][\w.\-\u2013]{0,7}\)$")
_PAGE_NUMBER = re.compile(
    r"^[-\u2013\u2014]?(page)?([0-9]{1,4}|[ivxlcdm]{1,7})[-\u2013\u2014]?$", re.IGNORECASE
)
_REF_START = re.compile(r"^(\[[^\]\s]{1,12}\]|\(?[0-9]{1,3}[.)])")


@dataclass
class Token:
    """One DocBank token in image pixels (top-left origin), with its TXT line number."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    label: str
    lineno: int

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y1 - self.y0


@dataclass
class Group:
    """Tokens or lines drawn as one box; ``x0..y1`` is their union in pixels."""

    label: str
    tokens: list[Token] = field(default_factory=list)
    x0: float = float("inf")
    y0: float = float("inf")
    x1: float = float("-inf")
    y1: float = float("-inf")

    def add_box(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Grow the box to include ``(x0, y0, x1, y1)``."""
        self.x0, self.y0 = min(self.x0, x0), min(self.y0, y0)
        self.x1, self.y1 = max(self.x1, x1), max(self.y1, y1)

    def add(self, token: Token) -> None:
        """Add a token and grow the box."""
        self.tokens.append(token)
        self.add_box(token.x0, token.y0, token.x1, token.y1)

    def absorb(self, other: Group) -> None:
        """Take the tokens and the box of ``other`` (whose box may be cut, see ``_lines``)."""
        self.tokens += other.tokens
        self.add_box(other.x0, other.y0, other.x1, other.y1)

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y1 - self.y0

    @property
    def text(self) -> str:
        """Token texts joined by spaces (in the order added)."""
        return " ".join(t.text for t in self.tokens)

    def record(self) -> str:
        """The TXT lines it came from, for messages (``"lines 12-40"``)."""
        numbers = [t.lineno for t in self.tokens]
        lo, hi = min(numbers), max(numbers)
        return f"line {lo}" if lo == hi else f"lines {lo}-{hi}"


@dataclass
class Block:
    """Consecutive lines of one label in one column."""

    label: str
    lines: list[Group] = field(default_factory=list)
    closed: bool = False

    @property
    def x0(self) -> float:
        """Left edge of the block (pixels)."""
        return min(line.x0 for line in self.lines)

    @property
    def x1(self) -> float:
        """Right edge of the block (pixels)."""
        return max(line.x1 for line in self.lines)

    @property
    def y1(self) -> float:
        """Bottom edge of the block (pixels)."""
        return max(line.y1 for line in self.lines)


def group_tokens(tokens: list[Token], width: float, height: float) -> tuple[list[Group], int]:
    """Group a page's tokens (image pixels) into regions; see the module docstring.

    Returns:
        ``(regions, dropped)``: the regions in reading-ish order (top to bottom per kind)
        and the number of page numbers dropped.
    """
    text_tokens = [
        t
        for t in tokens
        if t.label not in AREA_LABELS
        and not t.text.startswith("##LT")
        and t.x1 > t.x0
        and t.y1 > t.y0
    ]
    heights = [t.height for t in text_tokens if t.label == "paragraph"] or [
        t.height for t in text_tokens
    ]
    em = statistics.median(heights) if heights else height / 100.0
    areas = {
        label: _near_tokens([t for t in tokens if t.label == label], label, em)
        for label in sorted(AREA_LABELS)
    }
    # Text drawn inside a figure or table (axis labels, cells labelled otherwise) is part of it.
    boxes = [_box(g) for groups in areas.values() for g in groups]
    text_tokens = [t for t in text_tokens if not any(_centre_in(b, _box(t)) for b in boxes)]
    gutters = _gutters(text_tokens, em, width)
    lines = _merge_equation_numbers(_lines(text_tokens, em, gutters), em, gutters)
    blocks = _equation_blocks(_caption_labels(_blocks(lines, em), em), em, gutters)
    regions: list[Group] = []
    for block in blocks:
        regions += _split_block(block, em)
    regions, dropped = _drop_running(regions, [g for gs in areas.values() for g in gs], em)
    text_regions = list(regions)
    for groups in areas.values():
        regions += _merge_areas(groups, text_regions, em, width)
    return regions, dropped


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _gutters(tokens: list[Token], em: float, width: float) -> list[float]:
    """x (pixels) of the gaps between text columns.

    A gutter is a band in the middle 60% of the text's width that few tokens cover (at most
    25% of the median coverage), with well-covered columns on both sides within 3 ems; pages
    whose median coverage is under :data:`MIN_COLUMN_ROWS` rows have none.
    """
    step = max(em / 4, 1.0)
    cover = [0] * (int(width / step) + 2)
    for t in tokens:
        for b in range(int(t.x0 / step), int(t.x1 / step) + 1):
            cover[b] += 1
    used = [i for i, c in enumerate(cover) if c]
    if len(used) < 10:
        return []
    lo, hi = used[0], used[-1]
    median = statistics.median(cover[lo : hi + 1])
    if median < MIN_COLUMN_ROWS:
        return []  # too few rows to tell a gutter from word gaps
    reach = int(3 * em / step) + 1
    gutters = []
    b = lo + int(0.2 * (hi - lo))
    while b <= hi - int(0.2 * (hi - lo)):
        if cover[b] > 0.25 * median:
            b += 1
            continue
        end = b
        while end + 1 <= hi and cover[end + 1] <= 0.25 * median:
            end += 1
        left = max(cover[max(lo, b - reach) : b], default=0)
        right = max(cover[end + 1 : end + 1 + reach], default=0)
        if left >= 0.5 * median and right >= 0.5 * median:
            gutters.append((b + end + 1) / 2 * step)
        b = end + 1
    return gutters


def _apart(x1: float, x0: float, em: float, gutters: list[float]) -> bool:
    """Whether a gap from ``x1`` (end of the left piece) to ``x0`` (start of the right one)
    separates two lines: wider than a word gap, or a column gutter."""
    gap = x0 - x1
    return gap > 1.2 * em or (gap >= 0.4 * em and any(x1 <= g <= x0 for g in gutters))


def _lines(tokens: list[Token], em: float, gutters: list[float]) -> list[Group]:
    """Tokens on one baseline with word-sized gaps, left to right; majority label.

    Tokens taller than :data:`TALL` ems (big delimiters, whose PDF boxes often reach far
    above the glyph) join the line beside them with their box cut to that line's height.
    """
    tall = [t for t in tokens if t.height > TALL * em]
    lines = _baseline_lines([t for t in tokens if t.height <= TALL * em], em, gutters)
    leftover = []
    for token in sorted(tall, key=lambda t: t.x0):
        best: Group | None = None
        best_ov = 0.0
        for line in lines:
            if token.x0 >= line.x1:
                apart = _apart(line.x1, token.x0, em, gutters)
            else:
                apart = _apart(token.x1, line.x0, em, gutters)
            ov = _overlap(token.y0, token.y1, line.y0, line.y1)
            if not apart and ov >= 0.5 * line.height and ov > best_ov:
                best, best_ov = line, ov
        if best is None:
            leftover.append(token)
        else:
            best.tokens.append(token)
            best.add_box(token.x0, best.y0, token.x1, best.y1)
    lines = _join_rows(lines + _baseline_lines(leftover, em, gutters), em, gutters)
    for line in lines:
        line.label = _label(line)
    return lines


def _label(line: Group) -> str:
    """The majority label of a line's tokens (ties: its first token's)."""
    counts = Counter(t.label for t in line.tokens)
    return max(counts, key=lambda k: (counts[k], k == line.tokens[0].label))


def _join_rows(lines: list[Group], em: float, gutters: list[float]) -> list[Group]:
    """Join line pieces of one row that are a word gap apart (after tall tokens bridged them)."""
    lines = sorted(lines, key=lambda ln: ln.x0)
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(lines):
            for left in lines[:i]:
                ov = _overlap(line.y0, line.y1, left.y0, left.y1)
                apart = _apart(left.x1, line.x0, em, gutters)
                if apart and line.x0 - left.x1 <= 2.5 * em and _label(left) == _label(line):
                    # "1.5   Plan of the paper": a heading's number a quad away
                    apart = any(left.x1 <= g <= line.x0 for g in gutters)
                if not apart and ov >= 0.5 * min(line.height, left.height):
                    left.absorb(line)
                    del lines[i]
                    changed = True
                    break
            if changed:
                break
    return lines


def _baseline_lines(tokens: list[Token], em: float, gutters: list[float]) -> list[Group]:
    open_lines: list[Group] = []
    for token in sorted(tokens, key=lambda t: (t.x0, t.y0)):
        best: Group | None = None
        best_key = (0.0, 0.0)
        for line in open_lines:
            core0, core1 = line.tokens[0].y0, line.tokens[0].y1
            ov = _overlap(token.y0, token.y1, min(core0, line.y0), max(core1, line.y1))
            ov_core = _overlap(token.y0, token.y1, core0, core1)
            gap = token.x0 - line.x1  # negative: inside the line (a subscript under a symbol)
            if _apart(line.x1, token.x0, em, gutters):
                continue
            if ov_core < 0.5 * min(token.height, core1 - core0) and ov < 0.8 * token.height:
                continue
            key = (ov_core, -abs(gap))
            if best is None or key > best_key:
                best, best_key = line, key
        if best is None:
            best = Group(token.label)
            open_lines.append(best)
        best.add(token)
    return open_lines


def _merge_equation_numbers(lines: list[Group], em: float, gutters: list[float]) -> list[Group]:
    """An equation number (of any label when in parentheses) or an equation part a few ems
    away joins the equation segment on its left in the same row."""
    candidates = sorted(
        (
            ln
            for ln in lines
            if ln.label == "equation" or _EQ_NUMBER.match(ln.text.replace(" ", ""))
        ),
        key=lambda ln: ln.x0,
    )
    merged: set[int] = set()
    for i, seg in enumerate(candidates):
        number = bool(
            (_NUMBER_LIKE if seg.label == "equation" else _EQ_NUMBER).match(
                seg.text.replace(" ", "")
            )
        )
        target: Group | None = None
        for left in candidates[:i]:
            if id(left) in merged or left.label != "equation" or left.x1 > seg.x0 + 0.5 * em:
                continue
            if _overlap(seg.y0, seg.y1, left.y0, left.y1) < 0.5 * min(seg.height, left.height):
                continue
            gap = seg.x0 - left.x1
            if any(left.x1 <= g <= seg.x0 for g in gutters):
                continue
            near = gap <= 3 * em and seg.label == "equation"
            if (number or near) and (target is None or left.x1 > target.x1):
                target = left
        if target is not None:
            target.absorb(seg)
            merged.add(id(seg))
    return [ln for ln in lines if id(ln) not in merged]


def _max_gap(label: str, em: float) -> float:
    """Largest vertical gap between two lines of one block."""
    if label == "list":
        return 3.0 * em
    if label == "equation":
        return 1.5 * em
    return 1.0 * em


def _fits(block: Block, line: Group, em: float) -> bool:
    """Whether ``line`` continues ``block`` horizontally (same column, aligned)."""
    last = block.lines[-1]
    if _overlap(line.x0, line.x1, last.x0, last.x1) <= 0:
        return False
    if block.label == "equation":
        return True
    x0, x1 = block.x0, block.x1
    centred = abs((line.x0 + line.x1) - (x0 + x1)) / 2 <= 2 * em
    inside = line.x0 >= x0 - 3 * em and line.x1 <= x1 + 2 * em
    return centred or inside


def _blocks(lines: list[Group], em: float) -> list[Block]:
    """Consecutive lines of one label in one column with normal spacing."""
    blocks: list[Block] = []
    for line in sorted(lines, key=lambda ln: (ln.y0, ln.x0)):
        best: Block | None = None
        best_gap = 0.0
        for block in blocks:
            if block.closed or block.label != line.label:
                continue
            gap = line.y0 - block.lines[-1].y1
            low = -float("inf") if line.label == "equation" else -0.5 * em
            if gap > _max_gap(line.label, em) or gap < low:
                continue
            if not _fits(block, line, em):
                continue
            if best is None or gap < best_gap:
                best, best_gap = block, gap
        for block in blocks:
            # A line between a block and what follows ends that block.
            if (
                block is not best
                and not block.closed
                and block.y1 <= line.y0 + 0.5 * em
                and _overlap(line.x0, line.x1, block.x0, block.x1) > 0
            ):
                block.closed = True
        if best is None:
            best = Block(line.label)
            blocks.append(best)
        best.lines.append(line)
    return blocks


def _equation_blocks(blocks: list[Block], em: float, gutters: list[float]) -> list[Block]:
    """Pieces of one display equation (``u =`` beside a fraction, a limit under a sum)
    become one block: equation blocks side by side within 3 ems, or stacked within 1 em."""
    eqs = [b for b in blocks if b.label == "equation"]
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(eqs):
            for b in eqs[i + 1 :]:
                ay0, by0 = min(ln.y0 for ln in a.lines), min(ln.y0 for ln in b.lines)
                v_ov = _overlap(ay0, a.y1, by0, b.y1)
                h_ov = _overlap(a.x0, a.x1, b.x0, b.x1)
                left, right = (a, b) if a.x0 <= b.x0 else (b, a)
                side = (
                    v_ov >= 0.3 * min(a.y1 - ay0, b.y1 - by0)
                    and -h_ov <= 3 * em
                    and not any(left.x1 <= g <= right.x0 for g in gutters)
                )
                if side or (h_ov > 0 and v_ov >= -em):
                    a.lines += b.lines
                    eqs.remove(b)
                    changed = True
                    break
            if changed:
                break
    kept = {id(b) for b in eqs}
    return [b for b in blocks if b.label != "equation" or id(b) in kept]


def _caption_labels(blocks: list[Block], em: float) -> list[Block]:
    """A short one-line block right above or below a caption (DocBank often labels a
    caption's ``TABLE IV`` line ``paragraph``) joins the caption."""
    captions = [b for b in blocks if b.label == "caption"]
    keep = []
    for block in blocks:
        line = block.lines[0]
        if block.label == "paragraph" and len(block.lines) == 1 and len(line.tokens) <= 3:
            for caption in captions:
                top = min(ln.y0 for ln in caption.lines)
                gap = max(top - line.y1, line.y0 - caption.y1)
                if gap <= em and _overlap(line.x0, line.x1, caption.x0, caption.x1) > 0:
                    caption.lines.append(line)
                    break
            else:
                keep.append(block)
        else:
            keep.append(block)
    return keep


def _split_block(block: Block, em: float) -> list[Group]:
    """One block as regions: paragraphs for text, entries for references, else one region."""
    lines = sorted(block.lines, key=lambda ln: ln.y0)
    starts = [0]
    if block.label in PARAGRAPH_LABELS or block.label == "reference":
        left = min(ln.x0 for ln in lines)
        right = max(ln.x1 for ln in lines)
        full = [ln.x1 >= right - 1.0 * em for ln in lines[:-1]]
        justified = len(full) >= 2 and sum(full) >= 0.6 * len(full)
        for i in range(1, len(lines)):
            prev, line = lines[i - 1], lines[i]
            indent = line.x0 - left
            if block.label == "reference":
                new = (indent <= 0.3 * em and prev.x0 - left >= 0.6 * em) or bool(
                    _REF_START.match(line.tokens[0].text) and indent <= 0.3 * em
                )
            else:
                new = 0.6 * em <= indent <= 4 * em and line.x1 >= right - 1.0 * em
            if justified and prev.x1 < right - 2.0 * em:
                new = True
            if new:
                starts.append(i)
    regions = []
    for a, b in zip(starts, [*starts[1:], len(lines)], strict=True):
        region = Group(block.label)
        for line in lines[a:b]:
            region.absorb(line)
        regions.append(region)
    return regions


def _drop_running(regions: list[Group], others: list[Group], em: float) -> tuple[list[Group], int]:
    """Drop page numbers, running headers and running footers (PubLayNet labels none).

    Dropped: a one-line ``paragraph`` of digits or roman numerals with nothing above or
    below it; and the one-line ``paragraph`` regions of the page's top (bottom) row when the
    row is at least 1.5 ems from everything below (above) it. ``others`` (figures, tables)
    count as page content but are never dropped.
    """
    everything = regions + others
    if len(everything) < 2:
        return regions, 0

    def one_line(r: Group) -> bool:
        return r.label == "paragraph" and r.height <= 2 * em

    text_ids = {id(r) for r in regions}
    drop: set[int] = set()
    for region in regions:
        rest = [r for r in everything if r is not region]
        if (
            one_line(region)
            and _PAGE_NUMBER.match(region.text.replace(" ", "")) is not None
            and (
                not any(r.y1 <= region.y0 for r in rest) or not any(r.y0 >= region.y1 for r in rest)
            )
        ):
            drop.add(id(region))
    for mirror in (False, True):  # the top row, then the bottom row (y mirrored)
        edges = {id(r): (-r.y1, -r.y0) if mirror else (r.y0, r.y1) for r in everything}
        first = min(everything, key=lambda r: edges[id(r)][0])
        row = [r for r in everything if edges[id(r)][0] < edges[id(first)][1]]
        below = [r for r in everything if edges[id(r)][0] >= edges[id(first)][1]]
        if (
            below
            and all(one_line(r) and id(r) in text_ids for r in row)
            and min(edges[id(r)][0] for r in below) - max(edges[id(r)][1] for r in row) >= 1.5 * em
        ):
            drop.update(id(r) for r in row)
    return [r for r in regions if id(r) not in drop], len(drop)


def _near_tokens(tokens: list[Token], label: str, em: float) -> list[Group]:
    """Figure/table tokens within a word gap of each other, united."""
    ordered = sorted(tokens, key=lambda t: (t.y0, t.x0))

    def links() -> Iterator[tuple[int, int]]:
        for i, a in enumerate(ordered):
            for j in range(i + 1, len(ordered)):
                b = ordered[j]
                if b.y0 > a.y1 + em:
                    break
                if _overlap(a.x0 - 1.5 * em, a.x1 + 1.5 * em, b.x0, b.x1) >= 0:
                    yield i, j

    groups = []
    for members in linked_groups(len(ordered), links()):
        group = Group(label)
        for i in members:
            group.add(ordered[i])
        groups.append(group)
    return groups


def _merge_areas(
    groups: list[Group], text_regions: list[Group], em: float, width: float
) -> list[Group]:
    """Neighbouring figure/table groups merge unless the union takes in a text region."""
    groups = list(groups)
    dx, dy = max(3 * em, 0.05 * width), 2 * em
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(groups):
            for b in groups[i + 1 :]:
                if (
                    _overlap(a.x0 - dx, a.x1 + dx, b.x0, b.x1) < 0
                    or _overlap(a.y0 - dy, a.y1 + dy, b.y0, b.y1) < 0
                ):
                    continue
                box = (min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))
                if any(_centre_in(box, _box(r)) for r in text_regions):
                    continue
                a.absorb(b)
                groups.remove(b)
                changed = True
                break
            if changed:
                break
    return [g for g in groups if g.width > 0 and g.height > 0]


def _box(item: Group | Token) -> tuple[float, float, float, float]:
    return item.x0, item.y0, item.x1, item.y1


def _centre_in(
    box: tuple[float, float, float, float], inner: tuple[float, float, float, float]
) -> bool:
    """Whether ``box`` contains the centre of ``inner`` (both XYXY)."""
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
