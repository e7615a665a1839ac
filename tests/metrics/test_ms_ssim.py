"""MS-SSIM: agreement with pytorch-msssim and piq, the published definition, gradients, errors."""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rainkit.metrics import MS_SSIM, MS_SSIM_WEIGHTS, ms_ssim, ssim

pytorch_msssim = pytest.importorskip("pytorch_msssim")


def _to_tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).permute(2, 0, 1).to(dtype)


def _pair(photo_pair: tuple[np.ndarray, np.ndarray], dtype: torch.dtype, size=(176, 240)):
    distorted, clean = photo_pair
    h, w = size
    return (_to_tensor(distorted[:h, :w], dtype)[None], _to_tensor(clean[:h, :w], dtype)[None])


def _by_definition(x: torch.Tensor, y: torch.Tensor, weights=MS_SSIM_WEIGHTS) -> torch.Tensor:
    """Wang et al. (2003) written out from the paper with plain torch ops, for the tests:
    a dense 2-D Gaussian window, five moment maps, per-channel means, relu, then the weighted
    product; pooling = 2x2 mean with an odd last row/column replicated (the authors' MATLAB
    imfilter 'symmetric' + x(1:2:end, 1:2:end))."""
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-coords**2 / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).to(x.dtype)[None, None].repeat(x.shape[1], 1, 1, 1)
    c1, c2 = 0.01**2, 0.03**2
    channels = x.shape[1]

    def pool(m):
        return F.avg_pool2d(F.pad(m, (0, m.shape[-1] % 2, 0, m.shape[-2] % 2), mode="replicate"), 2)

    def filt(m):
        return F.conv2d(m, window, groups=channels)

    values = []
    for j in range(len(weights)):
        if j:
            x, y = pool(x), pool(y)
        mx, my = filt(x), filt(y)
        vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
        cs = (2 * cxy + c2) / (vx + vy + c2)
        lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
        value = (lum * cs if j == len(weights) - 1 else cs).mean(dim=(2, 3))
        values.append(value.clamp_min(0) ** weights[j])
    return torch.stack(values).prod(dim=0).mean(dim=1)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_pytorch_msssim_on_photos(photo_pair, dtype):
    # Sides divisible by 16: every scale pools the same way in both libraries.
    x, y = _pair(photo_pair, dtype)
    expected = pytorch_msssim.ms_ssim(x, y, data_range=1.0, win_size=11, win_sigma=1.5,
                                      size_average=False)
    got = ms_ssim(x, y, reduction="none")
    assert got.dtype == dtype
    assert 0.3 < expected.item() < 0.999  # a real, non-trivial comparison
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    # data_range and k constants carried over alike (images on a 0-255 scale)
    expected_255 = pytorch_msssim.ms_ssim(x * 255, y * 255, data_range=255, K=(0.02, 0.05),
                                          size_average=False)
    torch.testing.assert_close(ms_ssim(x * 255, y * 255, data_range=255, k1=0.02, k2=0.05,
                                       reduction="none"), expected_255, rtol=0, atol=1e-5)


def test_matches_pytorch_msssim_batch_weights_window():
    g = torch.Generator().manual_seed(3)
    # pytorch-msssim asks for sides > (win_size - 1) * 16 whatever the number of weights
    clean = torch.rand(3, 2, 112, 128, generator=g, dtype=torch.float64)
    x = (0.8 * clean + 0.2 * clean.roll(2, -1) + 0.05 * torch.randn(clean.shape, generator=g))
    weights = [0.2, 0.5, 0.3]  # three scales: 112x128 -> 56x64 -> 28x32
    expected = pytorch_msssim.ms_ssim(x, clean, data_range=1.0, win_size=7, win_sigma=1.0,
                                      weights=weights, size_average=False)
    got = ms_ssim(x, clean, window_size=7, sigma=1.0, scale_weights=weights, reduction="none")
    # pytorch-msssim builds its window in float32: 1e-7 apart even in float64
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_matches_definition_with_odd_sides(photo_pair):
    # Odd sides at several scales (191 -> 96, 233 -> 117 -> 59 -> 30): the MATLAB pooling.
    x, y = _pair(photo_pair, torch.float64, size=(191, 233))
    torch.testing.assert_close(ms_ssim(x, y, reduction="none"), _by_definition(x, y),
                               rtol=0, atol=1e-10)


