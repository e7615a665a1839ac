"""SAPNet: the authors' released file against their network's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.nn import FAMILIES, PRETRAINED, build_model, load_pretrained, tiled_forward
from rainkit.nn.families.sapnet import SAPNet, convert_authors_state
from rainkit.nn.loading import load_network, read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "sapnet").is_dir()), None)
STEM, NAME, PARAMS = "Rain100H-SAPNet", "sapnet-rain100h", 180483  # from the fixture README


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/sapnet is absent (the authors' checkpoints are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "sapnet"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def test_table() -> None:
    entry = PRETRAINED[NAME]
    assert FAMILIES["sapnet"].weights == (entry,) and entry.num_params == PARAMS
    assert sum(p.numel() for p in entry.build().parameters()) == PARAMS
    # the trap: the dilations are not in the file, so the entry states them
    assert tuple(entry.model_kwargs["dilations"]) == (1, 2, 4, 8, 16)


def test_authors_outputs(folder: Path) -> None:
    net = load_pretrained(NAME, path=folder / f"{STEM}.pth")
    inputs = SHARED / "pretrained" / "prenet" / "reference"  # type: ignore[operator]
    for i in (0, 1):
        x = read_png(inputs / f"input{i}.png")
        expected = torch.from_numpy(np.load(folder / "reference" / f"{STEM}.input{i}.npy"))
        with torch.no_grad():
            torch.testing.assert_close(net(x)[0], expected, atol=1e-5, rtol=0)
        if i == 0:  # the plain (autograd) operators, on one input to stay fast
            torch.testing.assert_close(net(x)[0].detach(), expected, atol=1e-5, rtol=0)
    stages = net.stage_outputs(x)
    assert len(stages) == 6 and torch.allclose(stages[-1], net(x), atol=1e-6)


def test_without_dilation_it_is_another_network(folder: Path) -> None:
    # same keys and shapes, loads without error, different output (README: up to 0.44)
    state = convert_authors_state(read_weights(folder / f"{STEM}.pth").state)
    plain = SAPNet(dilations=(1, 1, 1, 1, 1)).eval()
    plain.load_state_dict(state)
    x = read_png(SHARED / "pretrained" / "prenet" / "reference" / "input0.png")  # type: ignore[operator]
    expected = torch.from_numpy(np.load(folder / "reference" / f"{STEM}.input0.npy"))
    with torch.no_grad():
        assert (plain(x)[0] - expected).abs().max() > 0.1


def test_file_identified_by_sha256(folder: Path) -> None:
    loaded = load_network(folder / f"{STEM}.pth")
    assert loaded.entry is not None and loaded.entry.name == NAME
    assert loaded.model_kwargs["dilations"] == (1, 2, 4, 8, 16)


def test_other_family_file_fails_clearly(folder: Path) -> None:
    other = SHARED / "pretrained" / "prenet" / "Rain100H-PReNet6.pth"  # type: ignore[operator]
    if not other.is_file():
        pytest.skip("no PReNet fixture")
    # PReNet has the same LSTM, head and tail keys: the residual blocks differ
    with pytest.raises(ValueError, match="do not fit the network"):
        load_pretrained(NAME, path=other, check_hash=False)


def test_tiling_is_approximate(folder: Path) -> None:
    # CRA gates pool globally (measured on input0: max 0.029 at margin 16, 0.0048 at 32)
    net = load_pretrained(NAME, path=folder / f"{STEM}.pth")
    x = read_png(SHARED / "pretrained" / "prenet" / "reference" / "input0.png")  # type: ignore[operator]
    with torch.no_grad():
        whole = net(x)
    diff = (tiled_forward(net, x, tile=48, margin=32) - whole).abs().max()
    assert 0 < diff < 0.02


def test_identity_at_init_and_training_step() -> None:
    net = build_model("sapnet")
    x = torch.full((1, 3, 10, 12), 0.5)
    assert (net(x) - x).abs().mean() < 0.05
    y = torch.rand(2, 3, 6, 7)
    assert torch.equal(net(y), y)
    net.train()
    (net(y) - y.flip(-1)).square().mean().backward()
    assert net.tail.weight.grad.abs().sum() > 0


def test_options_are_checked() -> None:
    with pytest.raises(TypeError, match="dilations must be a sequence"):
        SAPNet(dilations=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dilations"):
        SAPNet(dilations=(1, 0))
    net = SAPNet(in_channels=1, stages=2, channels=4, dilations=[1, 2], reduction=2)
    assert net(torch.rand(1, 1, 5, 6)).shape == (1, 1, 5, 6)
    assert "dilations=(1, 2)" in repr(net)
