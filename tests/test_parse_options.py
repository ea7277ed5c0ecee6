"""ParseOptions: validated once, errors name parameters; the CLI names its flags."""

from __future__ import annotations

import pytest

from layoutft.cli.app import flag_name
from layoutft.errors import OptionError
from layoutft.parsing.options import ParseOptions, parse_options


@pytest.mark.parametrize(
    ("changes", "library", "cli"),
    [
        ({"workers": 0}, "workers must be >= 1, got 0", "--workers must be >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0", "--batch-size must be >= 1, got 0"),
        (
            {"workers": 2, "batch_size": 4},
            "workers 2 runs one page per forward pass; drop batch_size 4 or use workers 1",
            "--workers 2 runs one page per forward pass; drop --batch-size 4 or use --workers 1",
        ),
        ({"dpi": 0}, "dpi must be a positive resolution", "--dpi must be a positive"),
        ({"image_dpi": -1}, "image_dpi must be a positive", "--image-dpi must be a positive"),
        ({"renderer": "gs"}, "unknown renderer 'gs'", "unknown --renderer 'gs'"),
        ({"postprocess": "raw"}, "unknown postprocess 'raw'", "unknown --postprocess 'raw'"),
        ({"precision": "fp64"}, "unknown precision 'fp64' (precision)", "(--precision)"),
        ({"score_threshold": "2"}, "score_threshold '2'", "--score-threshold '2'"),
    ],
)
def test_errors_name_parameters_and_the_cli_renders_flags(
    changes: dict[str, object], library: str, cli: str
) -> None:
    with pytest.raises(OptionError) as caught:
        ParseOptions(**changes)  # type: ignore[arg-type]
    assert library in str(caught.value) and "--" not in str(caught.value)
    assert cli in caught.value.render(flag_name)


def test_keywords_change_options_and_unknown_ones_are_type_errors() -> None:
    base = ParseOptions(dpi=100)
    assert parse_options(base, pages="1-2") == ParseOptions(dpi=100, pages="1-2")
    assert parse_options(None) == ParseOptions()
    with pytest.raises(TypeError, match="unexpected keyword argument 'dpii'"):
        parse_options(None, dpii=3)
    with pytest.raises(OptionError, match="workers must be >= 1"):
        parse_options(base, workers=0)


def test_option_errors_survive_pickling() -> None:
    import pickle

    error = OptionError("{workers} must be >= 1, got {got}", got=0)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.render(flag_name).startswith("--workers")
