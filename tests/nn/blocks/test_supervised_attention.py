"""Tests for SupervisedAttention (MPRNet's SAM)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import SupervisedAttention


def test_matches_the_formula() -> None:
    torch.manual_seed(0)
    sam = SupervisedAttention(6, kernel_size=3, bias=True)
    f, img = torch.randn(2, 6, 5, 7), torch.rand(2, 3, 5, 7)
    feats, estimate = sam(f, img)
    # MPRNet, section 3.2: I_hat = W2 * F + I; F_out = F + (W1 * F) sigmoid(W3 * I_hat)
    expected_img = F.conv2d(f, sam.conv2.weight, sam.conv2.bias, padding=1) + img
    gate = torch.sigmoid(F.conv2d(expected_img, sam.conv3.weight, sam.conv3.bias, padding=1))
    expected = f + F.conv2d(f, sam.conv1.weight, sam.conv1.bias, padding=1) * gate
    torch.testing.assert_close(estimate, expected_img)
    torch.testing.assert_close(feats, expected)


def test_gradcheck_float64() -> None:
    sam = SupervisedAttention(3, image_channels=2).double()
    f = torch.randn(1, 3, 3, 4, dtype=torch.float64, requires_grad=True)
    img = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sam, (f, img))


def test_errors() -> None:
    sam = SupervisedAttention(4)
    with pytest.raises(ValueError, match="same batch and size"):
        sam(torch.rand(1, 4, 5, 5), torch.rand(1, 3, 5, 6))
    with pytest.raises(ValueError, match="3 channels"):
        sam(torch.rand(1, 4, 5, 5), torch.rand(1, 1, 5, 5))
    with pytest.raises(ValueError, match="kernel_size"):
        SupervisedAttention(4, kernel_size=2)
    assert "image_channels=3" in repr(sam)
