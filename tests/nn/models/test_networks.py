"""Tests shared by every network of rainkit.nn (shapes, rain layer, gradients, init, errors)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rainkit.nn import (
    MODELS,
    BaselineNet,
    DerainNet,
    DilatedPyramidNet,
    PReNet,
    UNet,
    build_model,
    receptive_field,
)

# Small settings of each network so the tests stay fast on 2 CPU cores.
SMALL: dict[str, dict[str, object]] = {
    "baseline": {"channels": 8, "num_blocks": 2},
    "derainnet": {"channels": 8, "num_blocks": 2},
    "dilatedpyramidnet": {"channels": 16},
    "prenet": {"stages": 2, "channels": 8, "num_blocks": 2},
    "prenet_gru": {"stages": 2, "channels": 8, "num_blocks": 2},
    "prenet_r": {"stages": 2, "channels": 8, "num_blocks": 2},
    "prenet_real": {"stages": 2, "channels": 8, "num_blocks": 2},
    "prn": {"stages": 2, "channels": 8, "num_blocks": 2},
    "prn_r": {"stages": 2, "channels": 8, "num_blocks": 2},
    "unet": {"base_channels": 8, "depth": 4},
}
NAMES = sorted(MODELS)
# Networks whose last convolution gives the clean image itself, not the rain layer.
DIRECT = {"prenet_real"}


def small(name: str) -> nn.Module:
    return build_model(name, **SMALL[name])


def test_small_settings_cover_every_model() -> None:
    assert set(SMALL) == set(MODELS)
    assert {"baseline", "derainnet", "unet", "prenet"} <= set(MODELS)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 65)])
@pytest.mark.parametrize("batch", [1, 4])
def test_output_shape_any_size(name: str, size: tuple[int, int], batch: int) -> None:
    net = small(name)
    if name == "baseline" and batch * size[0] * size[1] == 1:
        net.eval()  # BatchNorm cannot train on a single value per channel (any BN network)
    x = torch.rand(batch, 3, *size)
    derained, rain = net(x, return_rain=True)
    assert derained.shape == x.shape and rain.shape == x.shape
    assert derained.dtype == x.dtype
    torch.testing.assert_close(net.rain_layer(x), rain)


@pytest.mark.parametrize("name", NAMES)
def test_default_settings_any_size(name: str) -> None:
    net = build_model(name).eval()
    with torch.no_grad():
        for size in [(1, 1), (7, 13)]:
            assert net(torch.rand(1, 3, *size)).shape == (1, 3, *size)


@pytest.mark.parametrize("name", ["baseline", "dilatedpyramidnet", "unet"])
def test_128x128(name: str) -> None:
    with torch.no_grad():
        assert small(name)(torch.rand(4, 3, 128, 128)).shape == (4, 3, 128, 128)


@pytest.mark.parametrize("name", NAMES)
def test_zero_last_conv_gives_input_back(name: str) -> None:
    net = small(name)
    last = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1]
    assert last.out_channels == 3
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    x = torch.rand(2, 3, 9, 11)
    derained, rain = net(x, return_rain=True)
    if name in DIRECT:  # a zero output convolution predicts a black image: all of x is rain
        assert torch.count_nonzero(derained) == 0
        torch.testing.assert_close(rain, x, rtol=0, atol=0)
        return
    assert torch.count_nonzero(rain) == 0
    torch.testing.assert_close(derained, x, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_derained_is_input_minus_rain(name: str) -> None:
    x = torch.rand(2, 3, 9, 11)
    derained, rain = small(name)(x, return_rain=True)
    torch.testing.assert_close(derained, x - rain)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_reaches_every_parameter(name: str) -> None:
    net = small(name)
    x = torch.rand(4, 3, 16, 16)
    net(x).square().mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, pname


@pytest.mark.parametrize("name", NAMES)
def test_kaiming_fan_out_init(name: str) -> None:
    net = build_model(name)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        assert torch.count_nonzero(conv.bias) == 0 if conv.bias is not None else True
    for norm in (m for m in net.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))
    # He et al.: std = sqrt(2 / fan_out), fan_out = C_out * k_h * k_w; checked on the largest conv.
    conv = max(convs, key=lambda m: m.weight.numel())
    expected = math.sqrt(2.0 / (conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]))
    n = conv.weight.numel()
    assert abs(conv.weight.std().item() - expected) < 5 * expected / math.sqrt(2 * n)


@pytest.mark.parametrize("name", NAMES)
def test_input_errors(name: str) -> None:
    net = small(name)
    with pytest.raises(ValueError, match="3 channels"):
        net(torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        net(torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match="Tensor"):
        net([[0.0]])


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_matches(name: str) -> None:
    net = small(name).eval()
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        expected = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        got = net_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_autocast_bfloat16_close(name: str) -> None:
    net = small(name).eval()
    x = torch.rand(2, 3, 17, 23)
    with torch.no_grad():
        expected = net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = net(x)
    assert got.shape == x.shape and torch.isfinite(got).all()
    # bfloat16 keeps 8 significant bits (relative error 2^-8 per op); allow a few percent.
    scale = expected.abs().max().item()
    assert (got.float() - expected).abs().max().item() < 0.05 * scale


@pytest.mark.parametrize("name", NAMES)
def test_torch_export(name: str) -> None:
    net = small(name).eval()
    x = torch.rand(1, 3, 9, 14)
    program = torch.export.export(net, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), net(x))


def test_torch_compile_fullgraph() -> None:
    # fullgraph=True: Dynamo must capture the whole forward without a graph break; the
    # aot_eager backend traces forward and backward graphs without the slow C++ build.
    net = DerainNet(channels=4, num_blocks=1)
    compiled = torch.compile(net, fullgraph=True, backend="aot_eager")
    x = torch.rand(2, 3, 7, 13)
    torch.testing.assert_close(compiled(x), net(x))
    compiled(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.slow
def test_torch_compile_inductor_baseline() -> None:
    net = BaselineNet(channels=4, num_blocks=1).eval()
    compiled = torch.compile(net)
    x = torch.rand(1, 3, 7, 13)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x), rtol=1e-4, atol=1e-4)


def test_build_model_errors_list_names() -> None:
    with pytest.raises(ValueError, match="'baseline', 'derainnet'.*got 'resnet'"):
        build_model("resnet")
    assert isinstance(build_model("derainnet", channels=4, num_blocks=1), DerainNet)


def test_prenet_parameter_count_from_the_paper() -> None:
    # Hand count of Ren et al.'s PReNet (6 -> 32 input conv, conv-LSTM on [32, 32] -> 4 x 32,
    # five residual blocks of two 32 -> 32 convs, 32 -> 3 output conv), all 3x3 with biases.
    conv = lambda cin, cout: cin * cout * 9 + cout  # noqa: E731
    expected = conv(6, 32) + 4 * conv(64, 32) + 10 * conv(32, 32) + conv(32, 3)
    assert expected == 168963  # the paper's "0.17 M"
    assert sum(p.numel() for p in PReNet().parameters()) == expected


def test_prenet_stage_outputs() -> None:
    net = PReNet(stages=3, channels=8, num_blocks=1)
    x = torch.rand(1, 3, 6, 7)
    stages = net.stage_outputs(x)
    assert len(stages) == 3
    torch.testing.assert_close(stages[-1], net(x))


def test_baseline_parameter_count() -> None:
    # Hand count: head 3x3 (3 -> 64, no bias) + BN; 4 blocks of two 3x3 (64 -> 64, no bias) + 2 BN;
    # tail 3x3 (64 -> 3) with bias.
    expected = 3 * 64 * 9 + 2 * 64 + 4 * 2 * (64 * 64 * 9 + 2 * 64) + 64 * 3 * 9 + 3
    assert sum(p.numel() for p in BaselineNet().parameters()) == expected


def test_unet_non_residual_and_options() -> None:
    net = UNet(base_channels=4, depth=2, residual=False)
    x = torch.rand(1, 3, 5, 5)
    derained, rain = net(x, return_rain=True)
    torch.testing.assert_close(rain, x - derained)
    assert "residual=False" in repr(net)
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
    with pytest.raises(TypeError, match="base_channels"):
        UNet(base_channels=2.5)  # type: ignore[arg-type]


def test_documented_receptive_fields_of_cheap_networks() -> None:
    # BaselineNet: head 3x3 (+2), four blocks of two 3x3 (+16), tail 3x3 (+2) -> 21.
    assert receptive_field(BaselineNet(), size=41, samples=1) == (21, 21)
    # DilatedPyramidNet without its pooling branches: head (+2), dilated blocks 1, 2, 4, 8
    # (+4 * 15), two tail 3x3 (+4) -> 67; with them, the whole input.
    net = DilatedPyramidNet()
    assert receptive_field(net, size=41, samples=1) == (41, 41)
    with torch.no_grad():
        for branch in net.context.branches:
            branch[0].weight.zero_()
    assert receptive_field(net, size=71, samples=1) == (67, 67)


@settings(max_examples=8, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), name=st.sampled_from(NAMES))
def test_any_size_property(h: int, w: int, name: str) -> None:
    net = small(name).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, h, w)).shape == (1, 3, h, w)


def test_derainnet_base_channels_is_a_deprecated_alias_of_channels() -> None:
    with pytest.warns(FutureWarning, match="channels"):
        old = DerainNet(base_channels=4, num_blocks=1)
    assert old.channels == 4
    assert sum(p.numel() for p in old.parameters()) == sum(
        p.numel() for p in DerainNet(channels=4, num_blocks=1).parameters())