def test_matches_piq():
    piq = pytest.importorskip("piq")
    g = torch.Generator().manual_seed(1)
    clean = torch.rand(2, 3, 192, 208, generator=g, dtype=torch.float64)
    x = (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    expected = piq.multi_scale_ssim(x, clean, data_range=1.0, reduction="none")
    torch.testing.assert_close(ms_ssim(x, clean, reduction="none"), expected, rtol=0, atol=1e-10)


def test_numpy_uint8_y_channel_and_crop(photo):
    a = (photo * 255).round().astype(np.uint8)
    b = np.clip(a.astype(np.int16) + 9 * (np.arange(a.size).reshape(a.shape) % 3) - 9, 0, 255)
    b = b.astype(np.uint8)
    out = ms_ssim(a, b, crop_border=8)
    assert isinstance(out, float)
    x = torch.from_numpy(a[8:-8, 8:-8].astype(np.float64)).permute(2, 0, 1)[None]
    y = torch.from_numpy(b[8:-8, 8:-8].astype(np.float64)).permute(2, 0, 1)[None]
    expected = pytorch_msssim.ms_ssim(x, y, data_range=255, size_average=False).item()
    assert abs(out - expected) < 1e-6
    # Y channel: the luma of BT.601 on the 0-255 scale, same as scoring that single channel.
    skimage_color = pytest.importorskip("skimage.color")
    y_a = skimage_color.rgb2ycbcr(a)[..., 0]
    y_b = skimage_color.rgb2ycbcr(b)[..., 0]
    expected_y = ms_ssim(y_a, y_b, data_range=255.0)
    assert abs(ms_ssim(a, b, y_channel=True) - expected_y) < 1e-10
    none = ms_ssim(a, b, reduction="none")
    assert isinstance(none, np.ndarray) and none.shape == (1,)


def test_identical_is_one_and_module_equals_function(device):
    x = torch.rand(2, 3, 170, 166, device=device)
    assert torch.equal(ms_ssim(x, x, reduction="none"), torch.ones(2, device=device))
    y = (x + 0.1 * torch.rand_like(x)).clamp(0, 1)
    kwargs = dict(window_size=7, sigma=1.0, y_channel=True, crop_border=2, scale_weights=(0.5, 0.5),
                  normalize="simple", fewer_scales=True, reduction="none")
    module = MS_SSIM(**kwargs)
    assert torch.equal(module(x, y), ms_ssim(x, y, **kwargs))
    assert "normalize='simple'" in repr(module)
    per_image = ms_ssim(x, y, reduction="none")
    torch.testing.assert_close(ms_ssim(x, y), per_image.mean())
    torch.testing.assert_close(ms_ssim(x, y, reduction="sum"), per_image.sum())
    torch.testing.assert_close(ms_ssim(x[1], y[1], reduction="none"), per_image[1:2])


def test_half_precision_computed_in_float32():
    x = torch.rand(1, 3, 176, 176)
    y = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    out = ms_ssim(x.bfloat16(), y.bfloat16())
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(ms_ssim(x.bfloat16().float(), y.bfloat16().float()).item(),
                                       abs=1e-6)


def test_negative_values_relu_and_simple():
    # x against its negative: contrast-structure is negative at every scale.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 40, 40, generator=g, dtype=torch.float64, requires_grad=True)
    kwargs = dict(window_size=5, scale_weights=(0.3, 0.4, 0.3), reduction="none")
    out = ms_ssim(x, 1 - x.detach(), **kwargs)
    assert torch.equal(out, torch.zeros(2, dtype=torch.float64))
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(grad, torch.zeros_like(grad))  # zero, not NaN (relu(v) ** w gives NaN)
    simple = ms_ssim(x, 1 - x.detach(), normalize="simple", **kwargs)
    assert bool(((simple > 0) & (simple < 0.5)).all())
    # "simple" = prod(((v + 1) / 2) ** w) with v the relu-free per-scale values
    y = torch.rand(2, 1, 40, 40, generator=g, dtype=torch.float64)
    one_scale = ms_ssim(x.detach(), y, window_size=5, scale_weights=(1.0,), normalize="simple",
                        reduction="none")
    torch.testing.assert_close(one_scale, (ssim(x.detach(), y, window_size=5,
                                                reduction="none") + 1) / 2)


def test_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 1, 13, 11, generator=g, dtype=torch.float64)
    x = (clean + 0.3 * torch.rand(clean.shape, generator=g)).requires_grad_(True)
    y = clean.clone().requires_grad_(True)
    weights = (0.3, 0.5, 0.2)  # 13x11 -> 7x6 -> 4x3 with a 3x3 window

    def fn(a, b):
        return ms_ssim(a, b, window_size=3, sigma=0.8, scale_weights=weights, reduction="none")

    assert torch.autograd.gradcheck(fn, (x, y))
    target = y.detach()
    assert torch.autograd.gradcheck(
        lambda a: ms_ssim(a, target, window_size=3, scale_weights=weights, normalize="simple",
                          data_range=2.0), (x,))


