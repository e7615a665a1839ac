"""NeRD-Rain (Chen et al., CVPR 2024): bidirectional multiscale transformer with implicit neural
representations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_choice, check_int, check_positive
from rainkit.nn._common import check_network_input
from rainkit.nn.base import RainNet
from rainkit.nn.blocks._fused_conv import fused_inference
from rainkit.nn.blocks.bidirectional_fusion import BidirectionalFusion
from rainkit.nn.blocks.gated_feed_forward import gated_gelu, hidden_width
from rainkit.nn.blocks.implicit_neural_representation import ImplicitNeuralRepresentation
from rainkit.nn.blocks.layer_norm import (
    BiasFreeLayerNorm2d,
    LayerNorm2d,
    bias_free_layer_norm_2d,
)
from rainkit.nn.families.mprnet.network import reflect_pad_to_multiple
from rainkit.nn.registry import register_model

__all__ = ["NeRDRain", "NeRDRainS", "window_merge", "window_partition"]

_OP = torch.ops.mkldnn._convolution_pointwise


def _conv(x: torch.Tensor, weight: torch.Tensor, fused: bool, groups: int = 1,
          act: str = "none", other: torch.Tensor | None = None, binary: str = "add"
          ) -> torch.Tensor:
    """A bias-free 'same' convolution, optionally followed by GELU (``act="gelu"``) or combined
    with ``other`` (``binary``: ``"add"`` or ``"mul"``); one oneDNN call on the fused path."""
    pad = weight.shape[-1] // 2
    if fused:
        if other is not None:
            combined: torch.Tensor = _OP.binary(x, other, weight, None, [pad, pad], [1, 1],
                                                [1, 1], groups, binary, None, None, [], None)
            return combined
        out: torch.Tensor = _OP(x, weight, None, [pad, pad], [1, 1], [1, 1], groups, act, [],
                                "none" if act == "gelu" else None)
        return out
    y = F.conv2d(x, weight, padding=pad, groups=groups)
    if act == "gelu":
        y = F.gelu(y)
    if other is not None:
        y = y + other if binary == "add" else y * other
    return y


class _BasicConv(nn.Module):
    """The authors' ``BasicConv`` wrapper of the depthwise convolutions (key ``main.0``)."""

    def __init__(self, channels: int, bias: bool) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=channels,
                                            bias=bias))


class _Norm(nn.Module):
    """The authors' ``LayerNorm`` wrapper (key ``body``) around a channel LayerNorm."""

    def __init__(self, channels: int, kind: str) -> None:
        super().__init__()
        self.channels = channels
        self.body = LayerNorm2d(channels) if kind == "WithBias" else BiasFreeLayerNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.body, LayerNorm2d):
            # layer_norm_2d's computation, with the channel count as a Python int (a traced
            # x.shape[1] would stop the TorchScript-based ONNX export)
            return F.layer_norm(x.permute(0, 2, 3, 1), (self.channels,), self.body.weight,
                                self.body.bias, 1e-5).permute(0, 3, 1, 2)
        return bias_free_layer_norm_2d(x, self.body.weight)


