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


def test_zero_output_init_zeroes_the_last_layer_and_returns_it() -> None:
    from rainkit.init import zero_output_init_
    branch = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    bn_branch = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
    head = nn.Linear(4, 2)
    for module in (branch, bn_branch, head):
        kaiming_init_(module)
        for p in module.parameters():
            nn.init.uniform_(p, 0.5, 1.0)
    changed = zero_output_init_(branch, bn_branch, head)
    assert changed == [branch[2], bn_branch[1], head]
    for layer in changed:
        assert torch.count_nonzero(layer.weight) == 0 and torch.count_nonzero(layer.bias) == 0
        assert layer.weight.requires_grad and layer.weight.grad is None
    assert torch.count_nonzero(branch[0].weight) == branch[0].weight.numel()  # only the last
    x = torch.rand(2, 4, 5, 5)
    assert torch.equal(x + branch(x), x) and torch.equal(x + bn_branch.train()(x), x)


def test_zero_output_init_bad_arguments() -> None:
    from rainkit.init import zero_output_init_
    with pytest.raises(TypeError, match=r"modules\[1\] must be a torch.nn.Module, got Tensor"):
        zero_output_init_(nn.Conv2d(1, 1, 1), torch.zeros(1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"modules\[0\] \(ReLU\) holds no convolution"):
        zero_output_init_(nn.ReLU())
