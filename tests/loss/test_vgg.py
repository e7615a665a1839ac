"""VGGFeatures: taps against torchvision's trunk, weight loading, state dict, freezing, errors."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F
from torchvision.models.vgg import cfgs, make_layers

from rainkit.loss import (
    VGG19_LAYERS,
    EasyContrastiveLoss,
    PerceptualLoss,
    VGGFeatures,
    min_input_size,
)


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


def test_default_tap_equals_torchvision_features_35(tmp_path, monkeypatch) -> None:
    trunk = torchvision_trunk().eval()
    path = tmp_path / "vgg.pth"
    torch.save(torchvision_state_dict(trunk), path)
    vgg = VGGFeatures(layers=("conv5_4", "relu5_4"), vgg_weights=path, normalize=False)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        feats = vgg(x)
        ref35 = trunk[:35](x)
        ref36 = trunk[:36](x)
    torch.testing.assert_close(feats["conv5_4"], ref35)
    torch.testing.assert_close(feats["relu5_4"], ref36)
    assert (feats["conv5_4"] < 0).any()  # the ReLU after it did not overwrite the conv tap
    # the losses' defaults: features[:35] (ESRGAN's conv5_4), raw input, L1 / pooled cosine
    y, z = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        fx, fy, fz = trunk[:35](x), trunk[:35](y), trunk[:35](z)
        ref_perceptual = F.l1_loss(fx, fy)
        px, py, pz = (F.adaptive_avg_pool2d(f, 1).flatten(1) for f in (fx, fy, fz))
        ref_contrastive = ((1 - F.cosine_similarity(px, py)).mean()
                           + F.cosine_similarity(px, pz).mean())
        torch.testing.assert_close(PerceptualLoss(vgg_weights=path)(x, y), ref_perceptual)
        torch.testing.assert_close(EasyContrastiveLoss(vgg_weights=path)(x, y, z), ref_contrastive)


def test_imagenet_weights_from_torch_home(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    trunk = torchvision_trunk()
    state = torchvision_state_dict(trunk)
    os.makedirs(tmp_path / "hub" / "checkpoints")
    torch.save(state, tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth")
    vgg = VGGFeatures(layers=("relu2_1",), vgg_weights="imagenet")
    assert len(vgg.features) == 7
    for key, value in vgg.features.state_dict().items():
        torch.testing.assert_close(value, state[f"features.{key}"], rtol=0, atol=0)


def test_missing_weights_message(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        VGGFeatures(vgg_weights="imagenet")
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message
    assert os.path.join(str(tmp_path), "hub", "checkpoints") in message
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in message
    with pytest.raises(FileNotFoundError, match="nowhere.pth") as info:
        VGGFeatures(vgg_weights=tmp_path / "nowhere.pth")
    assert "vgg19-dcbb9e9d.pth" in str(info.value)
    assert "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth" in str(info.value)


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_both_checkpoint_formats_load(tmp_path, zipped: bool) -> None:
    # torch.save's zip format is memory-mapped, the legacy (pickle) format read whole
    trunk = torchvision_trunk()
    state = torchvision_state_dict(trunk)
    path = tmp_path / "vgg.pth"
    torch.save(state, path, _use_new_zipfile_serialization=zipped)
    vgg = VGGFeatures(layers=("relu3_1",), vgg_weights=path)
    assert vgg.weights_file == os.path.realpath(path)
    for key, value in vgg.features.state_dict().items():
        torch.testing.assert_close(value, state[f"features.{key}"], rtol=0, atol=0)


def test_strict_loading_rejects_incomplete_state(tmp_path) -> None:
    state = torchvision_state_dict(torchvision_trunk())
    del state["features.2.weight"]
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"bad.pth.*missing keys \['2.weight'\]"):
        VGGFeatures(layers=("relu1_2",), vgg_weights=tmp_path / "bad.pth")


def test_bad_weight_files_give_a_value_error_naming_the_file(tmp_path) -> None:
    # a text file (e.g. an HTML page served instead of the weights), a pickled non-dict, a
    # state dict of another network, and one with VGG19's keys but other shapes
    text = tmp_path / "page.pth"
    text.write_text("<!DOCTYPE html><html>Sign in to continue</html>")
    with pytest.raises(ValueError, match="page.pth.*not a PyTorch checkpoint.*vgg19-dcbb9e9d"):
        VGGFeatures(layers=("relu1_1",), vgg_weights=text)
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="list.pth' must hold a state dict.*got list"):
        VGGFeatures(layers=("relu1_1",), vgg_weights=tmp_path / "list.pth")
    torch.save({"conv.weight": torch.zeros(64, 3, 3, 3)}, tmp_path / "other.pth")
    with pytest.raises(ValueError,
                       match=r"other.pth' does not hold a VGG19 trunk.*0.weight.*conv.weight"):
        VGGFeatures(layers=("relu1_1",), vgg_weights=tmp_path / "other.pth")
    state = torchvision_state_dict(torchvision_trunk())
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(32, 3, 3, 3\), VGG19's is "
                                         r"\(64, 3, 3, 3\)"):
        VGGFeatures(layers=("relu1_1",), vgg_weights=tmp_path / "shape.pth")
    state["features.0.weight"] = torch.zeros(64, 3, 3, 3, dtype=torch.int64)
    torch.save(state, tmp_path / "int.pth")
    with pytest.raises(ValueError, match="'0.weight' must be a floating-point tensor"):
        VGGFeatures(layers=("relu1_1",), vgg_weights=tmp_path / "int.pth")


def test_old_weights_keyword_still_works_with_a_future_warning() -> None:
    with pytest.warns(FutureWarning, match=r"VGGFeatures\(weights=...\) was renamed vgg_weights="):
        vgg = VGGFeatures(layers=("relu1_1",), weights=None)
    with pytest.warns(FutureWarning, match="renamed VGGFeatures.vgg_weights"):
        assert vgg.weights is None
    with pytest.warns(FutureWarning, match=r"PerceptualLoss\(weights=...\)"):
        PerceptualLoss(("relu1_1",), weights=None)
    with pytest.raises(TypeError, match="both weights= and vgg_weights="):
        VGGFeatures(weights=None, vgg_weights=None)


def test_layer_names_must_be_strings() -> None:
    with pytest.raises(TypeError, match="layers must hold layer names \\(str\\), got int"):
        VGGFeatures(layers=(1,), vgg_weights=None)


def test_unknown_layer_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="relu6_1.*conv1_1, relu1_1.*relu5_4"):
        VGGFeatures(layers=("relu6_1",), vgg_weights=None)
    with pytest.raises(ValueError, match="at least one"):
        VGGFeatures(layers=(), vgg_weights=None)
    with pytest.raises(TypeError, match="vgg_weights"):
        VGGFeatures(vgg_weights=3)  # type: ignore[arg-type]


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
    vgg = VGGFeatures(layers=("conv1_1",), vgg_weights=None)
    raw = VGGFeatures(layers=("conv1_1",), vgg_weights=None, normalize=False)
    raw.features.load_state_dict(vgg.features.state_dict())
    x = torch.rand(2, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)  # ImageNet statistics
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv = vgg.features[0]
    expected = F.conv2d((x - mean) / std, conv.weight, conv.bias, padding=1)
    torch.testing.assert_close(vgg(x)["conv1_1"], expected)
    torch.testing.assert_close(raw(x)["conv1_1"], F.conv2d(x, conv.weight, conv.bias, padding=1))


def test_state_dict_leaves_the_frozen_trunk_out(tmp_path) -> None:
    vgg = VGGFeatures(layers=("relu1_2",), vgg_weights=None)
    assert vgg.state_dict() == {}
    assert set(vgg.features.state_dict()) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    # inside a model: only the model's own entries
    model = torch.nn.ModuleDict({"conv": torch.nn.Conv2d(3, 3, 1), "vgg": vgg})
    assert set(model.state_dict()) == {"conv.weight", "conv.bias"}
    before = {k: v.clone() for k, v in vgg.features.state_dict().items()}
    model.load_state_dict(model.state_dict(), strict=True)  # without the trunk: kept as it is
    for key, value in vgg.features.state_dict().items():
        assert torch.equal(value, before[key])
    # a state dict that has the trunk (an older rainkit wrote one) loads it, strictly
    other = VGGFeatures(layers=("relu1_2",), vgg_weights=None)
    full = {f"vgg.features.{k}": v for k, v in other.features.state_dict().items()}
    full.update(model.state_dict())
    model.load_state_dict(full, strict=True)
    for key, value in vgg.features.state_dict().items():
        assert torch.equal(value, other.features.state_dict()[key])
    del full["vgg.features.2.bias"]
    with pytest.raises(RuntimeError, match="2.bias"):
        model.load_state_dict(full, strict=True)


def test_tap_deeper_than_trunk_and_bad_input(shallow_vgg) -> None:
    with pytest.raises(ValueError, match="deeper"):
        shallow_vgg(torch.rand(1, 3, 8, 8), ("relu3_1",))
    with pytest.raises(ValueError, match="3 channels"):
        shallow_vgg(torch.rand(1, 1, 8, 8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        shallow_vgg([1.0])  # type: ignore[arg-type]


@pytest.mark.parametrize("layer", ["relu1_2", "pool1", "relu2_1", "relu3_1", "conv5_4", "pool5"])
def test_min_input_size_is_where_torchvision_stops_crashing(layer: str) -> None:
    # independent reference: the smallest square input torchvision's features[:k + 1] accepts
    trunk = torchvision_trunk()[: VGG19_LAYERS.index(layer) + 1]
    smallest = None
    with torch.no_grad():
        for size in range(1, 40):
            try:
                trunk(torch.rand(1, 3, size, size))
            except RuntimeError:
                continue
            smallest = size
            break
    assert min_input_size((layer,)) == smallest
    vgg = VGGFeatures(layers=(layer,), vgg_weights=None)
    assert vgg(torch.rand(1, 3, smallest, smallest + 3))[layer].shape[0] == 1
    if smallest > 1:
        with pytest.raises(ValueError, match=f"at least {smallest}x{smallest} pixels.*{layer}"):
            vgg(torch.rand(1, 3, smallest + 3, smallest - 1))


def test_empty_batch_and_dtypes() -> None:
    vgg = VGGFeatures(layers=("relu1_1", "relu2_1"), vgg_weights=None)
    with pytest.raises(ValueError, match="must not be empty"):
        vgg(torch.rand(0, 3, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        vgg(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    x = torch.rand(2, 3, 8, 8)
    # float16 and float64 input to a float32 trunk: a TypeError that says how to agree, never a
    # silent cast (float64 rounded to float32, float16 computed in float32)
    for dtype in (torch.float16, torch.float64, torch.bfloat16):
        with pytest.raises(TypeError, match=rf"input has dtype {dtype}.*VGGFeatures.*float32"):
            vgg(x.to(dtype))
    # under autocast any floating dtype goes in, and autocast picks the convolutions' dtype
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert vgg(x.double())["relu2_1"].dtype == torch.bfloat16
    # a float64 trunk takes float64, keeps it, and the gradient comes back in float64
    x64 = x.double().requires_grad_()
    feats = vgg.double()(x64)
    assert feats["relu1_1"].dtype == torch.float64
    feats["relu2_1"].sum().backward()
    assert x64.grad is not None and x64.grad.dtype == torch.float64


def test_device(device: torch.device) -> None:
    vgg = VGGFeatures(layers=("relu1_1",), vgg_weights=None).to(device)
    assert vgg(torch.rand(1, 3, 8, 8, device=device))["relu1_1"].device.type == device.type


@pytest.mark.parametrize("channels_last", [True, False])
def test_in_place_relus_keep_values_and_gradients(channels_last: bool) -> None:
    # relu1_1 and relu1_2 run in place here (no conv tap is requested): gradcheck in float64,
    # and the taps equal torchvision's NCHW trunk
    vgg = VGGFeatures(layers=("relu1_2",), vgg_weights=None, normalize=False,
                      channels_last=channels_last).double()
    x = torch.rand(1, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: vgg(a, ("relu1_2",))["relu1_2"], (x,))
    trunk = torchvision_trunk()[:4].double()
    trunk.load_state_dict(vgg.features.state_dict())
    torch.testing.assert_close(vgg(x)["relu1_2"], trunk(x))
    assert vgg(x)["relu1_2"].is_contiguous(
        memory_format=torch.channels_last if channels_last else torch.contiguous_format)


@pytest.mark.parametrize("channels_last", [True, False])
def test_trunk_weights_are_stored_in_the_input_layout(tmp_path, channels_last: bool) -> None:
    # channels-last weights for channels-last inputs: no conversion of every weight per call
    path = tmp_path / "vgg.pth"
    torch.save(torchvision_state_dict(torchvision_trunk()), path)
    for weights in (path, None):
        vgg = VGGFeatures(vgg_weights=weights, channels_last=channels_last)
        convs = [m.weight for m in vgg.features if isinstance(m, torch.nn.Conv2d)]
        layout = torch.channels_last if channels_last else torch.contiguous_format
        assert all(w.is_contiguous(memory_format=layout) for w in convs)
        assert all(w.is_contiguous(memory_format=layout) for w in vgg.double().features.parameters()
                   if w.ndim == 4)
