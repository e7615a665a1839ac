"""The PReNet family: its 20 released files against the authors' outputs, and every network
against a reference written from the paper in the authors' weight layout."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from rainkit.nn import FAMILIES, PRETRAINED, build_model, load_pretrained
from rainkit.nn.families.prenet import (
    PRN,
    PRNR,
    PReNet,
    PReNetGRU,
    PReNetR,
    PReNetReal,
    PReNetX,
    convert_authors_state,
)
from rainkit.nn.loading import load_network

ROOT = Path(__file__).resolve().parents[3]
# /work/shared sits beside the repository (../shared); from a git worktree under
# <parent>/wt/<branch> it is one level further up.
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "prenet").is_dir()), None)

# From ../shared/pretrained/README.md: file stem -> (table entry, parameter count). The counts
# are the README's, taken from the authors' state dicts, not from rainkit.
FILES = {
    "Rain100H-PReNet6": ("prenet-rain100h", 168963),
    "Rain100H-PReNet6_r": ("prenet_r-rain100h", 94979),
    "Rain100H-PRN6": ("prn-rain100h", 95107),
    "Rain100H-PRN6_r": ("prn_r-rain100h", 21123),
    "Rain100L-PReNet6": ("prenet-rain100l", 168963),
    "Rain100L-PReNet6_r": ("prenet_r-rain100l", 94979),
    "Rain100L-PRN6": ("prn-rain100l", 95107),
    "Rain100L-PRN6_r": ("prn_r-rain100l", 21123),
    "Rain1400-PReNet6": ("prenet-rain1400", 168963),
    "Rain1400-PReNet6_r": ("prenet_r-rain1400", 94979),
    "Rain1400-PRN6": ("prn-rain1400", 95107),
    "Rain1400-PRN6_r": ("prn_r-rain1400", 21123),
    "real-PReNet1": ("prenet_real-1", 168963),
    "real-PReNet2": ("prenet_real-2", 168963),
    "Ablation-PReNet5_LSTM": ("prenet-rain100h-ablation-5stages", 168963),
    "Ablation-PReNet6_LSTM": ("prenet-rain100h-ablation", 168963),
    "Ablation-PReNet7_LSTM": ("prenet-rain100h-ablation-7stages", 168963),
    "Ablation-PReNet6_RecSSIM": ("prenet-rain100h-ablation-recssim", 168963),
    "Ablation-PReNet6_GRU": ("prenet_gru-rain100h-ablation", 150499),
    "Ablation-PReNet6_x": ("prenet_x-rain100h-ablation", 168099),
}
# The README's stage count of the authors' class for each file (6 unless named).
STAGES = {"real-PReNet1": 4, "real-PReNet2": 4, "Ablation-PReNet5_LSTM": 5,
          "Ablation-PReNet7_LSTM": 7}


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/prenet is absent (the authors' checkpoints are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "prenet"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


# ------------------------------------------------------------------------ the released files
def test_table_covers_the_twenty_files() -> None:
    family = FAMILIES["prenet"]
    assert {e.name for e in family.weights} == {name for name, _ in FILES.values()}
    for stem, (name, count) in FILES.items():
        entry = PRETRAINED[name]
        assert entry.family == "prenet" and entry.num_params == count
        assert sum(p.numel() for p in entry.build().parameters()) == count
        assert entry.model_kwargs["stages"] == STAGES.get(stem, 6)
        # The ablation classes (and only they, among the synthetic-rain files) do not add
        # the input.
        assert entry.model_kwargs.get("residual", True) is not stem.startswith("Ablation")
        assert entry.url.endswith(".pth") and "csdwren/PReNet" in entry.url
        for score in entry.published:
            assert score.convention in ("prenet-y", "matlab-y") and score.protocol == "A"
    # Published figures: the authors' README (PReNet6_r / PRN6_r on Rain100L and Rain1400
    # as listed in ../shared/pretrained/README.md).
    assert PRETRAINED["prenet-rain100h"].published[0].psnr == 29.46
    assert PRETRAINED["prenet_r-rain100l"].published[0].psnr == 37.10
    assert PRETRAINED["prn_r-rain1400"].published[0].ssim == 0.937
    assert dict(PRETRAINED["prenet_real-1"].model_kwargs) == {"stages": 4}


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_hashes_match_table(folder: Path, stem: str) -> None:
    digest = hashlib.sha256((folder / f"{stem}.pth").read_bytes()).hexdigest()
    assert digest == PRETRAINED[FILES[stem][0]].sha256


@pytest.mark.parametrize("stem", sorted(FILES))
def test_outputs_equal_the_authors(folder: Path, stem: str) -> None:
    # reference/<stem>.input<i>.npy: the authors' own code on these inputs (CPU, float32).
    name, count = FILES[stem]
    net = load_pretrained(name, path=folder / f"{stem}.pth")
    assert not net.training and sum(p.numel() for p in net.parameters()) == count
    for i in range(2):
        x = read_png(folder / "reference" / f"input{i}.png")
        expected = torch.from_numpy(np.load(folder / "reference" / f"{stem}.input{i}.npy"))
        assert expected.shape == (3, 96, 128)
        with torch.no_grad():  # the fused NHWC path
            torch.testing.assert_close(net(x)[0], expected, atol=1e-5, rtol=0)
        if i == 0:  # the plain (autograd) operators, on one input to stay fast
            torch.testing.assert_close(net(x)[0].detach(), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_identified_by_sha256(folder: Path, stem: str) -> None:
    loaded = load_network(folder / f"{stem}.pth")
    assert loaded.entry is PRETRAINED[FILES[stem][0]]
    assert "SHA-256 match" in loaded.how and not loaded.model.training
    assert dict(loaded.model_kwargs) == dict(loaded.entry.model_kwargs)


@pytest.mark.parametrize(
    ("stem", "name", "pattern"),
    [
        # PReNet_x's input convolution reads 3 channels, PReNet's 6.
        ("Ablation-PReNet6_LSTM", "prenet_x-rain100h-ablation",
         r"shapes differ: head.0.weight: file \(32, 6, 3, 3\), network \(32, 3, 3, 3\)"),
        ("Ablation-PReNet6_GRU", "prenet-rain100h-ablation", r"missing keys \['lstm.gates.bias'"),
        ("Ablation-PReNet6_x", "prenet-rain100h",
         r"shapes differ: head.0.weight: file \(32, 3, 3, 3\), network \(32, 6, 3, 3\)"),
    ],
)
def test_other_network_fails_clearly(folder: Path, stem: str, name: str, pattern: str) -> None:
    path = folder / f"{stem}.pth"
    with pytest.raises(ValueError, match="SHA-256"):
        load_pretrained(name, path=path)
    with pytest.raises(ValueError, match=f"do not fit the network.*{pattern}"):
        load_pretrained(name, path=path, check_hash=False)


def test_file_of_another_family_fails_clearly(folder: Path) -> None:
    other = SHARED / "pretrained" / "brn" / "Rain100H-BRN.pth"  # type: ignore[operator]
    if not other.is_file():
        pytest.skip("no BRN fixture")
    with pytest.raises(ValueError, match="has SHA-256"):
        load_pretrained("prenet-rain100h", path=other)
    with pytest.raises(ValueError, match=r"do not fit the network \(unexpected keys "
                       r"\['conv0_r.*shapes differ: head.0.weight: file \(32, 9, 3, 3\)"):
        load_pretrained("prenet-rain100h", path=other, check_hash=False)


def test_ablation_traps_change_the_output(folder: Path) -> None:
    # The ablation file in PReNet's wiring *with* the input added, or with 6 stages instead of
    # 5, runs without an error and gives another picture.
    x = read_png(folder / "reference" / "input0.png")
    expected = torch.from_numpy(np.load(folder / "reference" / "Ablation-PReNet5_LSTM.input0.npy"))
    state = torch.load(folder / "Ablation-PReNet5_LSTM.pth", map_location="cpu",
                       weights_only=True)
    for kwargs in ({"stages": 5}, {"stages": 6, "residual": False}):
        net = PReNet(**kwargs).eval()
        net.load_state_dict(convert_authors_state(state))
        with torch.no_grad():
            assert (net(x)[0] - expected).abs().max() > 0.01


# ------------------------------------------------- every network against a paper reference
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


def lstm(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w: dict[str, torch.Tensor]
         ) -> tuple[torch.Tensor, torch.Tensor]:
    xh = torch.cat([x, h], 1)
    i, f = torch.sigmoid(conv(xh, w, "conv_i")), torch.sigmoid(conv(xh, w, "conv_f"))
    g, o = torch.tanh(conv(xh, w, "conv_g")), torch.sigmoid(conv(xh, w, "conv_o"))
    c = f * c + i * g
    return o * torch.tanh(c), c


def reference(y: torch.Tensor, w: dict[str, torch.Tensor], variant: str,
              stages: int) -> list[torch.Tensor]:
    """Ren et al.'s networks, as their paper and released code define them (weights by name).

    ``variant`` is a rainkit network name, or ``prenet_lstm`` / ``prenet_gru_direct`` for the
    ablation classes that output the last convolution without adding the input.
    """
    b, _, height, width = y.shape
    h = c = y.new_zeros(b, C, height, width)
    x, outs = y, []
    recursive = variant.endswith("_r")
    for _ in range(stages):
        stage_input = x if variant.startswith("prenet_x") else torch.cat([y, x], 1)
        x_prev = x
        x = F.relu(conv(stage_input, w, "conv0"))
        if variant == "prenet_real":  # Generator_lstm: blocks, then LSTM, then conv on h
            h, c = lstm(res_blocks(x, w, False), h, c, w)
            x = conv(h, w, "conv")
        else:
            if variant.startswith("prenet_gru"):
                xh = torch.cat([x, h], 1)
                z, r = torch.sigmoid(conv(xh, w, "conv_z")), torch.sigmoid(conv(xh, w, "conv_b"))
                g = torch.tanh(conv(torch.cat([r * h, x], 1), w, "conv_g"))
                x = h = (1 - z) * h + z * g
            elif variant.startswith("prenet"):
                x, c = lstm(x, h, c, w)
                h = x
            x = conv(res_blocks(x, w, recursive), w, "conv")
            if variant == "prenet_x":  # rainkit's trainable default adds the previous estimate
                x = x_prev + x
            elif variant not in ("prenet_lstm", "prenet_gru_direct", "prenet_x_direct"):
                x = y + x
        outs.append(x)
    return outs


def authors_weights(variant: str, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Random weights under the authors' key names, for each variant's modules."""
    shapes = {"conv0.0": (C, 3 if variant.startswith("prenet_x") else 6), "conv.0": (3, C)}
    for k in range(1 if variant.endswith("_r") else 5):
        shapes[f"res_conv{k + 1}.0"] = shapes[f"res_conv{k + 1}.2"] = (C, C)
    gates = "zbg" if variant.startswith("prenet_gru") else {"prn": "", "prn_r": ""}.get(
        variant, "ifgo")
    for gate in gates:
        shapes[f"conv_{gate}.0"] = (C, 2 * C)
    w = {}
    for name, (cout, cin) in shapes.items():
        w[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, dtype=dtype) * (1.0 / (cin * 9)) ** 0.5
        w[f"{name}.bias"] = torch.randn(cout, dtype=dtype) * 0.1
    return w


