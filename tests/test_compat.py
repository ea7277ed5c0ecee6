"""`import layoutft` fails clearly when torch and torchvision builds do not match."""

from __future__ import annotations

import subprocess
import sys

import pytest

from layoutft import _compat
from layoutft.errors import EnvironmentMismatchError, LayoutftError


def test_reads_torchvisions_torch_pin() -> None:
    assert _compat.required_torch(["numpy", "torch==2.15.0", "pillow!=8.3.*,>=5.3.0"]) == "2.15.0"
    assert _compat.required_torch(["torch (==2.1.0)"]) == "2.1.0"
    assert _compat.required_torch(["torch>=2.0"]) is None
    assert _compat.required_torch(["torch==2.0; extra == 'x'"]) is None


def test_mismatch_names_both_versions_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"torch": "2.13.0+cpu", "torchvision": "0.29.2"}
    monkeypatch.setattr(_compat.metadata, "version", lambda name: versions[name])
    monkeypatch.setattr(_compat.metadata, "requires", lambda name: ["torch==2.15.0"])
    with pytest.raises(EnvironmentMismatchError) as info:
        _compat.check_torch_torchvision()
    message = str(info.value)
    assert "torchvision 0.29.2 was built for torch 2.15.0 but torch 2.13.0+cpu" in message
    assert "torchvision::nms" in message
    assert "pip install --force-reinstall torchvision==0.29.2" in message
    assert isinstance(info.value, LayoutftError) and isinstance(info.value, ImportError)


def test_local_build_tag_is_not_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"torch": "2.15.0+cu132", "torchvision": "0.29.2+cu132"}
    monkeypatch.setattr(_compat.metadata, "version", lambda name: versions[name])
    monkeypatch.setattr(_compat.metadata, "requires", lambda name: ["torch==2.15.0"])
    _compat.check_torch_torchvision()


def test_installed_builds_match_and_import_stays_light() -> None:
    code = "import sys, layoutft; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    _compat.check_torchvision_ops()
