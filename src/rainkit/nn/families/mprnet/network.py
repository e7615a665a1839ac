"""MPRNet (Zamir et al., CVPR 2021): multi-stage progressive restoration, for deraining."""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._checks import check_bool, check_int
from rainkit.nn._common import check_kernel_size, check_network_input
from rainkit.nn.base import RainNet
from rainkit.nn.blocks._fused_conv import conv2d_accumulate_, fused_inference
from rainkit.nn.blocks.channel_attention import ChannelAttentionBlock
from rainkit.nn.blocks.orsnet import OriginalResolutionBlock
from rainkit.nn.blocks.supervised_attention import SupervisedAttention
from rainkit.nn.registry import register_model

__all__ = ["MPRNet", "reflect_pad_to_multiple"]


def _reflect_index(n: int, length: int, device: torch.device) -> torch.Tensor:
    """Indices ``0 .. length-1`` reflected into ``[0, n)`` (period :math:`2n - 2`): the indices of
    ``F.pad(mode="reflect")`` where that works, repeated reflection beyond (``n = 1``: zeros).
    Tensor arithmetic on the size, so a trace or an exported graph keeps it symbolic."""
    i = torch.arange(length, device=device)
    period = max(2 * n - 2, 1) if isinstance(n, int) else torch.clamp(2 * n - 2, min=1)
    return (n - 1) - ((i % period) - (n - 1)).abs()


