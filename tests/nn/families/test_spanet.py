"""SPANet: the authors' SPA-Data file and BRN's two re-trainings against the authors' outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rainkit.nn import FAMILIES, PRETRAINED, build_model, load_pretrained, tiled_forward
from rainkit.nn.families.spanet import SPANet, SpatialAttentiveModule, convert_authors_state
from rainkit.nn.loading import load_network, read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "spanet").is_dir()), None)

# From ../shared/pretrained/spanet/README.md: file stem -> table entry. Every file holds
# 283,716 parameters, 7,012 of them in the direction attention that the authors discard.
FILES = {
    "SPA-SPANet": "spanet-spa",
    "Rain200H-SPANet": "spanet-rain200h",
    "Rain200L-SPANet": "spanet-rain200l",
}
FILE_PARAMS, DISCARDED = 283716, 7012


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/spanet is absent (the authors' checkpoints are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "spanet"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def test_table() -> None:
    assert {e.name for e in FAMILIES["spanet"].weights} == set(FILES.values())
    for name in FILES.values():
        entry = PRETRAINED[name]
        assert entry.num_params == FILE_PARAMS - DISCARDED and entry.sha256
        assert sum(p.numel() for p in entry.build().parameters()) == entry.num_params
        assert all(s.protocol in ("", "C") for s in entry.published)
    spa = PRETRAINED["spanet-spa"].published[0]
    assert (spa.test_set, spa.psnr, spa.ssim, spa.protocol) == ("SPA-Data", 38.53, 0.9875, "C")
    assert FAMILIES["spanet"].tiling != "exact"


@pytest.mark.parametrize("stem", sorted(FILES))
def test_authors_outputs(folder: Path, stem: str) -> None:
    net = load_pretrained(FILES[stem], path=folder / f"{stem}.pth")
    inputs = SHARED / "pretrained" / "prenet" / "reference"  # type: ignore[operator]
    for i in (0, 1):
        x = read_png(inputs / f"input{i}.png")
        expected = torch.from_numpy(np.load(folder / "reference" / f"{stem}.input{i}.npy"))
        with torch.no_grad():  # NHWC, fused, in-place IRNN
            torch.testing.assert_close(net(x)[0], expected, atol=1e-5, rtol=0)
        if i == 0:  # the plain (autograd) operators, on one input to stay fast
            torch.testing.assert_close(net(x)[0].detach(), expected, atol=1e-5, rtol=0)


def test_spa_mask_is_not_constant(folder: Path) -> None:
    # README: on input0 the SPA-Data mask ranges over 0.036-0.9995 (std 0.19); Rain200L's is 0.5.
    x = read_png(SHARED / "pretrained" / "prenet" / "reference" / "input0.png")  # type: ignore[operator]
    with torch.no_grad():
        spa = load_pretrained("spanet-spa", path=folder / "SPA-SPANet.pth").attention(x)[0]
        light = load_pretrained("spanet-rain200l",
                                path=folder / "Rain200L-SPANet.pth").attention(x)[0]
    assert spa.min() < 0.05 and spa.max() > 0.99 and 0.15 < spa.std() < 0.25
    assert bool((light == 0.5).all())


def test_sam_block_fixture(folder: Path) -> None:
    case = np.load(folder / "reference" / "sam_case.npz")
    state = {f"SAM1.{k[4:]}": torch.from_numpy(v) for k, v in case.items() if k.startswith("sam.")}
    converted = {k[len("sam."):]: v for k, v in convert_authors_state(state).items()}
    sam = SpatialAttentiveModule(32)
    sam.load_state_dict(converted)  # strict: the discarded direction attention is dropped
    x, expected = torch.from_numpy(case["x"]), torch.from_numpy(case["mask"])
    with torch.no_grad():
        torch.testing.assert_close(sam(x), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(sam(x).detach(), expected, atol=1e-6, rtol=0)


def test_conversion_drops_only_the_discarded_layer(folder: Path) -> None:
    state = read_weights(folder / "SPA-SPANet.pth").state
    assert sum(v.numel() for v in state.values()) == FILE_PARAMS
    converted = convert_authors_state(state)
    assert sum(v.numel() for v in converted.values()) == FILE_PARAMS - DISCARDED
    assert converted["sam.irnn1.weight"].shape == (4, 32)
    assert torch.equal(converted["sam.irnn2.bias"][3], state["SAM1.irnn2.left_weight.bias"])


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_identified_by_sha256(folder: Path, stem: str) -> None:
    loaded = load_network(folder / f"{stem}.pth")
    assert loaded.entry is not None and loaded.entry.name == FILES[stem]


def test_other_family_file_fails_clearly(folder: Path) -> None:
    other = SHARED / "pretrained" / "rescan" / "Rain200H-RESCAN.pth"  # type: ignore[operator]
    if not other.is_file():
        pytest.skip("no RESCAN fixture")
    with pytest.raises(ValueError, match="do not fit the network.*missing keys"):
        load_pretrained("spanet-spa", path=other, check_hash=False)


def test_tiling_is_approximate(folder: Path) -> None:
    # The IRNN scans whole rows and columns (measured on input0 with the SPA-Data file:
    # max 0.088 at margin 16, 0.033 at margin 32; the Rain200L file's constant mask: 0).
    net = load_pretrained("spanet-spa", path=folder / "SPA-SPANet.pth")
    x = read_png(SHARED / "pretrained" / "prenet" / "reference" / "input0.png")  # type: ignore[operator]
    with torch.no_grad():
        whole = net(x)
    diff = (tiled_forward(net, x, tile=48, margin=32) - whole).abs().max()
    assert 0.001 < diff < 0.1


def test_identity_at_init_and_training_step() -> None:
    net = build_model("spanet")
    x = torch.full((1, 3, 10, 12), 0.5)
    assert (net(x) - x).abs().mean() < 0.05
    y = torch.rand(2, 3, 6, 7)
    torch.testing.assert_close(net(y), y)
    net.train()
    (net(y) - y.flip(-1)).square().mean().backward()
    assert net.tail.weight.grad.abs().sum() > 0 and net.blocks[16].conv3.weight.grad.abs().sum() > 0


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="bgr=True flips 3 colour channels"):
        SPANet(in_channels=1)
    with pytest.raises(ValueError, match="channels must be"):
        SPANet(channels=2)
    net = SPANet(in_channels=1, channels=4, bgr=False)
    assert net(torch.rand(1, 1, 5, 6)).shape == (1, 1, 5, 6)
    assert len(net.attention(torch.rand(1, 1, 5, 6))) == 4
