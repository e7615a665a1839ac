"""The PReNet networks: progressive (recurrent) deraining networks of Ren et al. (CVPR 2019)."""

from __future__ import annotations

from typing import Literal, cast

import torch
from torch import nn

from rainkit._checks import check_int
from rainkit.init import kaiming_init_, zero_output_init_
from rainkit.nn.base import StagedRainNet
from rainkit.nn.blocks._fused_conv import conv2d_act, conv2d_add, fused_inference
from rainkit.nn.blocks.convgru import ConvGRUCell
from rainkit.nn.blocks.convlstm import ConvLSTMCell
from rainkit.nn.registry import register_model

__all__ = ["PRN", "PRNR", "PReNet", "PReNetGRU", "PReNetR", "PReNetReal", "PReNetX"]

Recurrent = Literal["lstm", "gru"] | None
_RECURRENT = ("lstm", "gru", None)


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

    def forward(self, x: torch.Tensor, nonnegative_input: bool = False) -> torch.Tensor:
        if not torch.jit.is_scripting():  # TorchScript compiles only the plain operators
            if fused_inference(x):
                return self._fused(x, nonnegative_input)
        return torch.relu(x + self.body(x))

    def _fused(self, x: torch.Tensor, nonnegative_input: bool) -> torch.Tensor:
        """The block on the fused CPU inference path, updating its own temporaries in place."""
        first, second = cast(nn.Conv2d, self.body[0]), cast(nn.Conv2d, self.body[2])
        r = conv2d_act(x, first.weight, first.bias, "relu", fused=True)
        r = conv2d_act(r, second.weight, second.bias, "relu", fused=True)
        r.add_(x)
        # ReLU(r) + x >= 0 already when x >= 0 (the output of a previous block): skip a pass.
        return r if nonnegative_input else r.relu_()


class _PReNetBlocks(nn.Sequential):
    """PReNet's residual blocks (keys ``blocks.0...``), applied in order ``repeats`` times: once
    for the plain networks, ``num_blocks`` times for the one shared block of the ``_r``
    variants."""

    def forward(
        self, x: torch.Tensor, repeats: int = 1, nonnegative_input: bool = False
    ) -> torch.Tensor:
        for _ in range(repeats):
            for block in self:
                x = block(x, nonnegative_input)
                nonnegative_input = True
        return x


def _channels_last_for(x: torch.Tensor, fused: bool) -> tuple[torch.Tensor, torch.memory_format]:
    """The input in oneDNN's preferred NHWC layout on the fused path, and its own layout."""
    fmt = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
           and not x.is_contiguous() else torch.contiguous_format)
    return (x.contiguous(memory_format=torch.channels_last) if fused else x), fmt