class _Attention(nn.Module):
    """Multi-Dconv head transposed attention (Restormer's MDTA) with NeRD-Rain's keys."""

    def __init__(self, dim: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=bias)
        self.qkv_dwconv = _BasicConv(3 * dim, bias)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=bias)

    def residual(self, x: torch.Tensor, normed: torch.Tensor, fused: bool) -> torch.Tensor:
        """``x + attention(normed)``.

        Written as :math:`x + M V` with :math:`M = W_{out} \\operatorname{blockdiag}_h(A_h)`:
        the :math:`c \\times c` attention of each head (softmax of the Gram matrix of the
        L2-normalised queries and keys, times the temperature) folded into ``project_out``, so
        neither the normalised queries and keys, nor ``attn @ v``, are materialised.
        """
        dwconv = cast(nn.Conv2d, self.qkv_dwconv.main[0])  # the depthwise Conv2d
        if self.qkv.bias is not None or dwconv.bias is not None:
            qkv: torch.Tensor = dwconv(self.qkv(normed))
        else:
            qkv = _conv(_conv(normed, self.qkv.weight, fused), dwconv.weight, fused,
                        groups=dwconv.weight.shape[0])
        b, c3, h, w = qkv.shape
        c = c3 // 3
        flat = qkv.flatten(2)  # (B, 3C, N), a view in either layout
        q, k, v = flat[:, :c], flat[:, c:2 * c], flat[:, 2 * c:]
        ch = c // self.heads
        qn = torch.linalg.vector_norm(q, dim=-1).clamp_min(1e-12)
        kn = torch.linalg.vector_norm(k, dim=-1).clamp_min(1e-12)
        w_out = self.project_out.weight.flatten(1)
        blocks = []
        for i in range(self.heads):
            s = slice(i * ch, (i + 1) * ch)
            gram = torch.matmul(q[:, s], k[:, s].transpose(1, 2))
            scale = self.temperature[i] / (qn[:, s, None] * kn[:, None, s])
            blocks.append(torch.matmul(w_out[:, s], torch.softmax(gram * scale, dim=-1)))
        mix = torch.cat(blocks, 2) if self.heads > 1 else blocks[0]  # (B, C, C)
        out_bias = self.project_out.bias
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            x_rows = x.permute(0, 2, 3, 1).reshape(b, h * w, c)
            y = torch.baddbmm(x_rows, v.transpose(1, 2), mix.transpose(1, 2))
            y = y.view(b, h, w, c).permute(0, 3, 1, 2)
        else:
            y = torch.baddbmm(x.reshape(b, c, h * w), mix, v).view(b, c, h, w)
        return y if out_bias is None else y + out_bias[:, None, None]


class _FeedForward(nn.Module):
    """Gated-Dconv feed-forward network (Restormer's GDFN) with NeRD-Rain's keys."""

    def __init__(self, dim: int, expansion: float, bias: bool) -> None:
        super().__init__()
        self.hidden = hidden_width(dim, expansion)
        self.project_in = nn.Conv2d(dim, 2 * self.hidden, 1, bias=bias)
        self.dwconv = _BasicConv(2 * self.hidden, bias)
        self.project_out = nn.Conv2d(self.hidden, dim, 1, bias=bias)

    def residual(self, x: torch.Tensor, normed: torch.Tensor, fused: bool) -> torch.Tensor:
        """``x + ffn(normed)``; on the fused path the two halves run as separate oneDNN
        convolutions, the GELU inside the first depthwise one and the gate product inside the
        second, the skip inside ``project_out``."""
        dw = cast(nn.Conv2d, self.dwconv.main[0])  # the depthwise Conv2d
        has_bias = any(m.bias is not None for m in (self.project_in, dw, self.project_out))
        if has_bias or not fused:
            y = gated_gelu(dw(self.project_in(normed)))
            out: torch.Tensor = x + self.project_out(y)
            return out
        hd = self.hidden
        w_in, w_dw = self.project_in.weight, dw.weight
        gate = _conv(_conv(normed, w_in[:hd], True), w_dw[:hd], True, groups=hd, act="gelu")
        y = _conv(_conv(normed, w_in[hd:], True), w_dw[hd:], True, groups=hd, other=gate,
                  binary="mul")
        return _conv(y, self.project_out.weight, True, other=x)


class _TransformerBlock(nn.Module):
    """Restormer's transformer block: :math:`x + \\text{MDTA}(\\text{LN}(x))`, then
    :math:`x + \\text{GDFN}(\\text{LN}(x))`."""

    def __init__(self, dim: int, heads: int, expansion: float, bias: bool, norm: str) -> None:
        super().__init__()
        self.norm1 = _Norm(dim, norm)
        self.attn = _Attention(dim, heads, bias)
        self.norm2 = _Norm(dim, norm)
        self.ffn = _FeedForward(dim, expansion, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = fused_inference(x)
        x = self.attn.residual(x, self.norm1(x), fused)
        return self.ffn.residual(x, self.norm2(x), fused)


class _Embed(nn.Module):
    def __init__(self, cin: int, dim: int, bias: bool) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, dim, 3, padding=1, bias=bias)


class _Resample(nn.Module):
    """3x3 convolution then pixel-unshuffle (``down``: C -> 2C, half size) or pixel-shuffle
    (``up``: C -> C/2, double size); key ``body.0``."""

    def __init__(self, channels: int, down: bool) -> None:
        super().__init__()
        self.down = down
        shuffle: nn.Module = nn.PixelUnshuffle(2) if down else nn.PixelShuffle(2)
        out = channels // 2 if down else channels * 2
        self.body = nn.Sequential(nn.Conv2d(channels, out, 3, padding=1, bias=False), shuffle)

    def forward(self, x: torch.Tensor, fused: bool = False) -> torch.Tensor:
        y = _conv(x, cast(nn.Conv2d, self.body[0]).weight, fused)  # the Conv2d of __init__
        return F.pixel_unshuffle(y, 2) if self.down else F.pixel_shuffle(y, 2)


