"""A weighted sum of losses that runs VGG once, on one shared trunk, for all its feature losses."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping

import torch
from torch import nn

from rainkit._checks import check_image_tensor, check_positive, check_same_shape
from rainkit.loss._feature_ops import (
    as_negatives,
    check_trunk_dtypes,
    extract,
    select,
    weighted_sum,
)
from rainkit.loss.feature import FeatureLoss
from rainkit.loss.vgg import VGG19_LAYERS, VGGFeatures, check_vgg_input

__all__ = ["CombinedLoss"]

_TARGET_DTYPES = (torch.bfloat16, torch.float16)


def _check_pair_signature(name: str, module: nn.Module) -> None:
    """Raise TypeError unless ``module(output, positive)`` can be called (by its signature)."""
    try:
        signature = inspect.signature(module.forward)
    except (TypeError, ValueError):  # a builtin or C extension: nothing to read, call it
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise TypeError(
            f"losses[{name!r}] must take (output, positive): CombinedLoss calls every loss that "
            f"is not a FeatureLoss as loss(output, positive), but {type(module).__name__}."
            f"forward has the signature {signature}; wrap it, e.g. in a module whose forward "
            f"is (output, positive)"
        ) from None


def _share_key(vgg: VGGFeatures) -> tuple[object, ...]:
    # Loaded weights (imagenet or a file: the same file, however named) with the same
    # normalisation, dtype and device: one trunk serves all. Random weights (None) differ from
    # instance to instance: only the same object is shared.
    if vgg.weights_file is None:
        return ("instance", id(vgg))
    return ("file", vgg.weights_file, vgg.normalize, vgg.channels_last, vgg.dtype,
            vgg.mean.device)


class CombinedLoss(nn.Module):
    r"""Weighted sum of losses, with one VGG trunk and one VGG pass for all the feature losses.

    .. math:: \mathcal{L} = \sum_k \lambda_k \mathcal{L}_k

    Pixel losses (any module taking ``(output, positive)``, e.g. :class:`torch.nn.L1Loss`,
    :class:`~rainkit.loss.CharbonnierLoss`, :class:`~rainkit.loss.SSIMLoss`) get
    ``(output, positive)``. Feature losses (instances of :class:`~rainkit.loss.FeatureLoss`:
    :class:`~rainkit.loss.PerceptualLoss`, :class:`~rainkit.loss.StyleLoss`,
    :class:`~rainkit.loss.EasyContrastiveLoss`, :class:`~rainkit.loss.ContrastiveLoss`, or
    your own) get features from **one** VGG pass over the union of their layers: the output goes
    through VGG with gradients; the positive and the negatives need none, so they go through it
    together, batched, under :func:`torch.no_grad`, each only as deep as the losses that use it
    need. Negatives are passed through VGG only if a loss needs them.

    **One trunk.** Feature losses whose VGGs load the same weights (``"imagenet"`` or the same
    file, however its path is spelled) with the same ``normalize``, ``channels_last``, dtype and
    device are made to share one trunk: each such loss's ``vgg`` is set to the deepest of their
    trunks (the shallower ones' weights are a prefix of it), and the others are freed once
    nothing else refers to them. Random-weight VGGs (``vgg_weights=None``) differ from one instance
    to the next, so they are shared only when the losses were built with the same ``vgg=``
    object. Losses with different settings (e.g. ``normalize``) keep their own trunk and get one
    pass each; nothing is silently mixed. To read the weights file only once as well, build one
    :class:`~rainkit.loss.VGGFeatures` and pass it as ``vgg=`` to every feature loss. The
    trunks are frozen and left out of :meth:`~torch.nn.Module.state_dict` (see
    :class:`~rainkit.loss.VGGFeatures`).

    Args:
        losses: name to ``(loss module, weight >= 0)``. A module that is not a
            :class:`~rainkit.loss.FeatureLoss` must take ``(output, positive)``: its
            ``forward`` signature is checked here, so a one-argument module fails at
            construction rather than at the first step. The weights are kept in
            :attr:`loss_weights` (called ``weights`` before rainkit 0.3).
        target_dtype: ``None`` (default) runs the no-gradient pass over the positive and the
            negatives like the output's, so the loss and its gradient are those of the separate
            losses. ``torch.bfloat16`` or ``torch.float16`` runs that pass under
            :func:`torch.autocast` in that dtype: faster where the hardware has fast
            low-precision convolutions (CPUs with AMX or AVX-512 BF16, GPUs), but **the
            gradient changes**: L1 terms take the sign of output minus target features, and
            with targets rounded to 8 (bfloat16) or 11 (float16) bits those signs flip wherever
            the two nearly agree. In ``benchmarks/bench_losses.py`` (batch 8, 128x128) bfloat16
            made the step 1.4-1.6x faster and moved the gradient by 27% in norm with AECR-Net's
            contrastive loss and 0.6% with the pooled cosine (the value by 7e-5 and 2e-6).
            For experiments; the output's pass, which carries the gradient, is never changed.

    Returns:
        ``forward`` returns ``(total, terms)``: the weighted sum, and a dict from name to the
        detached *unweighted* value of each term, for logging.

    Shape:
        - output, positive: :math:`(B, 3, H, W)` with :math:`B \geq 1` (any channels if there is
          no feature loss); :math:`H, W` at least :func:`~rainkit.loss.min_input_size` of the
          feature losses' layers (16 for ``conv5_4`` or ``relu5_1``).
        - negative: :math:`(B, 3, H, W)`, :math:`(B, K, 3, H, W)`, a list, or ``None`` when no
          loss needs one.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rainkit.loss import CombinedLoss, ContrastiveLoss, PerceptualLoss, VGGFeatures
        >>> vgg = VGGFeatures(layers=("relu2_1",), vgg_weights=None)  # random: share it explicitly
        >>> loss = CombinedLoss({
        ...     "l1": (nn.L1Loss(), 1.0),
        ...     "perceptual": (PerceptualLoss(layers=("relu2_1",), vgg=vgg), 0.1),
        ...     "contrastive": (ContrastiveLoss(layers=("relu1_1", "relu2_1"), vgg=vgg), 0.1),
        ... })
        >>> output = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> total, terms = loss(output, torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
        >>> total.backward()
        >>> sorted(terms), loss.num_vgg_passes, len(loss.trunks)
        (['contrastive', 'l1', 'perceptual'], 1, 1)
    """

    def __init__(
        self,
        losses: Mapping[str, tuple[nn.Module, float]],
        target_dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(losses, Mapping):
            raise TypeError(f"losses must be a mapping name -> (loss, weight), got "
                            f"{type(losses).__name__}")
        if not losses:
            raise ValueError("losses must hold at least one loss, got an empty mapping")
        if target_dtype is not None and target_dtype not in _TARGET_DTYPES:
            raise ValueError(f"target_dtype must be None, torch.bfloat16 or torch.float16, got "
                             f"{target_dtype!r}")
        self.target_dtype = target_dtype
        self.losses = nn.ModuleDict()
        #: name to the weight of each term, :math:`\lambda_k`.
        self.loss_weights: dict[str, float] = {}
        for name, entry in losses.items():
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise TypeError(f"losses[{name!r}] must be a (loss module, weight) tuple, got "
                                f"{type(entry).__name__}")
            module, weight = entry
            if not isinstance(module, nn.Module):
                raise TypeError(f"losses[{name!r}] loss must be an nn.Module, got "
                                f"{type(module).__name__}")
            if not isinstance(module, FeatureLoss):
                _check_pair_signature(name, module)
            self.losses[name] = module
            self.loss_weights[name] = check_positive(weight, f"weight of {name!r}", strict=False)
        # group the feature losses by the trunk they can share; the deepest trunk serves each
        # group, and every loss of the group is pointed at it
        groups: dict[tuple[object, ...], list[tuple[str, FeatureLoss]]] = {}
        for name, module in self.losses.items():
            if isinstance(module, FeatureLoss):
                groups.setdefault(_share_key(module.vgg), []).append((name, module))
        # (trunk, its layers, the layers needed of the negatives, the (name, loss) members)
        self._groups: list[tuple[VGGFeatures, tuple[str, ...], tuple[str, ...],
                                 list[tuple[str, FeatureLoss]]]] = []
        for group in groups.values():
            members = [m for _, m in group]
            vgg = max((m.vgg for m in members), key=lambda v: v.depth)
            for member in members:
                member.vgg = vgg
            wanted = {layer for m in members for layer in m.layers}
            layers = tuple(sorted(wanted, key=VGG19_LAYERS.index))
            neg_wanted = {layer for m in members if m.needs_negative for layer in m.layers}
            neg_layers = tuple(sorted(neg_wanted, key=VGG19_LAYERS.index))
            self._groups.append((vgg, layers, neg_layers, group))

    @property
    def weights(self) -> dict[str, float]:
        """Deprecated name of :attr:`loss_weights` (renamed in rainkit 0.3)."""
        warnings.warn("CombinedLoss.weights was renamed CombinedLoss.loss_weights in rainkit 0.3",
                      FutureWarning, stacklevel=2)
        return self.loss_weights

    @property
    def num_vgg_passes(self) -> int:
        """How many VGG passes over the output one call makes (one per trunk)."""
        return len(self._groups)

    @property
    def trunks(self) -> tuple[VGGFeatures, ...]:
        """The VGG trunks the feature losses use, one per group of losses that share one."""
        return tuple(group[0] for group in self._groups)

    def forward(
        self, output: torch.Tensor, positive: torch.Tensor, negative: object = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        check_image_tensor(output, "output")
        check_image_tensor(positive, "positive")
        check_same_shape(output, positive, ("output", "positive"))
        if output.shape[0] == 0:
            raise ValueError(f"output must hold at least one image, got an empty batch of shape "
                             f"{tuple(output.shape)}")
        terms: dict[str, torch.Tensor] = {}
        negatives = None if negative is None else as_negatives(negative, positive)
        for vgg, layers, neg_layers, group in self._groups:
            check_vgg_input(output, "output", layers)
            check_trunk_dtypes(vgg, output, positive)
            if neg_layers and negatives is not None:
                check_trunk_dtypes(vgg, *negatives, names=("negative",) * len(negatives))
            if neg_layers and negatives is None:
                needs_neg = [n for n, m in group if m.needs_negative]
                raise ValueError(f"losses {needs_neg} need a negative image, got None")
            out, pos, negs = extract(vgg, layers, output, positive,
                                      negatives if neg_layers else None, neg_layers or None,
                                      self.target_dtype)
            for n, loss in group:
                own = loss.layers
                neg = [select(f, own) for f in negs] if negs and loss.needs_negative else None
                terms[n] = loss.forward_features(select(out, own), select(pos, own), neg)
        for name, module in self.losses.items():
            if not isinstance(module, FeatureLoss):
                terms[name] = module(output, positive)
        ordered = {name: terms[name] for name in self.losses}
        total = weighted_sum(self.loss_weights[n] * value for n, value in ordered.items())
        return total, {n: v.detach() for n, v in ordered.items()}

    def extra_repr(self) -> str:
        dtype = "" if self.target_dtype is None else f", target_dtype={self.target_dtype}"
        return f"loss_weights={self.loss_weights}, vgg_passes={self.num_vgg_passes}{dtype}"
