"""MSSSIMLoss = 1 - MS-SSIM, against pytorch-msssim's ms_ssim."""

from __future__ import annotations

import pytest
import torch

from rainkit.loss import MSSSIMLoss, ms_ssim_loss
from rainkit.metrics import MS_SSIM

pytorch_msssim = pytest.importorskip("pytorch_msssim")


def test_against_pytorch_msssim() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 176, 192, generator=g, dtype=torch.float64)
    x = (0.8 * y + 0.2 * y.roll(1, -1) + 0.05 * torch.randn(y.shape, generator=g)).clamp(0, 1)
    expected = 1 - pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    torch.testing.assert_close(ms_ssim_loss(x, y, reduction="none"), expected, rtol=0,
                               atol=1e-6)
    torch.testing.assert_close(MSSSIMLoss(reduction="sum")(x, y), expected.sum(), rtol=0,
                               atol=1e-6)
    torch.testing.assert_close(MSSSIMLoss()(x, y), expected.mean(), rtol=0, atol=1e-6)


def test_identity_gradcheck_and_module() -> None:
    x = torch.rand(1, 1, 20, 18, dtype=torch.float64, requires_grad=True)
    kwargs = dict(window_size=5, scale_weights=(0.5, 0.5), normalize="simple")
    assert ms_ssim_loss(x, x.detach(), **kwargs).item() == pytest.approx(0.0, abs=1e-12)
    y = torch.rand(1, 1, 20, 18, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: ms_ssim_loss(a, y, **kwargs), (x,))
    loss = MSSSIMLoss(**kwargs)
    assert isinstance(loss.ms_ssim, MS_SSIM) and loss.ms_ssim.reduction == "none"
    assert torch.equal(loss(x, y), ms_ssim_loss(x, y, **kwargs))
    assert "normalize='simple'" in repr(loss)


def test_old_weights_keyword_warns_and_is_passed_on() -> None:
    # ``weights`` was renamed ``scale_weights`` (as in rainkit.metrics.ms_ssim): ``weights``
    # means a backbone file elsewhere in rainkit
    x, y = torch.rand(1, 1, 20, 18), torch.rand(1, 1, 20, 18)
    expected = ms_ssim_loss(x, y, window_size=5, scale_weights=(0.5, 0.5))
    with pytest.warns(FutureWarning, match="scale_weights"):
        got = ms_ssim_loss(x, y, window_size=5, weights=(0.5, 0.5))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    with pytest.warns(FutureWarning, match="scale_weights"):
        loss = MSSSIMLoss(window_size=5, weights=(0.5, 0.5))
    assert loss.ms_ssim.scale_weights == (0.5, 0.5)
    with pytest.raises(TypeError, match="both"):
        MSSSIMLoss(weights=(0.5, 0.5), scale_weights=(0.5, 0.5))


def test_errors() -> None:
    with pytest.raises(ValueError, match="reduction"):
        MSSSIMLoss(reduction="avg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window_size must be an odd int"):
        MSSSIMLoss(window_size=4)
    with pytest.raises(ValueError, match="normalize must be one of 'relu', 'simple'"):
        MSSSIMLoss(normalize="clip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 161 pixels"):
        ms_ssim_loss(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
    with pytest.raises(TypeError, match="input must be a torch.Tensor, got ndarray"):
        MSSSIMLoss()(torch.rand(1, 3, 64, 64).numpy(), torch.rand(1, 3, 64, 64).numpy())


def test_torch_compile_fullgraph_same_values_and_gradients() -> None:
    x = torch.rand(2, 3, 24, 24, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 3, 24, 24, dtype=torch.float64)
    loss = MSSSIMLoss(fewer_scales=True, window_size=5)
    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
    value, expected = compiled(x, y), loss(x, y)
    torch.testing.assert_close(value, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.autograd.grad(value, x), torch.autograd.grad(expected, x),
                               rtol=0, atol=1e-12)
