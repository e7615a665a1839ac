"""Private base of the VGG feature losses: one frozen VGG pass, positives and negatives no_grad."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._validation import (
    check_choice,
    check_image_tensor,
    check_positive,
    check_same_shape,
)
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures, check_layers

__all__ = [
    "CRITERIA",
    "Criterion",
    "FeatureLoss",
    "Features",
    "WeightedLayersLoss",
    "as_negatives",
    "check_layer_weights",
    "extract",
    "feature_dtype",
    "weighted_layer_distance",
]

Features = dict[str, torch.Tensor]


def feature_dtype(x: torch.Tensor) -> torch.Tensor:
    """Cast (bf16/fp16) features to at least float32 before a reduction; float64 stays."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def check_layer_weights(
    layer_weights: Sequence[float] | None, layers: tuple[str, ...]
) -> tuple[float, ...]:
    if layer_weights is None:
        return (1.0,) * len(layers)
    if isinstance(layer_weights, (str, bytes)) or not isinstance(layer_weights, Sequence):
        raise TypeError(
            f"layer_weights must be a sequence of numbers, got {type(layer_weights).__name__}"
        )
    if len(layer_weights) != len(layers):
        raise ValueError(
            f"layer_weights must have one weight per layer, expected {len(layers)}, got "
            f"{len(layer_weights)}"
        )
    return tuple(check_positive(w, "layer_weights", strict=False) for w in layer_weights)


def as_negatives(negative: object, positive: torch.Tensor) -> list[torch.Tensor]:
    """Turn a (B, C, H, W) tensor, a (B, K, C, H, W) tensor or a list into K tensors."""
    if isinstance(negative, torch.Tensor) and negative.ndim == 5:
        negatives = list(negative.unbind(1))
    elif isinstance(negative, torch.Tensor):
        negatives = [negative]
    elif isinstance(negative, (list, tuple)) and negative:
        negatives = list(negative)
    else:
        raise TypeError(
            "negative must be a (B, C, H, W) or (B, K, C, H, W) tensor or a non-empty list of "
            f"(B, C, H, W) tensors, got {type(negative).__name__}"
        )
    for neg in negatives:
        check_image_tensor(neg, "negative", channels=3)
        check_same_shape(neg, positive, ("negative", "positive"))
    return negatives


def extract(
    vgg: VGGFeatures,
    layers: Sequence[str],
    output: torch.Tensor,
    positive: torch.Tensor,
    negatives: list[torch.Tensor] | None,
) -> tuple[Features, Features, list[Features] | None]:
    """One VGG pass: ``output`` with gradients; positive and negatives batched, under no_grad."""
    out_feats = vgg(output, layers)
    targets = [positive] + (negatives or [])
    with torch.no_grad():
        batch = torch.cat([t.detach() for t in targets]) if len(targets) > 1 else positive.detach()
        feats = vgg(batch, layers)
    chunks = {name: f.chunk(len(targets)) for name, f in feats.items()}
    pos_feats = {name: c[0] for name, c in chunks.items()}
    neg_feats = None
    if negatives:
        neg_feats = [{name: c[k + 1] for name, c in chunks.items()} for k in range(len(negatives))]
    return out_feats, pos_feats, neg_feats


class FeatureLoss(nn.Module):
    """Base of the losses on VGG features.

    Subclasses set ``needs_negative`` and implement :meth:`forward_features`; :meth:`forward`
    checks the images and runs :func:`extract` once, and :class:`~rainkit.loss.CombinedLoss`
    calls :meth:`forward_features` with features from a pass shared with other losses.
    """

    needs_negative: bool = False

    def __init__(
        self,
        layers: Sequence[str],
        weights: str | os.PathLike[str] | None,
        normalize: bool,
        vgg: VGGFeatures | None,
    ) -> None:
        super().__init__()
        self.layers = check_layers(layers)
        if vgg is None:
            vgg = VGGFeatures(self.layers, weights=weights, normalize=normalize)
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

    def check_inputs(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object
    ) -> list[torch.Tensor] | None:
        check_image_tensor(output, "output", channels=3)
        check_image_tensor(positive, "positive", channels=3)
        check_same_shape(output, positive, ("output", "positive"))
        if negative is None:
            if self.needs_negative:
                raise ValueError(f"{type(self).__name__} needs a negative image, got None")
            return None
        return as_negatives(negative, positive)

    def forward(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object = None
    ) -> torch.Tensor:
        negatives = self.check_inputs(output, positive, negative)
        if not self.needs_negative:
            negatives = None
        feats = extract(self.vgg, self.layers, output, positive, negatives)
        return self.forward_features(*feats)

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        raise NotImplementedError


Criterion = Literal["l1", "mse"]
CRITERIA = {"l1": F.l1_loss, "mse": F.mse_loss}


def weighted_layer_distance(
    output_features: Features,
    target_features: Features,
    layer_weights: Sequence[float] | None,
    criterion: Criterion,
    transform: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """``sum_l w_l * criterion(transform(output_l), transform(target_l))`` over the output's layers.

    The common core of :func:`~rainkit.loss.perceptual_loss` (``transform`` casts to at least
    float32) and :func:`~rainkit.loss.style_loss` (``transform`` is the Gram matrix).
    """
    check_choice(criterion, CRITERIA, "criterion")
    layers = tuple(output_features)
    weights = check_layer_weights(layer_weights, layers)
    fn = CRITERIA[criterion]
    return sum(  # type: ignore[return-value]
        w * fn(transform(output_features[n]), transform(target_features[n]))
        for n, w in zip(layers, weights)
    )


class WeightedLayersLoss(FeatureLoss):
    """Base of the losses that compare per-layer features of output and positive by a criterion.

    Holds what :class:`~rainkit.loss.PerceptualLoss` and :class:`~rainkit.loss.StyleLoss` share:
    the layers, one weight per layer and the ``"l1"``/``"mse"`` criterion, all checked here.
    """

    def __init__(
        self,
        layers: Sequence[str],
        layer_weights: Sequence[float] | None,
        criterion: Criterion,
        weights: str | os.PathLike[str] | None,
        normalize: bool,
        vgg: VGGFeatures | None,
    ) -> None:
        check_choice(criterion, CRITERIA, "criterion")
        super().__init__(layers, weights, normalize, vgg)
        self.criterion: Criterion = criterion
        self.layer_weights = check_layer_weights(layer_weights, self.layers)

    def extra_repr(self) -> str:
        return (f"layers={self.layers}, layer_weights={self.layer_weights}, "
                f"criterion={self.criterion!r}")
