"""DRSformer (Chen et al., CVPR 2023): Restormer's skeleton with top-k sparse attention, a
mixed-scale feed-forward and, in one variant, mixture-of-experts feature compensators."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from rainkit._checks import check_bool
from rainkit.nn.blocks.mefc import MixtureOfExpertsFeatureCompensator
from rainkit.nn.blocks.mixed_scale_feed_forward import MixedScaleFeedForward
from rainkit.nn.blocks.sparse_attention import TopKSparseAttention
from rainkit.nn.families.restormer.network import TransformerBlock, UShapedTransformer
from rainkit.nn.registry import register_model

__all__ = ["DRSformer"]


@register_model("drsformer")
class DRSformer(UShapedTransformer):
    """DRSformer: a four-level U-shaped transformer of sparse transformer blocks (top-k sparse
    attention, mixed-scale feed-forward), with a mixture of experts feature compensator (MEFC)
    after the patch embedding and as the refinement, or without them.

    The authors released two architectures under one class name, for different training
    sets (their README): ``mefc=True`` (``DRSformer_arch.py``: Rain200H, DID-Data, DDN-Data;
    33,655,424 parameters) and ``mefc=False`` (``DRSformer_arch_200L+SPA.py``: Rain200L and
    SPA-Data; 32,610,304 parameters, no refinement stage at all).

    The forward pass includes the authors' test-time processing (``test.py``): reflect-pad to
    a multiple of 8, compute the residual, crop, add the input; any :math:`H, W \\ge 1` works.
    Every output pixel depends on the whole image (attention maps and MEFC's weights pool
    over it). Parameter names are the authors', so their files load with no conversion once
    the ``params`` wrapper is removed. Untrained, the network is the identity (its output
    convolution is zero).

    Traps the port keeps: the top-k sizes ``int(C/2), int(C*2/3), int(C*3/4), int(C*4/5)`` of
    the :math:`C` channels of a head are truncated, as is the feed-forward width
    ``int(C*2.66)``.

    Args:
        in_channels: image channels (3); also the output's.
        channels: width :math:`C` of the first level (the authors' ``dim``, 48).
        num_blocks: sparse transformer blocks per level (4, 6, 6, 8); an int for all levels.
        heads: attention heads per level (1, 2, 4, 8); an int for all levels.
        ffn_expansion_factor: MSFN width factor (2.66, truncated).
        bias: biases in the transformer convolutions (``False``).
        layer_norm_type: ``"WithBias"`` or ``"BiasFree"``.
        mefc: with the two MEFC modules (``True``) or without (``False``).

    Shape:
        - Input: :math:`(B, 3, H, W)`, RGB in :math:`[0, 1]`.
        - Output: :math:`(B, 3, H, W)` (not clamped).

    Example:
        >>> import torch
        >>> from rainkit.nn import build_model
        >>> net = build_model("drsformer", channels=8, num_blocks=1, mefc=False)
        >>> net(torch.rand(1, 3, 13, 21)).shape
        torch.Size([1, 3, 13, 21])

    References:
        X. Chen, H. Li, M. Li, J. Pan, "Learning A Sparse Transformer Network for Effective
        Image Deraining", CVPR 2023.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        channels: int = 48,
        num_blocks: int | Sequence[int] = (4, 6, 6, 8),
        heads: int | Sequence[int] = (1, 2, 4, 8),
        ffn_expansion_factor: float = 2.66,
        bias: bool = False,
        layer_norm_type: str = "WithBias",
        mefc: bool = True,
    ) -> None:
        super().__init__()
        self.mefc = check_bool(mefc, "mefc")

        def block(width: int, num_heads: int) -> nn.Module:
            return TransformerBlock(width, num_heads, self.ffn_expansion_factor, bias=self.bias,
                                    layer_norm_type=self.layer_norm_type,
                                    attn_layer=TopKSparseAttention,
                                    ffn_layer=MixedScaleFeedForward)

        compensator = MixtureOfExpertsFeatureCompensator if self.mefc else None
        self._build(in_channels=in_channels, channels=channels, num_blocks=num_blocks,
                    heads=heads, ffn_expansion_factor=ffn_expansion_factor, bias=bias,
                    layer_norm_type=layer_norm_type, block=block, pre=compensator,
                    post=compensator)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mefc={self.mefc}"
