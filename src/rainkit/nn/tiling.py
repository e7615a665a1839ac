"""Run a network on a large image in tiles, with enough context that the tiles do not show."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

from rainkit._checks import check_image_tensor, check_int

__all__ = ["context_margin", "tiled_forward"]


def _influence_extent(model: nn.Module, in_channels: int, size: int) -> int:
    """Side of the square of outputs that change when the centre input pixel changes.

    Two probes (the pixel raised on one random input, lowered on another) so that a max-pool
    or a ReLU that blocks one change passes the other. The unchanged and the changed input run
    as two batch-1 passes: in one batch of two, CPU kernels may round the two images
    differently, which shows as changes of ~1e-16 far outside the receptive field. For the same
    reason an output counts as changed only above ``1e-9`` of the largest change: float64
    rounding (a different summation order near the border, a fused kernel) is ~1e-16 relative,
    while a real influence through a stride-1 network is many orders above it.
    """
    probe = copy.deepcopy(model).double().eval()
    generator = torch.Generator().manual_seed(0)
    changed = torch.zeros((), dtype=torch.float64)  # broadcasts to the output's size
    for step in (1.0, -1.0):
        base = torch.rand(1, in_channels, size, size, generator=generator, dtype=torch.float64)
        bumped = base.clone()
        bumped[:, :, size // 2, size // 2] += step
        with torch.no_grad():  # two batch-1 passes: a batch of two may round differently
            before, after = probe(base), probe(bumped)
        if isinstance(before, (tuple, list)):
            before, after = before[0], after[0]
        changed = changed + (after[0] - before[0]).abs().sum(dim=0)
    if not bool(changed.gt(0).any()):  # a constant network (e.g. zero output layers)
        return 1
    influenced = changed > 1e-9 * changed.max()
    rows = torch.nonzero(influenced.any(dim=1)).flatten()
    cols = torch.nonzero(influenced.any(dim=0)).flatten()
    return max(int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1)


def context_margin(model: nn.Module, *, in_channels: int = 3, max_size: int = 257) -> int | None:
    """Pixels of context a tile needs on each side so that its centre sees what the whole image
    gives it: half the receptive field :math:`r`, :math:`\\lceil (r - 1) / 2 \\rceil`.

    For a convolutional network the outputs that one input pixel influences form the same
    square as the receptive field of one output pixel, so :math:`r` is measured forward only:
    the centre pixel of a random input (float64, on an eval-mode copy of the model, which is
    left untouched) is changed and the extent of the outputs that change is taken, on inputs of
    growing size (65, 129, 257, up to ``max_size``) until it is smaller than the input. No
    gradients are kept, so the probe needs a few forward passes' memory (about 0.3 GB and a few
    seconds for PReNet at 257 px). :func:`~rainkit.nn.receptive_field` measures the same
    quantity from gradients.

    Args:
        model: the network.
        in_channels: its input channels.
        max_size: the largest probe; an influence that reaches it is reported as global.

    Returns:
        The margin in pixels, or ``None`` when every output pixel depends on the whole image
        (a global pooling branch), so that no finite margin makes tiles exact.

    The probe measures the network as its weights are: a fresh rainkit network starts at the
    identity (:func:`rainkit.init.zero_output_init_`), whose margin is 0; measure the
    architecture on a copy with random weights, e.g. :func:`rainkit.init.kaiming_init_`.

    Example:
        >>> import copy
        >>> from rainkit.init import kaiming_init_
        >>> from rainkit.nn import BaselineNet, context_margin
        >>> net = BaselineNet(channels=4)
        >>> context_margin(net)  # a fresh network is the identity: no context needed
        0
        >>> context_margin(kaiming_init_(copy.deepcopy(net)))  # receptive field 21 x 21
        10
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    check_int(in_channels, "in_channels", minimum=1)
    check_int(max_size, "max_size", minimum=3)
    size = 65
    while True:
        size = min(size, max_size)
        extent = _influence_extent(model, in_channels, size)
        if extent < size:
            return math.ceil((extent - 1) / 2)
        if size >= max_size:
            return None
        size = 2 * size - 1


def _windows(length: int, tile: int, margin: int, align: int) -> list[tuple[int, int, int, int]]:
    """(window start, window end, core start, core end) along one axis; cores partition it."""
    spans = []
    for core_start in range(0, length, tile):
        core_end = min(core_start + tile, length)
        start = max(0, (core_start - margin) // align * align)
        end = min(length, -(-(core_end + margin) // align) * align)
        spans.append((start, end, core_start, core_end))
    return spans


@torch.no_grad()
def tiled_forward(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    *,
    tile: int = 512,
    margin: int = 64,
    align: int = 32,
) -> torch.Tensor:
    """Apply ``model`` to ``image`` tile by tile, each tile computed with ``margin`` pixels of
    context on every side, and stitch the tiles' centres ("overlap-tile", Ronneberger et al.).

    The image is cut into ``tile x tile`` cores that partition it; each core is computed from a
    window that extends it by at least ``margin`` pixels (less at the image border, where the
    whole-image run sees the same zero padding) and starts and ends on multiples of ``align``
    (so networks that pool by up to ``align`` see the same pooling grid as on the whole
    image). Only the core of each window's output is kept, so no blending is needed. Peak memory
    is that of one window.

    The result equals the whole-image output exactly (to float rounding) when ``margin`` is at
    least :func:`context_margin` of the network and the network commutes with shifts by
    multiples of ``align`` (stride-1 convolutional networks such as
    :class:`~rainkit.nn.BaselineNet` and the PReNet family; pooling networks on sizes that are
    multiples of their total stride). Networks that resize feature maps to odd sizes or pool
    globally (:class:`~rainkit.nn.DilatedPyramidNet`) give slightly different values near tile
    borders; the deployment guide lists the measured differences.

    Args:
        model: maps :math:`(B, C, h, w)` to :math:`(B, C', h, w)`; called under
            :func:`torch.no_grad`.
        image: :math:`(B, C, H, W)` floating-point tensor.
        tile: core side in pixels (``>= 1``).
        margin: context pixels on each side (``>= 0``); see :func:`context_margin`.
        align: window starts are multiples of this (``>= 1``).

    Returns:
        :math:`(B, C', H, W)`, the model's output for the whole image.

    Example:
        >>> import torch
        >>> from rainkit.init import kaiming_init_
        >>> from rainkit.nn import BaselineNet, tiled_forward
        >>> net = kaiming_init_(BaselineNet(channels=4)).eval()  # random weights: not the identity
        >>> x = torch.rand(1, 3, 70, 50)
        >>> tiled = tiled_forward(net, x, tile=32, margin=10)
        >>> bool(torch.allclose(tiled, net(x), atol=1e-6))
        True
    """
    check_image_tensor(image, "image", ndims=(4,))
    tile = check_int(tile, "tile", minimum=1)
    margin = check_int(margin, "margin", minimum=0)
    align = check_int(align, "align", minimum=1)
    height, width = image.shape[-2:]
    if height <= tile and width <= tile:
        return model(image)
    output: torch.Tensor | None = None
    for top, bottom, core_top, core_bottom in _windows(height, tile, margin, align):
        for left, right, core_left, core_right in _windows(width, tile, margin, align):
            result = model(image[..., top:bottom, left:right])
            if output is None:
                output = result.new_empty(*result.shape[:-2], height, width)
            output[..., core_top:core_bottom, core_left:core_right] = result[
                ..., core_top - top:core_bottom - top, core_left - left:core_right - left]
    assert output is not None  # at least one window: height and width are >= 1
    return output
