"""Tests for multi-Dconv head transposed attention (Restormer's MDTA)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import MultiDconvTransposedAttention
from rainkit.nn.blocks.transposed_attention import transposed_attention


def authors_mdta(m: MultiDconvTransposedAttention, x: torch.Tensor) -> torch.Tensor:
    # restormer_arch.py Attention.forward: normalise q, k over pixels, softmax, attn @ v, project.
    b, c, h, w = x.shape
    heads = m.num_heads
    q, k, v = m.qkv_dwconv(m.qkv(x)).chunk(3, dim=1)
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    attn = ((q @ k.transpose(-2, -1)) * m.temperature).softmax(dim=-1)
    return m.project_out((attn @ v).reshape(b, c, h, w))


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_equals_the_authors_formulation(heads: int, memory_format: torch.memory_format) -> None:
    torch.manual_seed(0)
    m = MultiDconvTransposedAttention(8, heads, bias=True).double()
    with torch.no_grad():
        m.temperature.uniform_(0.5, 2.0)
    x = torch.randn(2, 8, 5, 7, dtype=torch.float64).contiguous(memory_format=memory_format)
    torch.testing.assert_close(m(x), authors_mdta(m, x))


def test_function_and_gradcheck() -> None:
    q, k, v = torch.randn(3, 1, 2, 3, 6, dtype=torch.float64).unbind(0)
    t = torch.rand(2, 1, 1, dtype=torch.float64)
    attn = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1) * t).softmax(-1)
    torch.testing.assert_close(transposed_attention(q, k, v, t), attn @ v)
    m = MultiDconvTransposedAttention(4, 2).double()
    x = torch.randn(1, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="multiple of num_heads"):
        MultiDconvTransposedAttention(6, 4)
    with pytest.raises(ValueError, match="6 channels"):
        MultiDconvTransposedAttention(6, 2)(torch.rand(1, 3, 4, 4))
