"""Charbonnier loss against the formula written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rainkit.loss import CharbonnierLoss, charbonnier_loss


def test_values_by_hand() -> None:
    x = torch.tensor([0.0, 1.0, 0.5])
    y = torch.tensor([0.0, 0.0, 0.2])
    eps = 0.1
    # sqrt(0 + 0.01), sqrt(1 + 0.01), sqrt(0.09 + 0.01)
    expected = [0.1, 1.0049875621, 0.3162277660]
    out = charbonnier_loss(x, y, eps=eps, reduction="none")
    torch.testing.assert_close(out, torch.tensor(expected))
    torch.testing.assert_close(charbonnier_loss(x, y, eps), torch.tensor(sum(expected) / 3))
    torch.testing.assert_close(CharbonnierLoss(eps, "sum")(x, y), torch.tensor(sum(expected)))


@settings(max_examples=10, deadline=None)
@given(st.floats(0.0, 0.1, exclude_min=True))
def test_bounds_l1(eps: float) -> None:
    torch.manual_seed(0)
    x, y = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    l1 = (x - y).abs().mean()
    value = charbonnier_loss(x, y, eps)
    assert l1 - 1e-6 <= value <= l1 + eps + 1e-6


def test_gradcheck() -> None:
    x = torch.rand(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 2, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: charbonnier_loss(a, y), (x,))


def test_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        charbonnier_loss(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        CharbonnierLoss(reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eps"):
        CharbonnierLoss(eps=-1.0)


def test_gradient_finite_where_output_equals_target() -> None:
    # the reason eps must be > 0: d/dx sqrt((x - y)^2 + eps^2) = (x - y) / sqrt(...) is 0/0 at
    # x == y when eps == 0
    x = torch.rand(1, 1, 4, 4, requires_grad=True)
    charbonnier_loss(x, x.detach().clone()).backward()
    assert torch.isfinite(x.grad).all()
    assert float(x.grad.abs().max()) == 0.0


@pytest.mark.parametrize("eps", [0.0, -1.0, float("inf"), float("nan")])
def test_eps_must_be_finite_and_positive(eps: float) -> None:
    x = torch.rand(1, 1, 4, 4)
    with pytest.raises(ValueError, match="eps"):
        charbonnier_loss(x, x, eps=eps)
    with pytest.raises(ValueError, match="eps"):
        CharbonnierLoss(eps=eps)


def test_eps_accepts_numpy_scalars_not_bools() -> None:
    x, y = torch.zeros(4), torch.ones(4)
    value = charbonnier_loss(x, y, eps=np.float32(0.5))
    torch.testing.assert_close(value, torch.tensor(float(np.sqrt(1.25))))
    with pytest.raises(TypeError, match="eps must be a number"):
        CharbonnierLoss(eps=True)  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool, torch.complex64])
def test_rejects_non_floating_tensors(dtype: torch.dtype) -> None:
    # uint8 would wrap around: 0 - 16 == 240, so 0 and 16 would read as far apart (and
    # 16 - 0 == 16 vs 0 - 16 == 240 would not even be symmetric)
    x = torch.zeros(1, 3, 4, 4).to(dtype)
    y = torch.full((1, 3, 4, 4), 16).to(dtype)
    with pytest.raises(TypeError, match="input must be a floating-point tensor"):
        charbonnier_loss(x, y)
    with pytest.raises(TypeError, match="target must be a floating-point tensor"):
        charbonnier_loss(torch.zeros(1, 3, 4, 4), y)


@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (2, 3, 0, 4), (0,)])
def test_rejects_empty_tensors(shape: tuple[int, ...]) -> None:
    # the mean of nothing is NaN
    x = torch.zeros(shape)
    with pytest.raises(ValueError, match="input must not be empty"):
        charbonnier_loss(x, x)
    assert charbonnier_loss(torch.zeros(3), torch.zeros(3), reduction="none").shape == (3,)


def test_huge_eps_and_float16_stay_finite() -> None:
    # sqrt(d * d + eps * eps) overflowed float32 for eps = 1e30 (inf); hypot gives the value
    # itself (found by tests/test_public_api_fuzz.py); by hand, sqrt(d^2 + eps^2) = eps there
    x, y = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    assert charbonnier_loss(x, y, eps=1e30).item() == pytest.approx(1e30, rel=1e-6)
    # where input == target the loss is eps, also in float16
    half = x.half()
    assert charbonnier_loss(half, half, eps=1e-3).item() == pytest.approx(1e-3, rel=1e-3)