# variant -> (rainkit network, its arguments besides stages and channels)
VARIANTS = {
    "prenet": ("prenet", {}),
    "prenet_r": ("prenet_r", {}),
    "prn": ("prn", {}),
    "prn_r": ("prn_r", {}),
    "prenet_gru": ("prenet_gru", {}),
    "prenet_real": ("prenet_real", {}),
    "prenet_x": ("prenet_x", {}),
    "prenet_lstm": ("prenet", {"residual": False}),
    "prenet_gru_direct": ("prenet_gru", {"residual": False}),
    "prenet_x_direct": ("prenet_x", {"residual": False}),
}


def loaded(variant: str, dtype: torch.dtype) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    w = authors_weights(variant, dtype)
    model, kwargs = VARIANTS[variant]
    stages = 4 if variant == "prenet_real" else 3
    net = build_model(model, stages=stages, channels=C, **kwargs).to(dtype)
    net.load_state_dict(convert_authors_state(w, model), strict=True)
    return net, w


@pytest.mark.parametrize("variant", sorted(VARIANTS))
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


@pytest.mark.parametrize("variant", sorted(VARIANTS))
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


@pytest.mark.parametrize("variant", ["prenet", "prenet_gru", "prenet_real", "prenet_x"])
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
     (PReNetReal, 168963), (PReNetX, 168099)],
)
def test_parameter_counts(cls: type, count: int) -> None:
    # Hand count, all 3x3 convs with biases: conv(6->32) = 1,760, an LSTM gate conv(64->32) =
    # 18,464, a residual conv(32->32) = 9,248, conv(32->3) = 867. PReNet: 1,760 + 4 x 18,464 +
    # 10 x 9,248 + 867; _r: 2 residual convs; PRN: no gates; GRU: 3 gate convs; PReNet_x:
    # conv(3->32) = 896 instead of 1,760.
    assert sum(p.numel() for p in cls().parameters()) == count


