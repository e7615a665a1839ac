"""DRSformer (both variants): the released configurations, the authors' outputs, any size,
training, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from _onnx import assert_onnx_matches_eager
from rainkit.metrics import CONVENTIONS
from rainkit.nn import FAMILIES, MODELS, PRETRAINED, build_model
from rainkit.nn.families.drsformer import DRSformer
from rainkit.nn.families.restormer import network
from rainkit.nn.loading import load_state_strict, read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "drsformer").is_dir()), None)
# ../shared/pretrained/drsformer/README.md: the fixture configuration, the releases' counts.
TINY = {"channels": 16, "num_blocks": [1, 2, 2, 2]}
RELEASED_PARAMS = {True: 33_655_424, False: 32_610_304}
SMALL = {"channels": 8, "num_blocks": 1}
VARIANTS = {"mefc": True, "nomefc": False}


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/drsformer is absent (the authors' outputs are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "drsformer"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every weight drawn at random (the trainable default starts at the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.6 / fan_in ** 0.5
                    + (0.5 if p.ndim == 1 else 0.0))
    return net


@pytest.mark.parametrize("config", ["mefc", "nomefc", "tiny-mefc", "tiny-nomefc"])
def test_manifest_keys_and_shapes_on_meta(folder: Path, config: str) -> None:
    manifest = json.loads((folder / f"manifest-{config}.json").read_text())
    kwargs = {"mefc": VARIANTS[config.removeprefix("tiny-")]}
    if config.startswith("tiny"):
        kwargs.update(TINY)
    with torch.device("meta"):
        net = build_model("drsformer", **kwargs)
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {k: s for k, s in manifest["keys"]}
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"]


@pytest.mark.parametrize("mefc", [True, False])
def test_released_counts(mefc: bool) -> None:
    with torch.device("meta"):
        net = build_model("drsformer", mefc=mefc)
    assert sum(p.numel() for p in net.parameters()) == RELEASED_PARAMS[mefc]


def test_table() -> None:
    assert MODELS["drsformer"] is DRSformer and "drsformer" in FAMILIES
    # The authors' README: Rain200L and SPA-Data without MEFC, the others with it.
    expected = {"rain200l": False, "rain200h": True, "did": True, "ddn": True, "spa": False}
    for key, mefc in expected.items():
        entry = PRETRAINED[f"drsformer-{key}"]
        assert dict(entry.model_kwargs) == {"mefc": mefc}
        assert entry.num_params == RELEASED_PARAMS[mefc]
        assert entry.sha256 is None and not entry.downloadable
        assert entry.url.startswith("https://drive.google.com/file/d/")
        assert "pan.baidu.com" in entry.notes
        (score,) = entry.published
        assert score.protocol == "C" and score.convention in CONVENTIONS
    # DID-Data and DDN-Data were scored with RCDNet's script (Y not rounded), the others with
    # Restormer's evaluate_PSNR_SSIM.m (Y rounded to uint8).
    assert PRETRAINED["drsformer-did"].published[0].convention == "prenet-y"
    assert PRETRAINED["drsformer-rain200h"].published[0].convention == "mprnet-y"


@pytest.mark.parametrize("index", [0, 1, 2])  # input2 is 77 x 101: the reflect padding
@pytest.mark.parametrize("variant", ["mefc", "nomefc"])
def test_outputs_equal_the_authors(folder: Path, variant: str, index: int) -> None:
    weights = read_weights(folder / f"tiny-{variant}-random.pth")
    assert weights.unwrapped == ("the 'params' wrapper",)
    net = build_model("drsformer", **TINY, mefc=VARIANTS[variant]).eval()
    load_state_strict(net, weights.state, what="fixture")  # no key conversion
    x = read_png(folder / "reference" / f"input{index}.png")
    expected = np.load(folder / "reference" / f"tiny-{variant}-random.input{index}.npy")
    with torch.no_grad():
        derained, rain = net(x, return_rain=True)
    torch.testing.assert_close(derained[0], torch.from_numpy(expected), rtol=0, atol=1e-5)
    torch.testing.assert_close(derained + rain, x, rtol=0, atol=1e-6)


def test_a_file_of_the_other_variant_is_refused(folder: Path) -> None:
    weights = read_weights(folder / "tiny-nomefc-random.pth")
    with pytest.raises(ValueError, match="missing keys"):
        load_state_strict(build_model("drsformer", **TINY, mefc=True), weights.state,
                          what="fixture")


@pytest.mark.parametrize("mefc", [True, False])
def test_banded_inference_equals_the_plain_path(mefc: bool,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    net = randomised(build_model("drsformer", **SMALL, mefc=mefc)).eval()
    x = torch.rand(1, 3, 41, 30)
    with torch.no_grad():
        plain = net(x)
        monkeypatch.setattr(network, "BAND_BYTES", 2048)  # bands of 8 rows from 32 rows up
        monkeypatch.setattr(network, "MIN_BAND_ROWS", 8)
        banded = net(x)
    torch.testing.assert_close(banded, plain, rtol=1e-5, atol=1e-5)
    assert not torch.equal(plain, x)


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (7, 13), (9, 33)])
def test_any_size(size: tuple[int, int]) -> None:
    net = randomised(build_model("drsformer", **SMALL)).eval()
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        derained, rain = net(x, return_rain=True)
    assert derained.shape == x.shape and torch.isfinite(derained).all()
    torch.testing.assert_close(derained + rain, x)


@pytest.mark.parametrize("mefc", [True, False])
def test_identity_at_initialisation(mefc: bool) -> None:
    torch.manual_seed(0)
    net = build_model("drsformer", **SMALL, mefc=mefc)
    x = torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        assert (net(x) - x).abs().mean() < 0.05


def test_gradient_reaches_every_parameter() -> None:
    net = randomised(build_model("drsformer", **SMALL)).train()
    net(torch.rand(2, 3, 16, 16)).square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="mefc"):
        DRSformer(mefc="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top-k"):
        DRSformer(channels=8, heads=8)  # 1 channel per head: int(1/2) = 0 entries kept


@pytest.mark.slow
def test_torch_compile() -> None:  # dynamo traces the whole network: 10-40 s on 2 loaded cores
    net = randomised(build_model("drsformer", **SMALL)).eval()
    compiled = torch.compile(net, backend="eager", dynamic=False)
    x = torch.rand(1, 3, 13, 17)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x), rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning",
                            "ignore::FutureWarning")
@pytest.mark.parametrize("mefc", [True, False])
def test_onnx_export_dynamic_size(mefc: bool) -> None:
    net = randomised(build_model("drsformer", **SMALL, mefc=mefc)).eval()
    # Sides of 9 or more: up to 8 pixels the coarsest level is 1 x 1, every channel similarity
    # is +-1, and which of the tied logits top-k keeps is implementation-defined (onnxruntime
    # and torch keep different ones).
    assert_onnx_matches_eager(net, (1, 3, 12, 16), [(1, 3, 12, 16), (2, 3, 9, 21), (1, 3, 17, 10)])
