"""Peak signal-to-noise ratio (PSNR)."""

from __future__ import annotations

from typing import overload

import numpy as np
import torch
from torch import nn

from rainkit._checks import Reduction
from rainkit.metrics._prepare import check_options, check_peak, finish, prepare
from rainkit.metrics.conventions import Quantize, ScoringConvention
from rainkit.metrics.registry import PreparedPair, register_metric

__all__ = ["PSNR", "psnr"]


@overload
def psnr(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    reduction: Reduction = "mean",
) -> torch.Tensor: ...


@overload
def psnr(
    input: np.ndarray,
    target: np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    reduction: Reduction = "mean",
) -> float | np.ndarray: ...


def psnr(
    input: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    y_channel: bool | None = None,
    convention: str | ScoringConvention | None = None,
    quantize: Quantize | None = None,
    reduction: Reduction = "mean",
) -> torch.Tensor | float | np.ndarray:
    r"""Peak signal-to-noise ratio in decibels, one value per image.

    .. math::

        \text{PSNR} = 10 \log_{10} \frac{L^2}{\text{MSE}}, \qquad
        \text{MSE} = \frac{1}{CHW} \sum_{c,h,w} (x_{chw} - y_{chw})^2

    where :math:`L` is ``data_range``. The MSE is taken per image; ``reduction="mean"`` averages
    the per-image PSNRs (it does *not* pool the MSE over the batch, which is what torchmetrics
    and kornia do by default). Identical images give ``+inf``.

    Tensors are computed in their own dtype, float16 and bfloat16 in float32 (the result is then
    float32); numpy arrays are computed in float64.

    Non-finite values: numpy arrays are checked (a NaN or infinite pixel raises
    :class:`ValueError`, since the number is read anyway); tensors are not (a check would force a
    device synchronisation in training loops): NaN propagates to that image's value. Use
    :class:`~rainkit.metrics.ScoreTable`, which checks, to score test sets.

    Args:
        input: the restored image(s): a tensor :math:`(B, C, H, W)` or :math:`(C, H, W)`
            (any floating dtype and device, differentiable), or a numpy array :math:`(H, W)`
            or :math:`(H, W, C)` of dtype uint8, uint16 or float.
        target: the reference image(s), same type and shape as ``input``, and the same dtype
            except that floating dtypes may be mixed: float32 with float64 is computed in
            float64 (papers compare a float32 network output with a float64 reference),
            float16/bfloat16 in float32; integer arrays must match (uint8 with uint16 or with
            float would be on different scales).
        data_range: the peak value :math:`L`. ``None`` (default) takes it from the dtype:
            ``1.0`` for floating inputs (images in :math:`[0, 1]`), ``255`` for uint8 and
            ``65535`` for uint16 arrays. It is never guessed from the values; an explicit
            value always wins. :math:`L^2` must be finite in the dtype the images are
            computed in (:math:`L \le` 1.8e19 in float32, 1.3e154 in float64), else
            :class:`ValueError`: on such a scale every squared difference of in-range images
            overflows, and images far below their stated scale snap to level 0 under a
            convention's 8-bit rounding, so their PSNR would be an infinity that says nothing
            (decided so rather than computing in float64, which would only move the limit).
        crop_border: pixels dropped on each side before scoring (as in super-resolution and
            deraining benchmarks). ``None`` (default): the convention's border, else 0.
        y_channel: score the luma ``Y`` of BT.601 limited-range YCbCr (see
            :func:`rgb_to_y`) instead of the RGB channels; needs 3 channels. ``None``
            (default): what the convention says, else ``False``.
        convention: the name of a published evaluation script's convention (a key of
            :data:`CONVENTIONS`: ``"prenet-y"`` (alias ``"matlab-y"``), ``"mprnet-y"`` (alias
            ``"matlab-y-uint8"``), ``"basicsr-y"``, ``"rgb"``, ``"spanet-rgb"``) or a
            :class:`ScoringConvention`. It sets ``y_channel``, whether luma is
            rounded to 8 bits, and the border where the script fixes one; an explicit
            ``y_channel`` or ``crop_border`` that contradicts it raises :class:`ValueError`.
            ``None`` (default): only the options above. See :doc:`/guides/reproducing_tables`.
        quantize: snap ``input`` to the 256 levels of an 8-bit file before scoring, as a test
            script does when it saves the network's output: ``"round"``
            (:math:`\mathrm{round}(255\,\mathrm{clamp}(x, 0, 1))`, half to even) or
            ``"floor"`` (truncation), on the scale of ``data_range``. Not differentiable.
            ``None`` (default): score the values as given. ``target`` is not quantized (it
            comes from 8-bit files in every pipeline), except that ``"mprnet-y"``, whose
            script reads only 8-bit files, snaps both images to 8 bits (``input`` by
            ``quantize``, default ``"round"``; ``target`` by rounding, exact for 8-bit data).
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"`` over images.

    Returns:
        A tensor for tensor inputs (shape :math:`(B,)` for ``"none"``, else a scalar); a Python
        float for numpy inputs (a numpy array of shape :math:`(1,)` for ``"none"``).

    Shape:
        - input: :math:`(B, C, H, W)`, :math:`(C, H, W)`, or numpy :math:`(H, W)`,
          :math:`(H, W, C)`.
        - target: same as ``input``.

    Example:
        >>> import torch
        >>> x = torch.full((1, 3, 4, 4), 0.5)
        >>> round(psnr(x, x + 0.1).item(), 4)
        20.0
        >>> import numpy as np
        >>> a = np.zeros((4, 4), dtype=np.uint8)
        >>> round(psnr(a, a + 1), 2)  # uint8: data_range 255
        48.13
        >>> psnr(x, x).item()
        inf
        >>> clean = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> clean = clean.mul(255).round().div(255)  # an image read from an 8-bit file
        >>> out = (clean + 0.004).clamp(0, 1)
        >>> round(psnr(out, clean, convention="prenet-y").item(), 2)  # PReNet's scripts
        49.33
        >>> round(psnr(out, clean, convention="mprnet-y").item(), 2)  # MPRNet, Restormer
        48.81

    References:
        Z. Wang and A. C. Bovik, "Mean squared error: Love it or leave it?", IEEE Signal
        Processing Magazine 26(1), 2009.
    """
    p = prepare(input, target, data_range=data_range, crop_border=crop_border,
                y_channel=y_channel, reduction=reduction, convention=convention,
                quantize=quantize)
    return finish(_psnr_per_image(p.input, p.target, p.data_range), reduction, p.numpy)


