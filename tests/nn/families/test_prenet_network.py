"""The PReNet family against a reference written from the paper in the authors' weight layout."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn import PRN, PRNR, PReNet, PReNetGRU, PReNetR, PReNetReal, build_model
from rainkit.nn.families.prenet import convert_authors_state

C = 6  # feature channels of the small networks below


def conv(x: torch.Tensor, w: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    return F.conv2d(x, w[f"{name}.0.weight"], w[f"{name}.0.bias"], padding=1)


def res_blocks(x: torch.Tensor, w: dict[str, torch.Tensor], recursive: bool) -> torch.Tensor:
    """Five residual blocks x <- ReLU(x + ReLU(W2 * ReLU(W1 * x))), or one applied five times."""
    for k in range(5):
        name = "res_conv1" if recursive else f"res_conv{k + 1}"
        r = F.relu(F.conv2d(F.relu(F.conv2d(x, w[f"{name}.0.weight"], w[f"{name}.0.bias"],
                                            padding=1)),
                            w[f"{name}.2.weight"], w[f"{name}.2.bias"], padding=1))
        x = F.relu(r + x)
    return x


def reference(y: torch.Tensor, w: dict[str, torch.Tensor], variant: str,
              stages: int) -> list[torch.Tensor]:
    """Ren et al.'s networks, as their paper and released code define them (weights by name)."""
    b, _, height, width = y.shape
    h = c = y.new_zeros(b, C, height, width)
    x, outs = y, []
    recursive = variant.endswith("_r")
    for _ in range(stages):
        x = F.relu(conv(torch.cat([y, x], 1), w, "conv0"))
        if variant == "prenet_real":  # Generator_lstm: blocks, then LSTM, then conv on h
            x = torch.cat([res_blocks(x, w, False), h], 1)
            i, f = torch.sigmoid(conv(x, w, "conv_i")), torch.sigmoid(conv(x, w, "conv_f"))
            g, o = torch.tanh(conv(x, w, "conv_g")), torch.sigmoid(conv(x, w, "conv_o"))
            c = f * c + i * g
            h = o * torch.tanh(c)
            x = conv(h, w, "conv")
        else:
            if variant.startswith("prenet_gru"):
                xh = torch.cat([x, h], 1)
                z, r = torch.sigmoid(conv(xh, w, "conv_z")), torch.sigmoid(conv(xh, w, "conv_b"))
                g = torch.tanh(conv(torch.cat([r * h, x], 1), w, "conv_g"))
                x = h = (1 - z) * h + z * g
            elif variant.startswith("prenet"):
                xh = torch.cat([x, h], 1)
                i, f = torch.sigmoid(conv(xh, w, "conv_i")), torch.sigmoid(conv(xh, w, "conv_f"))
                g, o = torch.tanh(conv(xh, w, "conv_g")), torch.sigmoid(conv(xh, w, "conv_o"))
                c = f * c + i * g
                x = h = o * torch.tanh(c)
            x = y + conv(res_blocks(x, w, recursive), w, "conv")
        outs.append(x)
    return outs


