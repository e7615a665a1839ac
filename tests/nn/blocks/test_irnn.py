"""spatial_irnn / SpatialIRNN: SPANet's four-direction ReLU scan against the authors' kernel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rainkit.nn.blocks.irnn import DIRECTIONS, SpatialIRNN, spatial_irnn

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "spanet").is_dir()), None)


def kernel_loop(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A per-pixel re-statement of SPANet's IRNN_Forward_cuda.cu in float32 numpy: every output
    pixel walks from the image edge to itself, as each CUDA thread does."""
    bsz, c, h, wd = x.shape
    f = np.float32
    out = {d: np.zeros_like(x) for d in DIRECTIONS}
    for n in range(bsz):
        for k in range(c):
            wu, wr, wdn, wl = (f(w[i, k]) for i in range(4))
            bu, br, bdn, bl = (f(b[i, k]) for i in range(4))
            for i in range(h):
                for j in range(wd):
                    o = max(x[n, k, i, wd - 1], f(0))
                    for s in range(wd - 2, j - 1, -1):
                        o = max(f(f(o * wl) + bl) + x[n, k, i, s], f(0))
                    out["left"][n, k, i, j] = o
                    o = max(x[n, k, i, 0], f(0))
                    for s in range(1, j + 1):
                        o = max(f(f(o * wr) + br) + x[n, k, i, s], f(0))
                    out["right"][n, k, i, j] = o
                    o = max(x[n, k, h - 1, j], f(0))
                    for s in range(h - 2, i - 1, -1):
                        o = max(f(f(o * wu) + bu) + x[n, k, s, j], f(0))
                    out["up"][n, k, i, j] = o
                    o = max(x[n, k, 0, j], f(0))
                    for s in range(1, i + 1):
                        o = max(f(f(o * wdn) + bdn) + x[n, k, s, j], f(0))
                    out["down"][n, k, i, j] = o
    return np.concatenate([out[d] for d in DIRECTIONS], axis=1)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 4, 5), (1, 2, 6, 1), (1, 2, 1, 7)])
@pytest.mark.parametrize("grad", [False, True], ids=["inplace", "autograd"])
def test_matches_the_kernel_per_pixel(shape: tuple[int, ...], grad: bool) -> None:
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(shape, generator=g)
    w = torch.rand(4, shape[1], generator=g) * 2 - 0.5  # negative weights too
    b = torch.rand(4, shape[1], generator=g) - 0.5
    with torch.set_grad_enabled(grad):
        out = spatial_irnn(x, w, b)
    expected = kernel_loop(x.numpy(), w.numpy(), b.numpy())
    assert out.shape == (shape[0], 4 * shape[1], *shape[2:])
    assert np.array_equal(out.detach().numpy(), expected)


def test_authors_kernel_fixture() -> None:
    if SHARED is None:
        pytest.skip("../shared/pretrained/spanet is absent (the authors' outputs are fixtures)")
    case = np.load(SHARED / "pretrained" / "spanet" / "reference" / "irnn_case.npz")
    t = {k: torch.from_numpy(v) for k, v in case.items()}
    w = torch.stack([t[f"w_{d}"].flatten() for d in DIRECTIONS])
    b = torch.stack([t[f"b_{d}"] for d in DIRECTIONS])
    expected = torch.cat([t[f"out_{d}"] for d in DIRECTIONS], dim=1)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            # the authors' kernel, compiled without FMA contraction: bit-identical
            assert torch.equal(spatial_irnn(t["x"], w, b), expected)


