"""RGB to YCbCr (ITU-R BT.601, limited range), the colour space deraining papers score on."""

from __future__ import annotations

import torch

from rainkit._checks import check_image_tensor, check_positive

__all__ = ["rgb_to_y", "rgb_to_ycbcr"]

# BT.601 limited range on the 0-255 scale for R, G, B in [0, 1] (rows: Y, Cb, Cr).
_MATRIX = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_OFFSET = (16.0, 128.0, 128.0)


def _check_rgb(image: object) -> torch.Tensor:
    tensor = check_image_tensor(image, "image", ndims=(3, 4), channels=3)
    return tensor


def rgb_to_ycbcr(image: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    r"""Convert RGB to YCbCr with ITU-R BT.601 limited range ("studio swing").

    With :math:`R, G, B` scaled to :math:`[0, 1]`, the 0-255 values are

    .. math::

        Y &= 16 + 65.481 R + 128.553 G + 24.966 B \\
        C_b &= 128 - 37.797 R - 74.203 G + 112 B \\
        C_r &= 128 + 112 R - 93.786 G - 18.214 B

    and the result is returned on the input's scale, i.e. multiplied by ``data_range / 255``
    (so ``Y`` lies in :math:`[16, 235] \cdot \text{data\_range} / 255`). This is MATLAB's
    ``rgb2ycbcr``, BasicSR's ``rgb2ycbcr(y_only=False)`` and scikit-image's
    :func:`skimage.color.rgb2ycbcr` (which returns the 0-255 scale).

    Args:
        image: RGB image(s), values in :math:`[0, \text{data\_range}]`.
        data_range: the input's scale, ``1.0`` for :math:`[0, 1]`, ``255.0`` for 8-bit values.

    Returns:
        The YCbCr image(s), same shape, dtype and scale as ``image``.

    Shape:
        - image: :math:`(B, 3, H, W)` or :math:`(3, H, W)`.
        - output: same as ``image``.

    Example:
        >>> import torch
        >>> white = torch.ones(1, 3, 2, 2)
        >>> rgb_to_ycbcr(white)[0, :, 0, 0].mul(255).round()
        tensor([235., 128., 128.])

    References:
        ITU-R Recommendation BT.601-7, "Studio encoding parameters of digital television", 2011.
    """
    tensor = _check_rgb(image)
    scale = check_positive(data_range, "data_range")
    matrix = torch.tensor(_MATRIX, dtype=tensor.dtype, device=tensor.device) / 255.0
    offset = torch.tensor(_OFFSET, dtype=tensor.dtype, device=tensor.device) * (scale / 255.0)
    out = torch.einsum("ij,...jhw->...ihw", matrix, tensor)
    return out + offset[:, None, None]


def rgb_to_y(image: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    r"""Luma ``Y`` of ITU-R BT.601 limited-range YCbCr, on the input's scale.

    .. math::

        Y = \frac{\text{data\_range}}{255} \left(16 + 65.481 R + 128.553 G + 24.966 B\right),
        \qquad R, G, B \in [0, 1]

    Non-finite values are not checked (this runs inside training steps, where a check would
    force a device synchronisation): a NaN or infinite pixel gives a NaN or infinite luma at
    that pixel only. See ``rainkit/_checks.py`` for the policy.

    Args:
        image: RGB image(s), values in :math:`[0, \text{data\_range}]`.
        data_range: the input's scale, ``1.0`` for :math:`[0, 1]`, ``255.0`` for 8-bit values.

    Returns:
        The luma channel, same dtype and scale as ``image``, channel dimension kept.

    Shape:
        - image: :math:`(B, 3, H, W)` or :math:`(3, H, W)`.
        - output: :math:`(B, 1, H, W)` or :math:`(1, H, W)`.

    Example:
        >>> import torch
        >>> rgb_to_y(torch.zeros(3, 1, 1)).mul(255)
        tensor([[[16.]]])

    References:
        ITU-R Recommendation BT.601-7, "Studio encoding parameters of digital television", 2011.
    """
    tensor = _check_rgb(image)
    scale = check_positive(data_range, "data_range")
    r, g, b = tensor.unbind(-3)
    y = (r * (_MATRIX[0][0] / 255.0) + g * (_MATRIX[0][1] / 255.0) + b * (_MATRIX[0][2] / 255.0)
         + _OFFSET[0] * scale / 255.0)
    return y.unsqueeze(-3)
