"""Convolutional LSTM cell."""

from __future__ import annotations

import torch
from torch import nn

from rainkit._validation import check_int
from rainkit.nn._common import check_kernel_size, check_network_input

__all__ = ["ConvLSTMCell"]


class ConvLSTMCell(nn.Module):
    """An LSTM cell whose gates are convolutions over ``[x, h]`` (Shi et al.).

    .. math::

        i, f, o = \\sigma(W_{i,f,o} * [x, h_{t-1}] + b_{i,f,o}), \\qquad
        g = \\tanh(W_g * [x, h_{t-1}] + b_g),

        c_t = f \\odot c_{t-1} + i \\odot g, \\qquad h_t = o \\odot \\tanh(c_t).

    The four gates are computed by one convolution with :math:`4 C_h` outputs (the same
    parameters as four separate ones).

    Args:
        in_channels: channels :math:`C_x` of the input.
        hidden_channels: channels :math:`C_h` of the hidden and cell states.
        kernel_size: odd kernel size of the gate convolution.

    Shape:
        - Input: ``x`` :math:`(B, C_x, H, W)`; ``state`` a pair :math:`(h, c)` of
          :math:`(B, C_h, H, W)` tensors, or ``None`` for zeros.
        - Output: the new state :math:`(h_t, c_t)`, each :math:`(B, C_h, H, W)`;
          :math:`h_t \\in (-1, 1)`.

    Example:
        >>> import torch
        >>> from rainkit.nn import ConvLSTMCell
        >>> cell = ConvLSTMCell(4, 8)
        >>> h, c = cell(torch.rand(2, 4, 5, 5))
        >>> h, c = cell(torch.rand(2, 4, 5, 5), (h, c))
        >>> h.shape
        torch.Size([2, 8, 5, 5])

    References:
        X. Shi et al., "Convolutional LSTM Network: A Machine Learning Approach for Precipitation
        Nowcasting", NeurIPS 2015.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.hidden_channels = check_int(hidden_channels, "hidden_channels", minimum=1)
        self.kernel_size = check_kernel_size(kernel_size)
        self.gates = nn.Conv2d(in_channels + hidden_channels, 4 * hidden_channels, kernel_size,
                               padding=kernel_size // 2)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_network_input(x, self.in_channels, self)
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_channels, x.shape[-2], x.shape[-1])
            state = (zeros, zeros)
        elif not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"state must be a pair (h, c) of tensors or None, got "
                            f"{type(state).__name__}")
        h, c = state
        want = (x.shape[0], self.hidden_channels, *x.shape[-2:])
        for name, tensor in (("state h", h), ("state c", c)):
            check_network_input(tensor, self.hidden_channels, name=name)
            if tuple(tensor.shape) != want:
                raise ValueError(f"{name} must have shape {want} to match the input, got "
                                 f"{tuple(tensor.shape)}")
        i, f, g, o = self.gates(torch.cat([x, h.to(x.dtype)], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"kernel_size={self.kernel_size}")
