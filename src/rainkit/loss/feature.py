"""FeatureLoss, the base class of the losses on VGG19 features, and their shared VGG pass."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from rainkit._validation import check_choice, check_image_tensor, check_positive, check_same_shape
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures, check_layers, check_vgg_input

__all__ = ["FeatureLoss", "Features"]

#: A dict from VGG19 tap name to a feature map :math:`(B, C_l, H_l, W_l)`.
Features = dict[str, torch.Tensor]


def _feature_dtype(x: torch.Tensor) -> torch.Tensor:
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
    def backward(ctx: torch.autograd.function.FunctionCtx,
                 grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        diffs = ctx.saved_tensors  # type: ignore[attr-defined]
        scale = grad / diffs[0].numel()
        out = torch.sign(diffs[0]).mul_(scale[0])
        for k in range(1, len(diffs)):
            out = out.addcmul_(torch.sign(diffs[k]), scale[k])
        return (out, *(None,) * len(diffs))


def _mean_abs_distances(a: torch.Tensor, targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """``torch.stack([F.l1_loss(a, t) for t in targets])``; one autograd node when only ``a``
    carries a gradient (the usual case: targets come from a no-grad pass)."""
    if a.requires_grad and not any(t.requires_grad for t in targets) and torch.is_grad_enabled():
        return _MeanAbsDistances.apply(a, *targets)  # type: ignore[no-any-return]
    return torch.stack([F.l1_loss(a, t) for t in targets])


def _check_features(features: object, name: str, layers: Sequence[str] | None = None) -> Features:
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


def _check_feature_pair(output_features: object, target_features: object,
                        target_name: str = "target_features") -> tuple[Features, Features]:
    out = _check_features(output_features, "output_features")
    target = _check_features(target_features, target_name, tuple(out))
    for layer, value in out.items():
        check_same_shape(value, target[layer],
                         (f"output_features[{layer!r}]", f"{target_name}[{layer!r}]"))
    return out, target


def _check_layer_weights(
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


def _as_negatives(negative: object, positive: torch.Tensor) -> list[torch.Tensor]:
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


def _extract(
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


def _select(feats: Features, layers: Sequence[str]) -> Features:
    return {name: feats[name] for name in layers}


class FeatureLoss(nn.Module):
    r"""Base class of the losses on VGG19 features; subclass it to add your own.

    A feature loss compares the VGG19 activations of the output :math:`\hat y` with those of the
    positive (clean) image :math:`y` and, if it wants them, of :math:`K \geq 1` negatives
    :math:`x_k`. The base class owns the trunk and the VGG pass; a subclass provides the
    comparison:

    * **the layers it needs**: pass them to ``super().__init__(layers, weights, normalize,
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
        weights: the trunk's weights, ``"imagenet"``, a path or ``None`` (see
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
        ...     def __init__(self, layers=("relu1_1", "relu2_1"), weights="imagenet", vgg=None):
        ...         super().__init__(layers, weights, normalize=True, vgg=vgg)
        ...     def forward_features(self, out_feats, pos_feats, neg_feats=None):
        ...         return sum(F.mse_loss(out_feats[n].float().mean((2, 3)),
        ...                               pos_feats[n].float().mean((2, 3))) for n in self.layers)
        >>> vgg = VGGFeatures(weights=None)  # random weights for the example; one trunk for both
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

    def __init__(
        self,
        layers: Sequence[str],
        weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = True,
        vgg: VGGFeatures | None = None,
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

    def _check_inputs(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object
    ) -> list[torch.Tensor] | None:
        check_vgg_input(output, "output", self.layers)
        check_image_tensor(positive, "positive", channels=3)
        check_same_shape(output, positive, ("output", "positive"))
        if negative is None:
            if self.needs_negative:
                raise ValueError(f"{type(self).__name__} needs a negative image, got None")
            return None
        negatives = _as_negatives(negative, positive)
        return negatives if self.needs_negative else None

    def forward(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object = None
    ) -> torch.Tensor:
        """The loss of ``output`` against ``positive`` (and ``negative``): one VGG pass."""
        negatives = self._check_inputs(output, positive, negative)
        return self.forward_features(*_extract(self.vgg, self.layers, output, positive, negatives))

    def forward_features(
        self, out_feats: Features, pos_feats: Features, neg_feats: list[Features] | None
    ) -> torch.Tensor:
        """The loss from precomputed features of ``self.layers``; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward_features")


Criterion = Literal["l1", "mse"]


def _l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``F.l1_loss(output, target)`` (same values), one autograd node when only ``output`` has
    a gradient."""
    return _mean_abs_distances(output, [target])[0]


_CRITERIA = {"l1": _l1, "mse": F.mse_loss}


def _weighted_layer_distance(
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
    check_choice(criterion, _CRITERIA, "criterion")
    out, target = _check_feature_pair(output_features, target_features)
    layers = tuple(out)
    weights = _check_layer_weights(layer_weights, layers)
    fn = _CRITERIA[criterion]
    return sum(  # type: ignore[return-value]
        w * fn(transform(out[n]), transform(target[n])) for n, w in zip(layers, weights)
    )


class _WeightedLayersLoss(FeatureLoss):
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
        # options first, so a bad one fails before the weights file is read
        check_choice(criterion, _CRITERIA, "criterion")
        checked = _check_layer_weights(layer_weights, check_layers(layers))
        super().__init__(layers, weights, normalize, vgg)
        self.criterion: Criterion = criterion
        self.layer_weights = checked

    def extra_repr(self) -> str:
        return (f"layers={self.layers}, layer_weights={self.layer_weights}, "
                f"criterion={self.criterion!r}")
