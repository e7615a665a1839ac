"""Tests for rainkit.nn.receptive_field against hand-computed receptive fields."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rainkit.nn import receptive_field


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_plain_3x3_stack(layers: int) -> None:
    # n stride-1 3x3 convolutions see 2n + 1 pixels.
    net = nn.Sequential(*(nn.Conv2d(1, 1, 3, padding=1) for _ in range(layers)))
    assert receptive_field(net, in_channels=1, size=21) == (2 * layers + 1, 2 * layers + 1)


def test_rectangular_kernel_relu_and_dilation() -> None:
    net = nn.Sequential(nn.Conv2d(2, 4, (3, 5), padding=(1, 2)), nn.ReLU(),
                        nn.Conv2d(4, 1, 3, padding=2, dilation=2))
    # height: 1 + 2 + 4 = 7; width: 1 + 4 + 4 = 9.
    assert receptive_field(net, in_channels=2, size=(21, 23)) == (7, 9)


def test_stride_two() -> None:
    # 3x3 stride 2 then 3x3: r = 3 + (3 - 1) * 2 = 7.
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    assert receptive_field(net, in_channels=1, size=21) == (7, 7)


def test_capped_by_size_and_model_untouched() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 9, padding=4), nn.BatchNorm2d(1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert receptive_field(net, in_channels=1, size=5) == (5, 5)
    assert net.training and net[0].weight.dtype == torch.float32 and net[0].weight.grad is None
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def test_errors() -> None:
    with pytest.raises(TypeError, match="Module"):
        receptive_field(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        receptive_field(nn.Identity(), size=0)
    for bad in (17.0, "17", None, True, float("inf")):
        with pytest.raises(TypeError, match="size"):
            receptive_field(nn.Identity(), size=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        receptive_field(nn.Identity(), size=(5, 5, 5))  # type: ignore[arg-type]


def test_numpy_integer_size() -> None:
    net = nn.Conv2d(1, 1, 3)
    assert receptive_field(net, in_channels=1, size=np.int64(9)) == (3, 3)
    assert receptive_field(net, in_channels=1, size=(np.int32(9), 11)) == (3, 3)


def test_channel_mismatch_and_non_map_outputs_are_value_errors() -> None:
    from rainkit.nn import BaselineNet
    with pytest.raises(ValueError, match="in_channels=1 but BaselineNet takes 3 channels"):
        receptive_field(BaselineNet(channels=4, num_blocks=1), in_channels=1, size=5)
    with pytest.raises(ValueError, match=r"could not run on a \(1, 1, 5, 5\) input"):
        receptive_field(nn.Sequential(nn.Conv2d(3, 1, 3)), in_channels=1, size=5)
    classifier = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ValueError, match=r"must return maps of shape.*got \(1, 2\)"):
        receptive_field(classifier, in_channels=1, size=5)
    with pytest.raises(TypeError, match="size must be an int"):
        receptive_field(nn.Identity(), size=[[5], [5]])  # type: ignore[list-item]
    assert receptive_field(nn.Conv2d(1, 1, 3), in_channels=1, size=[7, 9]) == (3, 3)
