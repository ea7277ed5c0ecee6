"""The one exception hierarchy of layoutft.

Every error a user can cause is a :class:`LayoutftError`; its message is one line
that names the file or field at fault and the fix. The CLI prints that line and
exits with status 1 instead of showing a traceback.
"""

from __future__ import annotations


class LayoutftError(Exception):
    """Base class of every error layoutft raises on purpose."""


class ConfigError(LayoutftError):
    """A config file, key, value or override is invalid or unsupported."""


class CheckpointError(LayoutftError):
    """A weights file cannot be read, is unsafe, or does not fit the model."""


class RenderError(LayoutftError):
    """A PDF or image cannot be opened or rasterized."""


class DatasetError(LayoutftError):
    """Annotations or a dataset are malformed; messages list every bad record."""


class EnvironmentMismatchError(LayoutftError, ImportError):
    """Installed torch and torchvision builds cannot work together."""
