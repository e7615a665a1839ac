"""BRN: the BRN authors' eight released files against their code's outputs, and the network
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
from rainkit.nn.families.brn import BRN, convert_authors_state, mosaic_ensemble
from rainkit.nn.families.brn.network import lstm_step
from rainkit.nn.loading import load_network, read_weights

ROOT = Path(__file__).resolve().parents[3]
_CANDIDATES = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
SHARED = next((p for p in _CANDIDATES if (p / "pretrained" / "brn").is_dir()), None)

# From ../shared/pretrained/brn/README.md: file stem -> (table entry, parameters of the file).
# The BRN files hold 36,992 parameters the authors' forward never uses (res_conv4_r,
# res_conv5_r): the network has 412,518 - 36,992 = 375,526.
FILES = {
    "Rain100H-BRN": ("brn-rain100h", 412518),
    "Rain100L-BRN": ("brn-rain100l", 412518),
    "Rain1400-BRN": ("brn-rain1400", 412518),
    "Rain200H-BRN": ("brn-rain200h", 412518),
    "Rain200L-BRN": ("brn-rain200l", 412518),
    "generalization-BRN": ("brn-generalization", 412518),
    "Rain200H-PReNet": ("prenet-rain200h", 168963),
    "Rain200L-PReNet": ("prenet-rain200l", 168963),
}
UNUSED = 36992


@pytest.fixture(scope="module")
def folder() -> Path:
    if SHARED is None:
        pytest.skip("../shared/pretrained/brn is absent (the authors' checkpoints are test "
                    "fixtures outside the repository)")
    return SHARED / "pretrained" / "brn"


def read_png(path: Path) -> torch.Tensor:
    array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]


def rainy(i: int) -> torch.Tensor:
    # The BRN references are computed on the PReNet folder's inputs.
    return read_png(SHARED / "pretrained" / "prenet" / "reference" / f"input{i}.png")  # type: ignore[operator]


# ------------------------------------------------------------------------ the released files
def test_table() -> None:
    family = FAMILIES["brn"]
    assert family.models == ("brn",)
    assert {e.name for e in family.weights} == {n for n, _ in FILES.values()}
    for name, count in FILES.values():
        entry = PRETRAINED[name]
        assert entry.family == "brn" and entry.sha256
        network = count - UNUSED if entry.model == "brn" else count
        assert entry.num_params == network
        assert sum(p.numel() for p in entry.build().parameters()) == network
        assert "csdwren/RecDerain" in entry.url
        for score in entry.published:
            assert score.convention in ("prenet-y", "matlab-y")
    # 8 stages and the clean image predicted directly, in every BRN entry.
    for entry in family.weights:
        if entry.model == "brn":
            assert dict(entry.model_kwargs) == {"stages": 8, "residual": False}
        else:
            assert dict(entry.model_kwargs) == {"stages": 6}
    # The paper's tables (results/*.jpg in the repository), as the README transcribes them.
    assert [(s.test_set, s.psnr, s.protocol) for s in PRETRAINED["brn-rain100l"].published] == [
        ("Rain100L", 38.16, "A"), ("Rain12", 36.74, "A")]
    assert PRETRAINED["brn-rain200h"].published[0].protocol == "C"
    spa = PRETRAINED["brn-generalization"].published[0]
    assert (spa.test_set, spa.psnr, spa.ssim, spa.protocol) == ("SPA-Data", 35.34, 0.945, "")
    assert PRETRAINED["prenet-rain200l"].published[1].psnr == 35.00


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_hashes_match_table(folder: Path, stem: str) -> None:
    digest = hashlib.sha256((folder / f"{stem}.pth").read_bytes()).hexdigest()
    assert digest == PRETRAINED[FILES[stem][0]].sha256


@pytest.mark.parametrize("stem", sorted(FILES))
def test_outputs_equal_the_authors(folder: Path, stem: str) -> None:
    # reference/<stem>.input<i>.npy: the first output of the authors' BRN(8) / PReNet(6).
    name = FILES[stem][0]
    net = load_pretrained(name, path=folder / f"{stem}.pth")
    assert not net.training
    for i in (0, 1):
        x = rainy(i)
        expected = torch.from_numpy(np.load(folder / "reference" / f"{stem}.input{i}.npy"))
        with torch.no_grad():  # the fused NHWC path
            torch.testing.assert_close(net(x)[0], expected, atol=1e-5, rtol=0)
        # the plain (autograd) operators, once per network to stay fast
        if i == 0 and stem in ("Rain200H-BRN", "Rain200H-PReNet"):
            derained, rain = net(x, return_rain=True)
            torch.testing.assert_close(derained[0].detach(), expected, atol=1e-5, rtol=0)
            torch.testing.assert_close(derained + rain, x)


def test_real_rain_procedure_equals_the_authors(folder: Path) -> None:
    # reference/generalization-BRN.input<i>.test_real.npy: the whole test_BRN_real.py
    # procedure (HEAD version) before its clamp.
    # One input keeps the test to 5 forwards (input1 agreed to 1.4e-6 when this was written).
    net = load_pretrained("brn-generalization", path=folder / "generalization-BRN.pth")
    expected = np.load(folder / "reference" / "generalization-BRN.input0.test_real.npy")
    with torch.no_grad():
        got = mosaic_ensemble(net, rainy(0))[0]
    torch.testing.assert_close(got, torch.from_numpy(expected), atol=1e-5, rtol=0)
    plain = np.load(folder / "reference" / "generalization-BRN.input0.npy")
    assert np.abs(plain - expected).max() > 0.01  # the procedure matters


@pytest.mark.parametrize("stem", sorted(FILES))
def test_file_identified_by_sha256(folder: Path, stem: str) -> None:
    loaded = load_network(folder / f"{stem}.pth")
    assert loaded.entry is PRETRAINED[FILES[stem][0]]
    assert "SHA-256 match" in loaded.how


def test_file_read_as_the_authors_do(folder: Path) -> None:
    # The BRN files: 'module.' prefixes and CUDA tensors; the PReNet files: neither prefix.
    brn = read_weights(folder / "Rain200H-BRN.pth")
    assert "the 'module.' prefix" in brn.unwrapped and len(brn.state) == 64
    assert all(t.device.type == "cpu" for t in brn.state.values())
    assert read_weights(folder / "Rain200H-PReNet.pth").unwrapped == ()
    converted = convert_authors_state(brn.state)
    assert not any("res_conv4_r" in k or "res_conv5_r" in k for k in converted)
    assert len(converted) == 64 - 8 - 12  # the 4 dead tensors, and 16 gate tensors -> 4


def test_unpublished_brn_file_is_found_by_keys_and_shapes(folder: Path, tmp_path: Path) -> None:
    state = torch.load(folder / "Rain100H-BRN.pth", map_location="cpu", weights_only=True)
    path = tmp_path / "mine.pth"
    torch.save({"state_dict": {k: v * 1.0 for k, v in state.items()}}, path)
    loaded = load_network(path)
    assert loaded.model_name == "brn" and loaded.entry is None
    assert loaded.model_kwargs == {"stages": 8, "residual": False}


def test_file_of_another_family_fails_clearly(folder: Path) -> None:
    other = SHARED / "pretrained" / "prenet" / "Rain100H-PReNet6.pth"  # type: ignore[operator]
    with pytest.raises(ValueError, match="has SHA-256"):
        load_pretrained("brn-rain100h", path=other)
    with pytest.raises(ValueError, match=r"do not fit the network \(missing keys \['rain.blocks"
                       r".*shapes differ: image.gates.weight: file \(128, 64, 3, 3\)"):
        load_pretrained("brn-rain100h", path=other, check_hash=False)
    with pytest.raises(ValueError, match=r"do not fit the network \(unexpected keys \['conv0_r"
                       r".*shapes differ: head.0.weight: file \(32, 9, 3, 3\)"):
        load_pretrained("prenet-rain200h", path=folder / "Rain200H-BRN.pth", check_hash=False)


def test_traps_change_the_output(folder: Path) -> None:
    # The class default of 4 stages, or the input added as PReNet does: both run, both differ.
    state = convert_authors_state(read_weights(folder / "Rain200H-BRN.pth").state)
    x = rainy(1)
    outputs = {}
    for kwargs in ({"stages": 8, "residual": False}, {"stages": 4, "residual": False},
                   {"stages": 8}):
        net = BRN(**kwargs).eval()
        net.load_state_dict(state)
        with torch.no_grad():
            outputs[str(kwargs)] = net(x)
    right = outputs["{'stages': 8, 'residual': False}"]
    # README: "With 4 or 6 stages the Rain200H output on input1 differs ... by up to 0.30".
    assert (right - outputs["{'stages': 4, 'residual': False}"]).abs().max() > 0.1
    assert (right - outputs["{'stages': 8}"]).abs().max() > 0.1


# ------------------------------------------------------- the network against a paper reference
C = 5  # feature channels of the small networks below


def conv(x: torch.Tensor, w: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    return F.conv2d(x, w[f"{name}.0.weight"], w[f"{name}.0.bias"], padding=1)


def block(x: torch.Tensor, w: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    r = F.relu(F.conv2d(F.relu(conv(x, w, name)), w[f"{name}.2.weight"], w[f"{name}.2.bias"],
                        padding=1))
    return F.relu(r + x)


def lstm(x: torch.Tensor, c: torch.Tensor, w: dict[str, torch.Tensor], suffix: str
         ) -> tuple[torch.Tensor, torch.Tensor]:
    i = torch.sigmoid(conv(x, w, f"conv_i{suffix}"))
    f = torch.sigmoid(conv(x, w, f"conv_f{suffix}"))
    g = torch.tanh(conv(x, w, f"conv_g{suffix}"))
    o = torch.sigmoid(conv(x, w, f"conv_o{suffix}"))
    c = f * c + i * g
    return o * torch.tanh(c), c


def reference(y: torch.Tensor, w: dict[str, torch.Tensor], stages: int, residual: bool
              ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """BRN as the paper and the README describe it (weights by the authors' names)."""
    b, _, height, width = y.shape
    h = c = h_r = c_r = y.new_zeros(b, C, height, width)
    x = r = y
    images, rains = [], []
    for _ in range(stages):
        h_r, c_r = lstm(torch.cat([F.relu(conv(torch.cat([y, r], 1), w, "conv0_r")), h_r, h], 1),
                        c_r, w, "_r")
        r = h_r
        for k in (1, 2, 3):
            r = block(r, w, f"res_conv{k}_r")
        r = conv(r, w, "conv_r")
        h, c = lstm(torch.cat([F.relu(conv(torch.cat([y, x, r], 1), w, "conv0")), h, h_r], 1),
                    c, w, "")
        x = h
        for k in range(1, 6):
            x = block(x, w, f"res_conv{k}")
        x = conv(x, w, "conv") + (y if residual else 0)
        images.append(x)
        rains.append(r)
    return images, rains


def authors_weights(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Random weights under the authors' key names, unused rain blocks included."""
    shapes = {"conv0.0": (C, 9), "conv.0": (3, C), "conv0_r.0": (C, 6), "conv_r.0": (3, C)}
    for k in range(1, 6):
        for suffix in ("", "_r"):
            shapes[f"res_conv{k}{suffix}.0"] = shapes[f"res_conv{k}{suffix}.2"] = (C, C)
    for gate in "ifgo":
        shapes[f"conv_{gate}.0"] = shapes[f"conv_{gate}_r.0"] = (C, 3 * C)
    w = {}
    for name, (cout, cin) in shapes.items():
        w[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, dtype=dtype) * (1.0 / (cin * 9)) ** 0.5
        w[f"{name}.bias"] = torch.randn(cout, dtype=dtype) * 0.1
    return w


def loaded(dtype: torch.dtype, residual: bool) -> tuple[BRN, dict[str, torch.Tensor]]:
    w = authors_weights(dtype)
    net = BRN(stages=3, channels=C, residual=residual).to(dtype)
    net.load_state_dict(convert_authors_state(w), strict=True)
    return net, w


@pytest.mark.parametrize("residual", [False, True])
def test_matches_reference_float64(residual: bool) -> None:
    net, w = loaded(torch.float64, residual)
    y = torch.rand(2, 3, 11, 14, dtype=torch.float64)
    images, rains = reference(y, w, 3, residual)
    got_images, got_rains = net.bilateral_outputs(y)
    for got, want in zip(got_images + got_rains, images + rains, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(net.stage_outputs(y)[-1], images[-1], rtol=1e-12, atol=1e-12)
    derained, rain = net(y, return_rain=True)
    torch.testing.assert_close(derained, images[-1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(rain, y - images[-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_fused_inference_matches_reference(residual: bool, layout: torch.memory_format) -> None:
    # no_grad + float32 CPU: the fused oneDNN path; compared with the float64 reference.
    net, w = loaded(torch.float32, residual)
    y = torch.rand(2, 3, 19, 26).contiguous(memory_format=layout)
    with torch.no_grad():
        images, rains = net.bilateral_outputs(y)
        last = net(y)
    want = reference(y.double(), {k: v.double() for k, v in w.items()}, 3, residual)
    for got, expected in zip(images + rains, want[0] + want[1], strict=True):
        torch.testing.assert_close(got.double(), expected, rtol=0, atol=1e-5)
        assert got.is_contiguous(memory_format=layout)
    torch.testing.assert_close(last, images[-1], rtol=0, atol=0)
    assert last.is_contiguous(memory_format=layout)


def test_training_step_matches_reference_gradients() -> None:
    net, w = loaded(torch.float64, False)
    y = torch.rand(1, 3, 7, 9, dtype=torch.float64)
    images, rains = net.bilateral_outputs(y)
    (images[-1].square().sum() + rains[1].abs().sum()).backward()
    ref_w = {k: v.clone().requires_grad_() for k, v in w.items()}
    ref_images, ref_rains = reference(y, ref_w, 3, False)
    (ref_images[-1].square().sum() + ref_rains[1].abs().sum()).backward()
    grads = convert_authors_state({k: v.grad for k, v in ref_w.items() if v.grad is not None})
    for name, p in net.named_parameters():
        torch.testing.assert_close(p.grad, grads[name], rtol=1e-10, atol=1e-12)


def test_gradcheck_tiny() -> None:
    net = BRN(stages=2, channels=2, num_blocks=1, rain_blocks=1).double()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.5)
    x = torch.rand(1, 3, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,))


def test_lstm_step_skips_zero_parts() -> None:
    # None stands for zeros: the same values as passing the zeros, on both paths.
    w, b = torch.randn(8, 6, 3, 3), torch.randn(8)
    x, zero = torch.rand(1, 2, 5, 4), torch.zeros(1, 2, 5, 4)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            h, c = lstm_step([x, None, None], None, w, b)
            h0, c0 = lstm_step([x, zero, zero], zero, w, b)
        torch.testing.assert_close(h, h0)
        torch.testing.assert_close(c, c0)
    with pytest.raises(ValueError, match="at least one input tensor"):
        lstm_step([None, None], None, w, b)


def test_fresh_trainable_default_is_the_identity() -> None:
    net = build_model("brn")
    assert net.stages == 8 and net.residual  # the authors' test setting; trainable default
    x = torch.full((1, 3, 12, 10), 0.5)
    assert (net(x) - x).abs().mean() < 0.05
    y = torch.rand(2, 3, 9, 7)
    assert torch.equal(net(y), y)
    loss = (net(y) - y.flip(-1)).square().mean()
    loss.backward()
    assert net.image.tail.weight.grad.abs().sum() > 0  # the zero output convolution learns first


def test_mosaic_ensemble_pieces() -> None:
    from rainkit.nn.families.brn import _mosaic, _unmosaic

    for size in [(6, 8), (7, 9), (1, 2)]:
        x = torch.rand(1, 3, *size)
        assert torch.equal(_unmosaic(_mosaic(x)), x)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert _mosaic(x)[0, 0, 0].tolist() == [0.0, 2.0, 1.0, 3.0]  # x[0, ::2] then x[0, 1::2]
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) tensor, got shape \(3, 4, 4\)"):
        mosaic_ensemble(BRN(stages=1, channels=2), torch.rand(3, 4, 4))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        mosaic_ensemble(BRN(stages=1, channels=2), [[0.0]])  # type: ignore[arg-type]


def test_option_errors() -> None:
    with pytest.raises(TypeError, match="residual must be a bool, got int"):
        BRN(residual=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stages"):
        BRN(stages=0)
    with pytest.raises(ValueError, match="rain_blocks"):
        BRN(rain_blocks=-1)
    assert "rain_blocks=3, residual=True" in repr(BRN())


def test_tracing_sees_the_plain_operators() -> None:
    net = BRN(stages=2, channels=4, num_blocks=1, rain_blocks=1).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.3)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace's deprecation and tracer warnings
        traced = torch.jit.trace(net, x)
    assert "mkldnn" not in str(traced.graph)
    with torch.no_grad():
        # the plain operators against the fused ones: float32 rounding
        torch.testing.assert_close(traced(x), net(x), rtol=1e-5, atol=2e-5)
