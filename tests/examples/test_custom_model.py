"""examples/custom_model.py: a registered network of the user's, trained, saved and reloaded."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from rainkit.checkpoint import load_model
from rainkit.nn import MODELS, build_model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_model.py"


@pytest.fixture
def custom_model() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("custom_model_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # registers "mynet"
    yield module
    del MODELS["mynet"]  # leave the table as the other tests expect it


def test_import_registers_the_network(custom_model: ModuleType) -> None:
    assert MODELS["mynet"] is custom_model.MyNet
    net = build_model("mynet", channels=4)
    x = torch.rand(2, 3, 12, 10)
    derained, rain = net(x, return_rain=True)
    torch.testing.assert_close(derained + rain, x)


def test_script_trains_saves_and_reloads(custom_model: ModuleType, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    result = custom_model.main(["--channels", "8", "--size", "15", "--steps", "3",
                                "--out", str(tmp_path / "mynet.pt")])
    # Hand count: head 3x3 conv 3->8 (+bias), a BN residual block (2 convs, no bias, 2 BN),
    # three plain residual blocks (6 convs with bias), pyramid of 3 1x1 convs 8->2, tail 3x3 14->3.
    expected = (3 * 8 * 9 + 8) + (2 * 8 * 8 * 9 + 4 * 8) + 6 * (8 * 8 * 9 + 8) \
        + 3 * (8 * 2 + 2) + (14 * 3 * 9 + 3)
    assert result["params"] == expected
    # Hand computation: head 3x3 (2) + block (4) + dilated blocks 1, 2, 4 (4 * 7) -> 1 + 34.
    assert result["rf_local"] == (35, 35)
    assert result["rf"] == (15, 15)
    assert len(result["losses"]) == 3 and all(torch.isfinite(torch.tensor(result["losses"])))
    assert result["same_output"] is True
    loaded = load_model(tmp_path / "mynet.pt")
    assert isinstance(loaded, custom_model.MyNet) and loaded.channels == 8
    assert "same output: True" in capsys.readouterr().out