def test_variants_are_prenet_options() -> None:
    assert repr(PRNR()).count("recurrent=None, recursive_blocks=True") == 1
    assert PReNetGRU().recurrent == "gru" and PReNetR().recursive_blocks
    assert len(PReNetR().blocks) == 1 and len(PReNet().blocks) == 5
    assert PReNetReal().stages == 4
    assert "residual=False" in repr(PReNetGRU(residual=False)) and PReNet().residual
    assert "residual=True" in repr(PReNetX())


def test_real_network_rejects_prenet_state_dict() -> None:
    with pytest.raises(RuntimeError, match="out_conv"):
        PReNetReal().load_state_dict(PReNet(stages=4).state_dict())


@pytest.mark.parametrize("cls", [PReNetX, PReNetGRU])
def test_fresh_trainable_default_is_the_identity(cls: type) -> None:
    net = cls()
    x = torch.full((1, 3, 12, 10), 0.5)
    assert (net(x) - x).abs().mean() < 0.05
    y = torch.rand(2, 3, 9, 7)
    assert torch.equal(net(y), y)
    loss = (net(y) - y.flip(-1)).square().mean()
    loss.backward()
    assert net.tail.weight.grad.abs().sum() > 0  # the zero output convolution learns first


def test_prenet_x_stages_read_only_the_estimate() -> None:
    # PReNet_x sees y only through x_0 = y: a stage's input convolution has C input channels.
    net = PReNetX(stages=2, channels=4, num_blocks=1)
    assert net.head[0].in_channels == 3 and net.tail.out_channels == 3


