"""Perceptual loss: distances between VGG19 activations of the output and the clean image."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from rainkit._checks import renamed_keyword
from rainkit.loss._feature_ops import (
    Criterion,
    Features,
    feature_dtype,
    select,
    weighted_layer_distance,
)
from rainkit.loss.feature import WeightedLayersLoss
from rainkit.loss.vgg import VGGFeatures

__all__ = ["PerceptualLoss", "perceptual_loss"]

def perceptual_loss(
    output_features: Features,
    target_features: Features,
    layer_weights: Sequence[float] | None = None,
    criterion: Criterion = "l1",
) -> torch.Tensor:
    r"""Weighted sum over layers of the mean L1 or squared-L2 distance between feature maps.

    .. math:: \mathcal{L} = \sum_l w_l \, \operatorname{mean}\big|\phi_l(\hat y) - \phi_l(y)\big|^p,
        \quad p = 1 \text{ (``"l1"``) or } 2 \text{ (``"mse"``)}

    Args:
        output_features: layer name to :math:`(B, C_l, H_l, W_l)` features of the output, at
            least one layer, :math:`B \geq 1`.
        target_features: the same layers, same shapes, for the target (the clean image); extra
            layers are ignored.
        layer_weights: :math:`w_l \geq 0`, one per layer in ``output_features``' order; default 1.
        criterion: ``"l1"`` or ``"mse"``.

    Returns:
        A scalar tensor (float32 or float64 even under autocast).

    Raises:
        TypeError: a feature dict is not a dict of tensors.
        ValueError: ``output_features`` is empty, ``target_features`` lacks one of its layers or
            has another shape there, a batch is empty, or an option is invalid.

    Example:
        >>> import torch
        >>> from rainkit.loss import perceptual_loss
        >>> a = {"relu1_1": torch.ones(1, 2, 2, 2)}
        >>> b = {"relu1_1": torch.zeros(1, 2, 2, 2)}
        >>> perceptual_loss(a, b, [0.5]).item()
        0.5
    """
    return weighted_layer_distance(output_features, target_features, layer_weights, criterion,
                                    feature_dtype)


class PerceptualLoss(WeightedLayersLoss):
    r"""Perceptual loss of Johnson et al., :func:`perceptual_loss` on frozen VGG19 features.

    The default tap is ``conv5_4``, the last convolution of VGG19 *before* its ReLU: the
    features ESRGAN (Wang et al., 2018) compares, torchvision's ``vgg19().features[:35]``
    (index 34), with raw (un-normalised) input and the L1 criterion. ``features[:35]`` is often
    described as "up to relu5_4"; it is not: pass ``layers=("relu5_4",)`` for the activation
    after the ReLU (``features[:36]``), and ``normalize=True`` for the ImageNet statistics the
    weights were trained with.

    Args:
        layers: VGG19 tap names (see :class:`~rainkit.loss.VGGFeatures`).
        layer_weights: one weight :math:`\geq 0` per layer, default 1 each.
        criterion: ``"l1"`` or ``"mse"``.
        vgg_weights: the VGG19 weights: ``"imagenet"``, a path or ``None`` (see
            :class:`~rainkit.loss.VGGFeatures`); ignored when ``vgg`` is given.
        normalize: ImageNet mean/std normalisation of the input inside VGG; ignored when ``vgg``
            is given.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to use (and share with other losses) instead
            of building one.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, in :math:`[0, 1]`, :math:`H, W \geq 16` for
          the default tap (:func:`~rainkit.loss.min_input_size`).
        - result: a scalar.

    Example:
        >>> import torch
        >>> from rainkit.loss import PerceptualLoss
        >>> loss = PerceptualLoss(layers=("relu1_1", "relu2_1"), vgg_weights=None)
        >>> x = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> value = loss(x, torch.rand(2, 3, 16, 16))
        >>> value.backward(); value.ndim, x.grad.shape
        (0, torch.Size([2, 3, 16, 16]))

    References:
        J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
        Super-Resolution", ECCV 2016.

        X. Wang, K. Yu, S. Wu, J. Gu, Y. Liu, C. Dong, Y. Qiao, C. C. Loy, "ESRGAN: Enhanced
        Super-Resolution Generative Adversarial Networks", ECCV Workshops 2018.
    """

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str] = ("conv5_4",),
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
        return perceptual_loss(select(out_feats, self.layers), pos_feats, self.layer_weights,
                               self.criterion)