@register_model("prenet")
class PReNet(StagedRainNet):
    """Progressive recurrent network: a small ResNet and a conv-LSTM, unrolled ``stages`` times.

    Written from Ren et al. (CVPR 2019). Stage :math:`t` concatenates the rainy image :math:`y`
    with the current estimate :math:`x_{t-1}` (:math:`x_0 = y`), and computes

    .. math::

        z = \\operatorname{ReLU}(W_{in} * [y, x_{t-1}]), \\quad
        (h_t, c_t) = \\operatorname{ConvLSTM}(z, (h_{t-1}, c_{t-1})), \\quad
        x_t = y + W_{out} * \\operatorname{Res}^{5}(h_t),

    with the same weights at every stage (the recurrence is what makes it light). The network
    predicts :math:`x_t - y`; here the rain layer is :math:`R = y - x_T`. Kaiming-initialised
    (``fan_out``, ReLU) like every rainkit network.

    The options build the whole family of the paper: ``recurrent=None`` drops the recurrent
    layer (PRN, :class:`PRN`), ``recurrent="gru"`` replaces the LSTM by a
    :class:`~rainkit.nn.ConvGRUCell` (the paper's ablation, :class:`PReNetGRU`),
    ``recursive_blocks=True`` applies one residual block ``num_blocks`` times with shared weights
    (PReNet_r, :class:`PReNetR`; :class:`PRNR`), ``residual=False`` drops the final
    :math:`y +`, so that :math:`x_t = W_{out} * \\operatorname{Res}^{5}(h_t)` is the clean image
    itself (the authors' ablation class ``PReNet_LSTM``, and ``PReNet_GRU`` with
    ``recurrent="gru"``; trained that way, they do not start at the identity). The authors'
    real-rain model is another network: :class:`PReNetReal`; their ablation without :math:`y`
    in the stage input is :class:`PReNetX`.

    With the paper's settings (``stages=6, channels=32, num_blocks=5``): 168,963 parameters
    (the paper quotes 0.17 M: 1,760 for :math:`W_{in}`, 73,856 for the LSTM gates, 92,480 for
    the five residual blocks, 867 for :math:`W_{out}`), 1.01 M multiply-accumulates per pixel
    in six stages (0.97 M computed: the first stage skips :math:`W_h * h_0`), and a receptive
    field of 157 x 157 pixels (measured with :func:`~rainkit.nn.receptive_field` on a 385 x 385
    input; each stage adds 26 pixels: 13 3x3 convolutions).

    **Speed.** Under ``torch.no_grad()`` (or ``torch.inference_mode()``) on a float32 CPU
    tensor the forward runs in the NHWC layout with the activations fused into oneDNN
    convolutions, the first stage skips the LSTM's :math:`W_h * h_0` (:math:`h_0 = 0`) and the
    element-wise updates work in place: about 1.5 times faster than the authors' formulation
    with four separate gate convolutions in NCHW (``benchmarks/bench_prenet.py``; 1.45-1.53x
    on a 2-core CPU), same output to float rounding. Training, other devices,
    dtypes, autocast, ``torch.compile`` and a scripted network (:func:`torch.jit.script`, which
    compiles every network of the family and skips the input checks) run the plain operators.

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and recurrent-state channels.
        num_blocks: residual blocks per stage (with ``recursive_blocks``, applications of the
            one block).
        recurrent: ``"lstm"`` (PReNet), ``"gru"`` or ``None`` (PRN: no recurrent layer).
        recursive_blocks: one residual block applied ``num_blocks`` times (the ``_r`` variants).
        residual: add the rainy input to the output convolution (PReNet, the default); ``False``
            predicts the clean image directly (the authors' ablation files ``PReNet_LSTM``,
            ``PReNet_GRU``).

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
        >>> sum(p.numel() for p in PReNet(recurrent=None, recursive_blocks=True).parameters())
        21123

    References:
        D. Ren, W. Zuo, Q. Hu, P. Zhu, D. Meng, "Progressive Image Deraining Networks: A Better
        and Simpler Baseline", CVPR 2019.
    """

    def __init__(
        self,
        in_channels: int = 3,
        stages: int = 6,
        channels: int = 32,
        num_blocks: int = 5,
        recurrent: Recurrent = "lstm",
        recursive_blocks: bool = False,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.stages = check_int(stages, "stages", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        if not (recurrent is None or (isinstance(recurrent, str) and recurrent in _RECURRENT)):
            raise ValueError(f"recurrent must be one of 'lstm', 'gru', None, got {recurrent!r}")
        self.recurrent = recurrent
        if not isinstance(recursive_blocks, bool):
            raise TypeError(
                f"recursive_blocks must be a bool, got {type(recursive_blocks).__name__}"
            )
        self.recursive_blocks = recursive_blocks
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be a bool, got {type(residual).__name__}")
        self.residual = residual
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=1 if recursive_blocks else 0)
        self.head = nn.Sequential(nn.Conv2d(2 * in_channels, channels, 3, padding=1), nn.ReLU())
        # the cell that is not used is None (no parameters), so TorchScript drops its branch
        self.lstm = ConvLSTMCell(channels, channels) if recurrent == "lstm" else None
        self.gru = ConvGRUCell(channels, channels) if recurrent == "gru" else None
        unique = 1 if recursive_blocks else num_blocks
        self.blocks = _PReNetBlocks(*(_PReNetResBlock(channels) for _ in range(unique)))
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        if residual:  # the identity at initialisation (x_t = y); not the blocks: a ReLU follows
            zero_output_init_(self.tail)  # their last conv, so a zero one would never train

    def _stages(self, y: torch.Tensor, every: bool) -> list[torch.Tensor]:
        fused = fused_inference(y)  # always False in TorchScript
        fmt = torch.contiguous_format
        if not torch.jit.is_scripting():  # TorchScript has no memory_format type
            y, fmt = _channels_last_for(y, fused)
        # head[0] is the Conv2d of __init__, typed Module by the checker; the ignores stand for
        # typing.cast, which torch.jit.script rejects
        head, tail = self.head[0], self.tail
        repeats = self.num_blocks if self.recursive_blocks else 1
        x = y
        lstm_state: tuple[torch.Tensor, torch.Tensor] | None = None
        gru_state: torch.Tensor | None = None
        outputs: list[torch.Tensor] = []
        for _ in range(self.stages):
            z = conv2d_act(torch.cat([y, x], dim=1), head.weight, head.bias,  # type: ignore[arg-type]
                           "relu", fused=fused)
            if self.lstm is not None:
                lstm_state = self.lstm(z, lstm_state)
                z = lstm_state[0]
            elif self.gru is not None:
                gru_state = self.gru(z, gru_state)
                z = gru_state
            z = self.blocks(z, repeats, self.lstm is None and self.gru is None)
            if self.residual:
                x = conv2d_add(z, tail.weight, tail.bias, y, fused=fused)
            else:
                x = conv2d_act(z, tail.weight, tail.bias, fused=fused)
            if every:
                outputs.append(x.contiguous(memory_format=fmt) if fused else x)
        return outputs if every else [x.contiguous(memory_format=fmt) if fused else x]


    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, stages={self.stages}, "
                f"channels={self.channels}, num_blocks={self.num_blocks}, "
                f"recurrent={self.recurrent!r}, recursive_blocks={self.recursive_blocks}, "
                f"residual={self.residual}")


