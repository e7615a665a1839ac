"""PReNet: progressive recurrent deraining (Ren et al., CVPR 2019)."""

from __future__ import annotations

import torch
from torch import nn

from rainkit._validation import check_int
from rainkit.init import kaiming_init_
from rainkit.nn._common import check_network_input
from rainkit.nn.blocks.convlstm import ConvLSTMCell
from rainkit.nn.models.base import RainNet

__all__ = ["PReNet"]


class _PReNetResBlock(nn.Module):
    """PReNet's residual block: :math:`y = \\operatorname{ReLU}(x + \\operatorname{ReLU}(W_2 *
    \\operatorname{ReLU}(W_1 * x)))` (ReLU after both convolutions and after the add)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class PReNet(RainNet):
    """Progressive recurrent network: one small ResNet with a conv-LSTM, unrolled ``stages`` times.

    Written from Ren et al. (CVPR 2019). Stage :math:`t` concatenates the rainy image :math:`y`
    with the current estimate :math:`x_{t-1}` (:math:`x_0 = y`), and computes

    .. math::

        z = \\operatorname{ReLU}(W_{in} * [y, x_{t-1}]), \\quad
        (h_t, c_t) = \\operatorname{ConvLSTM}(z, (h_{t-1}, c_{t-1})), \\quad
        x_t = y + W_{out} * \\operatorname{Res}^{5}(h_t),

    with the same weights at every stage (the recurrence is what makes it light). The network
    predicts :math:`x_t - y`; here the rain layer is :math:`R = y - x_T`. Kaiming-initialised
    (``fan_out``, ReLU) like every rainkit network.

    With the paper's settings (``stages=6, channels=32, num_blocks=5``): 168,963 parameters
    (the paper quotes 0.17 M: 1,760 for :math:`W_{in}`, 73,856 for the LSTM gates, 92,480 for
    the five residual blocks, 867 for :math:`W_{out}`), about 1.01 M multiply-accumulates per
    pixel (six stages), and a receptive field of 157 x 157 pixels (measured with
    :func:`receptive_field` on a 385 x 385 input; each stage adds 26 pixels: 13 3x3
    convolutions).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and LSTM channels.
        num_blocks: residual blocks per stage.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`, the last stage's estimate; with ``return_rain=True`` a
          tuple ``(derained, rain)``. :meth:`stage_outputs` returns every stage's estimate (for
          the paper's recursive supervision).

    Example:
        >>> import torch
        >>> from rainkit.nn import PReNet
        >>> net = PReNet()
        >>> sum(p.numel() for p in net.parameters())
        168963
        >>> net(torch.rand(1, 3, 7, 13)).shape
        torch.Size([1, 3, 7, 13])

    References:
        D. Ren, W. Zuo, Q. Hu, P. Zhu, D. Meng, "Progressive Image Deraining Networks: A Better
        and Simpler Baseline", CVPR 2019.
    """

    def __init__(
        self, in_channels: int = 3, stages: int = 6, channels: int = 32, num_blocks: int = 5
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.stages = check_int(stages, "stages", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=0)
        self.head = nn.Sequential(nn.Conv2d(2 * in_channels, channels, 3, padding=1), nn.ReLU())
        self.lstm = ConvLSTMCell(channels, channels)
        self.blocks = nn.Sequential(*(_PReNetResBlock(channels) for _ in range(num_blocks)))
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")

    def _stages(self, y: torch.Tensor) -> list[torch.Tensor]:
        x = y
        state = None
        outputs = []
        for _ in range(self.stages):
            z = self.head(torch.cat([y, x], dim=1))
            state = self.lstm(z, state)
            x = y + self.tail(self.blocks(state[0]))
            outputs.append(x)
        return outputs

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The estimate after each stage, a list of ``stages`` :math:`(B, C, H, W)` tensors."""
        check_network_input(x, self.in_channels)
        return self._stages(x)

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        derained = self._stages(x)[-1]
        return derained, x - derained

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, stages={self.stages}, "
                f"channels={self.channels}, num_blocks={self.num_blocks}")
