"""Source-balanced sampling (LAYOUTFT.DATALOADER.SAMPLER_TRAIN SourceBalancedSampler):
shares per source, determinism, resume, DDP shards, orientation groups, config errors."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import numpy as np
import pytest

from layoutft.config import default_config
from layoutft.data.loader import PageRecord, TrainBatchSampler, source_weights
from layoutft.data.settings import DataSettings
from layoutft.errors import ConfigError, DatasetError


def keys(sampler: TrainBatchSampler, n: int) -> list[list[tuple[int, int]]]:
    return list(islice(iter(sampler), n))


# three sources of very different sizes: 3, 40 and 200 pages; some landscape pages
SIZES = (3, 40, 200)
SOURCES = [s for s, n in enumerate(SIZES) for _ in range(n)]
LANDSCAPE = [i % 7 == 0 for i in range(len(SOURCES))]


def balanced(weights: list[float] | None, **kw: object) -> TrainBatchSampler:
    return TrainBatchSampler(
        LANDSCAPE,
        4,
        seed=3,
        sources=SOURCES,
        weights=weights,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 1.0], [0.0, 1.0, 3.0]])
def test_shares_per_source_match_the_weights(weights: list[float] | None) -> None:
    draws = 4 * 5000  # 5000 batches of 4
    batches = keys(balanced(weights), draws // 4)
    counts = Counter(SOURCES[i] for batch in batches for i, _ in batch)
    w = np.ones(3) if weights is None else np.asarray(weights)
    expected = w / w.sum()
    for s in range(3):  # binomial sd at n=20000 is <= 0.0036: 0.012 is > 3 sd
        assert abs(counts[s] / draws - expected[s]) < 0.012, (s, counts)
    if weights is not None and weights[0] == 0:
        assert counts[0] == 0
    # each batch holds one orientation
    assert all(len({LANDSCAPE[i] for i, _ in b}) == 1 for b in batches)


def test_small_source_cycles_through_all_its_pages_before_repeating() -> None:
    stream = list(islice(balanced(None).page_stream(), 3000))
    small = [i for i in stream if SOURCES[i] == 0]
    assert len(small) > 30
    for k in range(0, len(small) - 2, 3):  # every cycle of 3 draws is a permutation
        assert sorted(small[k : k + 3]) == [0, 1, 2]


def test_same_seed_same_order_other_seed_other_order() -> None:
    a = keys(balanced([1.0, 2.0, 1.0]), 50)
    assert a == keys(balanced([1.0, 2.0, 1.0]), 50)
    other = TrainBatchSampler(LANDSCAPE, 4, seed=4, sources=SOURCES, weights=[1.0, 2.0, 1.0])
    assert keys(other, 50) != a
    # a plain sampler on the same pages draws another order
    assert keys(TrainBatchSampler(LANDSCAPE, 4, seed=3), 50) != a


def test_resume_replays_the_rest_exactly() -> None:
    # past the first chunk of source choices (4096 draws = 1024 batches)
    full = keys(balanced([1.0, 2.0, 1.0]), 1100)
    for start in (0, 7, 1023, 1030):
        resumed = keys(balanced([1.0, 2.0, 1.0], start_iter=start), 1100 - start)
        assert resumed == full[start:], start


def test_ranks_split_each_global_batch_disjointly() -> None:
    single = keys(balanced(None), 40)
    ranks = [keys(balanced(None, rank=r, world_size=2), 40) for r in (0, 1)]
    for k in range(40):
        assert ranks[0][k] + ranks[1][k] == single[k]
        assert len(ranks[0][k]) == len(ranks[1][k]) == 2
    # same page twice in one global batch only when a source has fewer pages than the
    # batch; the two ranks' keys never coincide (distinct sample seeds)
    for k in range(40):
        assert not set(ranks[0][k]) & set(ranks[1][k])


def test_bad_weights_are_refused() -> None:
    with pytest.raises(DatasetError, match="finite source weights"):
        balanced([1.0, 1.0])
    with pytest.raises(DatasetError, match="not all 0"):
        balanced([0.0, 0.0, 0.0])
    with pytest.raises(DatasetError, match="finite source weights"):
        balanced([1.0, -1.0, 1.0])


def page(source: str) -> PageRecord:
    none = np.zeros((0, 4), np.float32)
    return PageRecord(0, __file__, 10, 10, none, np.zeros(0, np.int64), [], source)  # type: ignore[arg-type]


def test_source_weights_from_the_config() -> None:
    pages = [page("exams"), page("ctdar"), page("exams"), page("")]
    cfg = default_config()
    cfg.LAYOUTFT.DATALOADER.SOURCE_WEIGHTS = [["exams", 3.0], ["ctdar", 0]]
    index, weights = source_weights(pages, DataSettings.from_config(cfg).source_weights)
    # sorted names: "", ctdar, exams; unlisted "" weighs 1.0
    assert index == [2, 1, 2, 0] and weights == [1.0, 0.0, 3.0]
    with pytest.raises(ConfigError, match=r"names \['exam'\], which no training page has"):
        source_weights(pages, [("exam", 1.0)])
    with pytest.raises(ConfigError, match=r"every training source \(\['', 'ctdar'\]\) weight 0"):
        source_weights(pages[1:2] + pages[3:], [("ctdar", 0.0), ("", 0.0)])
    cfg.LAYOUTFT.DATALOADER.SOURCE_WEIGHTS = [["exams"]]
    with pytest.raises(ConfigError, match=r"write \[name, weight\]"):
        DataSettings.from_config(cfg)