@register_model("prn")
class PRN(PReNet):
    """PRN: :class:`PReNet` without the recurrent layer (Ren et al., section 3.1).

    Each stage is :math:`x_t = y + W_{out} * \\operatorname{Res}^5(\\operatorname{ReLU}(W_{in} *
    [y, x_{t-1}]))`; only the estimate :math:`x_{t-1}` links the stages. Same as
    ``PReNet(recurrent=None)``.

    With the paper's settings: 95,107 parameters, about 0.57 M multiply-accumulates per pixel
    and a receptive field of 145 x 145 pixels (measured on 385 x 385; 12 3x3 convolutions per
    stage).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of stages :math:`T`.
        channels: feature channels.
        num_blocks: residual blocks per stage.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; see :class:`PReNet`.

    Example:
        >>> from rainkit.nn import PRN
        >>> sum(p.numel() for p in PRN().parameters())
        95107
    """

    def __init__(
        self, in_channels: int = 3, stages: int = 6, channels: int = 32, num_blocks: int = 5
    ) -> None:
        super().__init__(in_channels, stages, channels, num_blocks, recurrent=None)


@register_model("prenet_r")
class PReNetR(PReNet):
    """PReNet_r: :class:`PReNet` with one residual block applied ``num_blocks`` times.

    The intra-stage recursion of Ren et al. (section 3.2): the five residual blocks share their
    weights. Same as ``PReNet(recursive_blocks=True)``.

    With the paper's settings: 94,979 parameters, the same 0.97 M multiply-accumulates per
    pixel and 157 x 157 receptive field as :class:`PReNet` (measured on 385 x 385).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and LSTM channels.
        num_blocks: applications of the shared residual block per stage (at least 1).

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; see :class:`PReNet`.

    Example:
        >>> from rainkit.nn import PReNetR
        >>> sum(p.numel() for p in PReNetR().parameters())
        94979
    """

    def __init__(
        self, in_channels: int = 3, stages: int = 6, channels: int = 32, num_blocks: int = 5
    ) -> None:
        super().__init__(in_channels, stages, channels, num_blocks, recursive_blocks=True)


@register_model("prn_r")
class PRNR(PReNet):
    """PRN_r: :class:`PRN` with one residual block applied ``num_blocks`` times.

    Same as ``PReNet(recurrent=None, recursive_blocks=True)``: the lightest network of the
    paper. With the paper's settings: 21,123 parameters, 0.57 M multiply-accumulates per pixel,
    a receptive field of 145 x 145 pixels (measured on 385 x 385).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of stages :math:`T`.
        channels: feature channels.
        num_blocks: applications of the shared residual block per stage (at least 1).

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; see :class:`PReNet`.

    Example:
        >>> from rainkit.nn import PRNR
        >>> sum(p.numel() for p in PRNR().parameters())
        21123
    """

    def __init__(
        self, in_channels: int = 3, stages: int = 6, channels: int = 32, num_blocks: int = 5
    ) -> None:
        super().__init__(in_channels, stages, channels, num_blocks, recurrent=None,
                         recursive_blocks=True)