def _psnr_per_image(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    check_peak(data_range, x.dtype)
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return 10.0 * (2.0 * torch.log10(mse.new_tensor(data_range)) - torch.log10(mse))


@register_metric("psnr", label="PSNR", unit="dB", decimals=2)
def psnr_of_pair(pair: PreparedPair) -> torch.Tensor:
    """PSNR of a :class:`~rainkit.metrics.PreparedPair`, per image :math:`(B,)` (the
    :class:`~rainkit.metrics.ScoreTable` entry); the peak is the pair's data range."""
    return _psnr_per_image(pair.input, pair.target, pair.data_range)


class PSNR(nn.Module):
    """Peak signal-to-noise ratio as a module; see :func:`psnr` for the arguments.

    Options are checked when the module is built.

    Example:
        >>> import torch
        >>> metric = PSNR(crop_border=1)
        >>> x = torch.full((2, 3, 8, 8), 0.5)
        >>> metric(x, x + 0.01).shape
        torch.Size([])
    """

    def __init__(self, *, data_range: float | None = None, crop_border: int | None = None,
                 y_channel: bool | None = None,
                 convention: str | ScoringConvention | None = None,
                 quantize: Quantize | None = None, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_options(data_range, crop_border, y_channel, reduction, convention=convention,
                      quantize=quantize)
        self.data_range = data_range
        self.crop_border = crop_border
        self.y_channel = y_channel
        self.convention = convention
        self.quantize = quantize
        self.reduction = reduction

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psnr(input, target, data_range=self.data_range, crop_border=self.crop_border,
                    y_channel=self.y_channel, convention=self.convention,
                    quantize=self.quantize, reduction=self.reduction)

    def extra_repr(self) -> str:
        name = getattr(self.convention, "name", self.convention)
        return (f"data_range={self.data_range}, crop_border={self.crop_border}, "
                f"y_channel={self.y_channel}, convention={name!r}, quantize={self.quantize!r}, "
                f"reduction={self.reduction!r}")
