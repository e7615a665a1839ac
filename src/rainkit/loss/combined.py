"""A weighted sum of losses that runs VGG once for all the feature losses in it."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from rainkit._validation import check_image_tensor, check_positive, check_same_shape
from rainkit.loss._feature import FeatureLoss, as_negatives, extract
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures

__all__ = ["CombinedLoss"]


def _share_key(vgg: VGGFeatures) -> tuple[object, ...]:
    # Loaded weights (imagenet or a file) and the same normalisation: one trunk serves all.
    # Random weights (None) differ from instance to instance: only the same object is shared.
    if vgg.weights is None:
        return ("instance", id(vgg))
    return ("weights", vgg.weights, vgg.normalize)


class CombinedLoss(nn.Module):
    r"""Weighted sum of losses, with one shared VGG pass for all the feature losses.

    .. math:: \mathcal{L} = \sum_k \lambda_k \mathcal{L}_k

    Pixel losses (any module taking ``(output, positive)``, e.g. :class:`torch.nn.L1Loss`,
    :class:`~rainkit.loss.CharbonnierLoss`, :class:`~rainkit.loss.SSIMLoss`) get
    ``(output, positive)``. Feature losses (:class:`~rainkit.loss.PerceptualLoss`,
    :class:`~rainkit.loss.StyleLoss`, :class:`~rainkit.loss.EasyContrastiveLoss`,
    :class:`~rainkit.loss.ContrastiveLoss`) get features from **one** VGG pass over the union of
    their layers: the output goes through VGG with gradients; the positive and the negatives
    need none, so they go through it together, batched, under :func:`torch.no_grad`. Negatives
    are passed through VGG only if a loss needs them.

    Sharing rules: feature losses whose VGGs load the same weights (``"imagenet"`` or the same
    file) with the same ``normalize`` share the deepest of their trunks (the shallower ones'
    weights are a prefix of it). Random-weight VGGs (``weights=None``) differ from one instance to
    the next, so they are shared only when the losses were built with the same ``vgg=`` object.
    Losses with different settings (e.g. ``normalize``) get one pass per setting; nothing is
    silently mixed.

    Args:
        losses: name to ``(loss module, weight >= 0)``.

    Returns:
        ``forward`` returns ``(total, terms)``: the weighted sum, and a dict from name to the
        detached *unweighted* value of each term, for logging.

    Shape:
        - output, positive: :math:`(B, 3, H, W)` (any channels if there is no feature loss).
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)`, a list, or ``None`` when no
          loss needs one.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.loss import CombinedLoss, ContrastiveLoss, PerceptualLoss, VGGFeatures
        >>> vgg = VGGFeatures(layers=("relu2_1",), weights=None)  # random: share it explicitly
        >>> loss = CombinedLoss({
        ...     "l1": (nn.L1Loss(), 1.0),
        ...     "perceptual": (PerceptualLoss(layers=("relu2_1",), vgg=vgg), 0.1),
        ...     "contrastive": (ContrastiveLoss(layers=("relu1_1", "relu2_1"), vgg=vgg), 0.1),
        ... })
        >>> output = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> total, terms = loss(output, torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
        >>> total.backward()
        >>> sorted(terms), loss.num_vgg_passes
        (['contrastive', 'l1', 'perceptual'], 1)
    """

    def __init__(self, losses: Mapping[str, tuple[nn.Module, float]]) -> None:
        super().__init__()
        if not isinstance(losses, Mapping):
            raise TypeError(f"losses must be a mapping name -> (loss, weight), got "
                            f"{type(losses).__name__}")
        if not losses:
            raise ValueError("losses must hold at least one loss, got an empty mapping")
        self.losses = nn.ModuleDict()
        self.weights: dict[str, float] = {}
        for name, entry in losses.items():
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise TypeError(f"losses[{name!r}] must be a (loss module, weight) tuple, got "
                                f"{type(entry).__name__}")
            module, weight = entry
            if not isinstance(module, nn.Module):
                raise TypeError(f"losses[{name!r}] loss must be an nn.Module, got "
                                f"{type(module).__name__}")
            self.losses[name] = module
            self.weights[name] = check_positive(weight, f"weight of {name!r}", strict=False)
        # group the feature losses by the VGG they can share; the deepest trunk serves each group
        groups: dict[tuple[object, ...], list[str]] = {}
        for name, module in self.losses.items():
            if isinstance(module, FeatureLoss):
                groups.setdefault(_share_key(module.vgg), []).append(name)
        self._groups: list[tuple[VGGFeatures, tuple[str, ...], list[str]]] = []
        for names in groups.values():
            vggs = [self.losses[n].vgg for n in names]
            vgg = max(vggs, key=lambda v: v.depth)
            wanted = {layer for n in names for layer in self.losses[n].layers}
            layers = tuple(sorted(wanted, key=VGG19_LAYERS.index))
            self._groups.append((vgg, layers, names))

    @property
    def num_vgg_passes(self) -> int:
        """How many VGG passes over the output one call makes (one per sharing group)."""
        return len(self._groups)

    def forward(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        check_image_tensor(output, "output")
        check_image_tensor(positive, "positive")
        check_same_shape(output, positive, ("output", "positive"))
        terms: dict[str, torch.Tensor] = {}
        negatives = None if negative is None else as_negatives(negative, positive)
        for vgg, layers, names in self._groups:
            needs_neg = [n for n in names if self.losses[n].needs_negative]
            if needs_neg and negatives is None:
                raise ValueError(f"losses {needs_neg} need a negative image, got None")
            feats = extract(vgg, layers, output, positive, negatives if needs_neg else None)
            for n in names:
                terms[n] = self.losses[n].forward_features(*feats)
        for name, module in self.losses.items():
            if not isinstance(module, FeatureLoss):
                terms[name] = module(output, positive)
        ordered = {name: terms[name] for name in self.losses}
        total = sum(self.weights[n] * value for n, value in ordered.items())
        return total, {n: v.detach() for n, v in ordered.items()}  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"weights={self.weights}, vgg_passes={self.num_vgg_passes}"
