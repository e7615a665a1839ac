"""Multi-scale branches: one body per scale, resized back to the exact input size."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.nn._common import check_network_input, downsample, resize_to

__all__ = ["MultiScaleBranches"]


class MultiScaleBranches(nn.Module):
    """Run a body at several resolutions, upsample each result to the input size and concatenate.

    For each scale factor :math:`s` (1, 2, 4 by default) the branch computes

    .. math::

        y_s = \\operatorname{up}_{H \\times W}\\big(f_s(p_s) + p_s\\big), \\qquad
        p_s = \\operatorname{avgpool}_{s}(x),

    where :math:`p_s` has size :math:`\\lceil H/s \\rceil \\times \\lceil W/s \\rceil` (adaptive
    pooling, so odd sizes and 1x1 work), :math:`f_s` is the branch's own body (the ``+ p_s`` skip
    is dropped with ``skip=False``) and :math:`\\operatorname{up}` is bilinear interpolation to
    *exactly* :math:`H \\times W`. The outputs are concatenated along channels, then passed to
    ``fuse`` when one is given. A coarse branch sees :math:`s` times farther for the same cost
    per pixel and :math:`1/s^2` of the compute.

    Args:
        channels: channels :math:`C` of the input and of every body's output.
        make_body: called once per scale (with ``channels``) to build that scale's body; bodies
            do not share weights.
        scales: downsampling factor of each branch, each ``>= 1``.
        skip: add each pooled input to its body's output.
        fuse: an :class:`~torch.nn.Module` applied to the concatenation (such as
            ``nn.Conv2d(n_scales * C, C, 1)``), or ``None`` to return it. A module instance, not
            a layer type: its input width depends on the number of scales.

    Shape:
        - Input: :math:`(B, C, H, W)`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, n_{scales} C, H, W)` without ``fuse``; whatever ``fuse`` returns
          otherwise.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.nn import MultiScaleBranches, ResidualBlock
        >>> branches = MultiScaleBranches(8, lambda c: ResidualBlock(c), scales=(1, 2, 4),
        ...                               fuse=nn.Conv2d(24, 8, 1))
        >>> branches(torch.rand(2, 8, 7, 13)).shape
        torch.Size([2, 8, 7, 13])

    References:
        The multi-scale design of :class:`~rainkit.nn.DerainNet`; compare X. Fu et al., "Lightweight
        Pyramid Networks for Image Deraining", IEEE TNNLS 2019.
    """

    def __init__(
        self,
        channels: int,
        make_body: Callable[[int], nn.Module],
        scales: Sequence[int] = (1, 2, 4),
        *,
        skip: bool = True,
        fuse: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        if isinstance(make_body, nn.Module) or not callable(make_body):
            raise TypeError(
                "make_body must be a function that builds a new body per scale, such as "
                f"lambda c: ResidualBlock(c), got {type(make_body).__name__}"
            )
        if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence):
            raise TypeError(f"scales must be a sequence of ints, got {type(scales).__name__}")
        if len(scales) == 0:
            raise ValueError("scales must contain at least one factor, got an empty sequence")
        self.scales = tuple(check_int(s, "scale", minimum=1) for s in scales)
        self.skip = check_bool(skip, "skip")
        if fuse is not None and not isinstance(fuse, nn.Module):
            raise TypeError(
                f"fuse must be an nn.Module applied to the concatenated branches (such as "
                f"nn.Conv2d({len(self.scales) * self.channels}, {self.channels}, 1)) or None, "
                f"got {type(fuse).__name__} {fuse!r:.40}")
        self.bodies = nn.ModuleList(make_body(channels) for _ in self.scales)
        self.fuse = fuse if fuse is not None else nn.Identity()
        self.out_channels = len(self.scales) * self.channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():  # TorchScript compiles neither the check nor its messages
            check_network_input(x, self.channels, self)
        size = list(x.shape[-2:])
        outs = []
        for scale, body in zip(self.scales, self.bodies):
            pooled = downsample(x, scale)
            y = body(pooled)
            if self.skip:
                y = y + pooled
            outs.append(y if scale == 1 else resize_to(y, size))
        fused: torch.Tensor = self.fuse(torch.cat(outs, dim=1))
        return fused

    def extra_repr(self) -> str:
        return f"channels={self.channels}, scales={self.scales}, skip={self.skip}"
