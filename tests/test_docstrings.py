"""Every constructor parameter is documented, with the default the code uses."""

import inspect
import re

import pytest

from skhidden import (
    HiddenStateAnomalyDetector,
    HiddenStateClassifier,
    HiddenStateRegressor,
    HiddenStateTransformer,
    SequenceScaler,
)

ENTRY = re.compile(r"^    (\w+(?:, \w+)*) : (.*?)(?:, default=(.+))?$")


def documented_parameters(cls):
    """``name -> default text`` (None when no default is written) from the docstring."""
    # A long entry is continued with a backslash, which leaves a run of spaces.
    doc = re.sub(r",\s+default=", ", default=", inspect.getdoc(cls))
    section = doc.split("Parameters\n----------\n", 1)[1].split("\n\n\n")[0]
    section = re.split(r"\nAttributes\n-+\n", section)[0]
    found = {}
    for line in ("    " + line for line in section.splitlines()):
        match = ENTRY.match(line)
        if match:
            for name in match.group(1).split(", "):
                found[name] = match.group(3)
    return found


@pytest.mark.parametrize(
    "cls",
    [
        HiddenStateAnomalyDetector,
        HiddenStateClassifier,
        HiddenStateRegressor,
        HiddenStateTransformer,
        SequenceScaler,
    ],
)
def test_docstring_matches_signature(cls):
    documented = documented_parameters(cls)
    signature = inspect.signature(cls.__init__).parameters
    names = [name for name in signature if name != "self"]
    assert sorted(documented) == sorted(names)
    for name in names:
        default = signature[name].default
        written = documented[name].strip()
        expected = repr(default).replace("'", '"') if default is not None else "None"
        assert written.strip("`") == expected, (
            f"{cls.__name__}.{name}: {written} != {expected}"
        )


def test_shared_parameters_take_each_signatures_default_and_a_class_description():
    from skhidden._docstrings import fill_parameters

    assert (
        'max_epochs : int or "auto", default="auto"\n' in HiddenStateClassifier.__doc__
    )
    assert 'max_epochs : int or "auto", default=300\n' in HiddenStateRegressor.__doc__
    assert "cut Tecator's" in HiddenStateRegressor.__doc__
    assert "cut Tecator's" not in HiddenStateClassifier.__doc__
    assert "%(shared_parameters)s" not in HiddenStateTransformer.__doc__

    with pytest.raises(ValueError, match="has no"):
        fill_parameters()(type("NoMarker", (), {"__doc__": "Nothing to fill."}))
