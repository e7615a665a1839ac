"""Tests for the mixed-scale feed-forward network (DRSformer's MSFN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rainkit.nn.blocks import MixedScaleFeedForward


def test_equals_the_authors_formula() -> None:
    torch.manual_seed(0)
    m = MixedScaleFeedForward(6, 2.66).double()  # hidden int(15.96) = 15: an odd width
    assert m.hidden == 15
    x = torch.randn(2, 6, 7, 5, dtype=torch.float64)
    z = m.project_in(x)
    a1, a2 = F.relu(m.dwconv3x3(z)).chunk(2, 1)
    b1, b2 = F.relu(m.dwconv5x5(z)).chunk(2, 1)
    u = F.relu(m.dwconv3x3_1(torch.cat([a1, b1], 1)))
    v = F.relu(m.dwconv5x5_1(torch.cat([a2, b2], 1)))
    expected = m.project_out(torch.cat([u, v], 1))
    torch.testing.assert_close(m(x), expected)
    with torch.no_grad():  # in-place ReLUs give the same values
        torch.testing.assert_close(m(x), expected)


def test_radius_is_the_receptive_field() -> None:
    # The banded inference of the networks relies on it: 4 rows (5x5 depthwise, then 5x5).
    torch.manual_seed(0)
    m = MixedScaleFeedForward(2, 4.0).double()
    x = torch.rand(1, 2, 21, 21, dtype=torch.float64, requires_grad=True)
    m(x)[0, :, 10, 10].sum().backward()
    rows = torch.nonzero(x.grad.abs().sum((0, 1, 3))).flatten()
    assert rows.numel() > 0 and int(rows.max() - rows.min()) + 1 <= 2 * m.radius + 1