def test_hand_computed_row() -> None:
    # w = 0.5, b = 0.1 on one row [1, -2, 3]: right: 1, relu(0.6 - 2) = 0, relu(0.1 + 3) = 3.1
    x = torch.tensor([[[[1.0, -2.0, 3.0]]]])
    out = spatial_irnn(x, torch.full((4, 1), 0.5), torch.full((4, 1), 0.1))
    torch.testing.assert_close(out[0, 1, 0], torch.tensor([1.0, 0.0, 3.1]))
    # left from the right edge: 3, relu(1.6 - 2) = 0, relu(0.1 + 1) = 1.1
    torch.testing.assert_close(out[0, 3, 0], torch.tensor([1.1, 0.0, 3.0]))
    assert torch.equal(out[0, 0], torch.relu(x[0, 0])) and torch.equal(out[0, 2], out[0, 0])


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64) + 0.3).requires_grad_()
    w = torch.rand(4, 2, generator=g, dtype=torch.float64).requires_grad_()
    b = (torch.rand(4, 2, generator=g, dtype=torch.float64) * 0.2).requires_grad_()
    assert torch.autograd.gradcheck(spatial_irnn, (x, w, b))


def test_module_and_errors() -> None:
    layer = SpatialIRNN(3, alpha=0.5)
    assert layer.weight.shape == (4, 3) and bool((layer.weight == 0.5).all())
    assert not layer.bias.any() and "directions=('up', 'right', 'down', 'left')" in repr(layer)
    x = torch.rand(2, 3, 5, 4)
    assert torch.equal(layer(x), spatial_irnn(x, layer.weight, layer.bias))
    with pytest.raises(ValueError, match=r"weight must have shape \(4, C\) = \(4, 3\)"):
        spatial_irnn(x, torch.ones(3, 3), torch.zeros(4, 3))
    with pytest.raises(TypeError, match="bias must be a torch.Tensor, got list"):
        spatial_irnn(x, torch.ones(4, 3), [0.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="input must have 3 channels"):
        layer(torch.rand(1, 2, 4, 4))
    with pytest.raises(ValueError, match="got a 3-D tensor"):
        spatial_irnn(torch.rand(3, 4, 4), torch.ones(4, 3), torch.zeros(4, 3))
    with pytest.raises(TypeError, match="alpha must be a number"):
        SpatialIRNN(3, alpha="0.2")  # type: ignore[arg-type]


@pytest.mark.parametrize("alpha", [1e30, -1e30, 1.0 + 1e-6, 2.0, -2.0])
def test_alpha_beyond_one_is_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match=r"alpha must be in \[-1, 1\], got .*overflows float32"):
        SpatialIRNN(3, alpha=alpha)


def test_alpha_bound_keeps_the_scan_finite() -> None:
    # Why the bound is 1: on a row of ones the scan's state is sum(w**k), a hand computation.
    # w = 2 leaves float32 (max 3.4e38 ~ 2**128) at 128 pixels, so no bound above 1 holds at
    # every size; w = 1 (the largest accepted) gives o_i = i + 1 on any length.
    x = torch.ones(1, 1, 1, 200)
    with torch.no_grad():
        right = spatial_irnn(x, torch.full((4, 1), 2.0), torch.zeros(4, 1))[0, 1, 0]
        assert torch.equal(right[:24], 2.0 ** torch.arange(1.0, 25.0) - 1)  # 2**(i+1) - 1
        assert torch.isfinite(right[:127]).all() and torch.isinf(right[127:]).all()
        for alpha in (1.0, -1.0, 0.0, np.float32(0.5)):
            layer = SpatialIRNN(1, alpha=alpha)
            out = layer(torch.rand(1, 1, 3, 4000) * 1e3)
            assert bool(torch.isfinite(out).all())
    torch.testing.assert_close(SpatialIRNN(1, alpha=1.0)(x)[0, 1, 0],
                               torch.arange(1.0, 201.0))  # right: 1, 2, ..., 200


def test_layouts_and_views_agree() -> None:
    # channels_last, NCHW and a view with a storage offset give the same (in-place) result
    g = torch.Generator().manual_seed(1)
    big = torch.randn(3, 4, 7, 6, generator=g).contiguous(memory_format=torch.channels_last)
    w, b = torch.rand(4, 4, generator=g), torch.rand(4, 4, generator=g) - 0.5
    expected = kernel_loop(big[1:].numpy(), w.numpy(), b.numpy())
    with torch.no_grad():
        for x in (big[1:], big[1:].contiguous()):
            out = spatial_irnn(x, w, b)
            assert out.is_contiguous(memory_format=torch.channels_last)
            assert np.array_equal(out.numpy(), expected)
