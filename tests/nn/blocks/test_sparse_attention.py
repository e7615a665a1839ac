"""Tests for top-k sparse attention (DRSformer's TKSA)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import TopKSparseAttention
from rainkit.nn.blocks.sparse_attention import top_k_attention_map, top_k_sizes


def authors_tksa(m: TopKSparseAttention, x: torch.Tensor) -> torch.Tensor:
    # DRSformer_arch.py Attention.forward: four topk masks, -inf elsewhere, softmax, attn_i @ v.
    b, c, h, w = x.shape
    heads = m.num_heads
    q, k, v = m.qkv_dwconv(m.qkv(x)).chunk(3, dim=1)
    q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
    q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
    d = q.shape[2]
    attn = (q @ k.transpose(-2, -1)) * m.temperature
    out = 0
    for i, size in enumerate((int(d / 2), int(d * 2 / 3), int(d * 3 / 4), int(d * 4 / 5))):
        mask = torch.zeros_like(attn).scatter_(-1, attn.topk(size, dim=-1)[1], 1.0)
        part = torch.where(mask > 0, attn, torch.full_like(attn, float("-inf"))).softmax(-1)
        out = out + (part @ v) * getattr(m, f"attn{i + 1}")
    return m.project_out(out.reshape(b, c, h, w))


def test_top_k_sizes_truncate() -> None:
    # ../shared/pretrained/drsformer/README.md: C = 16 -> 8, 10, 12, 12; 32 -> 16, 21, 24, 25;
    # 48 -> 24, 32, 36, 38 (where 48 * (2 / 3) in floating point would truncate to 31).
    assert top_k_sizes(16) == (8, 10, 12, 12)
    assert top_k_sizes(32) == (16, 21, 24, 25)
    assert top_k_sizes(48) == (24, 32, 36, 38)
    assert top_k_sizes(96) == (48, 64, 72, 76)


@pytest.mark.parametrize("heads", [1, 2])
def test_equals_the_authors_formulation(heads: int) -> None:
    torch.manual_seed(0)
    m = TopKSparseAttention(16, heads).double()
    with torch.no_grad():
        for i in range(1, 5):
            getattr(m, f"attn{i}").uniform_(0.1, 0.5)
    x = torch.randn(2, 16, 6, 5, dtype=torch.float64)
    torch.testing.assert_close(m(x), authors_tksa(m, x))
    assert {"attn1", "attn4", "temperature", "qkv.weight"} <= set(m.state_dict())


def test_map_rows_sum_to_the_weights() -> None:
    logits = torch.randn(3, 8, 8, dtype=torch.float64)
    weights = [torch.tensor([0.1]), torch.tensor([0.3])]
    out = top_k_attention_map(logits, [2, 5], weights)
    torch.testing.assert_close(out.sum(-1), torch.full((3, 8), 0.4, dtype=torch.float64))
    assert ((out > 0).sum(-1) == 5).all()


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="top-k"):
        TopKSparseAttention(4, 4)  # one channel per head keeps int(1/2) = 0
    with pytest.raises(ValueError, match="fractions"):
        TopKSparseAttention(8, fractions=[(0, 2)])
    with pytest.raises(ValueError, match="same length"):
        top_k_attention_map(torch.rand(2, 2), [1], [])
