"""VGGFeatures: taps against torchvision's trunk, weight loading, freezing, errors."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from torchvision.models.vgg import cfgs, make_layers

from rainkit.loss import VGG19_LAYERS, EasyContrastiveLoss, PerceptualLoss, VGGFeatures


def torchvision_trunk() -> torch.nn.Sequential:
    # torchvision's own VGG19 `features` (configuration "E"), the independent reference
    return make_layers(cfgs["E"], batch_norm=False)


def torchvision_state_dict(trunk: torch.nn.Sequential) -> dict[str, torch.Tensor]:
    state = {f"features.{k}": v.clone() for k, v in trunk.state_dict().items()}
    state["classifier.0.weight"] = torch.randn(4, 4)  # a full checkpoint also has these
    state["classifier.0.bias"] = torch.randn(4)
    return state


def test_layer_names_follow_torchvision_indices() -> None:
    trunk = torchvision_trunk()
    assert len(VGG19_LAYERS) == len(trunk) == 37
    for name, module in zip(VGG19_LAYERS, trunk):
        kind = {"conv": torch.nn.Conv2d, "relu": torch.nn.ReLU, "pool": torch.nn.MaxPool2d}
        assert isinstance(module, kind[name[:4]])
    assert VGG19_LAYERS[34] == "conv5_4" and VGG19_LAYERS[35] == "relu5_4"


def test_default_seed_tap_equals_torchvision_features_35(tmp_path, monkeypatch) -> None:
    trunk = torchvision_trunk().eval()
    path = tmp_path / "vgg.pth"
    torch.save(torchvision_state_dict(trunk), path)
    vgg = VGGFeatures(layers=("conv5_4", "relu5_4"), weights=path, normalize=False)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        feats = vgg(x)
        ref35 = trunk[:35](x)
        ref36 = trunk[:36](x)
    torch.testing.assert_close(feats["conv5_4"], ref35)
    torch.testing.assert_close(feats["relu5_4"], ref36)
    assert (feats["conv5_4"] < 0).any()  # the ReLU after it did not overwrite the conv tap
    # the losses' defaults are the seed's: features[:35], raw input, L1 / pooled cosine
    y, z = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        fx, fy, fz = trunk[:35](x), trunk[:35](y), trunk[:35](z)
        seed_perceptual = F.l1_loss(fx, fy)
        px, py, pz = (F.adaptive_avg_pool2d(f, 1).flatten(1) for f in (fx, fy, fz))
        seed_contrastive = ((1 - F.cosine_similarity(px, py)).mean()
                            + F.cosine_similarity(px, pz).mean())
        torch.testing.assert_close(PerceptualLoss(weights=path)(x, y), seed_perceptual)
        torch.testing.assert_close(EasyContrastiveLoss(weights=path)(x, y, z), seed_contrastive)


def test_imagenet_weights_from_torch_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    trunk = torchvision_trunk()
    state = torchvision_state_dict(trunk)
    os.makedirs(tmp_path / "hub" / "checkpoints")
    torch.save(state, tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth")
    vgg = VGGFeatures(layers=("relu2_1",), weights="imagenet")
    assert len(vgg.features) == 7
    for key, value in vgg.features.state_dict().items():
        torch.testing.assert_close(value, state[f"features.{key}"], rtol=0, atol=0)


def test_missing_weights_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        VGGFeatures(weights="imagenet")
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert os.path.join(str(tmp_path), "hub", "checkpoints") in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        VGGFeatures(weights=tmp_path / "nowhere.pth")


def test_strict_loading_rejects_incomplete_state(tmp_path) -> None:
    state = torchvision_state_dict(torchvision_trunk())
    del state["features.2.weight"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(RuntimeError, match="2.weight"):
        VGGFeatures(layers=("relu1_2",), weights=tmp_path / "bad.pth")


def test_unknown_layer_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="relu6_1.*conv1_1, relu1_1.*relu5_4"):
        VGGFeatures(layers=("relu6_1",), weights=None)
    with pytest.raises(ValueError, match="at least one"):
        VGGFeatures(layers=(), weights=None)
    with pytest.raises(TypeError, match="weights"):
        VGGFeatures(weights=3)  # type: ignore[arg-type]


def test_frozen_eval_and_gradient_reaches_input_only(shallow_vgg) -> None:
    shallow_vgg.train()
    assert not shallow_vgg.training and not any(m.training for m in shallow_vgg.modules())
    assert not any(p.requires_grad for p in shallow_vgg.parameters())
    assert all(not m.inplace for m in shallow_vgg.features if isinstance(m, torch.nn.ReLU))
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    shallow_vgg(x)["relu2_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in shallow_vgg.parameters())


def test_normalization_by_hand() -> None:
    vgg = VGGFeatures(layers=("conv1_1",), weights=None)
    raw = VGGFeatures(layers=("conv1_1",), weights=None, normalize=False)
    raw.features.load_state_dict(vgg.features.state_dict())
    x = torch.rand(2, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)  # ImageNet statistics
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv = vgg.features[0]
    expected = F.conv2d((x - mean) / std, conv.weight, conv.bias, padding=1)
    torch.testing.assert_close(vgg(x)["conv1_1"], expected)
    torch.testing.assert_close(raw(x)["conv1_1"], F.conv2d(x, conv.weight, conv.bias, padding=1))
    assert set(vgg.state_dict()) == {"features.0.weight", "features.0.bias"}


def test_tap_deeper_than_trunk_and_bad_input(shallow_vgg) -> None:
    with pytest.raises(ValueError, match="deeper"):
        shallow_vgg(torch.rand(1, 3, 8, 8), ("relu3_1",))
    with pytest.raises(ValueError, match="3 channels"):
        shallow_vgg(torch.rand(1, 1, 8, 8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        shallow_vgg([1.0])  # type: ignore[arg-type]


def test_device(device: torch.device) -> None:
    vgg = VGGFeatures(layers=("relu1_1",), weights=None).to(device)
    assert vgg(torch.rand(1, 3, 8, 8, device=device))["relu1_1"].device.type == device.type
