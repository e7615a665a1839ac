"""FeatureLoss, the base class of the losses on VGG19 features."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from rainkit._checks import check_choice, check_image_tensor, check_same_shape, renamed_keyword
from rainkit.loss._feature_ops import (
    CRITERIA,
    Criterion,
    Features,
    as_negatives,
    check_layer_weights,
    check_trunk_dtypes,
    extract,
)
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures, check_layers, check_vgg_input

__all__ = ["FeatureLoss", "Features"]


class FeatureLoss(nn.Module):
    r"""Base class of the losses on VGG19 features; subclass it to add your own.

    A feature loss compares the VGG19 activations of the output :math:`\hat y` with those of the
    positive (clean) image :math:`y` and, if it wants them, of :math:`K \geq 1` negatives
    :math:`x_k`. The base class owns the trunk and the VGG pass; a subclass provides the
    comparison:

    * **the layers it needs**: pass them to ``super().__init__(layers, vgg_weights, normalize,
      vgg)``; they are checked (names from :data:`~rainkit.loss.VGG19_LAYERS`) and kept as
      ``self.layers``, and the trunk is cut after the deepest of them;
    * ``needs_negative``, a class attribute: ``True`` when the loss uses negatives (then a call
      without one is a :class:`ValueError`);
    * :meth:`forward_features`, the loss from precomputed features, returning a scalar.

    **Standalone**, ``loss(output, positive, negative=None)`` checks the images and runs
    :meth:`forward_features` on one pass of ``self.vgg``. **Inside**
    :class:`~rainkit.loss.CombinedLoss`, every module that is an instance of this class is
    recognised as a feature loss: the combined loss groups them by trunk, runs one pass per trunk
    for the union of their layers, and calls each one's :meth:`forward_features` with the
    features of its own ``layers``. The output goes through the trunk with gradients; the
    positive and the negatives need none, so they go through it together, batched, under
    :func:`torch.no_grad`, and the negatives only when some loss ``needs_negative``.

    Args:
        layers: the VGG19 tap names the loss needs.
        vgg_weights: the trunk's weights: ``"imagenet"``, a path or ``None`` (see
            :class:`~rainkit.loss.VGGFeatures`); ignored when ``vgg`` is given.
        normalize: ImageNet mean/std normalisation of the input; ignored when ``vgg`` is given.
        vgg: a :class:`~rainkit.loss.VGGFeatures` to use (and share with other losses) instead
            of building one; it must reach the deepest of ``layers``.

    Shape:
        - output, positive: :math:`(B, 3, H, W)`, :math:`B \geq 1`, :math:`H, W \geq`
          :func:`~rainkit.loss.min_input_size` of ``layers`` (16 for ``conv5_4``).
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)`, or a list of :math:`K`
          :math:`(B, 3, H, W)` tensors.
        - :meth:`forward_features` gets ``out_feats`` and ``pos_feats``, dicts from each name
          in ``layers`` (in that order) to :math:`(B, C_l, H_l, W_l)`: ``out_feats`` carries
          the gradient, ``pos_feats`` none; ``neg_feats`` is ``None`` unless
          ``needs_negative``, else a list of :math:`K` such dicts. The features are float32
          (float64 with a float64 trunk, bfloat16 or float16 under autocast: reduce them in
          float32 at least).

    Example:
        A loss on the channel means of two layers, in a :class:`~rainkit.loss.CombinedLoss`
        beside a perceptual loss, both on one shared trunk:

        >>> import torch
        >>> import torch.nn.functional as F
        >>> from torch import nn
        >>> from rainkit.loss import CombinedLoss, FeatureLoss, PerceptualLoss, VGGFeatures
        >>> class ChannelMeanLoss(FeatureLoss):
        ...     '''Squared distance between the channel means of each layer's features.'''
        ...     def __init__(self, layers=("relu1_1", "relu2_1"), vgg_weights="imagenet", vgg=None):
        ...         super().__init__(layers, vgg_weights, normalize=True, vgg=vgg)
        ...     def forward_features(self, out_feats, pos_feats, neg_feats=None):
        ...         return sum(F.mse_loss(out_feats[n].float().mean((2, 3)),
        ...                               pos_feats[n].float().mean((2, 3))) for n in self.layers)
        >>> vgg = VGGFeatures(vgg_weights=None)  # random: one trunk for both
        >>> loss = CombinedLoss({
        ...     "l1": (nn.L1Loss(), 1.0),
        ...     "perceptual": (PerceptualLoss(layers=("relu2_1",), vgg=vgg), 0.1),
        ...     "means": (ChannelMeanLoss(vgg=vgg), 0.5),
        ... })
        >>> output = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> total, terms = loss(output, torch.rand(2, 3, 16, 16))
        >>> total.backward()
        >>> loss.num_vgg_passes, sorted(terms), output.grad.shape
        (1, ['l1', 'means', 'perceptual'], torch.Size([2, 3, 16, 16]))
    """

    #: whether the loss uses negatives (:meth:`forward_features` then gets ``neg_feats``).
    needs_negative: bool = False

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str],
        vgg_weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = True,
        vgg: VGGFeatures | None = None,
    ) -> None:
        super().__init__()
        self.layers = check_layers(layers)
        if vgg is None:
            vgg = VGGFeatures(self.layers, vgg_weights=vgg_weights, normalize=normalize)
        elif not isinstance(vgg, VGGFeatures):
            raise TypeError(f"vgg must be a VGGFeatures or None, got {type(vgg).__name__}")
        else:
            too_deep = [n for n in self.layers if VGG19_LAYERS.index(n) >= vgg.depth]
            if too_deep:
                raise ValueError(
                    f"vgg ends at {VGG19_LAYERS[vgg.depth - 1]!r}, too shallow for layers "
                    f"{too_deep}; build it with a deeper layer"
                )
        self.vgg = vgg

    def _check_inputs(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object
    ) -> list[torch.Tensor] | None:
        check_vgg_input(output, "output", self.layers)
        check_image_tensor(positive, "positive", channels=3)
        check_same_shape(output, positive, ("output", "positive"))
        check_trunk_dtypes(self.vgg, output, positive)
        if negative is None:
            if self.needs_negative:
                raise ValueError(f"{type(self).__name__} needs a negative image, got None")
            return None
        negatives = as_negatives(negative, positive)
        if not self.needs_negative:
            return None
        check_trunk_dtypes(self.vgg, *negatives, names=("negative",) * len(negatives))
        return negatives

    def forward(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object = None
    ) -> torch.Tensor:
        """The loss of ``output`` against ``positive`` (and ``negative``): one VGG pass."""
        negatives = self._check_inputs(output, positive, negative)
        return self.forward_features(*extract(self.vgg, self.layers, output, positive, negatives))

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        """The loss from precomputed features of ``self.layers``; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward_features")


class WeightedLayersLoss(FeatureLoss):
    """Base of the losses that compare per-layer features of output and positive by a criterion.

    Holds what :class:`~rainkit.loss.PerceptualLoss` and :class:`~rainkit.loss.StyleLoss` share:
    the layers, one weight per layer and the ``"l1"``/``"mse"`` criterion, all checked here.
    """

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str],
        layer_weights: Sequence[float] | None,
        criterion: Criterion,
        vgg_weights: str | os.PathLike[str] | None,
        normalize: bool,
        vgg: VGGFeatures | None,
    ) -> None:
        # options first, so a bad one fails before the weights file is read
        check_choice(criterion, CRITERIA, "criterion")
        checked = check_layer_weights(layer_weights, check_layers(layers))
        super().__init__(layers, vgg_weights, normalize, vgg)
        self.criterion: Criterion = criterion
        self.layer_weights = checked

    def extra_repr(self) -> str:
        return (f"layers={self.layers}, layer_weights={self.layer_weights}, "
                f"criterion={self.criterion!r}")
