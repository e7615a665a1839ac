"""Restormer (Zamir et al., CVPR 2022): the network, its transformer block and its U-shaped
skeleton, which DRSformer reuses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import torch
from torch import nn

from rainkit._checks import check_bool, check_choice, check_int, check_positive
from rainkit.nn.base import RainNet
from rainkit.nn.blocks.gated_feed_forward import GatedDconvFeedForward
from rainkit.nn.blocks.layer_norm import BiasFreeLayerNorm2d, LayerNorm2d
from rainkit.nn.blocks.transposed_attention import (
    MultiDconvTransposedAttention,
    logits_from_sums,
)
from rainkit.nn.registry import register_model

__all__ = [
    "ChannelNorm",
    "Downsample",
    "Restormer",
    "TransformerBlock",
    "UShapedTransformer",
    "Upsample",
    "pad_to_multiple",
]

LAYER_NORM_TYPES = ("WithBias", "BiasFree")


def _reflect_indices(n: int | torch.Tensor, size: int | torch.Tensor, device: torch.device
                     ) -> torch.Tensor:
    """Indices ``0..size-1`` reflected into ``0..n-1`` about the edges (``dcb|abcd|cba``).

    Equal to :func:`torch.nn.functional.pad` with ``mode="reflect"`` wherever that is defined
    (a pad smaller than ``n``), and continued periodically beyond (``n = 1`` repeats the
    pixel). Tensor arithmetic on the sizes, so traces and exports keep them symbolic.
    """
    index = torch.arange(cast(int, size), device=device)  # a traced size is a 0-d tensor
    period = 2 * (n - 1)
    if isinstance(period, torch.Tensor):  # torch.jit.trace: sizes are traced tensors
        period = period.clamp(min=1)
    else:  # an int, or a SymInt under torch.export: as a tensor, which ONNX converts
        period = torch.full((1,), torch.sym_max(period, 1), dtype=index.dtype, device=device)
    index = index % period
    return torch.minimum(index, period - index)


def pad_to_multiple(x: torch.Tensor, multiple: int = 8) -> torch.Tensor:
    """Reflect-pad the bottom and right of ``x`` to the next multiple of ``multiple``: the
    test-time processing of Restormer's and DRSformer's ``test.py``
    (``F.pad(x, (0, padw, 0, padh), 'reflect')``).

    Sizes that are already multiples are unchanged. Images smaller than the pad (which the
    authors' code cannot process) are extended by repeated reflection.

    Args:
        x: :math:`(B, C, H, W)`.
        multiple: the size multiple (Restormer: 8, for its three 2x downsamplings).

    Returns:
        :math:`(B, C, \\lceil H/m \\rceil m, \\lceil W/m \\rceil m)`.

    Example:
        >>> import torch
        >>> x = torch.arange(5.0).view(1, 1, 1, 5)
        >>> pad_to_multiple(x)[0, 0]
        tensor([[0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.],
                [0., 1., 2., 3., 4., 3., 2., 1.]])
    """
    height, width = x.shape[-2], x.shape[-1]
    padded_h = (height + multiple - 1) // multiple * multiple
    padded_w = (width + multiple - 1) // multiple * multiple
    if (isinstance(height, int) and isinstance(width, int)  # not traced nor symbolic
            and padded_h == height and padded_w == width):
        return x
    rows = _reflect_indices(height, padded_h, x.device)
    cols = _reflect_indices(width, padded_w, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


class ChannelNorm(nn.Module):
    """The authors' ``LayerNorm`` wrapper: a :class:`~rainkit.nn.blocks.LayerNorm2d`
    (``"WithBias"``) or :class:`~rainkit.nn.blocks.BiasFreeLayerNorm2d` (``"BiasFree"``) held
    as ``body``, so that the keys read ``norm1.body.weight`` as in their files.

    Args:
        channels: :math:`C`.
        layer_norm_type: ``"WithBias"`` or ``"BiasFree"``.
    """

    def __init__(self, channels: int, layer_norm_type: str = "WithBias") -> None:
        super().__init__()
        check_choice(layer_norm_type, LAYER_NORM_TYPES, "layer_norm_type")
        self.body = (LayerNorm2d(channels) if layer_norm_type == "WithBias"
                     else BiasFreeLayerNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.body(x)
        return result


def _add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x + y``, in place in ``x`` when no gradient is recorded (``x`` is a fresh buffer)."""
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        return x + y
    return x.add_(y)


class TransformerBlock(nn.Module):
    """Restormer's transformer block: pre-norm attention and feed-forward, each with a skip.

    .. math::

        x' = x + \\mathrm{Attn}(\\mathrm{LN}(x)), \\qquad y = x' + \\mathrm{FFN}(\\mathrm{LN}(x'))

    with :class:`~rainkit.nn.blocks.MultiDconvTransposedAttention` and
    :class:`~rainkit.nn.blocks.GatedDconvFeedForward` by default; DRSformer passes its top-k
    sparse attention and mixed-scale feed-forward. Submodules ``norm1``, ``attn``, ``norm2``,
    ``ffn`` as in the authors' code.

    Args:
        channels: :math:`C`.
        num_heads: attention heads.
        ffn_expansion_factor: hidden width factor of the feed-forward (truncated product).
        bias: biases in the convolutions.
        layer_norm_type: ``"WithBias"`` or ``"BiasFree"``.
        attn_layer: the attention class, called as ``attn_layer(channels, num_heads, bias=bias)``.
        ffn_layer: the feed-forward class, called as
            ``ffn_layer(channels, ffn_expansion_factor, bias=bias)``.

    Shape:
        :math:`(B, C, H, W) \\to (B, C, H, W)`.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.restormer import TransformerBlock
        >>> TransformerBlock(16, 2)(torch.rand(1, 16, 8, 8)).shape
        torch.Size([1, 16, 8, 8])
    """

    def __init__(
        self,
        channels: int,
        num_heads: int = 1,
        ffn_expansion_factor: float = 2.66,
        *,
        bias: bool = False,
        layer_norm_type: str = "WithBias",
        attn_layer: Callable[..., nn.Module] = MultiDconvTransposedAttention,
        ffn_layer: Callable[..., nn.Module] = GatedDconvFeedForward,
    ) -> None:
        super().__init__()
        self.norm1 = ChannelNorm(channels, layer_norm_type)
        self.attn = attn_layer(channels, num_heads, bias=bias)
        self.norm2 = ChannelNorm(channels, layer_norm_type)
        self.ffn = ffn_layer(channels, ffn_expansion_factor, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._use_bands(x):
            return self._forward_bands(x)
        x = x + self.attn(self.norm1(x))
        return _add(x, self.ffn(self.norm2(x)))

    def _use_bands(self, x: torch.Tensor) -> bool:
        """Inference on a large image in eager mode, with an attention whose map is global
        only through its Gram matrix (MDTA and subclasses) and a feed-forward of known
        radius: then the block runs in bands of rows (same result, a fraction of the memory
        traffic). Traces, exports and ``torch.compile`` see the plain path."""
        if (torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling()
                or not isinstance(self.attn, MultiDconvTransposedAttention)
                or getattr(self.ffn, "radius", None) is None
                or not isinstance(x.shape[-2], int)):
            return False
        return x.shape[-2] >= 4 * _band_rows(x, 3 * x.shape[1])

    def _forward_bands(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` band by band: the attention's query/key statistics and values are
        gathered over bands (1 row of context for the depthwise convolution), then each band
        of the feed-forward with its radius of context. Every value is the plain path's, up
        to float rounding of the sums."""
        attn = cast(MultiDconvTransposedAttention, self.attn)  # _use_bands checked its type
        b, c, height, width = x.shape
        heads, d = attn.num_heads, c // attn.num_heads
        gram = x.new_zeros(b, heads, d, d)
        q_squares = x.new_zeros(b, heads, d)
        k_squares = x.new_zeros(b, heads, d)
        values = x.new_empty(b, height, width, c)
        for top, bottom, start, stop in _bands(height, _band_rows(x, 3 * c), 1):
            qkv = attn.qkv_dwconv(attn.qkv(self.norm1(x[:, :, start:stop])))
            qkv = qkv[:, :, top - start:bottom - start]
            q, k, v = qkv.reshape(b, 3, heads, d, (bottom - top) * width).unbind(1)
            gram.add_(q @ k.transpose(-2, -1))
            q_squares.add_(q.square().sum(dim=-1))
            k_squares.add_(k.square().sum(dim=-1))
            values[:, top:bottom] = v.reshape(b, c, bottom - top, width).permute(0, 2, 3, 1)
        mixing = attn.mixing_matrix(logits_from_sums(gram, q_squares, k_squares,
                                                     attn.temperature))
        flat = x.permute(0, 2, 3, 1).reshape(b, height * width, c)
        out = torch.baddbmm(flat, values.view(b, height * width, c), mixing.transpose(1, 2))
        if attn.project_out.bias is not None:
            out.add_(attn.project_out.bias)
        x = out.view(b, height, width, c).permute(0, 3, 1, 2)
        result = torch.empty_like(x)
        radius = int(cast(int, self.ffn.radius))  # _use_bands checked the ffn declares one
        wide = 4 * int(getattr(self.ffn, "hidden", c))
        for top, bottom, start, stop in _bands(height, _band_rows(x, wide), radius):
            y = self.ffn(self.norm2(x[:, :, start:stop]))[:, :, top - start:bottom - start]
            torch.add(x[:, :, top:bottom], y, out=result[:, :, top:bottom])
        return result


#: Bytes of the widest intermediate of one band of rows in the banded inference path: small
#: enough to stay in the CPU caches.
BAND_BYTES = 8 * 2**20
#: The fewest rows in a band: the bands' context rows are computed twice, so thinner bands
#: cost more than they save (measured on DRSformer's blocks, whose feed-forward needs 4 rows).
MIN_BAND_ROWS = 32


def _band_rows(x: torch.Tensor, channels: int) -> int:
    """Rows per band so that ``channels`` channels of a band take about :data:`BAND_BYTES`,
    and at least :data:`MIN_BAND_ROWS`."""
    per_row = max(1, x.shape[0] * x.shape[-1] * channels * x.element_size())
    return max(MIN_BAND_ROWS, BAND_BYTES // per_row)


def _bands(height: int, rows: int, radius: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, start, stop): bands that partition the rows, and each band with
    ``radius`` rows of context on each side (clipped at the image's edges)."""
    return [(top, min(height, top + rows), max(0, top - radius),
             min(height, top + rows + radius)) for top in range(0, height, rows)]


class Downsample(nn.Module):
    """3x3 convolution to :math:`C/2` channels, then pixel-unshuffle by 2: :math:`(B, C, H, W)
    \\to (B, 2C, H/2, W/2)` (``body.0`` is the convolution, as the authors')."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False),
                                  nn.PixelUnshuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.body(x)
        return result


class Upsample(nn.Module):
    """3x3 convolution to :math:`2C` channels, then pixel-shuffle by 2: :math:`(B, C, H, W)
    \\to (B, C/2, 2H, 2W)`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False),
                                  nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.body(x)
        return result


class _PatchEmbed(nn.Module):
    """3x3 convolution from the image to :math:`C` features (the authors' ``OverlapPatchEmbed``,
    key ``patch_embed.proj``)."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.proj(x)
        return result


def _levels(value: int | Sequence[int], name: str) -> tuple[int, int, int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 4:
            raise ValueError(f"{name} must be an int or 4 ints (one per level), got {value!r}")
        first, second, third, fourth = (check_int(v, name, minimum=1) for v in value)
        return first, second, third, fourth
    number = check_int(value, name, minimum=1)
    return (number,) * 4


class UShapedTransformer(RainNet):
    """The four-level encoder-decoder of Restormer and DRSformer, with the authors' test-time
    processing: reflect-pad to a multiple of 8, run, crop, add the input.

    Levels of :math:`C, 2C, 4C, 8C` channels at full, 1/2, 1/4 and 1/8 resolution; the
    decoder's first level concatenates the skip without reduction and runs at :math:`2C`, as
    does the refinement. Subclasses choose the block and the optional modules before level 1
    (``encoder_level0``) and after the decoder (``refinement``).
    """

    def _build(
        self,
        *,
        in_channels: int,
        channels: int,
        num_blocks: int | Sequence[int],
        heads: int | Sequence[int],
        ffn_expansion_factor: float,
        bias: bool,
        layer_norm_type: str,
        block: Callable[[int, int], nn.Module],
        pre: Callable[[int], nn.Module] | None = None,
        post: Callable[[int], nn.Module] | None = None,
    ) -> None:
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.channels = c = check_int(channels, "channels", minimum=1)
        self.num_blocks = blocks = _levels(num_blocks, "num_blocks")
        self.heads = heads = _levels(heads, "heads")
        self.ffn_expansion_factor = check_positive(ffn_expansion_factor, "ffn_expansion_factor")
        self.bias = check_bool(bias, "bias")
        self.layer_norm_type = check_choice(layer_norm_type, LAYER_NORM_TYPES, "layer_norm_type")
        if c % 2:
            raise ValueError(f"channels must be even (Downsample halves it), got {c}")
        for level, h in enumerate(heads):
            width = c * 2 ** level
            if width % h or (level == 0 and 2 * c % h):
                raise ValueError(f"heads[{level}]={h} must divide the {width} channels of level "
                                 f"{level + 1}")

        def stage(width: int, count: int, h: int) -> nn.Sequential:
            return nn.Sequential(*(block(width, h) for _ in range(count)))

        self.patch_embed = _PatchEmbed(self.in_channels, c)
        if pre is not None:
            self.encoder_level0 = pre(c)
        self.encoder_level1 = stage(c, blocks[0], heads[0])
        self.down1_2 = Downsample(c)
        self.encoder_level2 = stage(2 * c, blocks[1], heads[1])
        self.down2_3 = Downsample(2 * c)
        self.encoder_level3 = stage(4 * c, blocks[2], heads[2])
        self.down3_4 = Downsample(4 * c)
        self.latent = stage(8 * c, blocks[3], heads[3])
        self.up4_3 = Upsample(8 * c)
        self.reduce_chan_level3 = nn.Conv2d(8 * c, 4 * c, 1, bias=bias)
        self.decoder_level3 = stage(4 * c, blocks[2], heads[2])
        self.up3_2 = Upsample(4 * c)
        self.reduce_chan_level2 = nn.Conv2d(4 * c, 2 * c, 1, bias=bias)
        self.decoder_level2 = stage(2 * c, blocks[1], heads[1])
        self.up2_1 = Upsample(2 * c)
        self.decoder_level1 = stage(2 * c, blocks[0], heads[0])
        if post is not None:
            self.refinement = post(2 * c)
        self.output = nn.Conv2d(2 * c, self.in_channels, 3, padding=1, bias=bias)
        self.reset_output_()

    @torch.no_grad()
    def reset_output_(self) -> nn.Conv2d:
        """Zero the output convolution, so that the untrained network is the identity (its
        residual is zero); every other layer keeps PyTorch's default initialisation, as the
        authors'. Loading weights overwrites it. Returns the layer."""
        nn.init.zeros_(self.output.weight)
        if self.output.bias is not None:
            nn.init.zeros_(self.output.bias)
        return self.output

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The network's residual (output convolution) on :math:`(B, C, H, W)` ``x`` whose
        sides are multiples of 8; the derained image is ``x + residual(x)``.

        The features are kept in the channels-last memory format, where the depthwise
        convolutions and the layer norms run several times faster on CPU; the result is the
        same."""
        level1 = self.patch_embed(x.contiguous(memory_format=torch.channels_last))
        if hasattr(self, "encoder_level0"):
            level1 = self.encoder_level0(level1)
        enc1 = self.encoder_level1(level1)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        latent = self.latent(self.down3_4(enc3))
        dec3 = self.reduce_chan_level3(torch.cat([self.up4_3(latent), enc3], dim=1))
        dec3 = self.decoder_level3(dec3)
        dec2 = self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], dim=1))
        dec2 = self.decoder_level2(dec2)
        dec1 = self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], dim=1))
        if hasattr(self, "refinement"):
            dec1 = self.refinement(dec1)
        result: torch.Tensor = self.output(dec1)
        return result

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        height, width = x.shape[-2], x.shape[-1]
        residual = self.residual(pad_to_multiple(x, 8))[..., :height, :width]
        return x + residual, -residual

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, num_blocks={list(self.num_blocks)}, "
                f"heads={list(self.heads)}, ffn_expansion_factor={self.ffn_expansion_factor}, "
                f"layer_norm_type={self.layer_norm_type!r}")


@register_model("restormer")
class Restormer(UShapedTransformer):
    """Restormer: a four-level U-shaped transformer of MDTA attention and gated-Dconv
    feed-forward blocks, with refinement blocks at full resolution; it predicts the residual
    that is added to the input.

    The forward pass includes the authors' test-time processing (``Deraining/test.py``): the
    image is reflect-padded at the bottom and right to a multiple of 8, the residual computed,
    cropped back and added. Any :math:`H, W \\ge 1` works. Every output pixel depends on the
    whole image (the attention maps pool over it): tiles give approximate results only.

    The parameter names equal the authors' (``basicsr/models/archs/restormer_arch.py``), so
    their ``deraining.pth`` loads with no conversion once its ``params`` wrapper is removed.
    The released deraining configuration is the default: 26,126,644 parameters.

    Untrained, the network is the identity (its output convolution is zero).

    Args:
        in_channels: image channels (3, RGB in :math:`[0, 1]`); also the output's.
        channels: width :math:`C` of the first level (the authors' ``dim``, 48).
        num_blocks: transformer blocks per level (4, 6, 6, 8); an int for all four levels.
            The decoder repeats the encoder's counts.
        num_refinement_blocks: full-resolution blocks after the decoder (4).
        heads: attention heads per level (1, 2, 4, 8); an int for all levels.
        ffn_expansion_factor: GDFN width factor, truncated: ``int(C * 2.66)``.
        bias: biases in the transformer convolutions (``False``).
        layer_norm_type: ``"WithBias"`` (deraining) or ``"BiasFree"`` (the authors' denoising
            models).

    Shape:
        - Input: :math:`(B, 3, H, W)`, RGB in :math:`[0, 1]`.
        - Output: :math:`(B, 3, H, W)` (not clamped).

    Example:
        >>> import torch
        >>> from rainkit.nn import build_model
        >>> net = build_model("restormer", channels=8, num_blocks=1, num_refinement_blocks=1)
        >>> x = torch.rand(1, 3, 13, 21)
        >>> bool((net(x) == x).all())  # untrained: the identity
        True

    References:
        S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, "Restormer: Efficient
        Transformer for High-Resolution Image Restoration", CVPR 2022.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        channels: int = 48,
        num_blocks: int | Sequence[int] = (4, 6, 6, 8),
        num_refinement_blocks: int = 4,
        heads: int | Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        layer_norm_type: str = "WithBias",
    ) -> None:
        super().__init__()
        refinement = check_int(num_refinement_blocks, "num_refinement_blocks", minimum=0)
        self.num_refinement_blocks = refinement

        def block(width: int, num_heads: int) -> nn.Module:
            return TransformerBlock(width, num_heads, self.ffn_expansion_factor,
                                    bias=self.bias, layer_norm_type=self.layer_norm_type)

        def post(width: int) -> nn.Module:
            return nn.Sequential(*(block(width, self.heads[0]) for _ in range(refinement)))

        self._build(in_channels=in_channels, channels=channels, num_blocks=num_blocks,
                    heads=heads, ffn_expansion_factor=ffn_expansion_factor, bias=bias,
                    layer_norm_type=layer_norm_type, block=block, post=post)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, num_refinement_blocks={self.num_refinement_blocks}"