@register_model("prenet_gru")
class PReNetGRU(PReNet):
    """:class:`PReNet` with a convolutional GRU instead of the LSTM (the paper's ablation).

    Same as ``PReNet(recurrent="gru")``; the recurrent layer is a
    :class:`~rainkit.nn.ConvGRUCell` with Ren et al.'s gate convention. By default it keeps
    PReNet's residual prediction :math:`x_t = y + \\dots`, like every other trainable member of
    the family here. The authors' ablation class ``PReNet_GRU`` (their released file
    ``Ablation/PReNet6_GRU``) outputs :math:`x_t = W_{out} * \\operatorname{Res}^5(h_t)` without
    adding :math:`y`: ``residual=False`` reproduces it.

    With the paper's settings: 150,499 parameters, 0.86 M multiply-accumulates per pixel
    and a receptive field of 167 x 167 pixels (measured on 385 x 385: the reset gate puts two
    convolutions on the path from the stage input to the candidate state, 14 per stage).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and GRU channels.
        num_blocks: residual blocks per stage.
        residual: add the rainy input to the output convolution (default); ``False`` predicts
            the clean image directly, as the authors' ``PReNet_GRU``.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; see :class:`PReNet`.

    Example:
        >>> from rainkit.nn import PReNetGRU
        >>> sum(p.numel() for p in PReNetGRU().parameters())
        150499
    """

    def __init__(
        self, in_channels: int = 3, stages: int = 6, channels: int = 32, num_blocks: int = 5,
        residual: bool = True,
    ) -> None:
        super().__init__(in_channels, stages, channels, num_blocks, recurrent="gru",
                         residual=residual)