def authors_weights(variant: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Random weights under the authors' key names, for each variant's modules."""
    shapes = {"conv0.0": (C, 6), "conv.0": (3, C)}
    for k in range(1 if variant.endswith("_r") else 5):
        shapes[f"res_conv{k + 1}.0"] = shapes[f"res_conv{k + 1}.2"] = (C, C)
    gates = {"prenet_gru": "zbg", "prn": "", "prn_r": ""}.get(variant, "ifgo")
    for gate in gates:
        shapes[f"conv_{gate}.0"] = (C, 2 * C)
    w = {}
    for name, (cout, cin) in shapes.items():
        w[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, dtype=dtype) * (1.0 / (cin * 9)) ** 0.5
        w[f"{name}.bias"] = torch.randn(cout, dtype=dtype) * 0.1
    return w


VARIANTS = ["prenet", "prenet_r", "prn", "prn_r", "prenet_gru", "prenet_real"]


def loaded(variant: str, dtype: torch.dtype) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    w = authors_weights(variant, dtype)
    stages = 4 if variant == "prenet_real" else 3
    net = build_model(variant, stages=stages, channels=C).to(dtype)
    net.load_state_dict(convert_authors_state(w, variant), strict=True)
    return net, w


@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_reference_float64(variant: str) -> None:
    net, w = loaded(variant, torch.float64)
    y = torch.rand(2, 3, 11, 14, dtype=torch.float64)
    expected = reference(y, w, variant, net.stages)
    stages = net.stage_outputs(y)
    assert len(stages) == len(expected)
    for got, want in zip(stages, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    derained, rain = net(y, return_rain=True)
    torch.testing.assert_close(derained, expected[-1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rain, y - expected[-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_fused_inference_matches_reference(variant: str, layout: torch.memory_format) -> None:
    # no_grad + float32 CPU: the fused oneDNN path; compared with the float64 reference.
    net, w = loaded(variant, torch.float32)
    y = torch.rand(2, 3, 19, 26).contiguous(memory_format=layout)
    with torch.no_grad():
        got = net.stage_outputs(y)
        last = net(y)
    w64 = {k: v.double() for k, v in w.items()}
    want = reference(y.double(), w64, variant, net.stages)
    for g, e in zip(got, want, strict=True):
        # float32 rounding, relative to the output's scale (PRN's outputs are unbounded).
        scale = max(1.0, e.abs().max().item())
        torch.testing.assert_close(g.double(), e, rtol=0, atol=1e-5 * scale)
        assert g.is_contiguous(memory_format=layout)
    torch.testing.assert_close(last, got[-1], rtol=0, atol=0)
    assert last.is_contiguous(memory_format=layout)


@pytest.mark.parametrize("variant", ["prenet", "prenet_gru", "prenet_real"])
def test_gradcheck_tiny(variant: str) -> None:
    net = build_model(variant, stages=2, channels=2, num_blocks=1).double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.5)
    x = torch.rand(1, 3, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,))


def test_training_step_matches_reference_gradients() -> None:
    net, w = loaded("prenet", torch.float64)
    y = torch.rand(1, 3, 7, 9, dtype=torch.float64)
    net(y).square().sum().backward()
    ref_w = {k: v.clone().requires_grad_() for k, v in w.items()}
    reference(y, ref_w, "prenet", net.stages)[-1].square().sum().backward()
    grads = convert_authors_state({k: v.grad for k, v in ref_w.items()}, "prenet")
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("cls", "count"),
    [(PReNet, 168963), (PReNetR, 94979), (PRN, 95107), (PRNR, 21123), (PReNetGRU, 150499),
     (PReNetReal, 168963)],
)
def test_parameter_counts(cls: type, count: int) -> None:
    # Hand count, all 3x3 convs with biases: conv(6->32) = 1,760, an LSTM gate conv(64->32) =
    # 18,464, a residual conv(32->32) = 9,248, conv(32->3) = 867. PReNet: 1,760 + 4 x 18,464 +
    # 10 x 9,248 + 867; _r: 2 residual convs; PRN: no gates; GRU: 3 gate convs.
    assert sum(p.numel() for p in cls().parameters()) == count


def test_variants_are_prenet_options() -> None:
    assert repr(PRNR()).count("recurrent=None, recursive_blocks=True") == 1
    assert PReNetGRU().recurrent == "gru" and PReNetR().recursive_blocks
    assert len(PReNetR().blocks) == 1 and len(PReNet().blocks) == 5
    assert PReNetReal().stages == 4


def test_real_network_rejects_prenet_state_dict() -> None:
    with pytest.raises(RuntimeError, match="out_conv"):
        PReNetReal().load_state_dict(PReNet(stages=4).state_dict())


def test_option_errors() -> None:
    with pytest.raises(ValueError, match="recurrent must be one of 'lstm', 'gru', None"):
        PReNet(recurrent="rnn")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recursive_blocks must be a bool"):
        PReNet(recursive_blocks=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_blocks"):
        PReNetR(num_blocks=0)
    with pytest.raises(ValueError, match="stages"):
        PReNetReal(stages=0)


def test_flop_counter_sees_the_convolutions() -> None:
    # FlopCounterMode is a dispatch mode: the networks then run the plain operators it counts.
    from torch.utils.flop_counter import FlopCounterMode

    net = PRN()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.rand(1, 3, 8, 8))
    # Per stage conv(6->32) + 10 conv(32->32) + conv(32->3), 9 MACs per weight per pixel.
    expected = 6 * 64 * (6 * 32 + 10 * 32 * 32 + 32 * 3) * 9
    assert counter.get_total_flops() == 2 * expected


def test_tracing_sees_the_plain_operators() -> None:
    # torch.jit.trace (used by the TorchScript ONNX exporter) must not record oneDNN-only ops.
    net = PReNet(stages=2, channels=4, num_blocks=1).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace's deprecation and tracer warnings
        traced = torch.jit.trace(net, x)
    assert "mkldnn" not in str(traced.graph)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), net(x), rtol=1e-5, atol=1e-6)
