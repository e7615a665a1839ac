"""Tests for rainkit.nn.PyramidPooling."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rainkit.nn import PyramidPooling, receptive_field


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 65)])
def test_shape_any_size(size: tuple[int, int]) -> None:
    ppm = PyramidPooling(8, bins=(1, 2, 3, 6))
    out = ppm(torch.rand(2, 8, *size))
    assert out.shape == (2, 16, *size) and ppm.out_channels == 16


def test_input_passes_through_and_bin_one_is_global_mean() -> None:
    ppm = PyramidPooling(3, bins=(1,), branch_channels=3, act_layer=nn.Identity)
    with torch.no_grad():
        ppm.branches[0][0].weight.copy_(torch.eye(3).view(3, 3, 1, 1))
        ppm.branches[0][0].bias.zero_()
    x = torch.rand(2, 3, 5, 7)
    out = ppm(x)
    torch.testing.assert_close(out[:, :3], x)
    # The 1x1 pool is the mean over the image, broadcast back to every pixel.
    expected = x.mean(dim=(2, 3), keepdim=True).expand(-1, -1, 5, 7)
    torch.testing.assert_close(out[:, 3:], expected)


def test_global_receptive_field() -> None:
    assert receptive_field(PyramidPooling(8, bins=(1, 2)), in_channels=8, size=31) == (31, 31)


def test_options() -> None:
    assert "bins=(1, 4)" in repr(PyramidPooling(4, bins=(1, 4)))
    with pytest.raises(ValueError, match="empty"):
        PyramidPooling(4, bins=())
    with pytest.raises(ValueError, match="bin"):
        PyramidPooling(4, bins=(0,))
