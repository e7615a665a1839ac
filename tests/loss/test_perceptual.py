"""PerceptualLoss and StyleLoss against hand computations with the trunk's own conv weights."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from rainkit.loss import PerceptualLoss, StyleLoss, VGGFeatures, perceptual_loss, style_loss


def by_hand_layers(vgg: VGGFeatures, x: torch.Tensor) -> dict[str, torch.Tensor]:
    # conv1_1 -> relu -> conv1_2 -> relu written out with F.conv2d (raw input, no normalisation)
    c1, c2 = vgg.features[0], vgg.features[2]
    conv1_1 = F.conv2d(x, c1.weight, c1.bias, padding=1)
    relu1_1 = conv1_1.clamp_min(0)
    conv1_2 = F.conv2d(relu1_1, c2.weight, c2.bias, padding=1)
    return {"conv1_1": conv1_1, "relu1_1": relu1_1, "conv1_2": conv1_2,
            "relu1_2": conv1_2.clamp_min(0)}


def test_default_is_the_seed_features_35() -> None:
    assert inspect.signature(PerceptualLoss).parameters["layers"].default == ("conv5_4",)


@pytest.mark.parametrize("criterion", ["l1", "mse"])
def test_perceptual_by_hand(shallow_vgg, criterion: str) -> None:
    loss = PerceptualLoss(("conv1_1", "relu1_2"), (0.3, 0.7), criterion, vgg=shallow_vgg)
    out, pos = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    fo, fp = by_hand_layers(shallow_vgg, out), by_hand_layers(shallow_vgg, pos)
    p = 1 if criterion == "l1" else 2
    expected = (0.3 * ((fo["conv1_1"] - fp["conv1_1"]).abs() ** p).mean()
                + 0.7 * ((fo["relu1_2"] - fp["relu1_2"]).abs() ** p).mean())
    torch.testing.assert_close(loss(out, pos), expected, rtol=1e-5, atol=0)


def test_style_by_hand(shallow_vgg) -> None:
    loss = StyleLoss(("relu1_1", "relu1_2"), (2.0, 1.0), "mse", vgg=shallow_vgg)
    out, pos = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    fo, fp = by_hand_layers(shallow_vgg, out), by_hand_layers(shallow_vgg, pos)

    def gram(f: torch.Tensor) -> torch.Tensor:
        _b, c, h, w = f.shape
        return torch.einsum("bihw,bjhw->bij", f, f) / (c * h * w)

    expected = (2.0 * ((gram(fo["relu1_1"]) - gram(fp["relu1_1"])) ** 2).mean()
                + ((gram(fo["relu1_2"]) - gram(fp["relu1_2"])) ** 2).mean())
    assert expected > 0
    torch.testing.assert_close(loss(out, pos), expected, rtol=1e-5, atol=0)


def test_identical_images_give_zero_and_vgg_gets_no_gradient(shallow_vgg) -> None:
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    for loss in (PerceptualLoss(("relu2_1",), vgg=shallow_vgg),
                 StyleLoss(("relu1_1", "relu2_1"), vgg=shallow_vgg)):
        value = loss(x, x.detach().clone())
        assert value.item() == 0.0
        (value + loss(x, torch.rand(2, 3, 8, 8))).backward()
    assert x.grad is not None
    assert all(p.grad is None for p in shallow_vgg.parameters())


@pytest.mark.parametrize("cls", [PerceptualLoss, StyleLoss])
def test_gradcheck_float64(cls: type) -> None:
    vgg = VGGFeatures(("relu1_1",), vgg_weights=None).double()
    loss = cls(("conv1_1", "relu1_1"), criterion="mse", vgg=vgg)
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: loss(a, y), (x,))


def test_errors(shallow_vgg) -> None:
    with pytest.raises(ValueError, match="relu9_9.*valid names"):
        PerceptualLoss(("relu9_9",), vgg_weights=None)
    with pytest.raises(ValueError, match=">= 0"):
        PerceptualLoss(("relu1_1",), (-1.0,), vgg=shallow_vgg)
    with pytest.raises(ValueError, match="expected 2, got 1"):
        StyleLoss(("relu1_1", "relu2_1"), (1.0,), vgg=shallow_vgg)
    with pytest.raises(ValueError, match="criterion must be one of 'l1', 'mse'"):
        PerceptualLoss(criterion="huber", vgg=shallow_vgg)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too shallow"):
        PerceptualLoss(("relu3_1",), vgg=shallow_vgg)
    loss = PerceptualLoss(("relu1_1",), vgg=shallow_vgg)
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match="3 channels"):
        loss(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


@pytest.mark.parametrize("fn", [perceptual_loss, style_loss])
def test_functional_feature_dict_errors(fn) -> None:
    f = {"relu1_1": torch.rand(2, 4, 3, 3)}
    with pytest.raises(ValueError, match="output_features must hold at least one layer"):
        fn({}, {})
    with pytest.raises(ValueError, match=r"target_features lacks the layers \['relu1_1'\]"):
        fn(f, {"relu2_1": torch.rand(2, 4, 3, 3)})
    with pytest.raises(ValueError, match="must have the same shape"):
        fn(f, {"relu1_1": torch.rand(2, 4, 3, 2)})
    with pytest.raises(ValueError, match="must not be empty"):
        fn({"relu1_1": torch.rand(0, 4, 3, 3)}, {"relu1_1": torch.rand(0, 4, 3, 3)})
    with pytest.raises(TypeError, match="must be a dict"):
        fn([torch.rand(2, 4, 3, 3)], f)  # type: ignore[arg-type]
    # extra target layers are ignored
    g = {"relu1_1": torch.rand(2, 4, 3, 3), "relu2_1": torch.rand(2, 8, 2, 2)}
    torch.testing.assert_close(fn(f, g), fn(f, {"relu1_1": g["relu1_1"]}))


def test_input_checks_of_the_modules(shallow_vgg) -> None:
    loss = PerceptualLoss(("relu2_1",), vgg=shallow_vgg)
    with pytest.raises(ValueError, match="must not be empty"):
        loss(torch.rand(0, 3, 8, 8), torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError, match="output must be at least 2x2 pixels"):
        loss(torch.rand(1, 3, 1, 8), torch.rand(1, 3, 1, 8))
    with pytest.raises(ValueError, match="at least 16x16 pixels for the VGG19 layer 'conv5_4'"):
        PerceptualLoss(vgg_weights=None)(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    # float16 and float64 images into the float32 trunk: a clear error, no silent cast
    x = torch.rand(2, 3, 8, 8)
    y = torch.rand(2, 3, 8, 8)
    for dtype in (torch.float16, torch.float64):
        with pytest.raises(TypeError, match=f"output has dtype {dtype}"):
            loss(x.to(dtype), y)
        with pytest.raises(TypeError, match=f"positive has dtype {dtype}"):
            loss(x, y.to(dtype))
    # a float64 trunk takes float64 images, and the gradient comes back in float64
    x64 = x.double().requires_grad_()
    loss.double()(x64, y.double()).backward()
    assert x64.grad is not None and x64.grad.dtype == torch.float64