@pytest.mark.parametrize("strip_values", [1, 100])
def test_strips_give_the_same_value_and_gradient(monkeypatch, strip_values):
    # One and three output rows per strip: same values, and gradients that add up across the
    # strips' overlaps (fast-mode gradcheck: random projections, same float64 finite differences).
    ssim_module = importlib.import_module("rainkit.metrics._kernels")
    ms_module = importlib.import_module("rainkit.metrics.ms_ssim")
    x = torch.rand(2, 2, 21, 15, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 2, 21, 15, dtype=torch.float64, requires_grad=True)
    kwargs = dict(window_size=5, scale_weights=(0.4, 0.6), reduction="none")
    whole = ms_ssim(x.detach(), y.detach(), **kwargs)
    monkeypatch.setattr(ssim_module, "STRIP_VALUES", strip_values)
    assert len(ms_module.row_strips(x, 5)) > 1
    torch.testing.assert_close(ms_ssim(x.detach(), y.detach(), **kwargs), whole, rtol=0,
                               atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: ms_ssim(a, b, **kwargs), (x, y),
                                    fast_mode=True)


def test_fewer_scales():
    x = torch.rand(2, 3, 100, 120, dtype=torch.float64)
    y = (x + 0.1 * torch.rand_like(x)).clamp(0, 1)
    # 100 px: (11 - 1) * 2**3 + 1 = 81 <= 100 < 161, so four scales fit; weights rescaled to
    # the sum of all five. (pytorch-msssim refuses sides <= 160 whatever its weights.)
    w = MS_SSIM_WEIGHTS[:4]
    expected = _by_definition(x, y, [v * sum(MS_SSIM_WEIGHTS) / sum(w) for v in w])
    torch.testing.assert_close(ms_ssim(x, y, fewer_scales=True, reduction="none"), expected,
                               rtol=0, atol=1e-7)
    # 11..20 px: a single scale, SSIM ** sum(weights)
    small_x, small_y = x[..., :15, :15], y[..., :15, :15]
    torch.testing.assert_close(
        ms_ssim(small_x, small_y, fewer_scales=True, reduction="none"),
        ssim(small_x, small_y, reduction="none").clamp_min(0) ** sum(MS_SSIM_WEIGHTS))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window_size": 10}, ValueError, "window_size must be an odd"),
        ({"sigma": 0}, ValueError, "sigma must be > 0"),
        ({"data_range": 0}, ValueError, "data_range must be > 0"),
        ({"crop_border": -1}, ValueError, "crop_border must be >= 0"),
        ({"reduction": "avg"}, ValueError, "reduction must be one of 'none', 'mean', 'sum', got"),
        ({"y_channel": 1}, TypeError, "y_channel must be a bool"),
        ({"scale_weights": []}, ValueError, "at least one weight"),
        ({"scale_weights": 0.5}, TypeError, "weights must be a sequence of numbers, got float"),
        ({"scale_weights": (0.5, -1)}, ValueError, r"weights\[1\] must be >= 0, got -1"),
        ({"scale_weights": (0.5, "a")}, TypeError, r"weights\[1\] must be a number"),
        ({"normalize": "clamp"}, ValueError, "normalize must be one of 'relu', 'simple', got"),
        ({"normalize": None}, ValueError, "normalize must be one of"),
        ({"fewer_scales": 1}, TypeError, "fewer_scales must be a bool, got int"),
    ],
)
def test_bad_options(kwargs, error, match):
    x = torch.rand(1, 3, 161, 161)
    with pytest.raises(error, match=match):
        ms_ssim(x, x, **kwargs)
    with pytest.raises(error, match=match):
        MS_SSIM(**kwargs)