def _half(x: torch.Tensor) -> torch.Tensor:
    """``F.interpolate(x, scale_factor=0.5)`` (nearest): every second pixel from the first."""
    return x[:, :, ::2, ::2]


def _double(x: torch.Tensor) -> torch.Tensor:
    """``F.interpolate(x, scale_factor=2)`` (nearest)."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def _conv_module(conv: nn.Conv2d, x: torch.Tensor, fused: bool,
                 other: torch.Tensor | None = None) -> torch.Tensor:
    """``conv(x) (+ other)``, fused on the CPU inference path when the convolution has no bias."""
    if conv.bias is not None:
        y: torch.Tensor = conv(x)
        return y if other is None else y + other
    return _conv(x, conv.weight, fused, other=other)


def window_partition(x: torch.Tensor, window: tuple[int, int]
                     ) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Cut :math:`(B, C, H, W)` into windows as NeRD-Rain's ``test.py`` (``window_partitionx``).

    The :math:`\\lfloor H / w_h \\rfloor \\times \\lfloor W / w_w \\rfloor` grid from the top left;
    when :math:`W` is not a multiple of :math:`w_w`, a column of windows flush with the right
    edge; when :math:`H` is not, a row flush with the bottom edge; when neither, the bottom-right
    window. Needs :math:`H \\ge w_h` and :math:`W \\ge w_w`.

    Returns:
        The windows :math:`(n B, C, w_h, w_w)` (window-major, then batch) and their top-left
        corners.
    """
    wh, ww = window
    h, w = x.shape[-2], x.shape[-1]
    rows = list(range(0, h - wh + 1, wh))
    cols = list(range(0, w - ww + 1, ww))
    corners = [(r, c) for r in rows for c in cols]
    if w % ww:
        corners += [(r, w - ww) for r in rows]
    if h % wh:
        corners += [(h - wh, c) for c in cols]
    if h % wh and w % ww:
        corners.append((h - wh, w - ww))
    windows = torch.cat([x[:, :, r:r + wh, c:c + ww] for r, c in corners], 0)
    return windows, corners


def window_merge(windows: torch.Tensor, corners: list[tuple[int, int]], size: tuple[int, int]
                 ) -> torch.Tensor:
    """Put windows back as NeRD-Rain's ``window_reversex``: the grid windows fill the
    :math:`\\lfloor H / w_h \\rfloor w_h \\times \\lfloor W / w_w \\rfloor w_w` top-left area;
    the edge windows give only the leftover columns and rows (their last ones)."""
    n = len(corners)
    b = windows.shape[0] // n
    wh, ww = windows.shape[-2], windows.shape[-1]
    h, w = size
    hg, wg = h - h % wh, w - w % ww
    out = windows.new_empty(b, windows.shape[1], h, w)
    for i, (r, c) in enumerate(corners):
        win = windows[i * b:(i + 1) * b]
        r0, c0 = max(r, hg) if r + wh > hg else r, max(c, wg) if c + ww > wg else c
        out[:, :, r0:r + wh, c0:c + ww] = win[:, :, r0 - r:, c0 - c:]
    return out


