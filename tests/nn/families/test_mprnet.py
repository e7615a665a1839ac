"""MPRNet: the released configuration, the authors' outputs, any size, training, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from _onnx import assert_onnx_matches_eager
from rainkit.nn import FAMILIES, MODELS, PRETRAINED, build_model, load_pretrained
from rainkit.nn.families.mprnet import (
    MPRNet,
    edge_loss,
    laplacian_detail,
    mprnet_loss,
    reflect_pad_to_multiple,
)
from rainkit.nn.loading import read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "mprnet").is_dir()), None)
FILE = "deraining-random.pth"
PARAMS = 3637249  # the issue and the fixture README (spandrel's descriptor of the real file)
SMALL = {"channels": 8, "unet_channels": 4, "orsnet_channels": 4, "num_cab": 1}


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/mprnet is absent (the authors' outputs are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "mprnet"


@pytest.fixture(scope="module")
def loaded(folder: Path) -> MPRNet:
    # The fixture file is {'state_dict': {'module.' + key: tensor}}: the reader unwraps it and
    # strips the prefix; the keys then load with no conversion.
    net = MPRNet().eval()
    net.load_state_dict(read_weights(folder / FILE).state, strict=True)
    return net


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy with every weight drawn at random (the trainable default starts at the identity,
    which would make equivalence tests pass vacuously)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 4
            p.copy_(torch.randn(p.shape, generator=gen) * 0.6 / fan_in ** 0.5
                    if p.dim() > 1 else torch.rand(p.shape, generator=gen) * 0.4 + 0.05)
    return net


def small(seed: int = 0) -> MPRNet:
    return randomised(build_model("mprnet", **SMALL), seed).eval()  # type: ignore[return-value]


# -- the released configuration ------------------------------------------------------------------


def test_manifest_keys_and_shapes_on_meta(folder: Path) -> None:
    manifest = json.loads((folder / "manifest-deraining.json").read_text())
    hp = manifest["hyperparameters"]
    kwargs = {"channels": hp["n_feat"], "unet_channels": hp["scale_unetfeats"],
              "orsnet_channels": hp["scale_orsnetfeats"], "num_cab": hp["num_cab"],
              "kernel_size": hp["kernel_size"], "reduction": hp["reduction"], "bias": hp["bias"]}
    with torch.device("meta"):
        net = build_model("mprnet", **kwargs)
    got = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert got == [(k, s) for k, s in manifest["keys"]]  # same keys, shapes and order
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"] == PARAMS
    # one PReLU shared by every CAB, as in the authors' code (55 keys, one parameter)
    (group,) = manifest["shared_keys"]
    state = net.state_dict(keep_vars=True)
    assert len(group) == 55 and len({id(state[k]) for k in group}) == 1


def test_released_default_and_table() -> None:
    assert MODELS["mprnet"] is MPRNet
    assert sum(p.numel() for p in build_model("mprnet").parameters()) == PARAMS
    entry = PRETRAINED["mprnet-rain13k"]
    assert FAMILIES["mprnet"].weights == (entry,)
    assert entry.sha256 is None and not entry.downloadable and entry.num_params == PARAMS
    assert "drive.google.com" in entry.url and "rainkit download" in entry.notes
    # MPRNet paper, Table 1, as quoted in the fixture README: protocol B, MPRNet's script
    scores = {s.test_set: (s.psnr, s.ssim) for s in entry.published}
    assert scores["Rain100H"] == (30.41, 0.890) and scores["Test1200"] == (32.91, 0.916)
    assert {s.protocol for s in entry.published} == {"B"}
    assert {s.convention for s in entry.published} == {"mprnet-y"}


# -- the authors' outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_outputs_equal_the_authors(folder: Path, loaded: MPRNet, grad: bool) -> None:
    # reference/deraining-random.input{i}.npy: the authors' code (test.py for 96x128, demo.py's
    # reflect padding for the 77x101 crop), restored[0] before the clamp.
    for i in range(3) if not grad else (2,):
        x = read_png(folder / "reference" / f"input{i}.png")
        expected = np.load(folder / "reference" / f"deraining-random.input{i}.npy")
        with torch.set_grad_enabled(grad):
            got = loaded(x)[0].detach().numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-5


def test_stage_outputs_equal_the_authors(folder: Path, loaded: MPRNet) -> None:
    x = read_png(folder / "reference" / "input0.png")
    with torch.no_grad():
        stages = loaded.stage_outputs(x)
        assert torch.equal(stages[-1], loaded(x))
    for s in (1, 2):
        expected = np.load(folder / "reference" / f"deraining-random.input0.stage{s}.npy")
        assert np.abs(stages[s - 1][0].numpy() - expected).max() <= 1e-5


def test_load_pretrained_by_name_pins_the_hash(folder: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.warns(UserWarning, match="keys and shapes"):
        net = load_pretrained("mprnet-rain13k", path=folder / FILE)
    assert not net.training and isinstance(net, MPRNet)
    load_pretrained("mprnet-rain13k", path=folder / FILE)  # pinned now: silent, checked


# -- any size, identity at initialisation --------------------------------------------------------


def test_reflect_padding_matches_torch_and_extends() -> None:
    x = torch.rand(1, 2, 9, 13)
    expected = F.pad(x, (0, 3, 0, 7), mode="reflect")  # demo.py's padding, where it works
    assert torch.equal(reflect_pad_to_multiple(x, 8)[..., :16, :16], expected)
    assert reflect_pad_to_multiple(x[..., :1, :1], 8).shape[-2:] == (8, 8)
    y = torch.rand(1, 1, 16, 8)
    assert reflect_pad_to_multiple(y, 8) is y


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (24, 16)])
def test_any_size(size: tuple[int, int]) -> None:
    net = small()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        derained, rain = net(x, return_rain=True)
    assert derained.shape == x.shape and torch.allclose(derained + rain, x, atol=1e-6)
    assert [s.shape for s in net.stage_outputs(x)] == [x.shape] * 3


def test_batch_items_are_independent() -> None:
    # The patches of stage 1 and 2 travel as one batch: each image must still be on its own.
    net = small()
    x = torch.rand(3, 3, 16, 24)
    with torch.no_grad():
        whole = net(x)
        for i in range(3):
            torch.testing.assert_close(net(x[i:i + 1]), whole[i:i + 1], atol=1e-5, rtol=0)


def test_fused_path_equals_plain_operators() -> None:
    net = small(1)
    x = torch.rand(2, 3, 24, 32)
    with torch.no_grad():
        fast = net(x)
    plain = net(x).detach()
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=0)


def test_identity_at_initialisation() -> None:
    torch.manual_seed(0)
    net = build_model("mprnet", **SMALL)
    x = torch.rand(2, 3, 20, 28)
    for out in net.stage_outputs(x):
        assert (out - x).abs().mean() < 0.05  # issue 23's bound; here exactly 0
        assert torch.equal(out, x)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        MPRNet(kernel_size=4)
    with pytest.raises(TypeError, match="bias"):
        MPRNet(bias="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="3 channels"):
        small()(torch.rand(1, 4, 8, 8))


# -- training ------------------------------------------------------------------------------------


def test_laplacian_detail_by_hand() -> None:
    # A constant image has no detail. For an impulse at an even pixel, far from the borders:
    # the blur G has taps k = (0.05, 0.25, 0.4, 0.25, 0.05); the even pixels kept (x4) are at
    # offsets -2, 0, 2 with values 4 k(a) k(b); blurred again, the centre gets
    # 4 (sum_a k(a)^2)^2 over a in {-2, 0, 2} = 4 * 0.165^2 = 0.1089.
    # (Within 2 pixels of a border the replicated zeros of the sparse image break this.)
    const = torch.full((1, 1, 12, 12), 0.3)
    inner = laplacian_detail(const)[..., 3:-3, 3:-3]
    torch.testing.assert_close(inner, torch.zeros_like(inner))
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1.0
    low = 4 * (0.05 ** 2 + 0.4 ** 2 + 0.05 ** 2) ** 2
    assert abs(laplacian_detail(impulse)[0, 0, 4, 4].item() - (1 - low)) < 1e-6


def test_loss_is_the_authors_sum() -> None:
    gen = torch.Generator().manual_seed(0)
    outs = [torch.rand(2, 3, 12, 12, generator=gen) for _ in range(3)]
    y = torch.rand(2, 3, 12, 12, generator=gen)
    expected = sum(torch.sqrt((o - y) ** 2 + 1e-6).mean() + 0.05 * edge_loss(o, y) for o in outs)
    torch.testing.assert_close(mprnet_loss(outs, y), expected)
    with pytest.raises(TypeError, match="sequence"):
        mprnet_loss(outs[0], y)  # type: ignore[arg-type]


def test_training_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    net = build_model("mprnet", **SMALL)
    x = torch.rand(2, 3, 16, 16)
    y = (x - 0.2 * torch.rand(2, 3, 16, 16)).clamp(0, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        loss = mprnet_loss(net.stage_outputs(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for p in net.parameters())


# -- export --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_torch_compile() -> None:  # dynamo traces ~300 modules: 10-50 s on 2 loaded cores
    net = small()
    x = torch.rand(1, 3, 16, 24)
    compiled = torch.compile(net, backend="eager", dynamic=False)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x), atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning",
                            "ignore::FutureWarning")
def test_onnx_export_dynamic_size() -> None:
    net = small()
    assert_onnx_matches_eager(net, (1, 3, 16, 24), [(1, 3, 16, 24), (2, 3, 13, 21), (1, 3, 3, 2)])
