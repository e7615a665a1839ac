"""LPIPS: backbone weights really loaded from the hub cache or a path, clear errors, no prints."""

from __future__ import annotations

import pytest
import torch
import torchvision

from rainkit.metrics import LPIPS, lpips


@pytest.fixture(scope="module")
def _torch_home(tmp_path_factory):
    """A temporary TORCH_HOME whose hub cache holds a random AlexNet state dict (written once)."""
    home = tmp_path_factory.mktemp("torch_home")
    state = torchvision.models.alexnet(weights=None).state_dict()
    directory = home / "hub" / "checkpoints"
    directory.mkdir(parents=True)
    torch.save(state, directory / "alexnet-owt-7be5be79.pth")
    return home, directory / "alexnet-owt-7be5be79.pth", state


@pytest.fixture
def alexnet_file(_torch_home, monkeypatch):
    """(path, state dict) of the random AlexNet, with TORCH_HOME pointing at it."""
    home, path, state = _torch_home
    monkeypatch.setenv("TORCH_HOME", str(home))
    return path, state


def test_loads_backbone_from_hub_cache(alexnet_file, capsys):
    _, state = alexnet_file
    metric = LPIPS("alex")
    assert capsys.readouterr().out == ""  # the lpips package prints unless told not to
    # lpips names torchvision's features.<i> as slice<k>.<i>: conv 0 is slice1.0, conv 10 slice5.10.
    net = metric.model.net
    assert torch.equal(getattr(net.slice1, "0").weight, state["features.0.weight"])
    assert torch.equal(getattr(net.slice5, "10").bias, state["features.10.bias"])
    assert all(not p.requires_grad for p in metric.parameters())
    metric.train()
    assert not metric.model.training


def test_values_identity_symmetry_and_gradient(alexnet_file):
    path, _ = alexnet_file
    metric = LPIPS(weights=path, reduction="none")
    x = torch.rand(2, 3, 32, 32)
    y = torch.rand(2, 3, 32, 32, requires_grad=True)
    assert torch.equal(metric(x, x), torch.zeros(2))
    d = metric(x, y)
    assert d.shape == (2,) and bool((d > 0).all())
    torch.testing.assert_close(d, metric(y, x))
    d.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    # Function equals module; a (3, H, W) input is one image.
    torch.testing.assert_close(lpips(x, y, weights=path, reduction="none"), d)
    torch.testing.assert_close(metric(x[0], y[0]), d[:1])


def test_inputs_are_mapped_to_minus_one_one(alexnet_file):
    # The package's own forward with normalize=True maps [0, 1] to [-1, 1]: independent check.
    metric = LPIPS()
    x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    expected = metric.model(x, y, normalize=True).flatten()
    torch.testing.assert_close(metric(x, y), expected.mean())


def test_missing_file_names_file_and_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    directory = tmp_path / "hub" / "checkpoints"
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth") as info:
        LPIPS("vgg")
    assert str(directory) in str(info.value)
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.pth") as info:
        LPIPS(weights=tmp_path / "nope.pth")
    # an explicit path names the file it should be a copy of, and where that comes from
    assert "alexnet-owt-7be5be79.pth" in str(info.value)
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in str(info.value)


def test_wrong_state_dict_fails_strictly(tmp_path):
    path = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="weights: the LPIPS\\(net='alex'\\) backbone file "
                                         ".*bad.pth' does not hold torchvision's alex backbone "
                                         ".*Missing key"):
        LPIPS(weights=path)


def _text_file(folder):
    path = folder / "notes.txt"
    path.write_text("not a checkpoint\n")
    return path


def _tensor_file(folder):
    path = folder / "tensor.pth"
    torch.save(torch.zeros(3), path)
    return path


def _truncated_file(folder):
    path = folder / "cut.pth"
    torch.save(torchvision.models.alexnet(weights=None).features.state_dict(), path)
    path.write_bytes(path.read_bytes()[:100])
    return path


@pytest.mark.parametrize(("make", "match"), [
    # torch.load's UnpicklingError escaped before; vgg.py's VGG19 reader words it the same way
    (_text_file, "is not a PyTorch checkpoint that torch.load can read"),
    (_truncated_file, "is not a PyTorch checkpoint that torch.load can read"),
    (_tensor_file, "must hold a state dict .*got Tensor"),
])
def test_unreadable_weights_file_is_a_value_error_naming_it(tmp_path, make, match):
    path = make(tmp_path)
    for build in (lambda: LPIPS(weights=path),
                  lambda: lpips(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32),
                                weights=path)):
        with pytest.raises(ValueError, match=f"weights: the LPIPS\\(net='alex'\\) backbone file "
                                             f".*{path.name}.*{match}") as info:
            build()
        assert "alexnet-owt-7be5be79.pth" in str(info.value)  # what was expected


def test_bad_options_and_input():
    with pytest.raises(ValueError, match="net must be one of 'alex', 'squeeze', 'vgg', got 'res'"):
        LPIPS("res", weights=None)
    with pytest.raises(TypeError, match="weights must be 'imagenet', a path or None, got int"):
        LPIPS(weights=3)
    with pytest.raises(ValueError, match="reduction must be one of"):
        LPIPS(weights=None, reduction="avg")
    metric = LPIPS(weights=None)
    with pytest.raises(ValueError, match="3 channels"):
        metric(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="same shape"):
        metric(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 31))


@pytest.mark.parametrize(("net", "size"), [("alex", 31), ("squeeze", 17), ("vgg", 16)])
def test_minimum_size_is_a_clear_error(net, size):
    # below these sizes the deepest pooling layer has an empty output (a RuntimeError deep
    # inside torch); the sizes were found by running each backbone one pixel above and below
    metric = LPIPS(net, weights=None)
    ok = torch.rand(1, 3, size, size + 5)
    assert torch.isfinite(metric(ok, ok.flip(-1)))
    small = torch.rand(1, 3, size - 1, 64)
    with pytest.raises(ValueError, match=f"at least {size} x {size} pixels for LPIPS with "
                                         f"net='{net}', got {size - 1} x 64"):
        metric(small, small)


def test_lpips_function_checks_input_before_building():
    with pytest.raises(ValueError, match="at least 31 x 31"):
        lpips(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), weights=None)
    with pytest.raises(ValueError, match="input must not be empty"):
        lpips(torch.rand(0, 3, 32, 32), torch.rand(0, 3, 32, 32), weights=None)
