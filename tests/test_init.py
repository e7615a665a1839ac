"""Tests for rainkit.init.kaiming_init_."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rainkit.init import kaiming_init_


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_conv_weight_std_matches_he(mode: str) -> None:
    conv = nn.Conv2d(96, 128, 3)
    kaiming_init_(conv, mode=mode)
    fan = (96 if mode == "fan_in" else 128) * 9
    expected = math.sqrt(2.0 / fan)
    n = conv.weight.numel()
    # The sample std of n normal draws has relative standard error ~ 1 / sqrt(2 n); allow 5 of them.
    tolerance = 5 * expected / math.sqrt(2 * n)
    assert abs(conv.weight.std().item() - expected) < tolerance
    assert abs(conv.weight.mean().item()) < 5 * expected / math.sqrt(n)
    assert torch.count_nonzero(conv.bias) == 0


def test_fan_in_and_fan_out_differ_when_channels_differ() -> None:
    a = kaiming_init_(nn.Conv2d(16, 256, 3), mode="fan_in").weight.std().item()
    b = kaiming_init_(nn.Conv2d(16, 256, 3), mode="fan_out").weight.std().item()
    assert a / b == pytest.approx(4.0, rel=0.1)  # sqrt(256 / 16)


def test_linear_and_batchnorm() -> None:
    net = nn.Sequential(nn.Linear(200, 300), nn.BatchNorm2d(8), nn.GroupNorm(2, 8))
    for p in net.parameters():
        nn.init.uniform_(p, 3.0, 4.0)
    returned = kaiming_init_(net, mode="fan_in")
    assert returned is net
    assert net[0].weight.std().item() == pytest.approx(math.sqrt(2 / 200), rel=0.05)
    assert torch.count_nonzero(net[0].bias) == 0
    for norm in (net[1], net[2]):
        assert torch.equal(norm.weight, torch.ones(8))
        assert torch.equal(norm.bias, torch.zeros(8))


def test_keeps_activation_variance_through_relu_depth() -> None:
    # The reason for the factor 2: through 20 conv-ReLU layers the signal neither dies nor explodes.
    layers = [nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()) for _ in range(20)]
    net = kaiming_init_(nn.Sequential(*layers), mode="fan_in")
    x = torch.randn(4, 32, 32, 32)
    with torch.no_grad():
        second_moment_in = net[:1](x).pow(2).mean().item()
        second_moment_out = net(x).pow(2).mean().item()
    assert 0.2 < second_moment_out / second_moment_in < 5.0


def test_no_grad_and_requires_grad_kept() -> None:
    conv = nn.Conv2d(3, 3, 3)
    kaiming_init_(conv)
    assert conv.weight.requires_grad and conv.weight.grad is None


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        kaiming_init_(torch.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode must be one of 'fan_in', 'fan_out', got 'fan'"):
        kaiming_init_(nn.Conv2d(1, 1, 1), mode="fan")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nonlinearity"):
        kaiming_init_(nn.Conv2d(1, 1, 1), nonlinearity="gelu")
