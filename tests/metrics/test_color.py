"""BT.601 colour conversion against scikit-image's rgb2ycbcr."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rainkit.metrics import rgb_to_y, rgb_to_ycbcr

skimage_color = pytest.importorskip("skimage.color")


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_matches_skimage(photo, data_range):
    # skimage.color.rgb2ycbcr: BT.601 limited range, output on the 0-255 scale.
    expected = skimage_color.rgb2ycbcr(photo)
    x = torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None] * data_range
    out = rgb_to_ycbcr(x, data_range=data_range)
    assert out.shape == x.shape and out.dtype == torch.float64
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy() * 255 / data_range, expected,
                               rtol=0, atol=1e-9)
    y = rgb_to_y(x[0], data_range=data_range)
    assert y.shape == (1, *x.shape[-2:])
    np.testing.assert_allclose(y[0].numpy() * 255 / data_range, expected[..., 0], rtol=0,
                               atol=1e-9)


def test_black_and_white_hand_values():
    black, white = torch.zeros(3, 1, 1), torch.ones(3, 1, 1)
    assert rgb_to_y(black).mul(255).item() == pytest.approx(16.0)
    assert rgb_to_y(white).mul(255).item() == pytest.approx(235.0, abs=1e-4)
    torch.testing.assert_close(rgb_to_ycbcr(white * 255, 255.0).flatten(),
                               torch.tensor([235.0, 128.0, 128.0]), atol=1e-3, rtol=0)


def test_bad_input():
    with pytest.raises(ValueError, match="3 channels at dim -3, got 4"):
        rgb_to_y(torch.rand(1, 4, 2, 2))
    with pytest.raises(TypeError, match="must be a torch.Tensor, got ndarray"):
        rgb_to_ycbcr(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="data_range must be > 0"):
        rgb_to_y(torch.rand(3, 2, 2), data_range=0)
