"""Restormer: the released configuration, the authors' outputs, any size, training, export."""

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
from rainkit.nn.families.restormer import Restormer, network, pad_to_multiple
from rainkit.nn.loading import load_state_strict, read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "restormer").is_dir()), None)
# ../shared/pretrained/restormer/README.md: the fixture configuration and the release's count.
TINY = {"channels": 24, "num_blocks": [1, 2, 2, 2], "num_refinement_blocks": 1}
RELEASED_PARAMS = 26_126_644
SMALL = {"channels": 8, "num_blocks": 1, "num_refinement_blocks": 1}


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/restormer is absent (the authors' outputs are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "restormer"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Every weight drawn at random: the trainable default is the identity (zero output
    convolution), which would make equivalence tests pass vacuously."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.6 / fan_in ** 0.5
                    + (1.0 if p.ndim == 1 else 0.0))
    return net


@pytest.mark.parametrize("config", ["deraining", "tiny"])
def test_manifest_keys_and_shapes_on_meta(folder: Path, config: str) -> None:
    manifest = json.loads((folder / f"manifest-{config}.json").read_text())
    kwargs = {} if config == "deraining" else TINY
    with torch.device("meta"):
        net = build_model("restormer", **kwargs)
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {k: s for k, s in manifest["keys"]}
    assert sum(p.numel() for p in net.parameters()) == manifest["num_parameters"]


def test_released_default_and_table() -> None:
    with torch.device("meta"):
        net = build_model("restormer")
    assert sum(p.numel() for p in net.parameters()) == RELEASED_PARAMS
    assert MODELS["restormer"] is Restormer and "restormer" in FAMILIES
    entry = PRETRAINED["restormer-rain13k"]
    assert entry.num_params == RELEASED_PARAMS and dict(entry.model_kwargs) == {}
    # No hash is claimed: the authors publish none, and the third-party one is unverified. The
    # v1.0 release asset is a direct link, so a script fetches it and pins its hash on first use.
    assert entry.sha256 is None and entry.downloadable
    assert entry.url == "https://github.com/swz30/Restormer/releases/download/v1.0/deraining.pth"
    assert entry.file_name == "restormer-rain13k.pth"
    assert "rainkit download restormer-rain13k`" in entry.notes and "--url" not in entry.notes
    assert {s.test_set for s in entry.published} == {"Test100", "Rain100H", "Rain100L",
                                                      "Test2800", "Test1200"}
    assert all(s.protocol == "B" and s.convention in CONVENTIONS for s in entry.published)


@pytest.mark.parametrize("index", [0, 1, 2])  # input2 is 77 x 101: the reflect padding
def test_outputs_equal_the_authors(folder: Path, index: int) -> None:
    # The fixture file is {'params': state_dict}: unwrapped by the reader, then loaded strictly
    # with no key conversion.
    weights = read_weights(folder / "tiny-random.pth")
    assert weights.unwrapped == ("the 'params' wrapper",)
    net = build_model("restormer", **TINY).eval()
    load_state_strict(net, weights.state, what="fixture")
    x = read_png(folder / "reference" / f"input{index}.png")
    expected = torch.from_numpy(np.load(folder / "reference" / f"tiny-random.input{index}.npy"))
    with torch.no_grad():
        derained, rain = net(x, return_rain=True)
    assert derained.shape == x.shape
    torch.testing.assert_close(derained[0], expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(derained + rain, x, rtol=0, atol=1e-6)


def test_banded_inference_equals_the_plain_path(monkeypatch: pytest.MonkeyPatch) -> None:
    net = randomised(build_model("restormer", **SMALL)).eval()
    x = torch.rand(2, 3, 45, 37)
    with torch.no_grad():
        plain = net(x)
        monkeypatch.setattr(network, "BAND_BYTES", 2048)  # bands of 8 rows from 32 rows up
        monkeypatch.setattr(network, "MIN_BAND_ROWS", 8)
        banded = net(x)
        with torch.enable_grad():
            trained_path = net(x)  # autograd on: the plain path
    torch.testing.assert_close(banded, plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(trained_path, plain, rtol=0, atol=0)
    assert not torch.equal(plain, x)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 13), (8, 16), (9, 33)])
def test_any_size(size: tuple[int, int]) -> None:
    net = randomised(build_model("restormer", **SMALL)).eval()
    x = torch.rand(1, 3, *size)
    with torch.no_grad():
        derained, rain = net(x, return_rain=True)
    assert derained.shape == x.shape and torch.isfinite(derained).all()
    torch.testing.assert_close(derained + rain, x)


@pytest.mark.parametrize("size", [5, 11, 16])
def test_padding_is_the_authors_reflect(size: int) -> None:
    # Deraining/test.py: F.pad(x, (0, padw, 0, padh), 'reflect') to the next multiple of 8.
    x = torch.rand(1, 2, size, size + 3)
    target = lambda n: n if n % 8 == 0 else (n + 8) // 8 * 8  # noqa: E731
    padh, padw = target(size) - size, target(size + 3) - size - 3
    expected = torch.nn.functional.pad(x, (0, padw, 0, padh), mode="reflect")
    torch.testing.assert_close(pad_to_multiple(x, 8), expected, rtol=0, atol=0)


def test_identity_at_initialisation() -> None:
    torch.manual_seed(0)
    net = build_model("restormer", **SMALL)
    x = torch.rand(2, 3, 24, 20)
    with torch.no_grad():
        assert (net(x) - x).abs().mean() < 0.05
    # The released configuration still loads exactly (same keys; the zero layer is overwritten).
    with torch.device("meta"):
        assert set(build_model("restormer").state_dict()) == set(
            Restormer().state_dict())


def test_gradient_reaches_every_parameter() -> None:
    net = randomised(build_model("restormer", **SMALL)).train()
    net(torch.rand(2, 3, 16, 16)).square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="layer_norm_type"):
        Restormer(layer_norm_type="batch")
    with pytest.raises(ValueError, match="num_blocks"):
        Restormer(num_blocks=[1, 2])
    with pytest.raises(ValueError, match="heads"):
        Restormer(channels=6, heads=4)
    with pytest.raises(TypeError, match="channels"):
        Restormer(channels=4.0)  # type: ignore[arg-type]


def test_bias_free_layer_norm_variant_runs() -> None:
    net = build_model("restormer", **SMALL, layer_norm_type="BiasFree")
    assert "encoder_level1.0.norm1.body.bias" not in net.state_dict()
    assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)


@pytest.mark.slow
def test_torch_compile() -> None:  # dynamo traces the whole network: 10-30 s on 2 loaded cores
    net = randomised(build_model("restormer", **SMALL)).eval()
    compiled = torch.compile(net, backend="eager", dynamic=False)
    x = torch.rand(1, 3, 13, 17)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x), rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning",
                            "ignore::FutureWarning")
def test_onnx_export_dynamic_size() -> None:
    net = randomised(build_model("restormer", **SMALL)).eval()
    assert_onnx_matches_eager(net, (1, 3, 12, 16), [(1, 3, 12, 16), (2, 3, 9, 21), (1, 3, 1, 1)])
