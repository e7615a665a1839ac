"""RESCAN: the BRN authors' two re-trained files against the RESCAN code's outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.nn import FAMILIES, PRETRAINED, build_model, load_pretrained, tiled_forward
from rainkit.nn.families.rescan import RESCAN, convert_authors_state
from rainkit.nn.loading import load_network, read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "rescan").is_dir()), None)

# From ../shared/pretrained/rescan/README.md: file stem -> (table entry, parameter count).
FILES = {
    "Rain200H-RESCAN": ("rescan-rain200h", 149823),
    "Rain200L-RESCAN": ("rescan-rain200l", 149823),
}


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/rescan is absent (the authors' checkpoints are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "rescan"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def test_table() -> None:
    assert FAMILIES["rescan"].models == ("rescan",)
    assert {e.name for e in FAMILIES["rescan"].weights} == {n for n, _ in FILES.values()}
    for name, count in FILES.values():
        entry = PRETRAINED[name]
        assert entry.family == "rescan" and entry.num_params == count and entry.sha256
        assert sum(p.numel() for p in entry.build().parameters()) == count
        assert all(s.convention == "prenet-y" for s in entry.published)
    assert PRETRAINED["rescan-rain200h"].published[0].protocol == "C"
    assert FAMILIES["rescan"].tiling != "exact"


@pytest.mark.parametrize("stem", sorted(FILES))
def test_authors_outputs(folder: Path, stem: str) -> None:
    name = FILES[stem][0]
    net = load_pretrained(name, path=folder / f"{stem}.pth")
    inputs = SHARED / "pretrained" / "prenet" / "reference"  # type: ignore[operator]
    for i in (0, 1):
        x = read_png(inputs / f"input{i}.png")
        expected = torch.from_numpy(np.load(folder / "reference" / f"{stem}.input{i}.npy"))
        with torch.no_grad():  # the fused NHWC path
            torch.testing.assert_close(net(x)[0], expected, atol=1e-5, rtol=0)
        if i == 0:  # the plain (autograd) operators, on one input to stay fast
            torch.testing.assert_close(net(x)[0].detach(), expected, atol=1e-5, rtol=0)
    derained, rain = net(x, return_rain=True)
    torch.testing.assert_close(derained + rain, x)
    stages = net.stage_rain(x)
    assert len(stages) == 4 and torch.equal(stages[-1], rain)


def test_traps_change_the_output(folder: Path) -> None:
    # RGB fed to the BGR weights, and the 'Add' frame's cousin: fewer stages, both differ.
    x = read_png(SHARED / "pretrained" / "prenet" / "reference" / "input0.png")  # type: ignore[operator]
    state = convert_authors_state(read_weights(folder / "Rain200H-RESCAN.pth").state)
    outputs = {}
    for kwargs in ({}, {"bgr": False}, {"stages": 3}):
        net = RESCAN(**kwargs).eval()
        net.load_state_dict(state)
        with torch.no_grad():
            outputs[str(kwargs)] = net(x)
    assert (outputs["{}"] - outputs["{'bgr': False}"]).abs().max() > 0.05
    assert (outputs["{}"] - outputs["{'stages': 3}"]).abs().max() > 0.01


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_identified_by_sha256(folder: Path, stem: str) -> None:
    loaded = load_network(folder / f"{stem}.pth")
    assert loaded.entry is not None and loaded.entry.name == FILES[stem][0]
    assert "SHA-256 match" in loaded.how


def test_other_family_file_fails_clearly(folder: Path) -> None:
    other = SHARED / "pretrained" / "sapnet" / "Rain100H-SAPNet.pth"  # type: ignore[operator]
    if not other.is_file():
        pytest.skip("no SAPNet fixture")
    with pytest.raises(ValueError, match="has SHA-256"):
        load_pretrained("rescan-rain200h", path=other)
    with pytest.raises(ValueError, match="do not fit the network.*missing keys"):
        load_pretrained("rescan-rain200h", path=other, check_hash=False)


def test_tiling_is_approximate(folder: Path) -> None:
    # The SE gates pool globally: tiles differ from the whole image, and less with more margin
    # (measured on input0, 96 x 128: max 0.040 at margin 16, 0.017 at margin 32).
    net = load_pretrained("rescan-rain200h", path=folder / "Rain200H-RESCAN.pth")
    x = read_png(SHARED / "pretrained" / "prenet" / "reference" / "input0.png")  # type: ignore[operator]
    with torch.no_grad():
        whole = net(x)
    diff = (tiled_forward(net, x, tile=48, margin=32) - whole).abs().max()
    assert 0.001 < diff < 0.03


def test_identity_at_init_and_training_step() -> None:
    net = build_model("rescan")
    x = torch.full((1, 3, 10, 12), 0.5)
    assert (net(x) - x).abs().mean() < 0.05
    y = torch.rand(2, 3, 9, 7)
    assert torch.equal(net(y), y)
    net.train()
    loss = (net(y) - y.flip(-1)).square().mean()
    loss.backward()
    assert net.decoder.out.weight.grad.abs().sum() > 0  # the zero head learns first


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="bgr=True flips 3 colour channels"):
        RESCAN(in_channels=1)
    with pytest.raises(TypeError, match="dilations must be a non-empty sequence"):
        RESCAN(dilations="12")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bgr must be a bool"):
        RESCAN(bgr=1)  # type: ignore[arg-type]
    net = RESCAN(in_channels=1, channels=4, stages=2, dilations=[1, 2], bgr=False)
    assert net(torch.rand(1, 1, 5, 6)).shape == (1, 1, 5, 6)
    assert "dilations=(1, 2)" in repr(net)
