"""Helpers shared by the feature losses: feature-dict checks, distances and the VGG pass.

Private to :mod:`rainkit.loss` (the module name starts with an underscore), so the names here
carry none: :mod:`~rainkit.loss.feature`, :mod:`~rainkit.loss.perceptual`,
:mod:`~rainkit.loss.style`, :mod:`~rainkit.loss.contrastive` and :mod:`~rainkit.loss.combined`
import them. They are not part of rainkit's public API and may change without notice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F

from rainkit._checks import (
    check_choice,
    check_image_tensor,
    check_module_dtype,
    check_positive,
    check_same_shape,
)
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures

__all__ = [
    "CRITERIA",
    "Criterion",
    "Features",
    "as_negatives",
    "check_feature_pair",
    "check_features",
    "check_layer_weights",
    "check_trunk_dtypes",
    "extract",
    "feature_dtype",
    "l1",
    "mean_abs_distances",
    "select",
    "weighted_layer_distance",
]

#: A dict from VGG19 tap name to a feature map :math:`(B, C_l, H_l, W_l)`.
Features = dict[str, torch.Tensor]


def feature_dtype(x: torch.Tensor) -> torch.Tensor:
    """Cast (bf16/fp16) features to at least float32 before a reduction; float64 stays."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


class _MeanAbsDistances(torch.autograd.Function):
    """``stack([mean|a - t| for t in targets])`` with its gradient for ``a`` (targets: none).

    What ``F.l1_loss(a, t)`` computes, with the same operations (so the same values, bitwise),
    but one node instead of autograd's sub/abs/mean chain per target: the backward writes
    ``sum_t (g_t / N) sign(a - t)`` directly, in ``a``'s memory format. Autograd's chain
    materialises ``g / N`` as a full contiguous tensor and multiplies it with the
    channels-last ``sgn``, a mixed-layout product several times slower than a plain pass; here
    every pass is a plain one. Same gradient values (a product with a sign is exact; two
    terms sum in either order to the same float). The backward is itself differentiable
    (``sign`` has zero derivative almost everywhere, as ``abs``'s backward treats it).
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, a: torch.Tensor,
                *targets: torch.Tensor) -> torch.Tensor:
        diffs = [a - t for t in targets]
        ctx.save_for_backward(*diffs)
        return torch.stack([d.abs().mean() for d in diffs])

    @staticmethod
    def backward(ctx: torch.autograd.function.BackwardCFunction,
                 grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        diffs = ctx.saved_tensors
        scale = grad / diffs[0].numel()
        out = torch.sign(diffs[0]).mul_(scale[0])
        for k in range(1, len(diffs)):
            out = out.addcmul_(torch.sign(diffs[k]), scale[k])
        return (out, *(None,) * len(diffs))


def mean_abs_distances(a: torch.Tensor, targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """``torch.stack([F.l1_loss(a, t) for t in targets])``; one autograd node when only ``a``
    carries a gradient (the usual case: targets come from a no-grad pass)."""
    if a.requires_grad and not any(t.requires_grad for t in targets) and torch.is_grad_enabled():
        distances: torch.Tensor = _MeanAbsDistances.apply(a, *targets)
        return distances
    return torch.stack([F.l1_loss(a, t) for t in targets])


def check_features(features: object, name: str, layers: Sequence[str] | None = None) -> Features:
    """A non-empty dict of (B >= 1, C, H, W) tensors, holding ``layers`` when given."""
    if not isinstance(features, Mapping):
        raise TypeError(f"{name} must be a dict from layer name to a (B, C, H, W) tensor, got "
                        f"{type(features).__name__}")
    if not features:
        raise ValueError(f"{name} must hold at least one layer, got an empty dict")
    if layers is not None:
        missing = [n for n in layers if n not in features]
        if missing:
            raise ValueError(f"{name} lacks the layers {missing}; it has {list(features)}")
    for layer, value in features.items():
        tensor = check_image_tensor(value, f"{name}[{layer!r}]")
        if tensor.shape[0] == 0:
            raise ValueError(f"{name}[{layer!r}] must hold at least one image, got an empty "
                             f"batch of shape {tuple(tensor.shape)}")
    return dict(features)


def check_feature_pair(output_features: object, target_features: object,
                        target_name: str = "target_features") -> tuple[Features, Features]:
    out = check_features(output_features, "output_features")
    target = check_features(target_features, target_name, tuple(out))
    for layer, value in out.items():
        check_same_shape(value, target[layer],
                         (f"output_features[{layer!r}]", f"{target_name}[{layer!r}]"))
    return out, target


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


def check_trunk_dtypes(vgg: VGGFeatures, *images: torch.Tensor,
                       names: Sequence[str] = ("output", "positive")) -> None:
    """Raise TypeError unless every image has the trunk's dtype (anything goes under autocast).

    A float64 image into a float32 trunk would be rounded, a float16 one computed in float32:
    neither is cast silently; the message names the argument and the two ways to agree.
    """
    for image, name in zip(images, names):
        check_module_dtype(image, vgg, name)


def as_negatives(negative: object, positive: torch.Tensor) -> list[torch.Tensor]:
    """Turn a (B, C, H, W) tensor, a (B, K, C, H, W) tensor or a list into K tensors."""
    if isinstance(negative, torch.Tensor) and negative.ndim == 5:
        negatives = list(negative.unbind(1))
        if not negatives:
            raise ValueError("negative must hold at least one image per sample, got shape "
                             f"{tuple(negative.shape)} (K = 0)")
    elif isinstance(negative, torch.Tensor):
        negatives = [negative]
    elif isinstance(negative, (list, tuple)) and negative:
        negatives = list(negative)
    elif isinstance(negative, (list, tuple)):
        raise ValueError("negative must hold at least one (B, C, H, W) tensor, got an empty "
                         f"{type(negative).__name__}")
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
    negative_layers: Sequence[str] | None = None,
    target_dtype: torch.dtype | None = None,
) -> tuple[Features, Features, list[Features] | None]:
    """One VGG pass over the output (with gradients) and one over positive + negatives (without).

    The positive and the negatives go through the trunk batched, under :func:`torch.no_grad`
    (and :func:`torch.autocast` to ``target_dtype`` when given), only as deep as their layers
    need: the negatives stop at the deepest of ``negative_layers`` (default ``layers``), the
    positive goes on alone to the deepest of ``layers``.
    """
    out_feats = vgg(output, layers)
    index = VGG19_LAYERS.index
    deepest = max(index(n) for n in layers)
    amp = (torch.autocast(positive.device.type, dtype=target_dtype) if target_dtype is not None
           else contextlib.nullcontext())
    with torch.no_grad(), amp:
        if not negatives:
            return out_feats, vgg._walk(vgg._prepare(positive), layers, 0)[0], None
        neg_layers = tuple(layers if negative_layers is None else negative_layers)  # ⊆ layers
        split = max(index(n) for n in neg_layers)
        shared = [n for n in layers if index(n) <= split]
        batch = vgg._prepare(torch.cat([positive, *negatives]))
        feats, x = vgg._walk(batch, shared, 0, split)
        chunks = {name: f.chunk(1 + len(negatives)) for name, f in feats.items()}
        pos_feats = {name: c[0] for name, c in chunks.items()}
        if split < deepest:
            rest = [n for n in layers if index(n) > split]
            pos_feats.update(vgg._walk(x[: positive.shape[0]], rest, split + 1)[0])
        neg_feats = [{name: chunks[name][k + 1] for name in neg_layers}
                     for k in range(len(negatives))]
    return out_feats, {name: pos_feats[name] for name in layers}, neg_feats


def select(feats: Features, layers: Sequence[str]) -> Features:
    return {name: feats[name] for name in layers}


Criterion = Literal["l1", "mse"]


def l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``F.l1_loss(output, target)`` (same values), one autograd node when only ``output`` has
    a gradient."""
    return mean_abs_distances(output, [target])[0]


CRITERIA: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": l1, "mse": F.mse_loss}


def weighted_sum(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """``terms[0] + terms[1] + ...`` in order (as ``sum`` without its ``0 +``); at least one."""
    total: torch.Tensor | None = None
    for term in terms:
        total = term if total is None else total + term
    if total is None:
        raise ValueError("expected at least one term to add, got none")
    return total


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
    out, target = check_feature_pair(output_features, target_features)
    layers = tuple(out)
    weights = check_layer_weights(layer_weights, layers)
    fn = CRITERIA[criterion]
    return weighted_sum(
        w * fn(transform(out[n]), transform(target[n])) for n, w in zip(layers, weights)
    )
