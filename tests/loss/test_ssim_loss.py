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
