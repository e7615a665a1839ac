"""NeRD-Rain: the released configurations, the authors' outputs, windows, training, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from _onnx import assert_onnx_matches_eager
from rainkit.nn import FAMILIES, MODELS, PRETRAINED, build_model, load_pretrained
from rainkit.nn.families.nerdrain import (
    NeRDRain,
    NeRDRainS,
    nerdrain_loss,
    pyramid,
    window_merge,
    window_partition,
)
from rainkit.nn.loading import read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "nerdrain").is_dir()), None)
TINY = {"dim": 16, "num_blocks": [1, 2, 2]}  # the fixture configuration (README)
SMALL = {"dim": 8, "num_blocks": 1}
TOL = 5e-5  # the fixture README: 1 vs 2 threads differ by 3.3e-6, float64 by 4.2e-6
# The issue and the fixture manifests (the authors' model.py / model_S.py).
PARAMS = {"nerdrain": 22893146, "nerdrain_s": 10530314}


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/nerdrain is absent (the authors' outputs are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "nerdrain"


@pytest.fixture(scope="module")
def tiny(folder: Path) -> NeRDRain:
    # {'state_dict': {'module.' + key: tensor}}: unwrapped and unprefixed by the reader, then
    # loaded with no conversion. test.py ran with --win_size 64 on these small crops.
    net = NeRDRain(**TINY, window_size=64).eval()
    net.load_state_dict(read_weights(folder / "tiny-random.pth").state, strict=True)
    return net


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every weight drawn at random (the trainable default starts at the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.7 / p[0].numel() ** 0.5)
            elif "temperature" in name or name.endswith("body.weight"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    return net


def small(seed: int = 0, **kwargs: object) -> NeRDRain:
    net = build_model("nerdrain", **{**SMALL, **kwargs})
    return randomised(net, seed).eval()  # type: ignore[return-value]


# -- the released configurations -----------------------------------------------------------------


@pytest.mark.parametrize(("config", "model"), [("NeRD-Rain", "nerdrain"),
                                               ("NeRD-Rain-S", "nerdrain_s"),
                                               ("tiny", "nerdrain")])
def test_manifest_keys_and_shapes_on_meta(folder: Path, config: str, model: str) -> None:
    manifest = json.loads((folder / f"manifest-{config}.json").read_text())
    hp = manifest["hyperparameters"]
    kwargs = {"dim": hp["dim"], "num_blocks": hp["num_blocks"], "heads": hp["heads"],
              "ffn_expansion_factor": hp["ffn_expansion_factor"], "bias": hp["bias"],
              "layernorm_type": hp["LayerNorm_type"]}
    with torch.device("meta"):
        net = build_model(model, **kwargs)
    got = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert got == [(k, s) for k, s in manifest["keys"]]  # same keys, shapes and order
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"]
    if config != "tiny":
        assert manifest["num_parameters"] == PARAMS[model]


def test_released_defaults_and_table() -> None:
    assert MODELS["nerdrain"] is NeRDRain and MODELS["nerdrain_s"] is NeRDRainS
    for model, count in PARAMS.items():
        assert sum(p.numel() for p in build_model(model).parameters()) == count
    entries = FAMILIES["nerdrain"].weights
    assert len(entries) == 10  # five training sets x two sizes (the authors' README)
    for entry in entries:
        assert entry is PRETRAINED[entry.name] and entry.num_params == PARAMS[entry.model]
        assert entry.sha256 is None and not entry.downloadable
        assert entry.url.startswith("https://drive.google.com/file/d/")
        (score,) = entry.published
        assert score.protocol == "C"
        # DRSformer's evaluations/: RCDNet's statistic.m for DID/DDN, MPRNet's for the others
        assert score.convention == ("prenet-y" if score.test_set in ("DID-Data", "DDN-Data")
                                    else "mprnet-y")
    # the README's table (figs/table.png)
    assert PRETRAINED["nerdrain-rain200h"].published[0].psnr == 32.40
    assert PRETRAINED["nerdrain_s-spa"].published[0].ssim == 0.9936


# -- the authors' outputs ------------------------------------------------------------------------


def test_all_seven_outputs_equal_the_authors(folder: Path, tiny: NeRDRain) -> None:
    # forward-all: the network alone on the whole 96x128 input0, its 7 returned images.
    x = read_png(folder / "reference" / "input0.png")
    expected = np.load(folder / "reference" / "tiny-random.input0.forward-all.npz")
    with torch.no_grad():
        outs = tiny.stage_outputs(x)
    assert len(outs) == 7
    for i, out in enumerate(outs):
        ref = expected[f"out{i}"]
        assert out[0].shape == ref.shape
        assert np.abs(out[0].numpy() - ref).max() <= TOL, i


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_windowed_outputs_equal_the_authors(folder: Path, tiny: NeRDRain, grad: bool) -> None:
    # reference/tiny-random.input{i}.npy: test.py (--win_size 64): 96x128 -> two grid windows
    # and two bottom windows; 77x101 -> four windows.
    for i in (0, 1, 2) if not grad else (2,):
        x = read_png(folder / "reference" / f"input{i}.png")
        expected = np.load(folder / "reference" / f"tiny-random.input{i}.npy")
        with torch.set_grad_enabled(grad):
            got = tiny(x)[0].detach().numpy()
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= TOL


def test_whole_image_equals_the_authors(folder: Path) -> None:
    net = NeRDRain(**TINY, window_size=None).eval()
    net.load_state_dict(read_weights(folder / "tiny-random.pth").state)
    x = read_png(folder / "reference" / "input1.png")
    expected = np.load(folder / "reference" / "tiny-random.input1.forward.npy")
    with torch.no_grad():
        assert np.abs(net(x)[0].numpy() - expected).max() <= TOL


def test_reduce_chan_level1_max3_is_unused(tiny: NeRDRain) -> None:
    # The fixture README: the authors' forward never calls it (max2 is used twice).
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        before = tiny(x)
        saved = tiny.reduce_chan_level1_max3.weight.clone()
        tiny.reduce_chan_level1_max3.weight.normal_()
        after = tiny(x)
        tiny.reduce_chan_level1_max3.weight.copy_(saved)
    assert torch.equal(before, after)


def test_load_pretrained_rejects_the_tiny_file(folder: Path) -> None:
    # A file of another configuration is refused by keys and shapes, naming what differs.
    with pytest.raises(ValueError, match="shape|size"):
        load_pretrained("nerdrain_s-rain200l", path=folder / "tiny-random.pth",
                        check_hash=False)


# -- windows and sizes ---------------------------------------------------------------------------


def test_window_layout_of_the_authors() -> None:
    x = torch.arange(96 * 128, dtype=torch.float32).view(1, 1, 96, 128)
    windows, corners = window_partition(x, (64, 64))
    assert corners == [(0, 0), (0, 64), (32, 0), (32, 64)]  # grid row, then the bottom row
    assert torch.equal(window_merge(windows, corners, (96, 128)), x)
    windows, corners = window_partition(x[..., :77, :101], (64, 64))
    assert corners == [(0, 0), (0, 37), (13, 0), (13, 37)]  # grid, right, bottom, corner
    assert torch.equal(window_merge(windows, corners, (77, 101)), x[..., :77, :101])
    # the merge takes the leftover strips from the *ends* of the edge windows
    marked = windows.clone()
    marked[1, :, :, :27] = -1  # the right window's columns that the grid window covers
    assert torch.equal(window_merge(marked, corners, (77, 101)), x[..., :77, :101])


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (40, 70)])
@pytest.mark.parametrize("window", [32, None])
def test_any_size(size: tuple[int, int], window: int | None) -> None:
    net = small(window_size=window)
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        derained, rain = net(x, return_rain=True)
    assert derained.shape == x.shape and torch.allclose(derained + rain, x, atol=1e-6)


def test_windows_are_independent_networks() -> None:
    # 48x40 with 32-pixel windows: each output pixel comes from the window that wrote it.
    net = small(window_size=32)
    x = torch.rand(1, 3, 48, 40)
    with torch.no_grad():
        out = net(x)
        top_left = net._forward_all(x[:, :, :32, :32])[0]
        corner = net._forward_all(x[:, :, 16:, 8:])[0]
    torch.testing.assert_close(out[:, :, :32, :32], top_left, atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:, :, 32:, 32:], corner[:, :, 16:, 24:], atol=1e-5, rtol=0)


def test_fused_path_equals_plain_operators() -> None:
    net = small(1, window_size=None)
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        fast = net(x)
    plain = net(x).detach()
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=0)


def test_identity_at_initialisation() -> None:
    torch.manual_seed(0)
    net = build_model("nerdrain", **SMALL)
    x = torch.rand(2, 3, 32, 32)
    assert (net(x) - x).abs().mean() < 0.05  # issue 23's bound; here exactly 0
    outs = net.stage_outputs(x)
    assert torch.equal(outs[0], x) and torch.equal(outs[2], x[:, :, ::4, ::4])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        NeRDRain(window_size=100)
    with pytest.raises(ValueError, match="heads"):
        NeRDRain(dim=10, heads=(1, 3, 4))
    with pytest.raises(ValueError, match="layernorm_type"):
        NeRDRain(layernorm_type="batch")
    with pytest.raises(TypeError, match="num_blocks"):
        NeRDRain(num_blocks=(1, 2))


# -- training ------------------------------------------------------------------------------------


def test_pyramid_and_loss() -> None:
    y = torch.rand(1, 3, 32, 32)
    levels = pyramid(y)
    assert [t.shape[-1] for t in levels] == [32, 16, 8]
    const = torch.full((1, 3, 16, 16), 0.4)  # a constant image stays constant
    torch.testing.assert_close(pyramid(const)[2], torch.full((1, 3, 4, 4), 0.4))
    net = small()
    loss = nerdrain_loss(net.stage_outputs(y), y)
    assert loss.ndim == 0 and loss.item() > 0
    with pytest.raises(TypeError, match="7 images"):
        nerdrain_loss([y], y)


def test_training_step_lowers_the_loss() -> None:
    torch.manual_seed(0)
    net = build_model("nerdrain", **SMALL)
    x = torch.rand(2, 3, 32, 32)
    y = (x - 0.2 * torch.rand(2, 3, 32, 32)).clamp(0, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        loss = nerdrain_loss(net.stage_outputs(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# -- export --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_torch_compile() -> None:  # dynamo traces the whole network: 10-40 s on 2 loaded cores
    net = small(window_size=None)
    x = torch.rand(1, 3, 32, 48)
    compiled = torch.compile(net, backend="eager", dynamic=False)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x), atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning",
                            "ignore::FutureWarning")
def test_onnx_export_whole_image_dynamic_size() -> None:  # 10-50 s on 2 loaded cores
    # window_size=None: the whole image, padded to multiples of 16, with H and W symbolic.
    net = small(window_size=None)
    assert_onnx_matches_eager(net, (1, 3, 32, 48), [(1, 3, 32, 48), (2, 3, 21, 37)])
