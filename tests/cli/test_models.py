"""``rainkit models``: a readable table, filtered by family and by test set."""

from __future__ import annotations

import pytest

from rainkit.cli import main
from rainkit.nn import PRETRAINED


def test_lists_every_published_checkpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["name", "family", "params"]
    for name in PRETRAINED:
        assert f"\n{name} " in out
    assert f"{len(PRETRAINED)} model(s)" in out
    # a figure names its test set, protocol and convention
    assert "Rain100H 29.46 dB / 0.899 (A, prenet-y)" in out


def test_filters_by_family(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--family", "prenet"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()[2:] if line[:1].strip()]
    names = [row.split()[0] for row in rows if row.split()[0] in PRETRAINED]
    assert names and all(PRETRAINED[n].family == "prenet" for n in names)
    assert {n for n, e in PRETRAINED.items() if e.family == "prenet"} == set(names)


def test_filters_by_test_set_under_any_of_its_names(capsys: pytest.CaptureFixture[str]) -> None:
    from rainkit.data import find_test_set

    assert main(["models", "--test-set", "rain-100h"]) == 0
    out = capsys.readouterr().out
    wanted = find_test_set("Rain100H")
    expected = {n for n, e in PRETRAINED.items()
                if any(f.test_set in wanted.names for f in e.published)}
    listed = {line.split()[0] for line in out.splitlines()[2:] if line[:1].strip()} & set(
        PRETRAINED)
    assert listed == expected and listed


@pytest.mark.parametrize(("args", "message"), [
    (["--family", "prenett"], "did you mean 'prenet'"),
    (["--test_set", "Rain100HH"], "did you mean 'Rain100H'"),
])
def test_misspelled_filters_are_errors_with_suggestions(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", *args]) == 1
    assert message in capsys.readouterr().err