@pytest.mark.parametrize(
    ("shape", "kwargs", "match"),
    [
        ((1, 3, 160, 200), {}, r"at least 161 pixels on each side for MS-SSIM with 5 scales "
                               r"and window_size=11 \(\(window_size - 1\) \* 2\*\*4 \+ 1\), "
                               r"got 160x200; pass fewer_scales=True"),
        ((1, 3, 170, 170), {"crop_border": 5}, "at least 161 pixels on each side after "
                                               "crop_border"),
        ((1, 3, 40, 40), {"window_size": 7, "scale_weights": (0.5, 0.5, 0.5, 0.5)},
         "input and target must be at least 49 pixels on each side for MS-SSIM with 4 scales "
         "and window_size=7"),
        ((1, 3, 10, 30), {"fewer_scales": True}, r"at least 161 .* got 10x30$"),
    ],
)
def test_too_small(shape, kwargs, match):
    x = torch.rand(shape)
    with pytest.raises(ValueError, match=match):
        ms_ssim(x, x, **kwargs)


@pytest.mark.parametrize(
    ("a", "b", "error", "match"),
    [
        (torch.rand(1, 3, 176, 176), torch.rand(1, 3, 176, 177), ValueError, "same shape"),
        (torch.rand(176, 176), torch.rand(176, 176), ValueError, r"\(B, C, H, W\), got a 2-D"),
        (torch.rand(1, 3, 176, 176), np.zeros((176, 176, 3)), TypeError,
         "both torch.Tensor or both numpy.ndarray"),
        (torch.zeros(1, 3, 176, 176, dtype=torch.uint8),
         torch.zeros(1, 3, 176, 176, dtype=torch.uint8), TypeError, "floating-point tensor"),
        (np.zeros((176, 176), np.int32), np.zeros((176, 176), np.int32), TypeError,
         "uint8, uint16 or float, got int32"),
    ],
)
def test_bad_input(a, b, error, match):
    with pytest.raises(error, match=match):
        ms_ssim(a, b)


def _value_and_grad(fn, x, y):
    value = fn(x, y)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


def test_torch_compile_fullgraph_same_values_and_gradients():
    # Every scale as an opaque operator inside the graph (see test_ssim.py); aot_eager runs
    # the traced forward and backward graphs without code generation.
    x = torch.rand(2, 2, 40, 36, dtype=torch.float64, requires_grad=True)
    y = (x.detach() + 0.2 * torch.rand_like(x)).clamp(0, 1)
    for kwargs in [{"window_size": 5, "scale_weights": (0.3, 0.4, 0.3)},
                   {"fewer_scales": True, "normalize": "simple", "crop_border": 1}]:
        def fn(a, b, kwargs=kwargs):
            return ms_ssim(a, b, reduction="none", **kwargs)

        eager = _value_and_grad(fn, x, y)
        compiled = _value_and_grad(torch.compile(fn, fullgraph=True, backend="aot_eager"), x, y)
        torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-12)
    module = MS_SSIM(window_size=3, scale_weights=(0.5, 0.5))
    compiled_module = torch.compile(module, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(_value_and_grad(compiled_module, x, y),
                               _value_and_grad(module, x, y), rtol=0, atol=1e-12)


@pytest.mark.slow
def test_torch_compile_inductor_same_values_and_gradients():
    x = torch.rand(2, 3, 40, 40, requires_grad=True)
    y = (x.detach() + 0.2 * torch.rand_like(x)).clamp(0, 1)

    def fn(a, b):
        return ms_ssim(a, b, window_size=5, scale_weights=(0.3, 0.4, 0.3), reduction="none")

    eager = _value_and_grad(fn, x, y)
    compiled = _value_and_grad(torch.compile(fn), x, y)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-6)


