"""Tests for rainkit.nn.ResidualBlock."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rainkit.nn import ResidualBlock, receptive_field


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 65)])
@pytest.mark.parametrize("dilation", [1, 3])
def test_shape_any_size(size: tuple[int, int], dilation: int) -> None:
    block = ResidualBlock(4, dilation=dilation)
    assert block(torch.rand(2, 4, *size)).shape == (2, 4, *size)


def test_derainnet_variant_matches_hand_computation() -> None:
    block = ResidualBlock(3)
    x = torch.randn(2, 3, 6, 5)
    # conv-ReLU-conv, add, no activation after the add (written out with F.conv2d).
    hidden = F.relu(F.conv2d(x, block.conv1.weight, block.conv1.bias, padding=1))
    expected = x + F.conv2d(hidden, block.conv2.weight, block.conv2.bias, padding=1)
    torch.testing.assert_close(block(x), expected)
    assert block.conv1.bias is not None


def test_baseline_variant_matches_hand_computation() -> None:
    block = ResidualBlock(3, norm_layer=nn.BatchNorm2d, activate_after_add=True).eval()
    with torch.no_grad():
        for bn in (block.norm1, block.norm2):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 2)
            bn.bias.uniform_(-1, 1)
    x = torch.randn(2, 3, 6, 5)

    def bn(t: torch.Tensor, m: nn.BatchNorm2d) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        return ((t - m.running_mean.view(shape)) / torch.sqrt(m.running_var.view(shape) + m.eps)
                * m.weight.view(shape) + m.bias.view(shape))

    hidden = F.relu(bn(F.conv2d(x, block.conv1.weight, padding=1), block.norm1))
    expected = F.relu(x + bn(F.conv2d(hidden, block.conv2.weight, padding=1), block.norm2))
    torch.testing.assert_close(block(x), expected)
    assert block.conv1.bias is None  # a bias before BatchNorm is redundant
    assert (block(x) >= 0).all()


@pytest.mark.parametrize(("kernel_size", "dilation"), [(3, 1), (3, 2), (5, 1), (5, 3)])
def test_receptive_field_hand_computed(kernel_size: int, dilation: int) -> None:
    # Two stride-1 convolutions of kernel k and dilation d: 1 + 2 d (k - 1) pixels.
    block = ResidualBlock(2, kernel_size=kernel_size, dilation=dilation)
    expected = 1 + 2 * dilation * (kernel_size - 1)
    assert receptive_field(block, in_channels=2, size=41) == (expected, expected)


def test_extra_repr() -> None:
    text = repr(ResidualBlock(8, dilation=2, activate_after_add=True))
    assert "channels=8" in text and "dilation=2" in text and "activate_after_add=True" in text


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="odd"):
        ResidualBlock(4, kernel_size=4)
    with pytest.raises(ValueError, match="dilation"):
        ResidualBlock(4, dilation=0)
    with pytest.raises(TypeError, match="channels"):
        ResidualBlock(4.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels"):
        ResidualBlock(0)


def test_layer_types_given_as_strings_or_non_modules_are_type_errors() -> None:
    with pytest.raises(TypeError, match="norm_layer must be a layer type such as "
                                        "nn.BatchNorm2d .*or None, got str 'batch'"):
        ResidualBlock(4, norm_layer="batch")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="act_layer must be a layer type.*got str 'relu'"):
        ResidualBlock(4, act_layer="relu")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"norm_layer must build an nn.Module, but "
                                        r"norm_layer\(4\) returned int"):
        ResidualBlock(4, norm_layer=lambda c: c)  # type: ignore[arg-type,return-value]
    from rainkit.nn import DilatedResidualStack, PyramidPooling
    with pytest.raises(TypeError, match="norm_layer"):
        DilatedResidualStack(4, norm_layer="batch")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="act_layer"):
        PyramidPooling(4, act_layer="relu")  # type: ignore[arg-type]


def test_batch_norm_on_one_value_per_channel_in_training_is_a_value_error() -> None:
    block = ResidualBlock(4, norm_layer=nn.BatchNorm2d)
    with pytest.raises(ValueError, match=r"\(1, 4, 1, 1\) gives ResidualBlock's BatchNorm a "
                                         r"single value per channel.*\.eval\(\)"):
        block(torch.rand(1, 4, 1, 1))
    assert block.eval()(torch.rand(1, 4, 1, 1)).shape == (1, 4, 1, 1)
    assert ResidualBlock(4)(torch.rand(1, 4, 1, 1)).shape == (1, 4, 1, 1)  # no BatchNorm
