"""Four-direction spatial IRNN: ReLU recurrences along every row and column (SPANet's scan)."""

from __future__ import annotations

import torch
from torch import nn

from rainkit._checks import check_image_tensor, check_int, check_number
from rainkit.nn._common import check_network_input

__all__ = ["DIRECTIONS", "SpatialIRNN", "spatial_irnn"]

#: The order of the four scans in the weights and in the output channels.
DIRECTIONS = ("up", "right", "down", "left")


def _check_parameters(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
    for name, value in (("weight", weight), ("bias", bias)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
        if tuple(value.shape) != (4, x.shape[1]):
            raise ValueError(f"{name} must have shape (4, C) = (4, {x.shape[1]}) (directions "
                             f"{', '.join(DIRECTIONS)}), got {tuple(value.shape)}")


def _scan_autograd(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The recurrence along dim 0 of ``x`` :math:`(L, ...)`, one new tensor per step (autograd
    records every step)."""
    out = [torch.relu(x[0])]
    for i in range(1, x.shape[0]):
        out.append(torch.relu(out[-1] * w + b + x[i]))
    return torch.stack(out)


def _scan_pair_(
    out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, axis: int,
    forward: int, backward: int,
) -> None:
    """Two opposite scans along ``axis`` (1: down the rows of H, 2: along W) of ``x``
    :math:`(B, H, W, C)` (dense), written in place into their slots of ``out``
    :math:`(B, H, W, S, C)` (dense): the scan from index 0 into slot ``forward`` with
    ``weight[forward]``, the one from the far end into slot ``backward``. Along ``axis=1``
    each step touches contiguous runs of :math:`W C` values; along ``axis=2`` runs of only
    :math:`C`, far apart (slow).

    Step :math:`i` updates position :math:`i` of one scan and :math:`L - 1 - i` of the other
    with one set of operations on a strided view that holds both (no copies): the view's first
    stride is the distance between the two, taken in the order that makes it non-negative. At
    the one step where that order changes, the two scans are updated one after the other.
    """
    length, other = x.shape[axis], 3 - axis
    inner = (x.shape[0], x.shape[other], x.shape[3])
    out_strides = (out.stride(0), out.stride(other), 1)
    x_strides = (x.stride(0), x.stride(other), 1)
    scalars = {slot: (weight[slot].view(1, 1, -1), bias[slot].view(1, 1, -1))
               for slot in (forward, backward)}
    pairs = {order: (torch.stack([weight[a], weight[b]]).view(2, 1, 1, -1),
                     torch.stack([bias[a], bias[b]]).view(2, 1, 1, -1))
             for order, (a, b) in enumerate(((forward, backward), (backward, forward)))}

    def out_offset(pos: int, slot: int) -> int:
        return int(out.storage_offset() + pos * out.stride(axis) + slot * out.stride(3))

    def x_offset(pos: int) -> int:
        return int(x.storage_offset() + pos * x.stride(axis))

    def order_of(i: int) -> int:  # 0: (forward, backward) has a non-negative stride
        return 0 if out_offset(length - 1 - i, backward) > out_offset(i, forward) else 1

    def views(i: int, order: int) -> tuple[torch.Tensor, torch.Tensor]:
        first, second = ((i, forward), (length - 1 - i, backward))[::1 - 2 * order]
        o0, o1 = out_offset(*first), out_offset(*second)
        x0, x1 = x_offset(first[0]), x_offset(second[0])
        return (torch.as_strided(out, (2, *inner), (o1 - o0, *out_strides), o0),
                torch.as_strided(x, (2, *inner), (x1 - x0, *x_strides), x0))

    def single(pos: int, slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.as_strided(out, inner, out_strides, out_offset(pos, slot)),
                torch.as_strided(x, inner, x_strides, x_offset(pos)))

    order = order_of(0)
    step, x_step = views(0, order)
    torch.clamp_min(x_step, 0, out=step)
    for i in range(1, length):
        new_order = order_of(i)
        if new_order == order:
            previous = step
            step, x_step = views(i, order)
            w, b = pairs[order]
            torch.mul(previous, w, out=step)  # (o w + b) + x: the kernel's order of operations
            step.add_(b).add_(x_step).relu_()
            continue
        for before, now, slot in ((i - 1, i, forward), (length - i, length - 1 - i, backward)):
            w, b = scalars[slot]
            target, x_now = single(now, slot)
            torch.mul(single(before, slot)[0], w, out=target)
            target.add_(b).add_(x_now).relu_()
        order = new_order
        step, x_step = views(i, order)


def spatial_irnn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Four ReLU recurrences with per-channel scalar weights, one per direction (SPANet's IRNN).

    For each channel :math:`c` and direction :math:`d` with weight :math:`w_{d,c}` and bias
    :math:`b_{d,c}`, the scan ``right`` runs along each row from the left edge,

    .. math::

        o_0 = \\max(0, x_0), \\qquad
        o_i = \\max(0, (o_{i-1} w_{d,c} + b_{d,c}) + x_i), \\quad i = 1, \\dots, W - 1,

    ``left`` runs the same recurrence from the right edge towards the left (so it carries
    information from the right), ``down`` down each column from the top edge and ``up`` up
    from the bottom edge. The bias is not added at the starting pixel. This is the forward
    kernel of Wang et al.'s SPANet (``IRNN_Forward_cuda.cu``), including its order of
    floating-point operations, so the result is bit-identical to that kernel run in float32
    without FMA contraction.

    Every scan is one loop over the scanned axis, vectorised over the batch, the channels, the
    other axis and the two opposite directions (the left and right scans run together, then
    up and down): :math:`H + W - 2` steps in all, each on whole runs of :math:`C` channels
    (the work is done in the channels-last layout, the one of an NHWC input). Under autograd
    each step is a new tensor; with autograd off (``torch.no_grad()``) each step writes in
    place into the output, through a strided view that holds both directions, with no copy.

    Args:
        x: input :math:`(B, C, H, W)`, any real values.
        weight: :math:`(4, C)`, the recurrent weight of each direction in the order
            ``up, right, down, left`` (:data:`DIRECTIONS`).
        bias: :math:`(4, C)`, the bias of each direction, same order.

    Returns:
        :math:`(B, 4C, H, W)` in the channels-last memory layout, non-negative: the ``up``,
        ``right``, ``down`` and ``left`` scans concatenated along the channels (the order in
        which SPANet concatenates them).

    Raises:
        TypeError: an argument is not a tensor, or not floating-point.
        ValueError: ``x`` is not 4-D or empty, or ``weight``/``bias`` are not :math:`(4, C)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks.irnn import spatial_irnn
        >>> x = torch.tensor([[[[1.0, -2.0, 3.0]]]])
        >>> spatial_irnn(x, torch.ones(4, 1), torch.zeros(4, 1))[0, :, 0]
        tensor([[1., 0., 3.],
                [1., 0., 3.],
                [1., 0., 3.],
                [2., 1., 3.]])

    References:
        T. Wang, X. Yang, K. Xu, S. Chen, Q. Zhang, R. W. H. Lau, "Spatial Attentive
        Single-Image Deraining with a High Quality Real Rain Dataset", CVPR 2019;
        Q. V. Le, N. Jaitly, G. E. Hinton, "A Simple Way to Initialize Recurrent Networks of
        Rectified Linear Units", arXiv 1504.00941 (2015).
    """
    check_image_tensor(x, "input", ndims=(4,))
    _check_parameters(x, weight, bias)
    weight = weight.to(x.dtype)
    bias = bias.to(x.dtype)
    # Work in (B, H, W, C), the layout of an NHWC input (what the convolutions around it use),
    # so that every step moves whole runs of C channels.
    x = x.permute(0, 2, 3, 1)
    if not torch.is_grad_enabled():
        x = x.contiguous()
        out = x.new_empty(*x.shape[:3], 4, x.shape[3])
        _scan_pair_(out, x, weight, bias, 1, forward=2, backward=0)  # down, up
        # Along W the steps would touch one run of C per row, far apart: scan the transposed
        # image along its rows instead, then copy into the right and left slots.
        transposed = x.transpose(1, 2).contiguous()  # (B, W, H, C)
        across = transposed.new_empty(*transposed.shape[:3], 2, transposed.shape[3])
        _scan_pair_(across, transposed, weight[[1, 3]], bias[[1, 3]], 1, forward=0, backward=1)
        out[:, :, :, 1::2].copy_(across.transpose(1, 2))  # right, left
        # (B, H, W, 4, C) -> (B, 4C, H, W) in the channels_last layout
        return out.flatten(3).permute(0, 3, 1, 2)
    # With autograd: the scanned axis first and the two opposite directions stacked,
    # (H, 2, B, W, C) and (W, 2, B, H, C), one new tensor per step.
    w = weight.view(4, 1, 1, -1)
    b = bias.view(4, 1, 1, -1)
    by_rows = x.transpose(0, 1)  # (H, B, W, C)
    vertical = _scan_autograd(torch.stack([by_rows.flip(0), by_rows], dim=1), w[0::2], b[0::2])
    by_cols = x.permute(2, 0, 1, 3)  # (W, B, H, C)
    horizontal = _scan_autograd(torch.stack([by_cols, by_cols.flip(0)], dim=1), w[1::2],
                                b[1::2])
    up = vertical[:, 0].flip(0).transpose(0, 1)  # back to (B, H, W, C)
    down = vertical[:, 1].transpose(0, 1)
    right = horizontal[:, 0].permute(1, 2, 0, 3)
    left = horizontal[:, 1].flip(0).permute(1, 2, 0, 3)
    out = torch.stack([up, right, down, left], dim=3)
    return out.flatten(3).permute(0, 3, 1, 2)


class SpatialIRNN(nn.Module):
    """:func:`spatial_irnn` with learned per-channel weights: SPANet's ``Spacial_IRNN``.

    The recurrent weights start at ``alpha`` for every channel and direction (SPANet's 0.2;
    ``alpha=1`` is the identity initialisation of Le et al.'s IRNN) and the biases at 0.

    ``alpha`` must lie in :math:`[-1, 1]`. With :math:`|w| \\le 1` (and the biases at 0) the scan
    cannot grow: the state is at most the sum of the inputs along the row,
    :math:`o_i \\le \\sum_{j \\le i} |x_j|`, so a finite input gives a finite output at every
    size. A larger weight multiplies the state by :math:`w` at every pixel, so on positive
    inputs it grows as :math:`w^{L}` along a row or column of :math:`L` pixels and leaves
    float32's range (:math:`3.4 \\cdot 10^{38} \\approx 2^{128}`) once :math:`L \\log_2 w`
    exceeds about 128: at 128 pixels of ones for :math:`w = 2`, about 900 for :math:`w = 1.1`,
    at the third pixel for :math:`w = 10^{30}`. No bound above 1 holds at every image size, so
    none is offered. (Training may move the weights past 1; that is not checked, as it would
    read the weights on every call.)

    Args:
        channels: channels :math:`C` of the input.
        alpha: initial recurrent weight, in :math:`[-1, 1]`.

    Raises:
        TypeError: ``alpha`` is not a real number.
        ValueError: ``alpha`` is not finite or :math:`|\\alpha| > 1`.

    Shape:
        - Input: :math:`(B, C, H, W)`.
        - Output: :math:`(B, 4C, H, W)`: the ``up``, ``right``, ``down`` and ``left`` scans.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks.irnn import SpatialIRNN
        >>> SpatialIRNN(8)(torch.rand(2, 8, 5, 7)).shape
        torch.Size([2, 32, 5, 7])
    """

    def __init__(self, channels: int, alpha: float = 0.2) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.alpha = check_number(alpha, "alpha")
        if abs(self.alpha) > 1:
            raise ValueError(
                f"alpha must be in [-1, 1], got {alpha}: a recurrent weight w with |w| > 1 grows "
                f"the scan's state as w**L along a row of L pixels and overflows float32 "
                f"(3.4e38) on large enough images (w=2 at 128 pixels)")
        self.weight = nn.Parameter(torch.full((4, channels), self.alpha))
        self.bias = nn.Parameter(torch.zeros(4, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_network_input(x, self.channels, self)
        return spatial_irnn(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, alpha={self.alpha}, directions={DIRECTIONS}"
