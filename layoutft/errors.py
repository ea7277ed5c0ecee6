"""The one exception hierarchy of layoutft.

Every error a user can cause is a :class:`LayoutftError`; its message is one line
that names the file or field at fault and the fix. The CLI prints that line and
exits with status 1 instead of showing a traceback.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable


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


class ServeError(LayoutftError):
    """A request to ``layoutft serve`` cannot be served: a bad upload or option, a task image
    that cannot be fetched, a labelling config without a usable control. ``status`` is the
    HTTP status it answers with (4xx: the client's mistake)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class EnvironmentMismatchError(LayoutftError, ImportError):
    """Installed torch and torchvision builds cannot work together."""


class TorchMissingError(LayoutftError, ImportError):
    """A command or model needs torch/torchvision, which the base install leaves out."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs torch: pip install 'layoutft[torch]'")


class OptionError(ConfigError):
    """A bad value of a named parameter (``workers``, ``batch_size``, ``dpi``, ...).

    ``template`` names parameters as ``{workers}``; other fields are filled from ``values``.
    ``str(error)`` names the library parameters (``workers must be >= 1, got 0``);
    :meth:`render` lets the CLI name its flags instead (``--workers must be >= 1, got 0``).
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        self.params = [name for name in dict.fromkeys(fields) if name not in values]
        super().__init__(self.render())

    def render(self, name_of: Callable[[str], str] | None = None) -> str:
        """The message with each parameter called ``name_of(parameter)`` (default: itself)."""
        names = {p: (name_of(p) if name_of else p) for p in self.params}
        return self.template.format(**names, **self.values)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # pickled (a DDP worker's error) from the template, not the rendered message
        return (functools.partial(type(self), self.template, **self.values), ())
