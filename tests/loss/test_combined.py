"""CombinedLoss: sum of its parts (value and gradient), one trunk, one VGG pass, errors, DDP."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rainkit.loss import (
    CharbonnierLoss,
    CombinedLoss,
    ContrastiveLoss,
    EasyContrastiveLoss,
    PerceptualLoss,
    StyleLoss,
    VGGFeatures,
)


def make_parts(vgg: VGGFeatures) -> dict[str, tuple[nn.Module, float]]:
    return {
        "l1": (nn.L1Loss(), 1.0),
        "charbonnier": (CharbonnierLoss(), 0.5),
        "perceptual": (PerceptualLoss(("relu2_1",), vgg=vgg), 0.1),
        "style": (StyleLoss(("relu1_1", "relu2_1"), vgg=vgg), 2.0),
        "easy": (EasyContrastiveLoss(("relu1_2",), vgg=vgg), 0.3),
        "contrastive": (ContrastiveLoss(("relu1_1", "relu2_1"), vgg=vgg), 0.1),
    }


def count_passes(vgg: VGGFeatures) -> list[int]:
    calls: list[int] = []
    vgg.features[0].register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    return calls


def test_sum_of_parts_value_and_gradient(shallow_vgg) -> None:
    parts = make_parts(shallow_vgg)
    combined = CombinedLoss(parts)
    out = torch.rand(2, 3, 8, 8)
    pos, negs = torch.rand(2, 3, 8, 8), torch.rand(2, 2, 3, 8, 8)

    x1 = out.clone().requires_grad_()
    total, terms = combined(x1, pos, negs)
    total.backward()

    x2 = out.clone().requires_grad_()
    expected = torch.zeros(())
    for name, (loss, weight) in parts.items():
        args = (x2, pos, negs) if name in ("easy", "contrastive") else (x2, pos)
        value = loss(*args)
        torch.testing.assert_close(terms[name], value.detach(), rtol=1e-5, atol=1e-7)
        expected = expected + weight * value
    expected.backward()
    torch.testing.assert_close(total, expected, rtol=1e-5, atol=0)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-4, atol=1e-7)
    assert all(not t.requires_grad for t in terms.values())
    assert list(terms) == list(parts)


def test_one_vgg_pass(shallow_vgg) -> None:
    combined = CombinedLoss(make_parts(shallow_vgg))
    assert combined.num_vgg_passes == 1
    calls = count_passes(shallow_vgg)
    out = torch.rand(2, 3, 8, 8, requires_grad=True)
    combined(out, torch.rand(2, 3, 8, 8), torch.rand(2, 2, 3, 8, 8))
    # one pass for the output (2 images), one no_grad pass for positive + 2 negatives (6)
    assert calls == [2, 6]


def test_negatives_skipped_when_unused(shallow_vgg) -> None:
    combined = CombinedLoss({"perceptual": (PerceptualLoss(("relu1_1",), vgg=shallow_vgg), 1.0)})
    calls = count_passes(shallow_vgg)
    combined(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))
    assert calls == [2, 2]


def test_sharing_rules(tmp_path) -> None:
    # random weights: only the same object is shared
    a = PerceptualLoss(("relu1_1",), vgg_weights=None)
    b = ContrastiveLoss(("relu1_1",), vgg_weights=None)
    assert CombinedLoss({"a": (a, 1.0), "b": (b, 1.0)}).num_vgg_passes == 2
    # the same weights file and normalisation: the deepest trunk serves both
    state = VGGFeatures(("relu2_1",), vgg_weights=None).features.state_dict()
    torch.save(state, tmp_path / "w.pth")
    c = PerceptualLoss(("relu1_1",), vgg_weights=tmp_path / "w.pth")
    d = ContrastiveLoss(("relu1_1", "relu2_1"), vgg_weights=tmp_path / "w.pth")
    e = PerceptualLoss(("relu1_1",), vgg_weights=tmp_path / "w.pth", normalize=True)
    shared = CombinedLoss({"c": (c, 1.0), "d": (d, 1.0)})
    assert shared.num_vgg_passes == 1
    x, y, z = (torch.rand(1, 3, 8, 8) for _ in range(3))
    total, _ = shared(x, y, z)
    torch.testing.assert_close(total, c(x, y) + d(x, y, z), rtol=1e-5, atol=0)
    assert CombinedLoss({"c": (c, 1.0), "e": (e, 1.0)}).num_vgg_passes == 2


@pytest.fixture
def weights_file(tmp_path):
    """A random VGG19 trunk saved as a torchvision-style state dict (features.* keys)."""
    trunk = VGGFeatures(("relu5_4",), vgg_weights=None)
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in trunk.features.state_dict().items()}, path)
    return path


def test_one_trunk_per_weights_source(weights_file, monkeypatch) -> None:
    monkeypatch.chdir(weights_file.parent)
    p = PerceptualLoss(("conv5_4",), vgg_weights=weights_file)
    e = EasyContrastiveLoss(("relu2_1",), vgg_weights=weights_file.name)  # the same file, relative
    c = ContrastiveLoss(vgg_weights=weights_file)  # relu1_1 .. relu5_1
    separate = {id(p.vgg), id(e.vgg), id(c.vgg)}
    assert len(separate) == 3
    deepest = p.vgg
    combined = CombinedLoss({"l1": (nn.L1Loss(), 1.0), "p": (p, 0.1), "e": (e, 0.1),
                             "c": (c, 0.1)})
    assert p.vgg is e.vgg is c.vgg is deepest and combined.trunks == (deepest,)
    assert combined.num_vgg_passes == 1
    n_params = sum(t.numel() for t in combined.parameters())
    assert n_params == sum(t.numel() for t in deepest.parameters()) > 20_000_000
    # the frozen trunk is not state: the combined loss has no state at all
    assert combined.state_dict() == {}
    combined.load_state_dict({}, strict=True)
    # .to() moves the one trunk, and every loss still uses it
    combined.to(torch.float64)
    assert p.vgg is c.vgg and p.vgg.dtype == torch.float64
    x, y, z = (torch.rand(1, 3, 16, 16, dtype=torch.float64) for _ in range(3))
    assert combined(x, y, z)[0].dtype == torch.float64


def test_one_file_read_with_a_shared_vgg(weights_file, monkeypatch) -> None:
    reads: list[object] = []
    original = torch.load

    def counting_load(f, *args, **kwargs):
        reads.append(f)
        return original(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    vgg = VGGFeatures(vgg_weights=weights_file, normalize=False)
    CombinedLoss({"p": (PerceptualLoss(vgg=vgg), 0.1), "c": (ContrastiveLoss(vgg=vgg), 0.1),
                  "s": (StyleLoss(vgg=vgg), 1.0)})
    assert len(reads) == 1
    PerceptualLoss(vgg_weights=weights_file), ContrastiveLoss(vgg_weights=weights_file)
    assert len(reads) == 3  # without vgg=, each loss reads the file (and CombinedLoss drops all
    # but one trunk)


def test_trunks_that_must_not_be_shared(weights_file) -> None:
    a = PerceptualLoss(("relu1_1",), vgg_weights=weights_file)
    b = PerceptualLoss(("relu1_1",), vgg_weights=weights_file).double()
    c = PerceptualLoss(("relu1_1",), vgg_weights=weights_file, normalize=True)
    combined = CombinedLoss({"a": (a, 1.0), "b": (b, 1.0), "c": (c, 1.0)})
    assert combined.num_vgg_passes == 3 and len({id(t) for t in combined.trunks}) == 3


def test_negatives_stop_at_their_deepest_layer(shallow_vgg) -> None:
    # the contrastive loss needs negatives only to relu1_1; the perceptual loss needs relu2_1
    parts = {"perceptual": (PerceptualLoss(("relu2_1",), vgg=shallow_vgg), 1.0),
             "contrastive": (ContrastiveLoss(("relu1_1",), vgg=shallow_vgg), 0.5)}
    combined = CombinedLoss(parts)
    first, deep = [], []
    shallow_vgg.features[0].register_forward_hook(lambda m, i, o: first.append(i[0].shape[0]))
    shallow_vgg.features[5].register_forward_hook(lambda m, i, o: deep.append(i[0].shape[0]))
    out0, pos, negs = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.rand(2, 3, 3, 8, 8)
    out = out0.clone().requires_grad_()
    total, _ = combined(out, pos, negs)
    total.backward()
    # output (2), positive + 3 negatives (8) to relu1_1; only output and positive reach conv2_1
    assert first == [2, 8] and deep == [2, 2]
    ref = out0.clone().requires_grad_()
    expected = (parts["perceptual"][0](ref, pos) + 0.5 * parts["contrastive"][0](ref, pos, negs))
    expected.backward()
    torch.testing.assert_close(total, expected, rtol=1e-5, atol=0)
    torch.testing.assert_close(out.grad, ref.grad, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_target_dtype_changes_little(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    vgg = VGGFeatures(("relu3_1",), vgg_weights=None, normalize=True)
    parts = {"l1": (nn.L1Loss(), 1.0),
             "perceptual": (PerceptualLoss(("relu2_1", "relu3_1"), vgg=vgg), 0.1),
             "contrastive": (ContrastiveLoss(("relu1_1", "relu2_1", "relu3_1"), vgg=vgg), 0.1)}
    exact, fast = CombinedLoss(parts), CombinedLoss(parts, target_dtype=dtype)
    out0, pos, neg = (torch.rand(2, 3, 32, 32) for _ in range(3))
    grads, values = [], []
    for loss in (exact, fast):
        out = out0.clone().requires_grad_()
        total, _ = loss(out, pos, neg)
        total.backward()
        grads.append(out.grad)
        values.append(total.detach())
    assert values[1].dtype == torch.float32 and not torch.equal(values[0], values[1])
    # bfloat16 keeps 8 significant bits, float16 11. Measured here: the value moves by 1.4e-5
    # (bf16) and 1.7e-6 (fp16) relative; the gradient by 6% and 2% in norm (the L1 terms' signs
    # flip where output and target features nearly agree), its direction by a cosine of 0.998
    # and 0.9998.
    torch.testing.assert_close(values[1], values[0], rtol=1e-4, atol=0)
    g_exact, g_fast = grads[0].flatten(), grads[1].flatten()
    assert (g_fast - g_exact).norm() / g_exact.norm() < 0.1
    assert F.cosine_similarity(g_fast, g_exact, dim=0) > 0.995
    with pytest.raises(ValueError, match="target_dtype must be None, torch.bfloat16"):
        CombinedLoss(parts, target_dtype=torch.float64)


def test_errors(shallow_vgg) -> None:
    combined = CombinedLoss(make_parts(shallow_vgg))
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"\['easy', 'contrastive'\] need a negative"):
        combined(x, x)
    with pytest.raises(ValueError, match="same shape"):
        combined(x, torch.rand(1, 3, 8, 4), x)
    with pytest.raises(TypeError, match="tuple"):
        CombinedLoss({"l1": nn.L1Loss()})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=">= 0"):
        CombinedLoss({"l1": (nn.L1Loss(), -1.0)})
    with pytest.raises(ValueError, match="at least one"):
        CombinedLoss({})
    with pytest.raises(ValueError, match="must not be empty"):
        combined(torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError, match="at least 2x2 pixels for the VGG19 layer 'relu2_1'"):
        combined(torch.rand(1, 3, 1, 1), torch.rand(1, 3, 1, 1), torch.rand(1, 3, 1, 1))
    deep = CombinedLoss({"p": (PerceptualLoss(vgg_weights=None), 1.0)})
    with pytest.raises(ValueError, match="at least 16x16 pixels for the VGG19 layer 'conv5_4'"):
        deep(torch.rand(1, 3, 15, 64), torch.rand(1, 3, 15, 64))
    with pytest.raises(TypeError, match=r"negative has dtype torch.float64"):
        combined(x, x, x.double())


class OneArgument(nn.Module):
    def forward(self, output: torch.Tensor) -> torch.Tensor:
        return output.abs().mean()


class ThreeRequired(nn.Module):
    def forward(self, output: torch.Tensor, positive: torch.Tensor,
                extra: torch.Tensor) -> torch.Tensor:
        return (output - positive).abs().mean()


class Flexible(nn.Module):
    def forward(self, *args: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return scale * (args[0] - args[1]).abs().mean()


def test_a_loss_that_cannot_take_output_and_positive_fails_at_construction() -> None:
    for module, signature in ((OneArgument(), r"\(output: 'torch.Tensor'\)"),
                              (ThreeRequired(), "extra")):
        with pytest.raises(TypeError, match=rf"losses\['bad'\] must take \(output, positive\).*"
                                            rf"{type(module).__name__}.forward.*{signature}"):
            CombinedLoss({"l1": (nn.L1Loss(), 1.0), "bad": (module, 1.0)})
    x = torch.rand(1, 3, 4, 4)
    total, _ = CombinedLoss({"flex": (Flexible(), 1.0)})(x, x)  # *args binds two
    assert total.item() == 0.0


def test_loss_weights_and_the_deprecated_weights_attribute() -> None:
    combined = CombinedLoss({"l1": (nn.L1Loss(), 2.0), "c": (CharbonnierLoss(), 0.5)})
    assert combined.loss_weights == {"l1": 2.0, "c": 0.5}
    with pytest.warns(FutureWarning, match="renamed CombinedLoss.loss_weights"):
        assert combined.weights == combined.loss_weights
    assert "loss_weights={'l1': 2.0, 'c': 0.5}" in repr(combined)


def test_pixel_only_any_channels() -> None:
    combined = CombinedLoss({"l1": (nn.L1Loss(), 2.0)})
    x, y = torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4)
    total, terms = combined(x, y)
    assert total.item() == 2.0 and terms["l1"].item() == 1.0


@pytest.mark.slow
def test_trains_a_foreign_model_under_autocast() -> None:
    # a model that is not rainkit's: three convolutions with a residual connection
    class Foreign(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 3, 3, padding=1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x - self.body(x)

    model = Foreign()
    vgg = VGGFeatures(("relu2_1",), vgg_weights=None)
    loss_fn = CombinedLoss({
        "l1": (nn.L1Loss(), 1.0),
        "perceptual": (PerceptualLoss(("relu2_1",), vgg=vgg), 0.1),
        "contrastive": (ContrastiveLoss(("relu1_1", "relu2_1"), vgg=vgg), 0.1),
    })
    clean = torch.rand(4, 3, 16, 16)
    rainy = (clean + 0.3 * (torch.rand(4, 1, 16, 16) > 0.8)).clamp(0, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(30):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            total, terms = loss_fn(model(rainy), clean, rainy)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(total.item())
    assert total.dtype == torch.float32
    assert all(torch.isfinite(v) for v in terms.values())
    assert history[-1] < 0.7 * history[0]
    assert all(p.grad is None for p in vgg.parameters())


@pytest.mark.slow
def test_ddp_single_process(tmp_path) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    class WithLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Conv2d(3, 3, 3, padding=1)
            self.loss = CombinedLoss({"perceptual": (PerceptualLoss(("relu1_1",), vgg_weights=None),
                                                     1.0)})

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.loss(self.net(x), y)[0]

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        model = DistributedDataParallel(WithLoss())
        model(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)).backward()
        assert model.module.net.weight.grad is not None
    finally:
        dist.destroy_process_group()


def test_device(device: torch.device) -> None:
    vgg = VGGFeatures(("relu1_1",), vgg_weights=None).to(device)
    combined = CombinedLoss({"l1": (nn.L1Loss(), 1.0),
                             "c": (ContrastiveLoss(("relu1_1",), vgg=vgg), 1.0)}).to(device)
    x = torch.rand(1, 3, 8, 8, device=device, requires_grad=True)
    total, _ = combined(x, torch.rand(1, 3, 8, 8, device=device),
                        torch.rand(1, 3, 8, 8, device=device))
    total.backward()
    assert x.grad is not None and x.grad.device.type == device.type


def test_torch_compile_fullgraph_with_ssim_losses() -> None:
    # SSIMLoss and MSSSIMLoss enter compiled graphs as opaque operators; with the shared VGG
    # pass the whole CombinedLoss traces as one graph. aot_eager: no code generation (fast).
    from rainkit.loss import MSSSIMLoss, SSIMLoss

    vgg = VGGFeatures(("relu2_1",), vgg_weights=None)
    combined = CombinedLoss({
        "l1": (nn.L1Loss(), 1.0),
        "ssim": (SSIMLoss(window_size=7), 0.5),
        "ms_ssim": (MSSSIMLoss(window_size=3, fewer_scales=True), 0.2),
        "perceptual": (PerceptualLoss(("relu2_1",), vgg=vgg), 0.1),
        "contrastive": (ContrastiveLoss(("relu1_1", "relu2_1"), vgg=vgg), 0.1),
    })
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    y, negative = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    compiled = torch.compile(combined, fullgraph=True, backend="aot_eager")
    total, terms = compiled(x, y, negative)
    expected_total, expected_terms = combined(x, y, negative)
    torch.testing.assert_close(terms, expected_terms, rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.autograd.grad(total, x),
                               torch.autograd.grad(expected_total, x), rtol=0, atol=1e-6)
