"""Measure a network's receptive field from the support of an input gradient."""

from __future__ import annotations

import copy

import torch
from torch import nn

from rainkit._checks import check_int

__all__ = ["receptive_field"]


def receptive_field(
    model: nn.Module,
    *,
    in_channels: int = 3,
    size: int | tuple[int, int] = 129,
    samples: int = 4,
) -> tuple[int, int]:
    """Measured receptive field: the extent of the input pixels the centre output pixel uses.

    Computes :math:`g = \\partial \\sum_c y_{c, H/2, W/2} / \\partial x` for random
    standard-normal inputs (float64, on an eval-mode copy of the model, which is left
    untouched) and returns the height and width of the bounding box of the pixels where
    :math:`\\sum |g| \\ne 0`. Signed inputs and the sum over ``samples`` of them keep a ReLU
    that is inactive for one input from hiding pixels at the border. The result is capped by
    ``size``: a value equal to ``size`` means "at least ``size``" (a global pooling branch makes
    every output depend on the whole image).

    For a stack of stride-1 :math:`k \\times k` convolutions with dilations :math:`d_i` this is
    :math:`1 + \\sum_i d_i (k - 1)`.

    Args:
        model: maps :math:`(1, C_{in}, H, W)` to :math:`(1, C', H', W')` (or a tuple whose
            first item is that); another output is a :class:`ValueError`.
        in_channels: input channels :math:`C_{in}`; it must match the model's
            ``in_channels`` when it has one, and a model that cannot run on it raises
            :class:`ValueError`.
        size: input height and width (an int, numpy integers included, for a square; or a
            ``(height, width)`` tuple); odd keeps the centre exact.
        samples: number of random inputs.

    Returns:
        ``(height, width)`` of the receptive field in input pixels. A network whose output does
        not depend on its input there (a fresh rainkit network is the identity, whose receptive
        field is 1 x 1; one with a zero output layer, 0 x 0) measures as such: draw random
        weights first to measure the architecture.

    Example:
        >>> from torch import nn
        >>> from rainkit.nn import receptive_field
        >>> receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, dilation=2)),
        ...                 in_channels=1, size=15)
        (7, 7)

    References:
        W. Luo, Y. Li, R. Urtasun, R. Zemel, "Understanding the Effective Receptive Field in Deep
        Convolutional Neural Networks", NeurIPS 2016.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_int(in_channels, "in_channels", minimum=1)
    check_int(samples, "samples", minimum=1)
    if not isinstance(size, (tuple, list)):
        size = (size, size)  # an int (numpy integers too); check_int rejects anything else
    if len(size) != 2:
        raise ValueError(f"size must be an int or a (height, width) pair, got {size!r}")
    height, width = (check_int(s, "size", minimum=1) for s in size)
    declared = getattr(model, "in_channels", None)
    if isinstance(declared, int) and declared != in_channels:
        raise ValueError(f"in_channels={in_channels} but {type(model).__name__} takes "
                         f"{declared} channels; pass in_channels={declared}")
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    probe = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(0)
    total = torch.zeros(height, width, dtype=torch.float64, device=device)
    for _ in range(samples):
        x = torch.randn(1, in_channels, height, width, generator=generator,
                       dtype=torch.float64).to(device).requires_grad_(True)
        try:
            y = probe(x)
        except RuntimeError as err:  # e.g. a convolution that expects other channels
            raise ValueError(f"model could not run on a (1, {in_channels}, {height}, {width}) "
                             f"input (in_channels={in_channels}): {err}") from err
        if isinstance(y, (tuple, list)):
            y = y[0]
        if not isinstance(y, torch.Tensor) or y.ndim != 4:
            shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"model must return maps of shape (1, C', H', W') (a dense "
                             f"prediction, or a tuple whose first item is one), got {shape}")
        centre = y[0, :, y.shape[-2] // 2, y.shape[-1] // 2].sum()
        (grad,) = torch.autograd.grad(centre, x)
        total += grad.abs().sum(dim=(0, 1))
    rows = torch.nonzero(total.sum(dim=1)).flatten()
    cols = torch.nonzero(total.sum(dim=0)).flatten()
    if rows.numel() == 0:
        return (0, 0)
    return (int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1)
