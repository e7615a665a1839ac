"""Run examples/custom_model.py on tiny settings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_model.py"


def test_custom_model_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("custom_model_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--channels", "8", "--size", "15"])
    assert result["shape"] == (1, 3, 15, 15)
    # Hand count: head 3x3 conv 3->8 (+bias), a BN residual block (2 convs, no bias, 2 BN),
    # three plain residual blocks (6 convs with bias), pyramid of 3 1x1 convs 8->2, tail 3x3 14->3.
    expected = (3 * 8 * 9 + 8) + (2 * 8 * 8 * 9 + 4 * 8) + 6 * (8 * 8 * 9 + 8) \
        + 3 * (8 * 2 + 2) + (14 * 3 * 9 + 3)
    assert result["params"] == expected
    # Hand computation: head 3x3 (2) + block (4) + dilated blocks 1, 2, 4 (4 * 7) -> 1 + 34.
    assert result["rf_local"] == (35, 35)
    assert result["rf"] == (15, 15)
    assert "parameters" in capsys.readouterr().out
