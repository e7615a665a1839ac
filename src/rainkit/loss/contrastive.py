r"""Contrastive regularisation: pull the output towards the clean image, push it from the rainy one.

Two formulations:

* :class:`EasyContrastiveLoss`, a pooled-cosine contrastive loss: VGG features globally
  average-pooled to one vector per image and layer, compared by cosine similarity,

  .. math:: \mathcal{L} = \operatorname{mean}_b\big(1 - \cos(v(\hat y), v(y))\big)
      + \operatorname{mean}_b \cos(v(\hat y), v(x)).

* :class:`ContrastiveLoss`, AECR-Net's (Wu et al., CVPR 2021): the feature *maps* of five layers
  compared location by location with L1, as a ratio of distances,

  .. math:: \mathcal{L} = \sum_i w_i \, \frac{\lVert \phi_i(\hat y) - \phi_i(y) \rVert_1}
      {\frac{1}{K}\sum_k \lVert \phi_i(\hat y) - \phi_i(x_k) \rVert_1 + \varepsilon}.

They differ in three ways. Pooling throws away *where* the features are, so the cosine version only
asks the output's global feature statistics to point like the clean image's; AECR-Net's compares
the maps position by position. The cosine version *adds* an attraction and a repulsion term that
are each bounded (so pushing away from the rainy image can never outweigh getting close to the
clean one by more than 1); the ratio makes the positive distance count relative to the negative
one. And the cosine version has one negative, the rainy input of the same image (a hard
negative); the ratio here accepts several negatives per sample (e.g. the other rainy images of
the batch) and averages their distances.

Here :math:`\hat y` is the output, :math:`y` the positive (clean image) and :math:`x` the
negative (rainy input). Both take ``(output, positive, negative)`` (AECR-Net's ``(a, p, n)``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rainkit._checks import check_positive, renamed_keyword
from rainkit.loss._feature_ops import (
    Features,
    check_feature_pair,
    check_features,
    check_layer_weights,
    feature_dtype,
    mean_abs_distances,
    select,
    weighted_sum,
)
from rainkit.loss.feature import FeatureLoss
from rainkit.loss.vgg import VGGFeatures, check_layers

__all__ = ["ContrastiveLoss", "EasyContrastiveLoss", "contrastive_loss", "easy_contrastive_loss"]

AECR_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
AECR_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def _pooled(f: torch.Tensor) -> torch.Tensor:
    return feature_dtype(f).mean(dim=(2, 3))


def _check_triplet(
    output_features: object, positive_features: object, negative_features: object
) -> tuple[Features, Features, list[Features]]:
    out, pos = check_feature_pair(output_features, positive_features, "positive_features")
    if isinstance(negative_features, (str, bytes, dict)) or not isinstance(negative_features,
                                                                           Sequence):
        raise TypeError("negative_features must be a sequence of feature dicts (one per "
                        f"negative), got {type(negative_features).__name__}")
    if not negative_features:
        raise ValueError("negative_features must hold at least one dict of features (K >= 1), "
                         "got an empty sequence")
    negs = []
    for k, nf in enumerate(negative_features):
        checked = check_features(nf, f"negative_features[{k}]", tuple(out))
        for layer, value in out.items():
            if checked[layer].shape != value.shape:
                raise ValueError(
                    f"output_features[{layer!r}] and negative_features[{k}][{layer!r}] must "
                    f"have the same shape, got {tuple(value.shape)} and "
                    f"{tuple(checked[layer].shape)}"
                )
        negs.append(checked)
    return out, pos, negs


def easy_contrastive_loss(
    output_features: Features,
    positive_features: Features,
    negative_features: Sequence[Features],
    layer_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""Pooled-cosine contrastive loss on precomputed features.

    Per layer :math:`l`, with :math:`v_l` the spatial mean of the feature map (one
    :math:`C_l`-vector per image) and :math:`\cos(u, v) = u \cdot v / (\lVert u \rVert
    \lVert v \rVert)`:

    .. math:: \mathcal{L} = \sum_l w_l \Big[\operatorname{mean}_b\big(1 - \cos(v_l(\hat y),
        v_l(y))\big) + \frac{1}{K}\sum_k \operatorname{mean}_b \cos(v_l(\hat y), v_l(x_k))\Big]

    The first term pulls the output towards the positive :math:`y`, the second pushes it away
    from the negatives :math:`x_k`; each is bounded, so the loss lies in :math:`[-1, 3]` per
    unit of weight. (:func:`torch.nn.functional.cosine_similarity` computes the cosine, with
    its :math:`10^{-8}` floor on the norms.)

    Args:
        output_features: layer name to :math:`(B, C_l, H_l, W_l)` features of the output, at
            least one layer, :math:`B \geq 1`.
        positive_features: the same layers, same shapes, for the positive (clean image).
        negative_features: one such dict per negative (:math:`K \geq 1`).
        layer_weights: one weight :math:`\geq 0` per layer; default 1.

    Returns:
        A scalar tensor in :math:`[-1, 3]` per unit of weight.

    Raises:
        TypeError: a feature dict is not a dict of tensors.
        ValueError: ``output_features`` is empty, ``negative_features`` is empty, a dict lacks
            one of the output's layers or has another shape there, or a batch is empty.

    Example:
        >>> import torch
        >>> from rainkit.loss import easy_contrastive_loss
        >>> pos = {"relu1_1": torch.rand(2, 8, 4, 4)}
        >>> neg = {"relu1_1": torch.rand(2, 8, 4, 4)}
        >>> value = easy_contrastive_loss(pos, pos, [neg])  # output == positive: cosine to neg
        >>> -1 <= value.item() <= 1
        True
    """
    out_feats, pos_feats, neg_feats = _check_triplet(output_features, positive_features,
                                                     negative_features)
    layers = tuple(out_feats)
    weights = check_layer_weights(layer_weights, layers)
    terms = []
    for name, w in zip(layers, weights):
        out = _pooled(out_feats[name])
        pos = (1 - F.cosine_similarity(out, _pooled(pos_feats[name]), dim=1)).mean()
        neg = torch.stack([F.cosine_similarity(out, _pooled(nf[name]), dim=1).mean()
                           for nf in neg_feats]).mean()
        terms.append(w * (pos + neg))
    return weighted_sum(terms)