@pytest.mark.parametrize("luminance", [False, True])
def test_compile_operator_registration(luminance):
    # The opaque operators compiled graphs call: fake (meta) kernel, schema and autograd
    # registration checked by torch.library.opcheck.
    import rainkit.metrics.ms_ssim  # noqa: F401  (registers the operators)

    x = torch.rand(2, 2, 9, 8, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 2, 9, 8, dtype=torch.float64, requires_grad=True)
    kernel = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    torch.library.opcheck(torch.ops.rainkit.ms_ssim_scale.default,
                          (x, y, kernel, 1e-4, 9e-4, 0.5, luminance))
    torch.library.opcheck(torch.ops.rainkit.ssim.default, (x, y, kernel, 1e-4, 9e-4, 0.5))


def test_conventions_apply_to_ms_ssim() -> None:
    """matlab-y equals y_channel=True; matlab-y-uint8 scores MATLAB's rounded uint8 luma."""
    rng = np.random.default_rng(7)
    clean = rng.integers(0, 256, (170, 180, 3), dtype=np.uint8)
    noisy = np.clip(clean.astype(int) + rng.integers(-20, 21, clean.shape), 0, 255).astype(np.uint8)
    assert ms_ssim(noisy, clean, convention="matlab-y") == ms_ssim(noisy, clean, y_channel=True)

    def matlab_y(rgb: np.ndarray) -> np.ndarray:  # rgb2ycbcr of a uint8 image, rounded
        y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
        return np.floor(y + 0.5).astype(np.uint8)

    expected = ms_ssim(matlab_y(noisy), matlab_y(clean))
    assert ms_ssim(noisy, clean, convention="matlab-y-uint8") == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="contradicts convention"):
        ms_ssim(noisy, clean, convention="matlab-y", y_channel=False)
    with pytest.raises(ValueError, match="convention must be one of"):
        MS_SSIM(convention="matlab")


def test_old_weights_keyword_still_works_with_a_future_warning():
    x = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    y = (x + 0.05).clamp(0, 1)
    new = ms_ssim(x, y, window_size=5, scale_weights=(0.5, 0.5))
    with pytest.warns(FutureWarning, match=r"ms_ssim\(weights=...\) was renamed scale_weights="):
        old = ms_ssim(x, y, window_size=5, weights=(0.5, 0.5))
    assert torch.equal(old, new)
    with pytest.warns(FutureWarning, match=r"MS_SSIM\(weights=...\) was renamed"):
        module = MS_SSIM(window_size=5, weights=(0.5, 0.5))
    assert module.weights == module.scale_weights == (0.5, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # weights=None, passed on by older callers: no warning
        ms_ssim(x, y, window_size=5, scale_weights=(0.5, 0.5), weights=None)
    with pytest.raises(TypeError, match="got both weights= and scale_weights="):
        ms_ssim(x, y, weights=(1.0,), scale_weights=(1.0,))


def test_conventions_with_their_own_ssim_have_no_ms_ssim_form():
    x = torch.rand(1, 3, 161, 161)
    with pytest.raises(ValueError, match="convention 'spanet-rgb' uses an SSIM of its own"):
        ms_ssim(x, x, convention="spanet-rgb")
    # prenet-y: its preparation (Y) and Gaussian window; MS-SSIM's scales replace the
    # automatic downsampling
    assert torch.equal(ms_ssim(x, x * 0.9, convention="prenet-y"),
                       ms_ssim(x, x * 0.9, y_channel=True))


@pytest.mark.parametrize("option", [{"data_range": 1e30}, {"k1": 1e30}, {"k2": 1e30}])
def test_constants_that_do_not_fit_the_dtype_are_refused(option):
    # before the check these gave 0 (NaN per scale, then relu) without a word
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="do not fit SSIM's arithmetic in float32"):
        ms_ssim(x, y, fewer_scales=True, **option)
    with pytest.raises(ValueError, match="do not fit SSIM's arithmetic in float32"):
        MS_SSIM(fewer_scales=True, **option)(x, y)
    with pytest.raises(ValueError, match="float64"):
        MS_SSIM(**{key: 1e200 for key in option})