def _levels(value: object, name: str) -> tuple[int, int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * 3
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
        raise TypeError(f"{name} must be an int or a sequence of 3 ints, got {value!r}")
    first, second, third = (check_int(v, name, minimum=1) for v in value)
    return first, second, third


@register_model("nerdrain")
class NeRDRain(RainNet):
    """NeRD-Rain: three coupled Restormer-style U-Nets at 1/4, 1/2 and full scale, with implicit
    neural representations and bidirectional fusion.

    Written from Chen et al. (CVPR 2024) and checked against their ``model.py``. The 1/4-scale
    branch encodes the input downsampled by 4 (nearest); its latent, upsampled to the 1/2
    scale, is decoded by an :class:`~rainkit.nn.blocks.ImplicitNeuralRepresentation` into a
    correction of the 1/4 image, which is upsampled and added to the 1/2-scale input; the same
    again from 1/2 to full scale. The full-scale branch runs three U-Nets in a row, the 1/2-scale
    branch two; their latents are fused across scales
    (:class:`~rainkit.nn.blocks.BidirectionalFusion`) and fed back to the coarser branches,
    whose decoders then pass their
    features up (coarse-to-fine). Every unit is a Restormer transformer block (MDTA attention
    and GDFN feed-forward, channel LayerNorm); the result is :math:`x + \\text{conv}(\\cdot)`.

    **Test-time processing.** The network needs :math:`H, W` divisible by 16. As the authors'
    ``test.py``, the image is cut into ``window_size`` windows (default 256: the grid from the
    top left, then windows flush with the right and bottom edges), every window goes through
    the network, and the grid plus the leftover strips are put back
    (:func:`window_partition`, :func:`window_merge`). A side shorter than ``window_size``
    (where the authors' script fails) is reflect-padded to a multiple of 16 and taken whole.
    ``window_size=None`` runs the whole image, reflect-padded to multiples of 16. Outputs are not
    clamped (the authors clamp before saving).

    **Weights.** The authors' state dict loads as it is (after the reader removed the
    ``state_dict`` wrapper and any ``module.`` prefix). ``reduce_chan_level1_max3`` is in the
    file but unused by the authors' forward (it calls ``reduce_chan_level1_max2`` twice), and so
    here. NeRD-Rain (``dim=48``): 22,893,146 parameters; NeRD-Rain-S (``dim=32``,
    :class:`NeRDRainS`): 10,530,314.

    **Initialisation.** PyTorch's default (the authors'), except the three output convolutions
    and the last layer of both INRs, which start at zero: a fresh network returns its input, at
    every scale.

    **Speed.** The INRs run one MLP pass as convolutions instead of four identical passes over
    unfolded features; the transposed attention folds its softmax matrix into ``project_out``
    (no normalised copies, one matrix product with the residual); under ``torch.no_grad()`` on
    float32 CPU tensors the network runs in NHWC with the LayerNorms on contiguous channels, the
    GELU and the gate product inside the depthwise oneDNN convolutions and the skips inside the
    output convolutions (``benchmarks/bench_nerdrain.py``).

    Args:
        in_channels: image channels (in and out).
        dim: channels of the first level (48; NeRD-Rain-S 32).
        num_blocks: transformer blocks per level (first, second, latent); an int for all.
        heads: attention heads per level.
        ffn_expansion_factor: GDFN expansion (hidden width ``int(dim * factor)``, truncated).
        bias: whether the transformer convolutions have a bias (released: no).
        layernorm_type: ``"WithBias"`` (released) or ``"BiasFree"``.
        window_size: test-time window (a multiple of 16), or ``None`` for the whole image.

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`. :meth:`stage_outputs` returns the seven images of the
          authors' forward (whole image, padded to multiples of 16 and cropped), for the
          paper's loss (:func:`~rainkit.nn.families.nerdrain.nerdrain_loss`).

    Example:
        >>> import torch
        >>> from rainkit.nn import build_model
        >>> sum(p.numel() for p in build_model("nerdrain").parameters())
        22893146
        >>> net = build_model("nerdrain", dim=8, num_blocks=1)
        >>> net(torch.rand(1, 3, 21, 30)).shape
        torch.Size([1, 3, 21, 30])

    References:
        X. Chen, J. Pan, J. Dong, "Bidirectional Multi-Scale Implicit Neural Representations for
        Image Deraining", CVPR 2024.
    """

    #: read by no forward of the authors' code, kept so their checkpoints load strictly
    unused_parameters: ClassVar[tuple[str, ...]] = ("reduce_chan_level1_max3",)

    def __init__(
        self,
        in_channels: int = 3,
        dim: int = 48,
        num_blocks: int | Sequence[int] = (2, 3, 3),
        heads: int | Sequence[int] = (1, 2, 4),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        layernorm_type: str = "WithBias",
        window_size: int | None = 256,
    ) -> None:
        super().__init__()
        self.in_channels = c = check_int(in_channels, "in_channels", minimum=1)
        self.dim = d = check_int(dim, "dim", minimum=1)
        self.num_blocks = nb = _levels(num_blocks, "num_blocks")
        self.heads = hs = _levels(heads, "heads")
        for level, (width, h) in enumerate(zip((d, 2 * d, 4 * d), hs, strict=True)):
            if width % h:
                raise ValueError(f"heads[{level}] must divide the {width} channels of level "
                                 f"{level}, got {h}")
        if d % 2:
            raise ValueError(f"dim must be even (the downsampling halves it), got {d}")
        self.ffn_expansion_factor = check_positive(ffn_expansion_factor, "ffn_expansion_factor")
        self.bias = check_bool(bias, "bias")
        self.layernorm_type = check_choice(layernorm_type, ("WithBias", "BiasFree"),
                                           "layernorm_type")
        if window_size is not None:
            check_int(window_size, "window_size", minimum=16)
            if window_size % 16:
                raise ValueError(f"window_size must be a multiple of 16 or None, got "
                                 f"{window_size}")
        self.window_size = window_size
        ef, nt = self.ffn_expansion_factor, self.layernorm_type

        def stack(level: int) -> nn.Sequential:
            return nn.Sequential(*(_TransformerBlock(d * 2 ** level, hs[level], ef, bias, nt)
                                   for _ in range(nb[level])))

        def reduce(level: int) -> nn.Conv2d:  # 2^(level+1) d -> 2^level d, 1x1
            return nn.Conv2d(d * 2 ** (level + 1), d * 2 ** level, 1, bias=bias)

        def conv3(cout: int) -> nn.Conv2d:
            return nn.Conv2d(d, cout, 3, padding=1, bias=bias)

        # Registered in the authors' order, so state_dict() lists their keys in their order.
        self.patch_embed_small = _Embed(c, d, bias)
        self.encoder_level1_small = stack(0)
        self.down1_2_small = _Resample(d, down=True)
        self.encoder_level2_small = stack(1)
        self.down2_3_small = _Resample(2 * d, down=True)
        self.latent_small = stack(2)
        self.up3_2_small = _Resample(4 * d, down=False)
        self.reduce_chan_level2_small = reduce(1)
        self.decoder_level2_small = stack(1)
        self.up2_1_small = _Resample(2 * d, down=False)
        self.reduce_chan_level1_small = reduce(0)
        self.decoder_level1_small = stack(0)
        self.output_small = conv3(c)
        self.INR = ImplicitNeuralRepresentation(d, out_channels=c)
        self.patch_embed_mid = _Embed(c, d, bias)
        # The two U-Nets at 1/2 scale and the three at full scale: the copies of each module
        # side by side (the first resamplers' names have no number), as the authors register them.
        self.encoder_level1_mid1, self.encoder_level1_mid2 = stack(0), stack(0)
        self.down1_2_mid, self.down1_2_mid2 = _Resample(d, True), _Resample(d, True)
        self.encoder_level2_mid1, self.encoder_level2_mid2 = stack(1), stack(1)
        self.down2_3_mid, self.down2_3_mid2 = _Resample(2 * d, True), _Resample(2 * d, True)
        self.latent_mid1, self.latent_mid2 = stack(2), stack(2)
        self.up3_2_mid, self.up3_2_mid2 = _Resample(4 * d, False), _Resample(4 * d, False)
        self.reduce_chan_level2_mid1, self.reduce_chan_level2_mid2 = reduce(1), reduce(1)
        self.decoder_level2_mid1, self.decoder_level2_mid2 = stack(1), stack(1)
        self.up2_1_mid, self.up2_1_mid2 = _Resample(2 * d, False), _Resample(2 * d, False)
        self.reduce_chan_level1_mid1, self.reduce_chan_level1_mid2 = reduce(0), reduce(0)
        self.decoder_level1_mid1, self.decoder_level1_mid2 = stack(0), stack(0)
        self.output_mid = conv3(c)
        self.output_mid_context = conv3(d)
        self.INR2 = ImplicitNeuralRepresentation(d, out_channels=c)
        self.patch_embed_max = _Embed(c, d, bias)
        self.encoder_level1_max1, self.encoder_level1_max2, self.encoder_level1_max3 = (
            stack(0), stack(0), stack(0))
        self.down1_2_max, self.down1_2_max2, self.down1_2_max3 = (
            _Resample(d, True), _Resample(d, True), _Resample(d, True))
        self.encoder_level2_max1, self.encoder_level2_max2, self.encoder_level2_max3 = (
            stack(1), stack(1), stack(1))
        self.down2_3_max, self.down2_3_max2, self.down2_3_max3 = (
            _Resample(2 * d, True), _Resample(2 * d, True), _Resample(2 * d, True))
        self.latent_max1, self.latent_max2, self.latent_max3 = stack(2), stack(2), stack(2)
        self.up3_2_max, self.up3_2_max2, self.up3_2_max3 = (
            _Resample(4 * d, False), _Resample(4 * d, False), _Resample(4 * d, False))
        self.reduce_chan_level2_max1, self.reduce_chan_level2_max2, self.reduce_chan_level2_max3 = (
            reduce(1), reduce(1), reduce(1))
        self.decoder_level2_max1, self.decoder_level2_max2, self.decoder_level2_max3 = (
            stack(1), stack(1), stack(1))
        self.up2_1_max, self.up2_1_max2, self.up2_1_max3 = (
            _Resample(2 * d, False), _Resample(2 * d, False), _Resample(2 * d, False))
        self.reduce_chan_level1_max1, self.reduce_chan_level1_max2, self.reduce_chan_level1_max3 = (
            reduce(0), reduce(0), reduce(0))
        self.decoder_level1_max1, self.decoder_level1_max2, self.decoder_level1_max3 = (
            stack(0), stack(0), stack(0))
        self.output_max = conv3(c)
        self.output_max_context1 = conv3(d)
        self.output_max_context2 = conv3(d)
        self.BF1 = BidirectionalFusion(4 * d)
        self.BF2 = BidirectionalFusion(4 * d)
        self.BF3 = BidirectionalFusion(4 * d)
        self.upsmall2mid1 = _Resample(4 * d, down=False)
        self.upsmall2mid2 = _Resample(2 * d, down=False)
        self.upmid2max1 = _Resample(4 * d, down=False)
        self.upmid2max2 = _Resample(2 * d, down=False)
        self.reset_output_()

    def reset_output_(self) -> NeRDRain:
        """Zero the three output convolutions and the last layer of both INRs: the network then
        returns its input at every scale (the trainable default's identity at initialisation)."""
        with torch.no_grad():
            # the INRs' MLPs (a Sequential) end in a Linear
            inr_last = [cast(nn.Linear, cast(nn.Sequential, inr.imnet.layers)[-1])
                        for inr in (self.INR, self.INR2)]
            layers: list[nn.Conv2d | nn.Linear] = [self.output_small, self.output_mid,
                                                   self.output_max, *inr_last]
            for layer in layers:
                layer.weight.zero_()
                if layer.bias is not None:
                    layer.bias.zero_()
        return self

    # -- the network on sizes divisible by 16 -------------------------------------------------
    def _unet(self, x: torch.Tensor, enc1: nn.Sequential, down12: _Resample, enc2: nn.Sequential,
              down23: _Resample, latent: nn.Sequential, fused: bool
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        e1: torch.Tensor = enc1(x)
        e2: torch.Tensor = enc2(down12(e1, fused))
        z: torch.Tensor = latent(down23(e2, fused))
        return e1, e2, z

    def _decode(self, z: torch.Tensor, e2: torch.Tensor, e1: torch.Tensor, up32: _Resample,
                red2: nn.Conv2d, dec2: nn.Sequential, up21: _Resample, red1: nn.Conv2d,
                dec1: nn.Sequential, fused: bool, up_done: bool = False) -> torch.Tensor:
        y = z if up_done else up32(z, fused)
        y = dec2(_conv_module(red2, torch.cat([y, e2], 1), fused))
        y = _conv_module(red1, torch.cat([up21(y, fused), e1], 1), fused)
        out: torch.Tensor = dec1(y)
        return out

    def _forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The authors' seven outputs, in their order, for an input with sides divisible by 16."""
        fused = fused_inference(x)
        if fused:
            x = x.contiguous(memory_format=torch.channels_last)
        img_mid, img_small = _half(x), x[:, :, ::4, ::4]

        # 1/4 scale: encode; INR correction of the 1/4 image from the latent at 1/2 scale.
        e1s, e2s, lat_s = self._unet(_conv_module(self.patch_embed_small.proj, img_small, fused),
                                     self.encoder_level1_small, self.down1_2_small,
                                     self.encoder_level2_small, self.down2_3_small,
                                     self.latent_small, fused)
        ctx = self.upsmall2mid2(self.upsmall2mid1(lat_s, fused), fused)
        small_inr = self.INR.decode(ctx) + img_small
        mid_img = img_mid + _double(small_inr)

        # 1/2 scale, first U-Net encoder; INR2 correction of the 1/2 image.
        e1m, e2m, lat_m = self._unet(_conv_module(self.patch_embed_mid.proj, mid_img, fused),
                                     self.encoder_level1_mid1, self.down1_2_mid,
                                     self.encoder_level2_mid1, self.down2_3_mid,
                                     self.latent_mid1, fused)
        ctx = self.upmid2max2(self.upmid2max1(lat_m, fused), fused)
        mid_inr = self.INR2.decode(ctx) + mid_img
        max_img = x + _double(mid_inr)

        # Full scale: three U-Nets in a row (the third decoded last).
        e1, e2, lat1 = self._unet(_conv_module(self.patch_embed_max.proj, max_img, fused),
                                  self.encoder_level1_max1, self.down1_2_max,
                                  self.encoder_level2_max1, self.down2_3_max, self.latent_max1,
                                  fused)
        y = self._decode(lat1, e2, e1, self.up3_2_max, self.reduce_chan_level2_max1,
                         self.decoder_level2_max1, self.up2_1_max, self.reduce_chan_level1_max1,
                         self.decoder_level1_max1, fused)
        e1, e2, lat2 = self._unet(_conv_module(self.output_max_context1, y, fused),
                                  self.encoder_level1_max2, self.down1_2_max2,
                                  self.encoder_level2_max2, self.down2_3_max2, self.latent_max2,
                                  fused)
        y = self._decode(lat2, e2, e1, self.up3_2_max2, self.reduce_chan_level2_max2,
                         self.decoder_level2_max2, self.up2_1_max2, self.reduce_chan_level1_max2,
                         self.decoder_level1_max2, fused)
        e1_max, e2_max, lat3 = self._unet(_conv_module(self.output_max_context2, y, fused),
                                          self.encoder_level1_max3, self.down1_2_max3,
                                          self.encoder_level2_max3, self.down2_3_max3,
                                          self.latent_max3, fused)
        bff1 = _half(self.BF1.fuse(lat1, lat2))
        bff2 = _half(self.BF2.fuse(lat2, lat3))
        up_max = self.up3_2_max3(lat3, fused)

        # 1/2 scale: decode the first U-Net with BF1, run the second, fuse its latent with the
        # first (BF3) for the 1/4 branch; the second's decoder waits for the 1/4 features.
        y = self._decode(lat_m + bff1, e2m, e1m, self.up3_2_mid, self.reduce_chan_level2_mid1,
                         self.decoder_level2_mid1, self.up2_1_mid, self.reduce_chan_level1_mid1,
                         self.decoder_level1_mid1, fused)
        e1m, e2m, lat_m2 = self._unet(_conv_module(self.output_mid_context, y, fused),
                                      self.encoder_level1_mid2, self.down1_2_mid2,
                                      self.encoder_level2_mid2, self.down2_3_mid2,
                                      self.latent_mid2, fused)
        bff3 = _half(self.BF3.fuse(lat_m, lat_m2))
        up_mid = self.up3_2_mid2(lat_m2 + bff2, fused)

        # 1/4 scale: decode with BF3.
        feat_s = self._decode(lat_s + bff3, e2s, e1s, self.up3_2_small,
                              self.reduce_chan_level2_small, self.decoder_level2_small,
                              self.up2_1_small, self.reduce_chan_level1_small,
                              self.decoder_level1_small, fused)
        out_small = _conv_module(self.output_small, feat_s, fused, other=img_small)

        # 1/2 scale: second decoder plus the 1/4 features.
        feat_m = self._decode(up_mid, e2m, e1m, self.up3_2_mid2, self.reduce_chan_level2_mid2,
                              self.decoder_level2_mid2, self.up2_1_mid2,
                              self.reduce_chan_level1_mid2, self.decoder_level1_mid2, fused,
                              up_done=True)
        feat_m = feat_m + _double(feat_s)
        out_mid = _conv_module(self.output_mid, feat_m, fused, other=img_mid)

        # Full scale: third decoder (the authors reuse reduce_chan_level1_max2 here) plus the
        # 1/2 features.
        feat = self._decode(up_max, e2_max, e1_max, self.up3_2_max3,
                            self.reduce_chan_level2_max3, self.decoder_level2_max3,
                            self.up2_1_max3, self.reduce_chan_level1_max2,
                            self.decoder_level1_max3, fused, up_done=True)
        feat = feat + _double(feat_m)
        out = _conv_module(self.output_max, feat, fused, other=x)
        return [out, out_mid, out_small, mid_inr, mid_img / 2, small_inr, img_small]

    # -- test-time processing ------------------------------------------------------------------
    def _window(self, n: int) -> int:
        """The window along a side of ``n`` pixels: ``window_size``, or the side padded to a
        multiple of 16 when it is shorter (or when ``window_size`` is None)."""
        padded = (n + 15) // 16 * 16
        if self.window_size is None or n < self.window_size:
            return padded
        return self.window_size

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = x.shape[-2], x.shape[-1]
        if self.window_size is None:  # no Python branch on the size: traces and exports
            out = self._forward_all(reflect_pad_to_multiple(x, 16))[0][:, :, :h, :w]
            return out, x - out
        wh, ww = self._window(h), self._window(w)
        padded = x
        if wh > h or ww > w:  # a side shorter than its window: reflect-pad it to the window
            padded = reflect_pad_to_multiple(x, 16)
            padded = padded[:, :, : max(wh, h), : max(ww, w)]
        if (wh, ww) == (padded.shape[-2], padded.shape[-1]):  # one window: the whole image
            out = self._forward_all(padded)[0][:, :, :h, :w]
            return out, x - out
        windows, corners = window_partition(padded, (wh, ww))
        if fused_inference(x):  # one window at a time: bounded memory
            b = x.shape[0]
            outs = [self._forward_all(windows[i * b:(i + 1) * b])[0] for i in range(len(corners))]
            restored = torch.cat(outs, 0)
        else:
            restored = self._forward_all(windows)[0]
        out = window_merge(restored, corners, (padded.shape[-2], padded.shape[-1]))
        out = out[:, :, :h, :w]
        if not out.is_contiguous() and not out.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous()
        return out, x - out

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The authors' seven images on the whole image (no windows), reflect-padded to
        multiples of 16 and cropped to :math:`\\lceil H/s \\rceil \\times \\lceil W/s \\rceil`
        at scale :math:`1/s`: the full, 1/2 and 1/4 results, the 1/2 image after INR2, the
        1/2 input mix halved, the 1/4 image after the INR, the 1/4 input.
        """
        check_network_input(x, self.in_channels, self)
        h, w = x.shape[-2], x.shape[-1]
        outs = self._forward_all(reflect_pad_to_multiple(x, 16))
        scales = (1, 2, 4, 2, 2, 4, 4)
        return [o[:, :, : -(-h // s), : -(-w // s)] for o, s in zip(outs, scales, strict=True)]

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, dim={self.dim}, num_blocks={self.num_blocks}, "
                f"heads={self.heads}, ffn_expansion_factor={self.ffn_expansion_factor}, "
                f"bias={self.bias}, layernorm_type={self.layernorm_type!r}, "
                f"window_size={self.window_size}")


@register_model("nerdrain_s")
class NeRDRainS(NeRDRain):
    """NeRD-Rain-S: :class:`NeRDRain` with ``dim=32`` (the authors' ``model_S.py``),
    10,530,314 parameters.

    Args:
        in_channels: image channels.
        dim: channels of the first level.
        num_blocks: transformer blocks per level.
        heads: attention heads per level.
        ffn_expansion_factor: GDFN expansion.
        bias: transformer convolution biases.
        layernorm_type: ``"WithBias"`` or ``"BiasFree"``.
        window_size: test-time window, or ``None``.

    Example:
        >>> from rainkit.nn import build_model
        >>> sum(p.numel() for p in build_model("nerdrain_s").parameters())
        10530314
    """

    def __init__(
        self,
        in_channels: int = 3,
        dim: int = 32,
        num_blocks: int | Sequence[int] = (2, 3, 3),
        heads: int | Sequence[int] = (1, 2, 4),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        layernorm_type: str = "WithBias",
        window_size: int | None = 256,
    ) -> None:
        super().__init__(in_channels, dim, num_blocks, heads, ffn_expansion_factor, bias,
                         layernorm_type, window_size)
