"""Convolutional LSTM cell."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_kernel_size, check_network_input
from rainkit.nn.blocks._fused_conv import conv2d_accumulate_, conv2d_act, fused_inference

__all__ = ["ConvLSTMCell", "conv_lstm_cell"]


def conv_lstm_cell(
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor] | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of a convolutional LSTM with the gate weights ``weight`` (order i, f, g, o).

    .. math::

        i, f, o = \\sigma(W_{i,f,o} * [x, h_{t-1}] + b_{i,f,o}), \\qquad
        g = \\tanh(W_g * [x, h_{t-1}] + b_g),

        c_t = f \\odot c_{t-1} + i \\odot g, \\qquad h_t = o \\odot \\tanh(c_t).

    ``state=None`` stands for :math:`h_{t-1} = c_{t-1} = 0`: then only the :math:`x` half of the
    weights is applied (:math:`W_h * 0` and, on the fused path, the forget gate that multiplies
    :math:`c_{t-1} = 0` are skipped, not computed). Under ``torch.no_grad()`` on a float32 CPU
    tensor each gate is computed by oneDNN convolutions writing into one buffer, the activation
    fused in or applied in place, and the cell update works in place on its own temporaries;
    elsewhere (training, other devices and dtypes) plain operators run. Both give the same
    values up to float rounding.

    Args:
        x: input :math:`(B, C_x, H, W)`.
        state: ``(h, c)``, each :math:`(B, C_h, H, W)`, or ``None`` for zeros.
        weight: :math:`(4 C_h, C_x + C_h, k, k)`, the four gates stacked in the order
            :math:`i, f, g, o` over the channels :math:`[x, h]`.
        bias: :math:`(4 C_h,)` or ``None``.

    Returns:
        ``(h_t, c_t)``, each :math:`(B, C_h, H, W)`; :math:`h_t \\in (-1, 1)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks.convlstm import conv_lstm_cell
        >>> h, c = conv_lstm_cell(torch.rand(1, 2, 4, 4), None, torch.randn(12, 5, 3, 3), None)
        >>> h.shape, bool(h.abs().max() < 1)
        (torch.Size([1, 3, 4, 4]), True)
    """
    hidden = weight.shape[0] // 4
    in_channels = weight.shape[1] - hidden
    if not torch.jit.is_scripting():  # TorchScript compiles only the plain operators
        if fused_inference(x):
            return _fused_step(x, state, weight, bias, hidden, in_channels)
    if state is None:
        weight = weight[:, :in_channels]
        inp = x
    else:
        inp = torch.cat([x, state[0].to(x.dtype)], dim=1)
    i, f, g, o = conv2d_act(inp, weight, bias).chunk(4, dim=1)
    if state is None:
        c = torch.sigmoid(i) * torch.tanh(g)
    else:
        c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _fused_step(
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor] | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    hidden: int,
    in_channels: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CPU inference step: each gate is ``act(W_x * x + b)`` with the activation fused into the
    oneDNN convolution, or, when there is a state, ``W_x * x + b`` with ``W_h * h`` accumulated
    in place into the same buffer and the activation applied in place: no ``cat([x, h])``, one
    :math:`C_h`-channel buffer per gate, and no forget gate at the first step (:math:`c = 0`)."""

    def gate(k: int, act: Literal["sigmoid", "tanh"]) -> torch.Tensor:
        rows = slice(k * hidden, (k + 1) * hidden)
        b = None if bias is None else bias[rows]
        if state is None:
            return conv2d_act(x, weight[rows, :in_channels], b, act, fused=True)
        out = conv2d_act(x, weight[rows, :in_channels], b, fused=True)
        conv2d_accumulate_(out, state[0], weight[rows, in_channels:])
        return out.sigmoid_() if act == "sigmoid" else out.tanh_()

    i, g, o = gate(0, "sigmoid"), gate(2, "tanh"), gate(3, "sigmoid")
    if state is None:
        c = g.mul_(i)
    else:
        c = gate(1, "sigmoid").mul_(state[1])
        c.addcmul_(i, g)
    return torch.tanh(c).mul_(o), c


class ConvLSTMCell(nn.Module):
    """An LSTM cell whose gates are convolutions over ``[x, h]`` (Shi et al.).

    .. math::

        i, f, o = \\sigma(W_{i,f,o} * [x, h_{t-1}] + b_{i,f,o}), \\qquad
        g = \\tanh(W_g * [x, h_{t-1}] + b_g),

        c_t = f \\odot c_{t-1} + i \\odot g, \\qquad h_t = o \\odot \\tanh(c_t).

    The four gates are one parameter ``gates.weight`` of shape :math:`(4 C_h, C_x + C_h, k, k)`
    (order :math:`i, f, g, o`; the same parameters as four separate convolutions). The forward is
    :func:`conv_lstm_cell`: the first step (``state=None``) skips the :math:`h` half, and CPU
    inference in float32 runs fused oneDNN convolutions.

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
        if not torch.jit.is_scripting():  # TorchScript compiles neither the checks nor messages
            check_network_input(x, self.in_channels, self)
            if state is not None:
                if not isinstance(state, (tuple, list)) or len(state) != 2:
                    raise TypeError(f"state must be a pair (h, c) of tensors or None, got "
                                    f"{type(state).__name__}")
                want = (x.shape[0], self.hidden_channels, *x.shape[-2:])
                for name, tensor in (("state h", state[0]), ("state c", state[1])):
                    check_network_input(tensor, self.hidden_channels, name=name)
                    if tuple(tensor.shape) != want:
                        raise ValueError(f"{name} must have shape {want} to match the input, "
                                         f"got {tuple(tensor.shape)}")
        return conv_lstm_cell(x, state, self.gates.weight, self.gates.bias)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"kernel_size={self.kernel_size}")
