"""Style loss: distances between Gram matrices of VGG19 activations."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from rainkit._checks import check_image_tensor, renamed_keyword
from rainkit.loss._feature_ops import (
    Criterion,
    Features,
    feature_dtype,
    select,
    weighted_layer_distance,
)
from rainkit.loss.feature import WeightedLayersLoss
from rainkit.loss.vgg import VGGFeatures

__all__ = ["StyleLoss", "gram_matrix", "style_loss"]

def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    r"""Gram matrix of feature maps normalised by :math:`C H W`.

    .. math:: G_{ij} = \frac{1}{C H W} \sum_{h, w} F_{i h w} F_{j h w}

    Args:
        features: :math:`(B, C, H, W)` feature maps (cast to float32 at least).

    Returns:
        :math:`(B, C, C)`.

    Example:
        >>> import torch
        >>> from rainkit.loss import gram_matrix
        >>> gram_matrix(torch.ones(1, 2, 3, 3))
        tensor([[[0.5000, 0.5000],
                 [0.5000, 0.5000]]])
    """
    check_image_tensor(features, "features")
    f = feature_dtype(features)
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def style_loss(
    output_features: Features,
    target_features: Features,
    layer_weights: Sequence[float] | None = None,
    criterion: Criterion = "l1",
) -> torch.Tensor:
    r"""Weighted sum over layers of the distance between Gram matrices.

    .. math:: \mathcal{L} = \sum_l w_l \, \operatorname{mean}
        \big|G(\phi_l(\hat y)) - G(\phi_l(y))\big|^p

    with :func:`gram_matrix` and :math:`p = 1` (``"l1"``) or 2 (``"mse"``).

    Args:
        output_features: layer name to :math:`(B, C_l, H_l, W_l)` features of the output.
        target_features: the same layers for the target.
        layer_weights: one weight :math:`\geq 0` per layer; default 1.
        criterion: ``"l1"`` or ``"mse"``.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: a feature dict is not a dict of tensors.
        ValueError: ``output_features`` is empty, ``target_features`` lacks one of its layers or
            has another shape there, a batch is empty, or an option is invalid.

    Example:
        >>> import torch
        >>> from rainkit.loss import style_loss
        >>> ones = {"relu1_1": torch.ones(1, 2, 2, 2)}  # every Gram entry is 1 / C = 0.5
        >>> style_loss(ones, {"relu1_1": torch.zeros(1, 2, 2, 2)}).item()
        0.5
    """
    return weighted_layer_distance(output_features, target_features, layer_weights, criterion,
                                    gram_matrix)


class StyleLoss(WeightedLayersLoss):
    r""":func:`style_loss` on frozen VGG19 features (Gatys et al.).

    Args:
        layers: VGG19 tap names; default the first ReLU of each block, as Gatys et al.
        layer_weights: one weight :math:`\geq 0` per layer, default 1 each.
        criterion: ``"l1"`` or ``"mse"``.
        vgg_weights: ``"imagenet"``, a path or ``None`` (see :class:`~rainkit.loss.VGGFeatures`).
        normalize: ImageNet normalisation of the input inside VGG.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to share instead of building one.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, in :math:`[0, 1]`.
        - result: a scalar.

    Example:
        >>> import torch
        >>> from rainkit.loss import StyleLoss
        >>> loss = StyleLoss(layers=("relu1_1",), vgg_weights=None)
        >>> x = torch.rand(1, 3, 16, 16)
        >>> loss(x, x).item()
        0.0

    References:
        L. A. Gatys, A. S. Ecker, M. Bethge, "Image Style Transfer Using Convolutional Neural
        Networks", CVPR 2016.
    """

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
        layer_weights: Sequence[float] | None = None,
        criterion: Criterion = "l1",
        vgg_weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = False,
        vgg: VGGFeatures | None = None,
    ) -> None:
        super().__init__(layers, layer_weights, criterion, vgg_weights, normalize, vgg)

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None = None
    ) -> torch.Tensor:
        """The loss from precomputed features (``neg_feats`` is ignored)."""
        return style_loss(select(out_feats, self.layers), pos_feats, self.layer_weights,
                          self.criterion)
