"""Tests for ImplicitNeuralRepresentation (NeRD-Rain's INR) against a LIIF query written out."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import ImplicitNeuralRepresentation


def grid(h: int, w: int) -> torch.Tensor:
    """Pixel-centre coordinates in [-1, 1], (h*w, 2) (LIIF's make_coord)."""
    ys = -1 + 1 / h + 2 / h * torch.arange(h, dtype=torch.float64)
    xs = -1 + 1 / w + 2 / w * torch.arange(w, dtype=torch.float64)
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"), -1).view(-1, 2)


def with_encoding(p: torch.Tensor) -> torch.Tensor:
    freq = 2.0 ** torch.arange(4, dtype=p.dtype) * math.pi
    s = p[..., None] * freq
    return torch.cat([p, torch.stack([s.sin(), s.cos()], -2).flatten(-3)], -1)


def liif_query(inr: ImplicitNeuralRepresentation, feat: torch.Tensor) -> torch.Tensor:
    """The query as NeRD-Rain's mlp.py defines it, at the feature grid itself: unfolded 3x3
    features, relative coordinates (with encoding) scaled by the size, relative cell, four
    local-ensemble passes weighted by (swapped) areas."""
    b, _, h, w = feat.shape
    unfolded = F.unfold(feat, 3, padding=1).transpose(1, 2)  # (B, HW, 9C)
    query = with_encoding(grid(h, w))
    nearest = with_encoding(grid(h, w))  # the grid point of each query: the same grid
    rel = (query - nearest).expand(b, -1, -1).clone()
    rel[..., 0] *= h
    rel[..., 1] *= w
    cell = torch.tensor([2 / h * h, 2 / w * w], dtype=feat.dtype).expand(b, h * w, 2)
    inp = torch.cat([unfolded, rel, cell], -1)
    preds = [inr.imnet.layers(inp) for _ in range(4)]
    areas = [rel[..., 0].mul(rel[..., 1]).abs() + 1e-9 for _ in range(4)]
    total = sum(areas)
    out = sum(p * (a / total)[..., None] for p, a in zip(preds, areas[::-1], strict=True))
    return out.transpose(1, 2).reshape(b, -1, h, w)


def test_equals_the_liif_query_float64() -> None:
    torch.manual_seed(0)
    inr = ImplicitNeuralRepresentation(4, hidden=(16, 16)).double()
    feat = torch.randn(2, 4, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(inr(feat), liif_query(inr, feat), atol=1e-10, rtol=1e-10)


def test_authors_parameter_layout() -> None:
    inr = ImplicitNeuralRepresentation(16)
    shapes = {k: tuple(v.shape) for k, v in inr.state_dict().items()}
    # the fixture manifest (dim 16): 9 * 16 + 20 inputs, hidden 256, 256, 256, 3 outputs
    assert shapes["imnet.layers.0.weight"] == (256, 164)
    assert shapes["imnet.layers.6.weight"] == (3, 256)
    assert len(shapes) == 8


def test_gradcheck_float64() -> None:
    inr = ImplicitNeuralRepresentation(2, hidden=(4,)).double()
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(inr, (x,))


def test_errors() -> None:
    with pytest.raises(TypeError, match="hidden"):
        ImplicitNeuralRepresentation(4, hidden=())
    with pytest.raises(ValueError, match="4 channels"):
        ImplicitNeuralRepresentation(4)(torch.rand(1, 3, 5, 5))
    assert "hidden=(256, 256, 256)" in repr(ImplicitNeuralRepresentation(4))