@register_model("prenet_real")
class PReNetReal(StagedRainNet):
    """The PReNet authors' real-rain network (their ``generator.py``, ``Generator_lstm``).

    Not a :class:`PReNet` with other weights: per stage the residual blocks come *before* the
    conv-LSTM, and the output convolution gives the clean image directly,

    .. math::

        z = \\operatorname{Res}^{5}(\\operatorname{ReLU}(W_{in} * [y, x_{t-1}])), \\quad
        (h_t, c_t) = \\operatorname{ConvLSTM}(z, (h_{t-1}, c_{t-1})), \\quad
        x_t = W_{out} * h_t,

    with :math:`x_0 = y` and 4 stages (their ``test_real.py``). The rain layer is
    :math:`R = y - x_T`. Its output convolution is called ``out_conv`` (not ``tail``), so a
    :class:`PReNet` state dict does not load into it, nor the converse.

    With the default settings: 168,963 parameters (the same tensors as :class:`PReNet`), 0.64 M
    multiply-accumulates per pixel (four stages) and a receptive field of 105 x 105
    pixels (measured on 385 x 385; 13 3x3 convolutions per stage).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and LSTM channels.
        num_blocks: residual blocks per stage.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; :meth:`stage_outputs` returns every stage's estimate.

    Example:
        >>> import torch
        >>> from rainkit.nn import PReNetReal
        >>> net = PReNetReal()
        >>> sum(p.numel() for p in net.parameters())
        168963
        >>> len(net.stage_outputs(torch.rand(1, 3, 5, 6)))
        4
    """

    #: an exact port of the authors' real-rain class: no identity-at-init default
    exact_port = True

    def __init__(
        self, in_channels: int = 3, stages: int = 4, channels: int = 32, num_blocks: int = 5
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.stages = check_int(stages, "stages", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=0)
        self.head = nn.Sequential(nn.Conv2d(2 * in_channels, channels, 3, padding=1), nn.ReLU())
        self.blocks = _PReNetBlocks(*(_PReNetResBlock(channels) for _ in range(num_blocks)))
        self.lstm = ConvLSTMCell(channels, channels)
        self.out_conv = nn.Conv2d(channels, in_channels, 3, padding=1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")

    def _stages(self, y: torch.Tensor, every: bool) -> list[torch.Tensor]:
        fused = fused_inference(y)  # always False in TorchScript
        fmt = torch.contiguous_format
        if not torch.jit.is_scripting():  # TorchScript has no memory_format type
            y, fmt = _channels_last_for(y, fused)
        head, out = self.head[0], self.out_conv  # no typing.cast: see PReNet._stages
        x = y
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        outputs: list[torch.Tensor] = []
        for _ in range(self.stages):
            z = conv2d_act(torch.cat([y, x], dim=1), head.weight, head.bias,  # type: ignore[arg-type]
                           "relu", fused=fused)
            z = self.blocks(z, 1, True)
            state = self.lstm(z, state)
            x = conv2d_act(state[0], out.weight, out.bias, fused=fused)
            if every:
                outputs.append(x.contiguous(memory_format=fmt) if fused else x)
        return outputs if every else [x.contiguous(memory_format=fmt) if fused else x]


    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, stages={self.stages}, "
                f"channels={self.channels}, num_blocks={self.num_blocks}")


@register_model("prenet_x")
class PReNetX(StagedRainNet):
    """PReNet_x: the paper's ablation whose stages see only the previous estimate, not :math:`y`.

    Written from the authors' class ``PReNet_x`` (Ren et al., CVPR 2019, the ablation on the
    stage input). Stage :math:`t` computes

    .. math::

        z = \\operatorname{ReLU}(W_{in} * x_{t-1}), \\quad
        (h_t, c_t) = \\operatorname{ConvLSTM}(z, (h_{t-1}, c_{t-1})), \\quad
        x_t = x_{t-1} + W_{out} * \\operatorname{Res}^{5}(h_t),

    with :math:`x_0 = y` and the same weights at every stage: unlike :class:`PReNet`, the input
    convolution reads :math:`C` channels, not :math:`2C`, so a :class:`PReNet` state dict does
    not load into it. With ``residual=False`` the stage predicts the image itself,
    :math:`x_t = W_{out} * \\operatorname{Res}^{5}(h_t)`: that is the authors' class and their
    released file ``Ablation/PReNet6_x``. The default adds :math:`x_{t-1}`, so that a fresh
    network (zero output convolution) returns its input. The rain layer is :math:`R = y - x_T`.

    With the default settings: 168,099 parameters (864 fewer than :class:`PReNet`: the input
    convolution's :math:`y` half) and a receptive field of 157 x 157 pixels (13 3x3
    convolutions per stage, as :class:`PReNet`).

    Args:
        in_channels: image channels :math:`C`.
        stages: number of recurrent stages :math:`T`.
        channels: feature and LSTM channels.
        num_blocks: residual blocks per stage.
        residual: add the previous estimate to the output convolution (default); ``False``
            predicts the clean image directly, as the authors' ``PReNet_x``.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; :meth:`stage_outputs` returns every stage's estimate.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.prenet import PReNetX
        >>> net = PReNetX()
        >>> sum(p.numel() for p in net.parameters())
        168099
        >>> x = torch.rand(1, 3, 5, 6)
        >>> bool((net(x) == x).all())  # a fresh network returns its input
        True

    References:
        D. Ren, W. Zuo, Q. Hu, P. Zhu, D. Meng, "Progressive Image Deraining Networks: A Better
        and Simpler Baseline", CVPR 2019 (ablation on the stage input; the authors' released
        ``networks.py``, class ``PReNet_x``).
    """

    def __init__(
        self, in_channels: int = 3, stages: int = 6, channels: int = 32, num_blocks: int = 5,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.stages = check_int(stages, "stages", minimum=1)
        self.channels = check_int(channels, "channels", minimum=1)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=0)
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be a bool, got {type(residual).__name__}")
        self.residual = residual
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU())
        self.lstm = ConvLSTMCell(channels, channels)
        self.blocks = _PReNetBlocks(*(_PReNetResBlock(channels) for _ in range(num_blocks)))
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        kaiming_init_(self, mode="fan_out", nonlinearity="relu")
        zero_output_init_(self.tail)  # the identity (blocks stay: a ReLU follows their last conv)

    def _stages(self, y: torch.Tensor, every: bool) -> list[torch.Tensor]:
        fused = fused_inference(y)  # always False in TorchScript
        fmt = torch.contiguous_format
        if not torch.jit.is_scripting():  # TorchScript has no memory_format type
            y, fmt = _channels_last_for(y, fused)
        head, tail = self.head[0], self.tail  # no typing.cast: see PReNet._stages
        x = y
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        outputs: list[torch.Tensor] = []
        for _ in range(self.stages):
            z = conv2d_act(x, head.weight, head.bias, "relu", fused=fused)  # type: ignore[arg-type]
            state = self.lstm(z, state)
            z = self.blocks(state[0], 1, False)
            if self.residual:
                x = conv2d_add(z, tail.weight, tail.bias, x, fused=fused)
            else:
                x = conv2d_act(z, tail.weight, tail.bias, fused=fused)
            if every:
                outputs.append(x.contiguous(memory_format=fmt) if fused else x)
        return outputs if every else [x.contiguous(memory_format=fmt) if fused else x]


    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, stages={self.stages}, "
                f"channels={self.channels}, num_blocks={self.num_blocks}, "
                f"residual={self.residual}")
