"""Tests for rainkit.nn.DilatedResidualStack."""

from __future__ import annotations

import pytest
import torch

from rainkit.nn import DilatedResidualStack, receptive_field


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 65)])
def test_shape_any_size(size: tuple[int, int]) -> None:
    stack = DilatedResidualStack(4, (1, 2, 4, 8))
    assert stack(torch.rand(3, 4, *size)).shape == (3, 4, *size)


def test_wider_receptive_field_for_same_parameters() -> None:
    # 8 channels: enough that some ReLU is active at every pixel, so the gradient support is
    # the full geometric receptive field.
    dilated = DilatedResidualStack(8, (1, 2, 4, 8))
    plain = DilatedResidualStack(8, (1, 1, 1, 1))
    count = sum(p.numel() for p in dilated.parameters())
    assert count == sum(p.numel() for p in plain.parameters())
    # Hand computation: each block has two 3x3 convs of dilation d, adding 2 * 2d pixels.
    assert receptive_field(dilated, in_channels=8, size=81, samples=1) == (61, 61)  # 1 + 4 * 15
    assert receptive_field(plain, in_channels=8, size=81, samples=1) == (17, 17)


def test_extra_repr_and_options() -> None:
    assert "dilations=(1, 3)" in repr(DilatedResidualStack(4, (1, 3)))
    with pytest.raises(ValueError, match="empty"):
        DilatedResidualStack(4, ())
    with pytest.raises(ValueError, match="dilation"):
        DilatedResidualStack(4, (1, 0))
    with pytest.raises(TypeError, match="dilations"):
        DilatedResidualStack(4, 2)  # type: ignore[arg-type]
