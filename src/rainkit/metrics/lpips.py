"""LPIPS perceptual distance over the ``lpips`` package, with explicit backbone weights."""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from rainkit._checks import (
    Reduction,
    check_choice,
    check_image_tensor,
    check_reduction,
    check_same_shape,
    reduce,
)
from rainkit._hub import resolve_weights_file

__all__ = ["LPIPS", "lpips"]

NETS: tuple[str, ...] = ("alex", "squeeze", "vgg")
# torchvision's ImageNet checkpoints, as named in the torch hub cache and on its download server.
BACKBONE_FILES = {
    "alex": "alexnet-owt-7be5be79.pth",
    "squeeze": "squeezenet1_1-b8a52dc0.pth",
    "vgg": "vgg16-397923af.pth",
}
#: where torchvision serves each backbone file (``BACKBONE_URL.format(file_name)``).
BACKBONE_URL = "https://download.pytorch.org/models/{}"
# The smallest height and width each backbone takes: below it a pooling layer of the deepest
# feature stage would have an empty output (measured by running each backbone on square and
# 1-pixel-short inputs).
MIN_SIZE = {"alex": 31, "squeeze": 17, "vgg": 16}


def _check_images(input: object, target: object, net: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = check_image_tensor(input, "input", ndims=(3, 4), channels=3)
    y = check_image_tensor(target, "target", ndims=(3, 4), channels=3)
    check_same_shape(x, y)
    height, width = x.shape[-2:]
    if min(height, width) < MIN_SIZE[net]:
        raise ValueError(
            f"input must be at least {MIN_SIZE[net]} x {MIN_SIZE[net]} pixels for LPIPS with "
            f"net={net!r}, got {height} x {width} (shape {tuple(x.shape)})"
        )
    return x, y


_PYTHON_HINT = "Or pass weights=None for a random backbone (tests only)."


def _backbone_path(net: str, weights: str | os.PathLike[str], hint: str | None = None) -> Path:
    file_name = BACKBONE_FILES[net]
    return resolve_weights_file(
        file_name,
        None if isinstance(weights, str) and weights == "imagenet" else weights,
        what=f"LPIPS(net={net!r}) backbone: torchvision's ImageNet weights",
        url=BACKBONE_URL.format(file_name),
        hint=_PYTHON_HINT if hint is None else hint,
    )


def _read_backbone(net: str, path: Path) -> dict[str, torch.Tensor]:
    """The backbone's state dict from ``path``; :class:`ValueError` naming the file and what
    was expected for a file ``torch.load`` cannot read or that holds no state dict."""
    where = f"weights: the LPIPS(net={net!r}) backbone file {str(path)!r}"
    hint = (f"expected torchvision's {BACKBONE_FILES[net]} (a state dict with keys "
            f"'features.0.weight', ...) from {BACKBONE_URL.format(BACKBONE_FILES[net])}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError,
            UnicodeDecodeError) as err:
        raise ValueError(f"{where} is not a PyTorch checkpoint that torch.load can read "
                         f"({type(err).__name__}: {str(err)[:200]}); {hint}") from None
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"{where} must hold a state dict (a dict from str to tensors), got "
                         f"{type(state).__name__}; {hint}")
    return dict(state)


def _torchvision_model(net: str) -> nn.Module:
    import torchvision

    builder = {"alex": torchvision.models.alexnet, "squeeze": torchvision.models.squeezenet1_1,
               "vgg": torchvision.models.vgg16}[net]
    model: nn.Module = builder(weights=None)  # torchvision has no type stubs here
    return model