def contrastive_loss(
    output_features: Features,
    positive_features: Features,
    negative_features: Sequence[Features],
    layer_weights: Sequence[float] | None = None,
    eps: float = 1e-7,
) -> torch.Tensor:
    r"""AECR-Net's contrastive regularisation on precomputed features.

    .. math:: \mathcal{L} = \sum_i w_i \, \frac{\operatorname{L1}(\phi_i(\hat y), \phi_i(y))}
        {\frac{1}{K}\sum_k \operatorname{L1}(\phi_i(\hat y), \phi_i(x_k)) + \varepsilon}

    with :math:`\operatorname{L1}` the mean absolute difference over the batch.

    Args:
        output_features: layer name to :math:`(B, C_i, H_i, W_i)` features of the output, at
            least one layer, :math:`B \geq 1`.
        positive_features: the same layers, same shapes, for the positive (clean image).
        negative_features: one such dict per negative (:math:`K \geq 1`).
        layer_weights: :math:`w_i \geq 0`, one per layer; default 1.
        eps: :math:`\varepsilon \geq 0`, keeps the ratio finite.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: a feature dict is not a dict of tensors.
        ValueError: ``output_features`` is empty, ``negative_features`` is empty, a dict lacks
            one of the output's layers or has another shape there, a batch is empty, or ``eps``
            is negative.

    Example:
        >>> import torch
        >>> from rainkit.loss import contrastive_loss
        >>> out = {"relu1_1": torch.zeros(1, 2, 2, 2)}
        >>> pos = {"relu1_1": torch.ones(1, 2, 2, 2)}  # L1 distance 1
        >>> neg = {"relu1_1": torch.full((1, 2, 2, 2), 4.0)}  # L1 distance 4
        >>> contrastive_loss(out, pos, [neg], eps=0.0).item()
        0.25
    """
    out_feats, pos_feats, neg_feats = _check_triplet(output_features, positive_features,
                                                     negative_features)
    layers = tuple(out_feats)
    weights = check_layer_weights(layer_weights, layers)
    eps = check_positive(eps, "eps", strict=False)
    terms = []
    for name, w in zip(layers, weights):
        targets = [feature_dtype(f[name]) for f in (pos_feats, *neg_feats)]
        distances = mean_abs_distances(feature_dtype(out_feats[name]), targets)
        d_ap, d_an = distances[0], distances[1:].mean()
        terms.append(w * d_ap / (d_an + eps))
    return weighted_sum(terms)