def test_option_errors() -> None:
    with pytest.raises(ValueError, match="recurrent must be one of 'lstm', 'gru', None"):
        PReNet(recurrent="rnn")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recursive_blocks must be a bool"):
        PReNet(recursive_blocks=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="residual must be a bool, got int"):
        PReNetGRU(residual=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="residual must be a bool, got str"):
        PReNetX(residual="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_blocks"):
        PReNetR(num_blocks=0)
    with pytest.raises(ValueError, match="stages"):
        PReNetReal(stages=0)
    with pytest.raises(ValueError, match="stages"):
        PReNetX(stages=0)


def test_flop_counter_sees_the_convolutions() -> None:
    # FlopCounterMode is a dispatch mode: the networks then run the plain operators it counts.
    from torch.utils.flop_counter import FlopCounterMode

    net = PRN()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.rand(1, 3, 8, 8))
    # Per stage conv(6->32) + 10 conv(32->32) + conv(32->3), 9 MACs per weight per pixel.
    expected = 6 * 64 * (6 * 32 + 10 * 32 * 32 + 32 * 3) * 9
    assert counter.get_total_flops() == 2 * expected


@pytest.mark.parametrize("cls", [PReNet, PReNetX])
def test_tracing_sees_the_plain_operators(cls: type) -> None:
    # torch.jit.trace (used by the TorchScript ONNX exporter) must not record oneDNN-only ops.
    net = cls(stages=2, channels=4, num_blocks=1).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace's deprecation and tracer warnings
        traced = torch.jit.trace(net, x)
    assert "mkldnn" not in str(traced.graph)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), net(x), rtol=1e-5, atol=1e-6)


# torch.jit.script is deprecated (PyTorch 2.14 warns). Every network of the family scripts:
# the unused recurrent cell is None (its branch is dropped), the state of each cell has one
# type, and the fused oneDNN path and the input checks sit behind torch.jit.is_scripting().
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_script_equals_eager(variant: str) -> None:
    net, _ = loaded(variant, torch.float32)  # random weights: a fresh network is the identity
    net.eval()
    scripted = torch.jit.script(net)
    assert "mkldnn" not in str(scripted.graph) + str(scripted._separate.graph)
    for shape in [(2, 3, 7, 13), (1, 3, 1, 1)]:
        x = torch.rand(shape)
        # autograd on: eager runs the plain operators too, so the results are identical
        torch.testing.assert_close(scripted(x), net(x), rtol=0, atol=0)
        derained, rain = scripted(x, True)
        torch.testing.assert_close(rain, x - derained, rtol=0, atol=0)
        with torch.no_grad():  # eager runs the fused oneDNN path there: float rounding apart
            torch.testing.assert_close(scripted(x), net(x), rtol=1e-5, atol=1e-5)

