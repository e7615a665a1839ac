r"""Contrastive regularisation: pull the output towards the clean image, push it from the rainy one.

Two formulations:

* :class:`EasyContrastiveLoss`, the seed's: VGG features globally average-pooled to one vector
  per image and layer, compared by cosine similarity,

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
negative (rainy input).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from rainkit._validation import check_positive
from rainkit.loss._feature import FeatureLoss, Features, check_layer_weights, feature_dtype
from rainkit.loss.vgg import VGGFeatures

__all__ = ["ContrastiveLoss", "EasyContrastiveLoss", "contrastive_loss", "easy_contrastive_loss"]

AECR_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
AECR_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


def _pooled(f: torch.Tensor) -> torch.Tensor:
    return feature_dtype(f).mean(dim=(2, 3))


def easy_contrastive_loss(
    output_features: Features,
    positive_features: Features,
    negative_features: Sequence[Features],
    layer_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""The seed's pooled-cosine contrastive loss on precomputed features.

    Per layer :math:`l`, with :math:`v_l` the spatial mean of the feature map:

    .. math:: \mathcal{L} = \sum_l w_l \Big[\operatorname{mean}_b\big(1 - \cos(v_l(\hat y),
        v_l(y))\big) + \frac{1}{K}\sum_k \operatorname{mean}_b \cos(v_l(\hat y), v_l(x_k))\Big]

    Args:
        output_features: layer name to :math:`(B, C_l, H_l, W_l)` features of the output.
        positive_features: the same layers for the positive (clean image).
        negative_features: one such dict per negative (:math:`K \geq 1`).
        layer_weights: one weight :math:`\geq 0` per layer; default 1.

    Returns:
        A scalar tensor in :math:`[-1, 3]` per unit of weight.
    """
    layers = tuple(output_features)
    weights = check_layer_weights(layer_weights, layers)
    total = 0.0
    for name, w in zip(layers, weights):
        out = _pooled(output_features[name])
        pos = (1 - F.cosine_similarity(out, _pooled(positive_features[name]), dim=1)).mean()
        neg = torch.stack([F.cosine_similarity(out, _pooled(nf[name]), dim=1).mean()
                           for nf in negative_features]).mean()
        total = total + w * (pos + neg)
    return total  # type: ignore[return-value]


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
        output_features: layer name to :math:`(B, C_i, H_i, W_i)` features of the output.
        positive_features: the same layers for the positive (clean image).
        negative_features: one such dict per negative (:math:`K \geq 1`).
        layer_weights: :math:`w_i \geq 0`, one per layer; default 1.
        eps: :math:`\varepsilon`, keeps the ratio finite.

    Returns:
        A scalar tensor.
    """
    layers = tuple(output_features)
    weights = check_layer_weights(layer_weights, layers)
    total = 0.0
    for name, w in zip(layers, weights):
        out = feature_dtype(output_features[name])
        d_ap = F.l1_loss(out, feature_dtype(positive_features[name]))
        d_an = torch.stack([F.l1_loss(out, feature_dtype(nf[name]))
                            for nf in negative_features]).mean()
        total = total + w * d_ap / (d_an + eps)
    return total  # type: ignore[return-value]


class EasyContrastiveLoss(FeatureLoss):
    r"""The seed's contrastive loss, :func:`easy_contrastive_loss` on frozen VGG19 features.

    Call it as ``loss(output, positive, negative)``. The seed's ``forward(input, generated,
    ground_truth)`` maps to ``loss(output=generated, positive=ground_truth, negative=input)``:
    the rainy input is the negative, the restored image the output, the clean image the positive.
    The default VGG settings are the seed's (``features[:35]``, i.e. the ``conv5_4`` tap, raw
    input; see :class:`~rainkit.loss.PerceptualLoss`).

    Args:
        layers: VGG19 tap names whose pooled features are compared.
        layer_weights: one weight :math:`\geq 0` per layer, default 1 each.
        weights: ``"imagenet"``, a path or ``None`` (see :class:`~rainkit.loss.VGGFeatures`).
        normalize: ImageNet normalisation of the input inside VGG.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to share instead of building one.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, in :math:`[0, 1]`.
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)` or a list of :math:`K`
          :math:`(B, 3, H, W)` tensors (the cosine term is averaged over them).
        - result: a scalar.

    Example:
        >>> import torch
        >>> from rainkit.loss import EasyContrastiveLoss
        >>> loss = EasyContrastiveLoss(layers=("relu1_1",), weights=None)
        >>> clean, rainy = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
        >>> 0 <= loss(clean, clean, rainy).item() <= 1  # zero positive distance
        True
    """

    needs_negative = True

    def __init__(
        self,
        layers: Sequence[str] = ("conv5_4",),
        layer_weights: Sequence[float] | None = None,
        weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = False,
        vgg: VGGFeatures | None = None,
    ) -> None:
        super().__init__(layers, weights, normalize, vgg)
        self.layer_weights = check_layer_weights(layer_weights, self.layers)

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        """The loss from precomputed features."""
        if not neg_feats:
            raise ValueError(f"{type(self).__name__} needs a negative image, got None")
        return easy_contrastive_loss({n: out_feats[n] for n in self.layers}, pos_feats,
                                     neg_feats, self.layer_weights)

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
        weights: ``"imagenet"``, a path or ``None`` (see :class:`~rainkit.loss.VGGFeatures`).
        normalize: ImageNet normalisation of the input inside VGG.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to share instead of building one.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, in :math:`[0, 1]`.
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)` or a list of :math:`K`
          :math:`(B, 3, H, W)` tensors; the denominators are averaged over them.
        - result: a scalar.

    Example:
        >>> import torch
        >>> from rainkit.loss import ContrastiveLoss
        >>> loss = ContrastiveLoss(layers=("relu1_1", "relu2_1"), layer_weights=(0.5, 1.0),
        ...                        weights=None)
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

    def __init__(
        self,
        layers: Sequence[str] = AECR_LAYERS,
        layer_weights: Sequence[float] | None = None,
        eps: float = 1e-7,
        weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = False,
        vgg: VGGFeatures | None = None,
    ) -> None:
        super().__init__(layers, weights, normalize, vgg)
        if layer_weights is None and self.layers == AECR_LAYERS:
            layer_weights = AECR_WEIGHTS
        self.layer_weights = check_layer_weights(layer_weights, self.layers)
        self.eps = check_positive(eps, "eps", strict=False)

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        """The loss from precomputed features."""
        if not neg_feats:
            raise ValueError(f"{type(self).__name__} needs a negative image, got None")
        return contrastive_loss({n: out_feats[n] for n in self.layers}, pos_feats, neg_feats,
                                self.layer_weights, self.eps)

    def extra_repr(self) -> str:
        return f"layers={self.layers}, layer_weights={self.layer_weights}, eps={self.eps}"