class EasyContrastiveLoss(FeatureLoss):
    r"""Pooled-cosine contrastive loss, :func:`easy_contrastive_loss` on frozen VGG19 features.

    Call it as ``loss(output, positive, negative)``: the restored image is the output, the
    clean image the positive, the rainy input the negative. The default VGG settings are those
    of :class:`~rainkit.loss.PerceptualLoss`: the ``conv5_4`` tap (torchvision's
    ``features[:35]``) and raw input.

    Args:
        layers: VGG19 tap names whose pooled features are compared.
        layer_weights: one weight :math:`\geq 0` per layer, default 1 each.
        vgg_weights: ``"imagenet"``, a path or ``None`` (see :class:`~rainkit.loss.VGGFeatures`).
        normalize: ImageNet normalisation of the input inside VGG.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to share instead of building one.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, in :math:`[0, 1]`, :math:`H, W \geq 16` for
          the default tap (:func:`~rainkit.loss.min_input_size`).
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)` or a list of :math:`K`
          :math:`(B, 3, H, W)` tensors (the cosine term is averaged over them).
        - result: a scalar.

    Example:
        >>> import torch
        >>> from rainkit.loss import EasyContrastiveLoss
        >>> loss = EasyContrastiveLoss(layers=("relu1_1",), vgg_weights=None)
        >>> clean, rainy = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        >>> 0 <= loss(clean, clean, rainy).item() <= 1  # zero positive distance
        True
    """

    needs_negative = True

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str] = ("conv5_4",),
        layer_weights: Sequence[float] | None = None,
        vgg_weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = False,
        vgg: VGGFeatures | None = None,
    ) -> None:
        checked = check_layer_weights(layer_weights, check_layers(layers))
        super().__init__(layers, vgg_weights, normalize, vgg)
        self.layer_weights = checked

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        """The loss from precomputed features."""
        if not neg_feats:
            raise ValueError(f"{type(self).__name__} needs a negative image, got None")
        return easy_contrastive_loss(select(out_feats, self.layers), pos_feats, neg_feats,
                                     self.layer_weights)

    def extra_repr(self) -> str:
        return f"layers={self.layers}, layer_weights={self.layer_weights}"


class ContrastiveLoss(FeatureLoss):
    r"""AECR-Net's contrastive regularisation, :func:`contrastive_loss` on frozen VGG19 features.

    Defaults are AECR-Net's: ``relu1_1`` ... ``relu5_1`` with weights 1/32, 1/16, 1/8, 1/4, 1,
    raw (un-normalised) input, :math:`\varepsilon = 10^{-7}`. Call it as
    ``loss(output, positive, negative)`` (AECR-Net's ``(a, p, n)``).

    Args:
        layers: VGG19 tap names.
        layer_weights: one weight :math:`\geq 0` per layer; default AECR-Net's for its layers,
            1 each for other layers.
        eps: :math:`\varepsilon \geq 0` added to the denominator.
        vgg_weights: ``"imagenet"``, a path or ``None`` (see :class:`~rainkit.loss.VGGFeatures`).
        normalize: ImageNet normalisation of the input inside VGG.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to share instead of building one.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, in :math:`[0, 1]`, :math:`H, W \geq 16` for
          the default taps (:func:`~rainkit.loss.min_input_size`).
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)` or a list of :math:`K`
          :math:`(B, 3, H, W)` tensors; the denominators are averaged over them.
        - result: a scalar.

    Example:
        >>> import torch
        >>> from rainkit.loss import ContrastiveLoss
        >>> loss = ContrastiveLoss(layers=("relu1_1", "relu2_1"), layer_weights=(0.5, 1.0),
        ...                        vgg_weights=None)
        >>> clean, rainy = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        >>> loss(clean, clean, rainy).item()
        0.0
        >>> several = torch.rand(2, 4, 3, 16, 16)  # four negatives per sample
        >>> loss(torch.rand(2, 3, 16, 16), clean, several).item() > 0
        True

    References:
        H. Wu, Y. Qu, S. Lin, J. Zhou, R. Qiao, Z. Zhang, Y. Xie, L. Ma, "Contrastive Learning
        for Compact Single Image Dehazing", CVPR 2021.
    """

    needs_negative = True

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str] = AECR_LAYERS,
        layer_weights: Sequence[float] | None = None,
        eps: float = 1e-7,
        vgg_weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = False,
        vgg: VGGFeatures | None = None,
    ) -> None:
        checked_layers = check_layers(layers)
        if layer_weights is None and checked_layers == AECR_LAYERS:
            layer_weights = AECR_WEIGHTS
        checked = check_layer_weights(layer_weights, checked_layers)
        checked_eps = check_positive(eps, "eps", strict=False)
        super().__init__(layers, vgg_weights, normalize, vgg)
        self.layer_weights = checked
        self.eps = checked_eps

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        """The loss from precomputed features."""
        if not neg_feats:
            raise ValueError(f"{type(self).__name__} needs a negative image, got None")
        return contrastive_loss(select(out_feats, self.layers), pos_feats, neg_feats,
                                self.layer_weights, self.eps)

    def extra_repr(self) -> str:
        return f"layers={self.layers}, layer_weights={self.layer_weights}, eps={self.eps}"
