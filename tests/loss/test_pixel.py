"""Charbonnier loss against the formula written out by hand."""

from __future__ import annotations

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
@given(st.floats(0.0, 0.1))
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
