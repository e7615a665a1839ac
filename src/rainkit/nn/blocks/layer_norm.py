"""Layer normalisation over the channels of every pixel: Restormer's two LayerNorms."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_int, check_positive
from rainkit.nn._common import check_network_input

__all__ = ["BiasFreeLayerNorm2d", "LayerNorm2d", "bias_free_layer_norm_2d", "layer_norm_2d"]


def layer_norm_2d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """Layer normalisation of each pixel's channel vector (Restormer's ``WithBias`` LayerNorm).

    .. math::

        y_{b,c,i,j} = \\frac{x_{b,c,i,j} - \\mu_{b,i,j}}{\\sqrt{\\sigma^2_{b,i,j} + \\epsilon}}
                      \\, \\gamma_c + \\beta_c

    with :math:`\\mu` and :math:`\\sigma^2` the mean and the biased (``unbiased=False``)
    variance over the :math:`C` channels of one pixel. Computed by
    :func:`torch.nn.functional.layer_norm` on a channels-last view: no copy when ``x`` is in
    ``torch.channels_last`` memory format, and the result keeps that format.

    Args:
        x: :math:`(B, C, H, W)` features, any real values.
        weight: :math:`\\gamma`, shape :math:`(C,)`.
        bias: :math:`\\beta`, shape :math:`(C,)`, or ``None`` for zero.
        eps: :math:`\\epsilon`, added to the variance inside the square root.

    Returns:
        :math:`(B, C, H, W)`, each pixel's channels with mean :math:`\\beta` and (for unit
        :math:`\\gamma`) unit variance.

    Example:
        >>> import torch
        >>> x = torch.randn(2, 8, 5, 7)
        >>> y = layer_norm_2d(x, torch.ones(8))
        >>> bool(y.mean(1).abs().max() < 1e-5)
        True
        >>> bool((y.var(1, correction=0) - 1).abs().max() < 1e-3)
        True
    """
    return _layer_norm_2d(x, int(weight.shape[0]), weight, bias, eps)


def _layer_norm_2d(x: torch.Tensor, channels: int, weight: torch.Tensor,
                   bias: torch.Tensor | None, eps: float) -> torch.Tensor:
    # ``channels`` as a Python int: traces and exports need a constant normalised shape.
    out = F.layer_norm(x.permute(0, 2, 3, 1), (channels,), weight, bias, eps)
    return out.permute(0, 3, 1, 2)


def bias_free_layer_norm_2d(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-5
                            ) -> torch.Tensor:
    """Restormer's ``BiasFree`` LayerNorm: each pixel's channels divided by their standard
    deviation, **not** centred.

    .. math::

        y_{b,c,i,j} = \\frac{x_{b,c,i,j}}{\\sqrt{\\sigma^2_{b,i,j} + \\epsilon}} \\, \\gamma_c

    with :math:`\\sigma^2` the biased variance over the :math:`C` channels of one pixel (the
    mean is subtracted to compute it, but not from :math:`x`).

    Args:
        x: :math:`(B, C, H, W)` features.
        weight: :math:`\\gamma`, shape :math:`(C,)`.
        eps: :math:`\\epsilon`.

    Returns:
        :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> x = torch.full((1, 4, 2, 2), 3.0) + torch.arange(4.0).view(1, 4, 1, 1)
        >>> bias_free_layer_norm_2d(x, torch.ones(4))[0, :, 0, 0]  # 3..6 over std 1.118
        tensor([2.6833, 3.5777, 4.4721, 5.3666])
    """
    var = x.var(dim=1, keepdim=True, correction=0)
    return x * torch.rsqrt(var + eps) * weight.view(1, -1, 1, 1)


def _check_norm_args(channels: object, eps: object) -> tuple[int, float]:
    return check_int(channels, "channels", minimum=1), check_positive(eps, "eps")


class LayerNorm2d(nn.Module):
    """Layer normalisation over channels, per pixel, with a learnt scale and shift: the
    ``WithBias`` LayerNorm of Restormer (and of DRSformer, MPRNet-era transformers).

    Equivalent to :class:`torch.nn.LayerNorm` applied to :math:`(B, H, W, C)`; see
    :func:`layer_norm_2d` for the formula. The parameters are named ``weight`` and ``bias`` as
    in the authors' ``WithBias_LayerNorm``.

    Args:
        channels: number of channels :math:`C`.
        eps: added to the variance (``1e-5``, as the authors).

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values, in the parameters' dtype.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import LayerNorm2d
        >>> norm = LayerNorm2d(16)
        >>> norm(torch.rand(2, 16, 9, 11)).shape
        torch.Size([2, 16, 9, 11])

    References:
        J. L. Ba, J. R. Kiros, G. E. Hinton, "Layer Normalization", arXiv:1607.06450, 2016.
        S. W. Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image
        Restoration", CVPR 2022.
    """

    def __init__(self, channels: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.eps = _check_norm_args(channels, eps)
        self.weight = nn.Parameter(torch.ones(self.channels))
        self.bias = nn.Parameter(torch.zeros(self.channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        return _layer_norm_2d(x, self.channels, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, eps={self.eps}"


class BiasFreeLayerNorm2d(nn.Module):
    """Restormer's ``BiasFree`` LayerNorm: scaled by the per-pixel channel standard deviation,
    not centred, no shift (see :func:`bias_free_layer_norm_2d`). Its one parameter is named
    ``weight`` as in the authors' ``BiasFree_LayerNorm``.

    Args:
        channels: number of channels :math:`C`.
        eps: added to the variance.

    Shape:
        - Input: :math:`(B, C, H, W)`, any real values, in the parameters' dtype.
        - Output: :math:`(B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks import BiasFreeLayerNorm2d
        >>> BiasFreeLayerNorm2d(8)(torch.rand(1, 8, 3, 3)).shape
        torch.Size([1, 8, 3, 3])

    References:
        S. W. Zamir et al., "Restormer: Efficient Transformer for High-Resolution Image
        Restoration", CVPR 2022 (``LayerNorm_type='BiasFree'``, used for denoising).
    """

    def __init__(self, channels: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.eps = _check_norm_args(channels, eps)
        self.weight = nn.Parameter(torch.ones(self.channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            check_network_input(x, self.channels, self)
        return bias_free_layer_norm_2d(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, eps={self.eps}"
