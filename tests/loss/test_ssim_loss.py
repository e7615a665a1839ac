"""SSIMLoss = 1 - SSIM, against scikit-image's structural_similarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from rainkit.loss import SSIMLoss, ssim_loss


def test_against_scikit_image() -> None:
    x, y = torch.rand(2, 3, 24, 24, dtype=torch.float64), torch.rand(2, 3, 24, 24,
                                                                     dtype=torch.float64)
    expected = [1 - structural_similarity(a.permute(1, 2, 0).numpy(), b.permute(1, 2, 0).numpy(),
                                          gaussian_weights=True, sigma=1.5, data_range=1.0,
                                          use_sample_covariance=False, channel_axis=-1)
                for a, b in zip(x, y)]
    np.testing.assert_allclose(ssim_loss(x, y, reduction="none").numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(SSIMLoss(reduction="sum")(x, y).item(), sum(expected), rtol=1e-6)
    np.testing.assert_allclose(SSIMLoss()(x, y).item(), np.mean(expected), rtol=1e-6)


def test_identity_and_gradcheck() -> None:
    x = torch.rand(1, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    assert ssim_loss(x, x.detach()).item() == pytest.approx(0.0, abs=1e-12)
    y = torch.rand(1, 1, 12, 12, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: ssim_loss(a, y, window_size=5), (x,))


def test_errors() -> None:
    with pytest.raises(ValueError, match="reduction"):
        SSIMLoss(reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window_size must be an odd int"):
        SSIMLoss(window_size=4)
    with pytest.raises(ValueError, match="data_range"):
        SSIMLoss(data_range=0.0)
    with pytest.raises(ValueError, match="sigma"):
        SSIMLoss(sigma=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        ssim_loss(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17))


@pytest.mark.parametrize("option", ["window_size", "sigma", "k1", "k2"])
def test_none_window_options_are_refused(option: str) -> None:
    # the metric reads None as "the scoring convention's value"; the loss has no convention,
    # so None is a mistake (found by tests/test_public_api_fuzz.py)
    x = torch.rand(1, 3, 16, 16)
    with pytest.raises(TypeError, match=option):
        SSIMLoss(**{option: None})
    with pytest.raises(TypeError, match=option):
        ssim_loss(x, x, **{option: None})


def test_holds_an_ssim_metric() -> None:
    from rainkit.metrics import SSIM

    loss = SSIMLoss(window_size=7, sigma=1.0, k2=0.05, data_range=2.0, reduction="sum")
    assert isinstance(loss.ssim, SSIM) and loss.ssim.reduction == "none"
    assert (loss.data_range, loss.window_size, loss.sigma, loss.k1, loss.k2) == (2.0, 7, 1.0,
                                                                                0.01, 0.05)
    x, y = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    expected = ssim_loss(x, y, window_size=7, sigma=1.0, k2=0.05, data_range=2.0,
                         reduction="sum")
    assert torch.equal(loss(x, y), expected)
    assert "window_size=7" in repr(loss) and "reduction='sum'" in repr(loss)
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got ndarray"):
        loss(x.numpy(), y.numpy())


def test_torch_compile_fullgraph_same_values_and_gradients() -> None:
    # aot_eager: the traced forward and backward graphs, no code generation (fast)
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    loss = SSIMLoss(window_size=7)
    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
    value, expected = compiled(x, y), loss(x, y)
    torch.testing.assert_close(value, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(value, x), torch.autograd.grad(expected, x),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("option", [{"data_range": 1e30}, {"k1": 1e30}, {"k2": 1e30}])
def test_constants_that_do_not_fit_float32_are_refused(option: dict) -> None:
    # inherited from rainkit.metrics.ssim: NaN loss (and gradients) before the check
    x, y = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="do not fit SSIM's arithmetic in float32"):
        ssim_loss(x, y, **option)
    with pytest.raises(ValueError, match="do not fit SSIM's arithmetic in float32"):
        SSIMLoss(**option)(x, y)
    with pytest.raises(ValueError, match="float64"):
        SSIMLoss(**{key: 1e200 for key in option})
