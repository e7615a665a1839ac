"""Tests for BidirectionalFusion (NeRD-Rain's Fusion)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import BidirectionalFusion


def test_matches_the_formula() -> None:
    torch.manual_seed(0)
    fusion = BidirectionalFusion(4)
    x, y = torch.randn(2, 4, 5, 6), torch.randn(2, 4, 5, 6)
    a = torch.sigmoid(F.conv2d(x, fusion.query_conv.weight, fusion.query_conv.bias, padding=1)
                      * F.conv2d(y, fusion.key_conv.weight, fusion.key_conv.bias, padding=1))
    g = F.conv2d(torch.cat([x, x * a], 1), fusion.gamma1.weight, fusion.gamma1.bias, padding=1)
    h = F.conv2d(torch.cat([y, y * a], 1), fusion.gamma2.weight, fusion.gamma2.bias, padding=1)
    expected = g[:, :1] * x + g[:, 1:] * x * a + h[:, :1] * y + h[:, 1:] * y * a
    torch.testing.assert_close(fusion(x, y), expected)


def test_gradcheck_float64() -> None:
    fusion = BidirectionalFusion(2).double()
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fusion, (x, y))


def test_errors() -> None:
    fusion = BidirectionalFusion(4)
    with pytest.raises(ValueError, match="same shape"):
        fusion(torch.rand(1, 4, 3, 3), torch.rand(1, 4, 3, 4))
    with pytest.raises(ValueError, match="4 channels"):
        fusion(torch.rand(1, 3, 3, 3), torch.rand(1, 3, 3, 3))
    assert "channels=4" in repr(fusion)
