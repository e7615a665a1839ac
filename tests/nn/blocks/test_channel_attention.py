"""Tests for ChannelAttention, ChannelAttentionBlock and OriginalResolutionBlock (MPRNet)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rainkit.nn.blocks import ChannelAttention, ChannelAttentionBlock, OriginalResolutionBlock


def randomise_(module: nn.Module, seed: int = 0) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.3)
    return module


def reference_cab(block: ChannelAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    """MPRNet's CAB written out: conv, PReLU, conv, x * sigmoid(W2 relu(W1 mean)), + x."""
    w1, act, w2 = block.body[0].weight, block.body[1], block.body[2].weight
    res = F.conv2d(act(F.conv2d(x, w1, padding=1)), w2, padding=1)
    y = F.adaptive_avg_pool2d(res, 1)
    y = torch.sigmoid(F.conv2d(F.relu(F.conv2d(y, block.CA.conv_du[0].weight)),
                               block.CA.conv_du[2].weight))
    return res * y + x


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_cab_matches_the_formula(grad: bool, layout: torch.memory_format) -> None:
    block = randomise_(ChannelAttentionBlock(8, reduction=4))
    x = torch.randn(2, 8, 7, 9).contiguous(memory_format=layout)
    with torch.set_grad_enabled(grad):
        torch.testing.assert_close(block(x), reference_cab(block, x), atol=1e-5, rtol=1e-5)


def test_channel_attention_gate() -> None:
    ca = randomise_(ChannelAttention(6, reduction=2, bias=True))
    x = torch.randn(3, 6, 4, 5)
    mean = x.mean((2, 3))
    w1, b1 = ca.conv_du[0].weight[:, :, 0, 0], ca.conv_du[0].bias
    w2, b2 = ca.conv_du[2].weight[:, :, 0, 0], ca.conv_du[2].bias
    gate = torch.sigmoid(F.relu(mean @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(ca(x), x * gate[:, :, None, None])
    assert ca.conv_du[0].out_channels == 3


def test_shared_activation() -> None:
    act = nn.PReLU()
    blocks = nn.Sequential(*(ChannelAttentionBlock(4, act_layer=act) for _ in range(3)))
    assert len(blocks.state_dict()) == 3 * 5  # CA.conv_du.0/2, body.0/1/2 per block
    assert sum(p.numel() for p in blocks.parameters()) == 3 * (2 * 144 + 2 * 4) + 1


def test_gradcheck_float64() -> None:
    block = randomise_(ChannelAttentionBlock(4, reduction=2)).double()
    x = torch.randn(1, 4, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))
    orb = randomise_(OriginalResolutionBlock(4, num_cab=1, reduction=2)).double()
    assert torch.autograd.gradcheck(orb, (x,))


def test_orb_matches_the_formula() -> None:
    orb = randomise_(OriginalResolutionBlock(8, num_cab=2, reduction=4))
    x = torch.randn(2, 8, 6, 5)
    y = reference_cab(orb.body[1], reference_cab(orb.body[0], x))
    expected = F.conv2d(y, orb.body[2].weight, padding=1) + x
    with torch.no_grad():
        torch.testing.assert_close(orb(x), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(orb(x), expected, atol=1e-5, rtol=1e-5)
    assert orb.body[2].bias is None


def test_errors_and_repr() -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        ChannelAttentionBlock(4, kernel_size=2)
    with pytest.raises(TypeError, match="act_layer"):
        ChannelAttentionBlock(4, act_layer=lambda: "relu")  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="4 channels"):
        ChannelAttentionBlock(4)(torch.rand(1, 3, 5, 5))
    assert "channels=4" in repr(ChannelAttentionBlock(4))
    assert "num_cab=2" in repr(OriginalResolutionBlock(4, num_cab=2))
    assert "reduction=16" in repr(ChannelAttention(32))


@pytest.mark.parametrize("cls", [ChannelAttentionBlock, OriginalResolutionBlock])
@pytest.mark.parametrize("act_layer", ["relu", 3, [nn.PReLU()]])
def test_act_layer_is_checked_at_construction(cls: type, act_layer: object) -> None:
    # Refused in __init__ with the expected form, not at the first forward as "'str' object is
    # not callable"; an ORB with no CAB checks it too.
    pattern = (r"act_layer must be a layer type such as nn.ReLU \(any callable\), got "
               f"{type(act_layer).__name__}")
    with pytest.raises(TypeError, match=pattern):
        cls(4, act_layer=act_layer)
    if cls is OriginalResolutionBlock:
        with pytest.raises(TypeError, match=pattern):
            cls(4, num_cab=0, act_layer=act_layer)
    # a layer type, a factory and a module instance to share are all accepted
    shared = nn.PReLU()
    for good in (nn.ReLU, lambda: nn.PReLU(2 * 2), shared):
        assert cls(4, num_cab=1, act_layer=good) if cls is OriginalResolutionBlock \
            else cls(4, act_layer=good)
    assert ChannelAttentionBlock(4, act_layer=shared).body[1] is shared
