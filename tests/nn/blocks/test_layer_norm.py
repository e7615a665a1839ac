"""Tests for the channel LayerNorms (Restormer's WithBias and BiasFree)."""

from __future__ import annotations

import pytest
import torch

from rainkit.nn.blocks import BiasFreeLayerNorm2d, LayerNorm2d
from rainkit.nn.blocks.layer_norm import bias_free_layer_norm_2d, layer_norm_2d


def authors_with_bias(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # restormer_arch.py: to_3d, (x - mu) / sqrt(var(unbiased=False) + 1e-5) * w + b, to_4d.
    n, c, h, width = x.shape
    t = x.permute(0, 2, 3, 1).reshape(n, h * width, c)
    mu, var = t.mean(-1, keepdim=True), t.var(-1, keepdim=True, unbiased=False)
    t = (t - mu) / torch.sqrt(var + 1e-5) * w + b
    return t.reshape(n, h, width, c).permute(0, 3, 1, 2)


def authors_bias_free(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    var = x.var(1, keepdim=True, unbiased=False)
    return x / torch.sqrt(var + 1e-5) * w.view(1, -1, 1, 1)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_equal_the_authors_formulas(memory_format: torch.memory_format) -> None:
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64).contiguous(memory_format=memory_format)
    norm = LayerNorm2d(6).double()
    free = BiasFreeLayerNorm2d(6).double()
    with torch.no_grad():
        for p in (norm.weight, norm.bias, free.weight):
            p.uniform_(0.5, 1.5)
    torch.testing.assert_close(norm(x), authors_with_bias(x, norm.weight, norm.bias))
    torch.testing.assert_close(free(x), authors_bias_free(x, free.weight))
    torch.testing.assert_close(norm(x), layer_norm_2d(x, norm.weight, norm.bias))


def test_module_keeps_channels_last() -> None:
    x = torch.randn(1, 4, 3, 3).contiguous(memory_format=torch.channels_last)
    assert LayerNorm2d(4)(x).is_contiguous(memory_format=torch.channels_last)


def test_gradcheck() -> None:
    x = torch.randn(1, 3, 2, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(3, dtype=torch.float64, requires_grad=True)
    b = torch.rand(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer_norm_2d, (x, w, b))
    assert torch.autograd.gradcheck(bias_free_layer_norm_2d, (x, w))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="channels"):
        LayerNorm2d(0)
    with pytest.raises(ValueError, match="eps"):
        BiasFreeLayerNorm2d(3, eps=0.0)
    with pytest.raises(ValueError, match="4 channels"):
        LayerNorm2d(4)(torch.rand(1, 3, 2, 2))
    assert "channels=4" in repr(LayerNorm2d(4))