def _build(net: str, weights: str | os.PathLike[str] | None,
           hint: str | None = None) -> nn.Module:
    import lpips as lpips_package

    state, path = None, None
    if weights is not None:
        # Read the file first, so a missing file fails before any network is built.
        path = _backbone_path(net, weights, hint)
        state = _read_backbone(net, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's `pretrained=` deprecation inside lpips
        # the lpips package has no types
        model: nn.Module = lpips_package.LPIPS(net=net, pretrained=False, pnet_rand=True,
                                               verbose=False)
    # The calibrated linear heads ship inside the lpips package.
    lin_path = Path(lpips_package.__file__).parent / "weights" / "v0.1" / f"{net}.pth"
    lin_state = torch.load(lin_path, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(lin_state, strict=False)
    # Missing: the backbone, the constant scaling layer and `lins.*`, an alias of `lin<k>.*`.
    allowed = ("net.", "lins.", "scaling_layer.")
    if unexpected or any(not key.startswith(allowed) for key in missing):
        raise RuntimeError(f"unexpected LPIPS head weights in {lin_path}: {unexpected or missing}")
    if state is not None:
        backbone = _torchvision_model(net)
        try:
            backbone.load_state_dict(state, strict=True)
        except RuntimeError as err:  # missing or unexpected keys, other shapes
            found = " ".join(str(err).split())  # torch's message spans lines
            raise ValueError(f"weights: the LPIPS(net={net!r}) backbone file {str(path)!r} does "
                             f"not hold torchvision's {net} backbone ({BACKBONE_FILES[net]}): "
                             f"{found[:300]}") from None
        features = backbone.get_submodule("features")
        own = model.get_submodule("net").state_dict()
        # lpips splits torchvision's `features.<i>` into `slice<k>.<i>`; same tensors otherwise.
        remapped = {key: features.state_dict()[key.split(".", 1)[1]] for key in own}
        model.get_submodule("net").load_state_dict(remapped, strict=True)
    model.requires_grad_(False)
    return model.eval()


class LPIPS(nn.Module):
    r"""Learned Perceptual Image Patch Similarity (LPIPS v0.1), a frozen module.

    Deep features of both images (AlexNet, VGG16 or SqueezeNet), unit-normalised along
    channels, are compared with learned per-channel weights :math:`w_l` and averaged:

    .. math::

        d(x, y) = \sum_l \frac{1}{H_l W_l} \sum_{h,w}
        \left\| w_l \odot (\hat{f}^l_{hw}(x) - \hat{f}^l_{hw}(y)) \right\|_2^2

    Lower is more similar; identical images give ``0``. Inputs are in :math:`[0, 1]` (they
    are mapped to :math:`[-1, 1]` inside, as the ``lpips`` package expects).

    The linear heads come with the ``lpips`` package. The backbone's ImageNet weights are
    torchvision's checkpoint, read from the torch hub cache
    (``torch.hub.get_dir() / "checkpoints" / <file>``: ``alexnet-owt-7be5be79.pth``,
    ``vgg16-397923af.pth`` or ``squeezenet1_1-b8a52dc0.pth``) or from a path you give; nothing
    is downloaded, and a missing file raises :class:`FileNotFoundError` naming it, the
    directory to put it in and torchvision's download URL. The module is frozen and stays in
    eval mode.

    Args:
        net: backbone, one of ``"alex"``, ``"squeeze"``, ``"vgg"``.
        weights: ``"imagenet"`` (the hub cache), a path to a torchvision state dict of the
            backbone, or ``None`` for a randomly initialised backbone (tests only).
        reduction: ``"none"`` (one value per image), ``"mean"`` or ``"sum"``.
        hint: the last line of the :class:`FileNotFoundError` for a missing backbone file, in
            the terms of the interface in use (``None``: the Python one, "Or pass
            weights=None ..."; the command line passes "Or pass --lpips_weights none ...").

    Raises:
        FileNotFoundError: the backbone file is missing (the message names it, the folder to
            put it in and its download URL).
        ValueError: the file is not a checkpoint ``torch.load`` can read (a text file, a
            truncated download) or does not hold the backbone's state dict.
        TypeError: ``weights`` or ``hint`` of a wrong type.

    Shape:
        - input: :math:`(B, 3, H, W)` or :math:`(3, H, W)`, values in :math:`[0, 1]`,
          :math:`H, W \ge 31` for ``"alex"``, 17 for ``"squeeze"``, 16 for ``"vgg"`` (the
          deepest feature map must not be empty); smaller images raise :class:`ValueError`.
        - target: same as ``input``.
        - output: :math:`(B,)` for ``"none"``, else a scalar.

    Example:
        >>> import torch
        >>> metric = LPIPS("alex", weights=None)  # random backbone: no file needed
        >>> x = torch.rand(2, 3, 32, 32)
        >>> metric(x, x)
        tensor(0.)

    References:
        R. Zhang, P. Isola, A. A. Efros, E. Shechtman and O. Wang, "The Unreasonable
        Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018.
    """

    def __init__(self, net: str = "alex", *,
                 weights: str | os.PathLike[str] | None = "imagenet",
                 reduction: Reduction = "mean", hint: str | None = None) -> None:
        super().__init__()
        if hint is not None and not isinstance(hint, str):
            raise TypeError(f"hint must be a str or None, got {type(hint).__name__}")
        self.net = check_choice(net, NETS, "net")
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise TypeError(
                f"weights must be 'imagenet', a path or None, got {type(weights).__name__}"
            )
        self.weights = weights
        self.reduction = check_reduction(reduction)
        self.model = _build(self.net, weights, hint)

    def train(self, mode: bool = True) -> LPIPS:
        """Keep the frozen network in eval mode whatever ``mode`` is."""
        super().train(mode)
        self.model.eval()
        return self

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x, y = _check_images(input, target, self.net)
        if x.ndim == 3:
            x, y = x.unsqueeze(0), y.unsqueeze(0)
        param = next(self.model.parameters())
        dtype = param.dtype
        x, y = x.to(dtype), y.to(dtype)
        values = self.model(x * 2 - 1, y * 2 - 1).flatten()
        return reduce(values, self.reduction)

    def extra_repr(self) -> str:
        return f"net={self.net!r}, weights={self.weights!r}, reduction={self.reduction!r}"


def lpips(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    net: str = "alex",
    weights: str | os.PathLike[str] | None = "imagenet",
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""LPIPS distance between images in :math:`[0, 1]`; see :class:`LPIPS`.

    This builds the network on every call; keep an :class:`LPIPS` module for repeated use.

    Args:
        input: images :math:`(B, 3, H, W)` or :math:`(3, H, W)`, values in :math:`[0, 1]`, at
            least 31 x 31 pixels for ``"alex"`` (see :class:`LPIPS`).
        target: same shape as ``input``.
        net: backbone, one of ``"alex"``, ``"squeeze"``, ``"vgg"``.
        weights: ``"imagenet"``, a path to a torchvision state dict, or ``None`` (random).
        reduction: ``"none"``, ``"mean"`` or ``"sum"`` over images.

    Returns:
        The distances, shape :math:`(B,)` for ``"none"``, else a scalar; differentiable with
        respect to the inputs, in float32 (float64 inputs are computed in float32).

    Example:
        >>> import torch
        >>> x = torch.rand(1, 3, 32, 32)
        >>> lpips(x, x, weights=None)
        tensor(0.)
    """
    _check_images(input, target, check_choice(net, NETS, "net"))  # before building the network
    metric = LPIPS(net, weights=weights, reduction=reduction).to(
        input.device if isinstance(input, torch.Tensor) else "cpu"
    )
    values: torch.Tensor = metric(input, target)  # nn.Module.__call__ is typed as Any
    return values
