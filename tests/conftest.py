"""Shared test helpers: fixture paths and thread settings for a small CPU machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

FIXTURES = Path(__file__).parent / "fixtures"
PARITY_CASE = FIXTURES / "d2_parity" / "narrow_r50_mask"


def fixture_path(*parts: str) -> Path:
    """Path of a file shipped under tests/fixtures/."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(path)
    return path


@pytest.fixture
def parity_case() -> Path:
    """Folder of the detectron2 parity case (config, checkpoints, images, expected outputs)."""
    return PARITY_CASE
