"""NIQE: the LIVE script's formulas (test reference), rain-dev ranking, shapes, bad input."""

from __future__ import annotations

from pathlib import Path

import _nr_reference as ref
import numpy as np
import pytest
import torch

from rainkit.metrics import METRICS, NIQE, niqe
from rainkit.metrics._nr_features import RGB_TO_GREY, imresize_half
from rainkit.metrics.niqe import pristine_model

RAIN_DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rain-dev" / "val"


def _textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A uint8 RGB image with texture everywhere (no flat windows), like a photo's detail."""
    rng = np.random.default_rng(seed)
    base = rng.random((h // 4 + 2, w // 4 + 2, 3))
    up = np.kron(base, np.ones((4, 4, 1)))[:h, :w]
    return np.clip((0.7 * up + 0.3 * rng.random((h, w, 3))) * 255, 0, 255).round().astype(np.uint8)


def test_grey_coefficients_are_matlab_rgb2gray():
    t = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647],
                                [1.0, -1.106, 1.703]]))
    np.testing.assert_allclose(RGB_TO_GREY, t[0], rtol=0, atol=1e-15)


def test_pristine_model_values():
    mu, cov = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    # mu_prisparam of the LIVE release as quoted in BasicSR/pyiqa-derived code: 2.60131368 ...
    np.testing.assert_allclose(mu[:3].numpy(), [2.60131368, 0.90570272, 0.81204778], atol=1e-8)
    assert torch.allclose(cov, cov.T)


@pytest.mark.parametrize("shape", [(96, 96), (97, 131), (150, 64)])
def test_imresize_half_matches_matlab_algorithm(shape):
    a = np.random.default_rng(1).random(shape) * 255
    ours = imresize_half(torch.from_numpy(a)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(ours, ref.imresize_half(a), rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_script_formulas(seed):
    img = _textured(192, 288, seed)  # 2 x 3 blocks
    mu, cov = (t.numpy() for t in pristine_model())
    expected = ref.niqe(ref.rgb2gray_uint8(img), mu, cov)
    assert 2.0 < expected < 100.0
    assert abs(niqe(img) - expected) < 1e-8


def test_matches_script_formulas_on_photo(photo):
    img = (photo * 255).round().astype(np.uint8)  # (192, 256, 3): 2 x 2 blocks
    mu, cov = (t.numpy() for t in pristine_model())
    assert abs(niqe(img) - ref.niqe(ref.rgb2gray_uint8(img), mu, cov)) < 1e-8


def test_tensor_equals_numpy_and_module():
    img = _textured(192, 192)
    x = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    batch = torch.stack([x, x.flip(-1)])
    out = niqe(batch, reduction="none")
    assert out.shape == (2,) and out.dtype == torch.float32
    assert abs(out[0].item() - niqe(img)) < 1e-5
    assert torch.equal(NIQE(reduction="none")(batch), out)
    assert niqe(x.double()).dtype == torch.float64
    assert torch.allclose(niqe(batch, reduction="sum"), out.sum())


def test_conventions_and_grey_input():
    img = _textured(192, 192)
    x = torch.from_numpy(img).permute(2, 0, 1).double()[None] / 255
    grey = torch.from_numpy(ref.rgb2gray_uint8(img))[None, None] / 255
    assert abs(niqe(grey).item() - niqe(x).item()) < 1e-10
    y = 16 + (65.481 * x[:, 0] + 128.553 * x[:, 1] + 24.966 * x[:, 2])
    assert abs(niqe(x, convention="basicsr").item() - niqe(y.round()[:, None] / 255).item()) < 1e-10


def test_crop_border():
    img = _textured(200, 200)
    assert abs(niqe(img, crop_border=4) - niqe(img[4:-4, 4:-4])) < 1e-12


def test_registered_for_score_table():
    metric = METRICS["niqe"]
    assert not metric.reference and not metric.higher_is_better and metric.label == "NIQE"
    x = torch.from_numpy(_textured(96, 192)).permute(2, 0, 1).double()[None] / 255
    assert metric.function(x).shape == (1,)


def test_constant_image_is_nan():
    assert np.isnan(niqe(np.full((96, 192), 128, np.uint8)))


@pytest.mark.parametrize(
    ("image", "kwargs", "error", "match"),
    [
        ([[0.5]], {}, TypeError, "torch.Tensor or a numpy array"),
        (torch.zeros(1, 3, 96, 96, dtype=torch.uint8), {}, TypeError, "floating-point"),
        (torch.zeros(1, 2, 96, 96), {}, ValueError, "channels"),
        (torch.zeros(96, 96), {}, ValueError, "shape"),
        (torch.zeros(1, 3, 95, 200), {}, ValueError, "at least 96x96"),
        (torch.zeros(1, 3, 100, 100), {"crop_border": 3}, ValueError, "at least 96x96"),
        (np.zeros((96, 96, 3), np.int32), {}, TypeError, "uint8, uint16 or float"),
        (torch.zeros(1, 3, 96, 96), {"convention": "y"}, ValueError, "'live', 'basicsr'"),
        (torch.zeros(1, 3, 96, 96), {"reduction": "avg"}, ValueError, "reduction"),
        (torch.zeros(1, 3, 96, 96), {"crop_border": -1}, ValueError, "crop_border"),
    ],
)
def test_bad_input(image, kwargs, error, match):
    with pytest.raises(error, match=match):
        niqe(image, **kwargs)


def test_non_finite_raises():
    x = torch.rand(1, 3, 96, 96)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        niqe(x)


def test_module_checks_options():
    with pytest.raises(ValueError, match="convention"):
        NIQE(convention="matlab")
    assert "convention='live'" in repr(NIQE())


@pytest.mark.slow  # 16 full-size photos, ~4 s
def test_ranks_clean_above_rainy_on_rain_dev():
    from PIL import Image

    clean_dir = RAIN_DEV / "clean"
    if not clean_dir.is_dir():
        pytest.skip(f"{RAIN_DEV} not present")
    right = []
    for path in sorted(clean_dir.glob("*.png")):
        clean = np.asarray(Image.open(path).convert("RGB"))
        rainy = np.asarray(Image.open(RAIN_DEV / "rainy" / path.name).convert("RGB"))
        right.append(niqe(clean) < niqe(rainy))
    # measured: NIQE puts the clean photo first on all 8 val pairs
    assert len(right) == 8 and all(right)
