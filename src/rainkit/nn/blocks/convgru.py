"""Convolutional GRU cell."""

from __future__ import annotations

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.nn._common import check_kernel_size, check_network_input
from rainkit.nn.blocks._fused_conv import conv2d_act, fused_inference

__all__ = ["ConvGRUCell", "conv_gru_cell"]


def conv_gru_cell(
    x: torch.Tensor,
    h: torch.Tensor | None,
    gate_weight: torch.Tensor,
    gate_bias: torch.Tensor | None,
    candidate_weight: torch.Tensor,
    candidate_bias: torch.Tensor | None,
) -> torch.Tensor:
    """One step of a convolutional GRU (update gate :math:`z`, reset gate :math:`r`).

    .. math::

        z, r = \\sigma(W_{z,r} * [x, h_{t-1}] + b_{z,r}), \\qquad
        g = \\tanh(W_g * [x, r \\odot h_{t-1}] + b_g),

        h_t = (1 - z) \\odot h_{t-1} + z \\odot g.

    This is the convention of Ren et al.'s ``PReNet_GRU`` (:math:`z` weighs the candidate;
    Cho et al. write :math:`1 - z` there). ``h=None`` stands for :math:`h_{t-1} = 0`, and only
    the :math:`x` halves of the weights are applied. CPU float32 inference fuses the activations
    into the convolutions, as :func:`~rainkit.nn.blocks.convlstm.conv_lstm_cell` does.

    Args:
        x: input :math:`(B, C_x, H, W)`.
        h: hidden state :math:`(B, C_h, H, W)` or ``None`` for zeros.
        gate_weight: :math:`(2 C_h, C_x + C_h, k, k)`, gates :math:`z, r` over :math:`[x, h]`.
        gate_bias: :math:`(2 C_h,)` or ``None``.
        candidate_weight: :math:`(C_h, C_x + C_h, k, k)` over :math:`[x, r \\odot h]`.
        candidate_bias: :math:`(C_h,)` or ``None``.

    Returns:
        :math:`h_t`, :math:`(B, C_h, H, W)`, in :math:`(-1, 1)` when :math:`h_{t-1}` is.

    Example:
        >>> import torch
        >>> from rainkit.nn.blocks.convgru import conv_gru_cell
        >>> h = conv_gru_cell(torch.rand(1, 2, 4, 4), None, torch.randn(6, 5, 3, 3), None,
        ...                   torch.randn(3, 5, 3, 3), None)
        >>> h.shape
        torch.Size([1, 3, 4, 4])
    """
    hidden = candidate_weight.shape[0]
    in_channels = candidate_weight.shape[1] - hidden
    fused = fused_inference(x)  # always False in TorchScript
    if h is None:
        z_bias = None if gate_bias is None else gate_bias[:hidden]
        z = conv2d_act(x, gate_weight[:hidden, :in_channels], z_bias, "sigmoid", fused=fused)
        g = conv2d_act(x, candidate_weight[:, :in_channels], candidate_bias, "tanh", fused=fused)
        return g.mul_(z) if fused else z * g
    h = h.to(x.dtype)
    zr = conv2d_act(torch.cat([x, h], dim=1), gate_weight, gate_bias, "sigmoid", fused=fused)
    z, r = zr.chunk(2, dim=1)
    g = conv2d_act(torch.cat([x, r * h], dim=1), candidate_weight, candidate_bias, "tanh",
                   fused=fused)
    return torch.lerp(h, g, z)


class ConvGRUCell(nn.Module):
    """A GRU cell whose gates are convolutions (Ballas et al.), as in Ren et al.'s ablation.

    .. math::

        z, r = \\sigma(W_{z,r} * [x, h_{t-1}] + b_{z,r}), \\qquad
        g = \\tanh(W_g * [x, r \\odot h_{t-1}] + b_g),

        h_t = (1 - z) \\odot h_{t-1} + z \\odot g.

    Parameters: ``gates`` (:math:`z, r`, :math:`2 C_h` outputs) and ``candidate``
    (:math:`C_h` outputs), both over :math:`C_x + C_h` channels; three quarters of a
    :class:`ConvLSTMCell`. The forward is :func:`conv_gru_cell`.

    Args:
        in_channels: channels :math:`C_x` of the input.
        hidden_channels: channels :math:`C_h` of the hidden state.
        kernel_size: odd kernel size of the convolutions.

    Shape:
        - Input: ``x`` :math:`(B, C_x, H, W)`; ``h`` :math:`(B, C_h, H, W)` or ``None`` for
          zeros.
        - Output: the new hidden state :math:`h_t`, :math:`(B, C_h, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn import ConvGRUCell
        >>> cell = ConvGRUCell(4, 8)
        >>> h = cell(torch.rand(2, 4, 5, 5))
        >>> cell(torch.rand(2, 4, 5, 5), h).shape
        torch.Size([2, 8, 5, 5])

    References:
        N. Ballas, L. Yao, C. Pal, A. Courville, "Delving Deeper into Convolutional Networks for
        Learning Video Representations", ICLR 2016. D. Ren et al., "Progressive Image Deraining
        Networks: A Better and Simpler Baseline", CVPR 2019 (table 3, PReNet with a GRU).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.hidden_channels = check_int(hidden_channels, "hidden_channels", minimum=1)
        self.kernel_size = check_kernel_size(kernel_size)
        self.gates = nn.Conv2d(in_channels + hidden_channels, 2 * hidden_channels, kernel_size,
                               padding=kernel_size // 2)
        self.candidate = nn.Conv2d(in_channels + hidden_channels, hidden_channels, kernel_size,
                                   padding=kernel_size // 2)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        if not torch.jit.is_scripting():  # TorchScript compiles neither the checks nor messages
            check_network_input(x, self.in_channels, self)
            if h is not None:
                check_network_input(h, self.hidden_channels, name="h")
                want = (x.shape[0], self.hidden_channels, *x.shape[-2:])
                if tuple(h.shape) != want:
                    raise ValueError(f"h must have shape {want} to match the input, got "
                                     f"{tuple(h.shape)}")
        return conv_gru_cell(x, h, self.gates.weight, self.gates.bias, self.candidate.weight,
                             self.candidate.bias)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"kernel_size={self.kernel_size}")