def reflect_pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad the bottom and right of :math:`(B, C, H, W)` ``x`` to multiples of ``multiple``.

    The test-time padding of MPRNet's and Restormer's ``demo.py``
    (``F.pad(x, (0, W' - W, 0, H' - H), "reflect")`` with :math:`H' = \\lceil H / m \\rceil m`),
    extended to images smaller than the padding (``reflect`` needs :math:`H' - H < H`): the
    reflection repeats, and a 1-pixel side is replicated. Nothing is copied when the size is
    already a multiple.
    """
    h, w = x.shape[-2], x.shape[-1]
    ph, pw = (-h) % multiple, (-w) % multiple
    if isinstance(ph, int) and ph == 0 and pw == 0:
        return x
    rows = _reflect_index(h, h + ph, x.device)
    cols = _reflect_index(w, w + pw, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def _conv(x: torch.Tensor, weight: torch.Tensor, fused: bool) -> torch.Tensor:
    """A bias-free 'same' convolution (oneDNN's pointwise op on the fused CPU path)."""
    pad = weight.shape[-1] // 2
    if fused:
        out: torch.Tensor = torch.ops.mkldnn._convolution_pointwise(
            x, weight, None, [pad, pad], [1, 1], [1, 1], 1, "none", [], None)
        return out
    return F.conv2d(x, weight, padding=pad)


def _conv_add(x: torch.Tensor, weight: torch.Tensor, other: torch.Tensor, fused: bool
              ) -> torch.Tensor:
    """``other + conv(x)``; on the fused path written into ``other`` by the convolution."""
    if fused:
        return conv2d_accumulate_(other, x, weight)
    return other + _conv(x, weight, False)


def _compose_1x1(*weights: torch.Tensor) -> torch.Tensor:
    """The 1x1 convolution equal to applying ``weights`` (1x1 kernels) in order."""
    total = weights[0].flatten(1)
    for w in weights[1:]:
        total = w.flatten(1) @ total
    return total[:, :, None, None]


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _cabs(blocks: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    for block in cast(list[ChannelAttentionBlock], list(blocks)):  # Sequentials of CABs
        x = block.residual(x)
    return x


class _DownSample(nn.Module):
    """Bilinear x0.5 then a 1x1 convolution (``down.1``). Bilinear halving with
    ``align_corners=False`` averages 2x2 blocks, so it runs as ``avg_pool2d(2)``."""

    def __init__(self, channels: int, extra: int) -> None:
        super().__init__()
        self.down = nn.Sequential(nn.Upsample(scale_factor=0.5, mode="bilinear"),
                                  nn.Conv2d(channels, channels + extra, 1, bias=False))

    def forward(self, x: torch.Tensor, fused: bool = False) -> torch.Tensor:
        return _conv(F.avg_pool2d(x, 2), cast(nn.Conv2d, self.down[1]).weight, fused)


class _UpSample(nn.Module):
    """Bilinear x2 then a 1x1 convolution (``up.1``); both are linear and commute, so the
    convolution runs first, on a quarter of the pixels."""

    def __init__(self, channels: int, extra: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="bilinear"),
                                nn.Conv2d(channels + extra, channels, 1, bias=False))

    def forward(self, x: torch.Tensor, skip: torch.Tensor, fused: bool = False) -> torch.Tensor:
        up = _up2(_conv(x, cast(nn.Conv2d, self.up[1]).weight, fused))
        return skip.add_(up) if fused else skip + up


class _Encoder(nn.Module):
    """MPRNet's three-level U-Net encoder of CABs, with cross-stage feature fusion (CSFF)."""

    def __init__(self, n: int, k: int, reduction: int, act: nn.Module, bias: bool, s: int,
                 csff: bool) -> None:
        super().__init__()
        widths = (n, n + s, n + 2 * s)
        for level, c in enumerate(widths, 1):
            setattr(self, f"encoder_level{level}", nn.Sequential(
                *(ChannelAttentionBlock(c, k, reduction, bias=bias, act_layer=act)
                  for _ in range(2))))
        self.down12 = _DownSample(n, s)
        self.down23 = _DownSample(n + s, s)
        self.csff = csff
        if csff:
            for kind in ("enc", "dec"):
                for level, c in enumerate(widths, 1):
                    setattr(self, f"csff_{kind}{level}", nn.Conv2d(c, c, 1, bias=bias))

    def forward(self, x: torch.Tensor, enc: list[torch.Tensor] | None,
                dec: list[torch.Tensor] | None, fused: bool) -> list[torch.Tensor]:
        outs = []
        for level in (1, 2, 3):
            if level > 1:
                x = getattr(self, f"down{level - 1}{level}")(x, fused)
            x = _cabs(getattr(self, f"encoder_level{level}"), x)
            if enc is not None and dec is not None:
                e, d = getattr(self, f"csff_enc{level}"), getattr(self, f"csff_dec{level}")
                if e.bias is not None or d.bias is not None:
                    x = x + e(enc[level - 1]) + d(dec[level - 1])
                else:
                    x = _conv_add(enc[level - 1], e.weight, x, fused)
                    x = _conv_add(dec[level - 1], d.weight, x, fused)
            outs.append(x)
        return outs


class _Decoder(nn.Module):
    """MPRNet's U-Net decoder: CABs, CAB-refined skips, 1x1-convolved bilinear upsampling."""

    def __init__(self, n: int, k: int, reduction: int, act: nn.Module, bias: bool, s: int
                 ) -> None:
        super().__init__()

        def cabs(c: int) -> nn.Sequential:
            return nn.Sequential(*(ChannelAttentionBlock(c, k, reduction, bias=bias, act_layer=act)
                                   for _ in range(2)))

        self.decoder_level1 = cabs(n)
        self.decoder_level2 = cabs(n + s)
        self.decoder_level3 = cabs(n + 2 * s)
        self.skip_attn1 = ChannelAttentionBlock(n, k, reduction, bias=bias, act_layer=act)
        self.skip_attn2 = ChannelAttentionBlock(n + s, k, reduction, bias=bias, act_layer=act)
        self.up21 = _UpSample(n, s)
        self.up32 = _UpSample(n + s, s)

    def forward(self, enc: list[torch.Tensor], fused: bool) -> list[torch.Tensor]:
        dec3 = _cabs(self.decoder_level3, enc[2])
        dec2 = _cabs(self.decoder_level2, self.up32(dec3, self.skip_attn2.residual(enc[1]), fused))
        dec1 = _cabs(self.decoder_level1, self.up21(dec2, self.skip_attn1.residual(enc[0]), fused))
        return [dec1, dec2, dec3]


class _ORSNet(nn.Module):
    """MPRNet's original-resolution subnetwork: three ORBs, each followed by the (upsampled)
    encoder and decoder features of stage 2 through 1x1 convolutions."""

    def __init__(self, n: int, o: int, k: int, reduction: int, act: nn.Module, bias: bool,
                 s: int, num_cab: int) -> None:
        super().__init__()
        for i in (1, 2, 3):
            setattr(self, f"orb{i}", OriginalResolutionBlock(n + o, num_cab, k, reduction,
                                                             bias=bias, act_layer=act))
        self.up_enc1 = _UpSample(n, s)
        self.up_dec1 = _UpSample(n, s)
        self.up_enc2 = nn.Sequential(_UpSample(n + s, s), _UpSample(n, s))
        self.up_dec2 = nn.Sequential(_UpSample(n + s, s), _UpSample(n, s))
        for kind in ("enc", "dec"):
            for i in (1, 2, 3):
                setattr(self, f"conv_{kind}{i}", nn.Conv2d(n, n + o, 1, bias=bias))

    def _side(self, i: int, kind: str, x: torch.Tensor, fused: bool,
              acc: torch.Tensor | None = None) -> torch.Tensor:
        """The 1x1 path of the level-``i`` features to ORB width, still at their resolution:
        ``conv_{kind}{i}`` after the 1x1 convolutions of the upsamplers, composed into one."""
        conv = getattr(self, f"conv_{kind}{i}")
        if i == 1:
            ups: list[_UpSample] = []
        elif i == 2:
            ups = [getattr(self, f"up_{kind}1")]
        else:
            ups = list(getattr(self, f"up_{kind}2"))
        weight = _compose_1x1(*(cast(nn.Conv2d, u.up[1]).weight for u in ups), conv.weight)
        if conv.bias is not None:
            y = F.conv2d(x, weight, conv.bias)
            return y if acc is None else acc + y
        return _conv(x, weight, fused) if acc is None else _conv_add(x, weight, acc, fused)

    def forward(self, x: torch.Tensor, enc: list[torch.Tensor], dec: list[torch.Tensor],
                fused: bool) -> torch.Tensor:
        for i in (1, 2, 3):
            x = getattr(self, f"orb{i}").residual(x)
            side = self._side(i, "enc", enc[i - 1], fused)
            side = self._side(i, "dec", dec[i - 1], fused, side)
            for _ in range(i - 1):
                side = _up2(side)
            x = x.add_(side) if fused else x + side
        return x


@register_model("mprnet")
class MPRNet(RainNet):
    """MPRNet: three stages (two U-Nets on image patches, then a full-resolution subnetwork).

    Written from Zamir et al. (CVPR 2021) and checked against their ``Deraining/MPRNet.py``.
    Stage 1 encodes the four quarters of the image separately and decodes the top and bottom
    halves; stage 2 works on the two halves; stage 3 at full
    resolution with no downsampling (ORSNet: three
    :class:`~rainkit.nn.blocks.OriginalResolutionBlock`). Between stages a
    :class:`~rainkit.nn.blocks.SupervisedAttention` forms the stage's image estimate (supervised
    in training) and gates the features passed on; the encoders of stage 2 also receive stage
    1's encoder and decoder features (cross-stage feature fusion). Every unit is a
    :class:`~rainkit.nn.blocks.ChannelAttentionBlock`, all sharing **one** PReLU as in the
    authors' code. The output is :math:`x + \\text{tail}(\\cdot)`.

    **Any size.** The patch hierarchy needs :math:`H` and :math:`W` divisible by 8 (the authors'
    ``test.py`` runs only those); as their ``demo.py`` does, the input is reflect-padded at the
    bottom and right to multiples of 8 (:func:`reflect_pad_to_multiple`) and the output cropped
    back. Outputs are not clamped (the authors clamp before saving).

    **Weights.** The authors' state dict loads as it is (after the reader removed the
    ``state_dict`` wrapper and any ``module.`` prefix); the 55 PReLU keys are one parameter.
    The released configuration is the default: 3,637,249 parameters.

    **Initialisation.** PyTorch's default initialisation (the authors'), except ``tail`` and
    the image convolutions of the two SAMs (``conv2``), which start at zero: a fresh network
    returns its input exactly, at every stage.

    **Speed.** The same function as the authors' formulation, computed in fewer operations:
    the four quarter patches (and the two halves) go through the shared encoder and decoder as
    one batch; each 1x1 convolution that follows a bilinear x2 upsampling runs before it, at a
    quarter of the pixels; the chains of 1x1 convolutions of ORSNet are composed into one; the
    bilinear halving is a 2x2 average. Under ``torch.no_grad()`` on a float32 CPU tensor,
    the network also runs in the NHWC layout with the PReLU inside the oneDNN convolutions and
    the skips added in place (``benchmarks/bench_mprnet.py``).

    Args:
        in_channels: image channels (in and out).
        channels: feature channels :math:`n` (``n_feat``).
        unet_channels: channels added per U-Net level (``scale_unetfeats``).
        orsnet_channels: channels added in ORSNet (``scale_orsnetfeats``).
        num_cab: CABs per ORB.
        kernel_size: odd kernel size of the 3x3 convolutions.
        reduction: channel-attention reduction.
        bias: whether the convolutions have a bias (released: no).

    Shape:
        - Input: :math:`(B, C, H, W)` in :math:`[0, 1]`, any :math:`H, W \\ge 1`.
        - Output: :math:`(B, C, H, W)`; :meth:`stage_outputs` returns the three stages'
          images (stage 1, 2, 3), for the paper's loss
          (:func:`~rainkit.nn.families.mprnet.mprnet_loss`).

    Example:
        >>> import torch
        >>> from rainkit.nn import build_model
        >>> net = build_model("mprnet")
        >>> sum(p.numel() for p in net.parameters())
        3637249
        >>> small = build_model("mprnet", channels=8, unet_channels=4, orsnet_channels=4,
        ...                     num_cab=1)
        >>> [t.shape[-2:] for t in small.stage_outputs(torch.rand(1, 3, 13, 10))]
        [torch.Size([13, 10]), torch.Size([13, 10]), torch.Size([13, 10])]

    References:
        S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, L. Shao, "Multi-Stage
        Progressive Image Restoration", CVPR 2021.
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: int = 40,
        unet_channels: int = 20,
        orsnet_channels: int = 16,
        num_cab: int = 8,
        kernel_size: int = 3,
        reduction: int = 4,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        n = self.channels = check_int(channels, "channels", minimum=1)
        s = self.unet_channels = check_int(unet_channels, "unet_channels", minimum=0)
        o = self.orsnet_channels = check_int(orsnet_channels, "orsnet_channels", minimum=0)
        self.num_cab = check_int(num_cab, "num_cab", minimum=0)
        k = self.kernel_size = check_kernel_size(kernel_size)
        self.reduction = check_int(reduction, "reduction", minimum=1)
        self.bias = check_bool(bias, "bias")
        r, c = self.reduction, self.in_channels
        act = nn.PReLU()  # one activation for the whole network, as the authors'

        def shallow() -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c, n, k, padding=k // 2, bias=bias),
                                 ChannelAttentionBlock(n, k, r, bias=bias, act_layer=act))

        self.shallow_feat1 = shallow()
        self.shallow_feat2 = shallow()
        self.shallow_feat3 = shallow()
        self.stage1_encoder = _Encoder(n, k, r, act, bias, s, csff=False)
        self.stage1_decoder = _Decoder(n, k, r, act, bias, s)
        self.stage2_encoder = _Encoder(n, k, r, act, bias, s, csff=True)
        self.stage2_decoder = _Decoder(n, k, r, act, bias, s)
        self.stage3_orsnet = _ORSNet(n, o, k, r, act, bias, s, self.num_cab)
        self.sam12 = SupervisedAttention(n, 1, bias=bias, image_channels=c)
        self.sam23 = SupervisedAttention(n, 1, bias=bias, image_channels=c)
        self.concat12 = nn.Conv2d(2 * n, n, k, padding=k // 2, bias=bias)
        self.concat23 = nn.Conv2d(2 * n, n + o, k, padding=k // 2, bias=bias)
        self.tail = nn.Conv2d(n + o, c, k, padding=k // 2, bias=bias)
        self.reset_output_()

    def reset_output_(self) -> MPRNet:
        """Zero ``tail`` and the SAMs' ``conv2`` (weights and biases): the network then returns
        its input at every stage (the trainable default's identity at initialisation)."""
        with torch.no_grad():
            for conv in (self.tail, self.sam12.conv2, self.sam23.conv2):
                conv.weight.zero_()
                if conv.bias is not None:
                    conv.bias.zero_()
        return self

    def _shallow(self, seq: nn.Sequential, x: torch.Tensor, fused: bool) -> torch.Tensor:
        # a shallow() of __init__: Conv2d, then a CAB
        conv = cast(nn.Conv2d, seq[0])
        y = _conv(x, conv.weight, fused)
        if conv.bias is not None:
            y = y + conv.bias[:, None, None]
        return cast(ChannelAttentionBlock, seq[1]).residual(y)

    def _cat_conv(self, conv: nn.Conv2d, a: torch.Tensor, b: torch.Tensor, fused: bool
                  ) -> torch.Tensor:
        y = _conv(torch.cat([a, b], 1), conv.weight, fused)
        return y if conv.bias is None else y + conv.bias[:, None, None]

    def _stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stage 3 (the result), 2 and 1 images of a padded input (sides divisible by 8)."""
        fused = fused_inference(x)
        if fused:
            x = x.contiguous(memory_format=torch.channels_last)
        b = x.shape[0]
        h2, w2 = x.shape[-2] // 2, x.shape[-1] // 2
        # The two halves (top; bottom) and the four quarters (left-top; left-bottom;
        # right-top; right-bottom) as batches: the shared modules see each patch on its own.
        halves = torch.cat([x[:, :, :h2], x[:, :, h2:]], 0)
        quarters = torch.cat([halves[:, :, :, :w2], halves[:, :, :, w2:]], 0)

        # Stage 1: encode the quarters, join left and right, decode the halves.
        enc1: list[torch.Tensor] = self.stage1_encoder(
            self._shallow(self.shallow_feat1, quarters, fused), None, None, fused)
        enc1 = [torch.cat([f[: 2 * b], f[2 * b:]], 3) for f in enc1]
        dec1: list[torch.Tensor] = self.stage1_decoder(enc1, fused)
        feats2, img1 = self.sam12.apply_attention(dec1[0], halves)

        # Stage 2: encode the halves with CSFF, join top and bottom, decode.
        x2 = self._cat_conv(self.concat12, self._shallow(self.shallow_feat2, halves, fused),
                            feats2, fused)
        enc2: list[torch.Tensor] = self.stage2_encoder(x2, enc1, dec1, fused)
        enc2 = [torch.cat([f[:b], f[b:]], 2) for f in enc2]
        dec2: list[torch.Tensor] = self.stage2_decoder(enc2, fused)
        feats3, img2 = self.sam23.apply_attention(dec2[0], x)

        # Stage 3: full resolution.
        x3 = self._cat_conv(self.concat23, self._shallow(self.shallow_feat3, x, fused), feats3,
                            fused)
        x3 = self.stage3_orsnet(x3, enc2, dec2, fused)
        tail = self.tail
        pad = tail.weight.shape[-1] // 2
        if fused and tail.bias is None:
            img3: torch.Tensor = torch.ops.mkldnn._convolution_pointwise.binary(
                x3, x, tail.weight, None, [pad, pad], [1, 1], [1, 1], 1, "add", None, None, [],
                None)
        else:
            img3 = F.conv2d(x3, tail.weight, tail.bias, padding=pad) + x
        img1 = torch.cat([img1[:b], img1[b:]], 2)
        return img3, img2, img1

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, w = x.shape[-2], x.shape[-1]
        layout = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                  and not x.is_contiguous() else torch.contiguous_format)
        outs = self._stages(reflect_pad_to_multiple(x, 8))
        img3, img2, img1 = (o[:, :, :h, :w].contiguous(memory_format=layout) for o in outs)
        return img3, img2, img1

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image estimates of stages 1, 2 and 3 (the last is the result), each
        :math:`(B, C, H, W)`: what the paper's loss supervises."""
        check_network_input(x, self.in_channels, self)
        img3, img2, img1 = self._run(x)
        return [img1, img2, img3]

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        derained = self._run(x)[0]
        return derained, x - derained

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, channels={self.channels}, "
                f"unet_channels={self.unet_channels}, orsnet_channels={self.orsnet_channels}, "
                f"num_cab={self.num_cab}, kernel_size={self.kernel_size}, "
                f"reduction={self.reduction}, bias={self.bias}")
