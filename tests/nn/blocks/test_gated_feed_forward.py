"""Tests for the gated-Dconv feed-forward network (Restormer's GDFN)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn.blocks import GatedDconvFeedForward
from rainkit.nn.blocks.gated_feed_forward import gated_gelu, hidden_width


def test_hidden_width_truncates() -> None:
    # ../shared/pretrained/restormer/README.md: 63, 127, 255, 510 for the fixture widths.
    assert [hidden_width(c, 2.66) for c in (24, 48, 96, 192)] == [63, 127, 255, 510]
    assert GatedDconvFeedForward(48).project_out.in_channels == 127


def test_equals_the_authors_formula() -> None:
    ffn = GatedDconvFeedForward(6, 2.0, bias=True).double()
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    z = F.conv2d(F.conv2d(x, ffn.project_in.weight, ffn.project_in.bias),
                 ffn.dwconv.weight, ffn.dwconv.bias, padding=1, groups=24)
    x1, x2 = z.chunk(2, dim=1)
    expected = F.conv2d(F.gelu(x1) * x2, ffn.project_out.weight, ffn.project_out.bias)
    torch.testing.assert_close(ffn(x), expected)
    with torch.no_grad():  # the in-place gate gives the same values
        torch.testing.assert_close(ffn(x), expected)


def test_gradcheck_and_gate() -> None:
    x = torch.randn(1, 4, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(gated_gelu, (x,))
    ffn = GatedDconvFeedForward(2, 1.0).double()
    assert torch.autograd.gradcheck(ffn, (torch.randn(1, 2, 3, 3, dtype=torch.float64,
                                                      requires_grad=True),))


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="int"):
        GatedDconvFeedForward(1, 0.5)
    with pytest.raises(TypeError, match="bias"):
        GatedDconvFeedForward(4, bias=1)  # type: ignore[arg-type]
