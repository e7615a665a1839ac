"""A frozen VGG19 feature extractor with named taps, shared by the feature losses.

The trunk is torchvision's ``vgg19().features`` (same layer indices, same state-dict keys), cut
after the deepest tap asked for. Every convolution and ReLU has a name, ``"conv{b}_{i}"`` and
``"relu{b}_{i}"`` for block ``b`` and convolution ``i``, and every max-pool ``"pool{b}"``:

=====  =============================================================  ========
block  taps (torchvision ``features`` index)                          channels
=====  =============================================================  ========
1      conv1_1 (0), relu1_1 (1), conv1_2 (2), relu1_2 (3), pool1 (4)  64
2      conv2_1 (5), relu2_1 (6), ... relu2_2 (8), pool2 (9)           128
3      conv3_1 (10), relu3_1 (11), ... relu3_4 (17), pool3 (18)       256
4      conv4_1 (19), relu4_1 (20), ... relu4_4 (26), pool4 (27)       512
5      conv5_1 (28), relu5_1 (29), ... conv5_4 (34), relu5_4 (35)     512
=====  =============================================================  ========

so torchvision's ``features[:k]`` ends at the tap of index ``k - 1``: ``features[:35]`` ends at
``conv5_4`` (before its ReLU), ``features[:36]`` at ``relu5_4``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from rainkit._validation import check_image_tensor

__all__ = ["VGG19_LAYERS", "VGG19_URL", "VGG19_WEIGHTS_FILE", "VGGFeatures"]

#: torchvision's file name for the ImageNet VGG19 weights (``VGG19_Weights.IMAGENET1K_V1``).
VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
#: where torchvision downloads that file from (rainkit itself never downloads).
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_WEIGHTS_FILE}"

_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                               512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    block, conv = 1, 0
    for item in _CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return tuple(names)


#: every tap name, in the order of torchvision's ``vgg19().features`` indices.
VGG19_LAYERS: tuple[str, ...] = _layer_names()
_INDEX = {name: i for i, name in enumerate(VGG19_LAYERS)}


def check_layers(layers: object, name: str = "layers") -> tuple[str, ...]:
    """Return ``layers`` as a tuple of valid tap names, or raise TypeError/ValueError."""
    if isinstance(layers, str):
        layers = (layers,)
    if not isinstance(layers, Iterable):
        raise TypeError(f"{name} must be a sequence of layer names, got {type(layers).__name__}")
    result = tuple(layers)
    if not result:
        raise ValueError(f"{name} must name at least one layer, got an empty sequence")
    for layer in result:
        if not isinstance(layer, str) or layer not in _INDEX:
            raise ValueError(
                f"unknown VGG19 layer {layer!r} in {name}; valid names are "
                + ", ".join(VGG19_LAYERS)
            )
    return result


def _make_trunk(depth: int) -> nn.Sequential:
    modules: list[nn.Module] = []
    channels = 3
    for item in _CFG:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(item, int)
            modules += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = item
    return nn.Sequential(*modules[:depth])


def _weights_path(weights: str | os.PathLike[str]) -> str:
    if isinstance(weights, str) and weights == "imagenet":
        directory = os.path.join(torch.hub.get_dir(), "checkpoints")
        path = os.path.join(directory, VGG19_WEIGHTS_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"VGG19 ImageNet weights not found: expected the file {VGG19_WEIGHTS_FILE!r} in "
                f"the torch hub cache directory {directory!r} (set TORCH_HOME to move it). "
                f"rainkit never downloads; fetch it elsewhere from {VGG19_URL} and copy it there, "
                "or pass weights=<path to the file>."
            )
        return path
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"VGG19 weights file not found: {path!r}; torchvision's ImageNet weights are "
            f"{VGG19_WEIGHTS_FILE!r}, available from {VGG19_URL}"
        )
    return path


class VGGFeatures(nn.Module):
    r"""Frozen VGG19 trunk returning the activations of named layers.

    The trunk is torchvision's VGG19 ``features``, cut after the deepest of ``layers``. Its
    parameters never require gradients and it stays in eval mode (:meth:`train` is a no-op), so
    it can sit inside a model being trained, under DDP, and gradients still flow to the *input*.
    ReLUs are not in place, so a ``conv`` tap is never overwritten by the ReLU after it.

    With ``normalize=True`` the input, an RGB image in :math:`[0, 1]`, is standardised with the
    ImageNet mean and std first (the statistics torchvision's weights expect):

    .. math:: \hat x_c = (x_c - \mu_c) / \sigma_c,\quad
        \mu = (0.485, 0.456, 0.406),\ \sigma = (0.229, 0.224, 0.225).

    ``normalize=False`` feeds the input as it comes, as the seed and AECR-Net do.

    Args:
        layers: names of the taps to return by default, from :data:`VGG19_LAYERS`
            (``"conv1_1"``, ``"relu1_1"``, ..., ``"conv5_4"``, ``"relu5_4"``, ``"pool1"``, ...).
        weights: ``"imagenet"`` loads torchvision's ``vgg19-dcbb9e9d.pth`` from the torch hub
            cache, ``torch.hub.get_dir()/checkpoints`` (``TORCH_HOME`` respected); a path loads
            that file (a torchvision VGG19 state dict, ``features.*`` keys, or a trunk state dict
            without the prefix); ``None`` keeps random weights (for tests). Nothing is
            downloaded; a missing file raises :class:`FileNotFoundError` saying where to put it.
        normalize: standardise the input with the ImageNet mean and std.

    Shape:
        - input: :math:`(B, 3, H, W)`, values in :math:`[0, 1]` when ``normalize=True``.
        - output: a dict from layer name to :math:`(B, C_l, H_l, W_l)`.

    Example:
        >>> import torch
        >>> from rainkit.loss import VGGFeatures
        >>> vgg = VGGFeatures(layers=("relu1_1", "relu2_1"), weights=None)
        >>> feats = vgg(torch.rand(2, 3, 16, 16))
        >>> {name: tuple(f.shape) for name, f in feats.items()}
        {'relu1_1': (2, 64, 16, 16), 'relu2_1': (2, 128, 8, 8)}
        >>> len(vgg.features), any(p.requires_grad for p in vgg.parameters())
        (7, False)

    References:
        K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
        Recognition", ICLR 2015.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        layers: Sequence[str] = ("relu5_4",),
        weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.layers = check_layers(layers)
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise TypeError(
                f"weights must be 'imagenet', a path or None, got {type(weights).__name__}"
            )
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
        self.normalize = normalize
        self.weights = weights if weights is None or weights == "imagenet" else os.fspath(weights)
        self.depth = max(_INDEX[name] for name in self.layers) + 1
        path = None if weights is None else _weights_path(weights)
        self.features = _make_trunk(self.depth)
        if path is not None:
            self._load(path)
        self.features.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        super().train(False)

    def _load(self, path: str) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise TypeError(f"{path!r} must hold a state dict, got {type(state).__name__}")
        if any(key.startswith("features.") for key in state):
            state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        # keep the trunk's layers only; the classifier and deeper layers are not needed
        state = {k: v for k, v in state.items() if int(k.split(".", 1)[0]) < self.depth}
        self.features.load_state_dict(state, strict=True)

    def train(self, mode: bool = True) -> VGGFeatures:
        """Keep eval mode whatever ``mode`` is (the trunk is a frozen feature extractor)."""
        return super().train(False)

    def forward(
        self, input: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Return the activations of ``layers`` (default: the layers given at construction)."""
        check_image_tensor(input, "input", channels=3)
        names = self.layers if layers is None else check_layers(layers)
        wanted = {_INDEX[name]: name for name in names}
        last = max(wanted)
        if last >= self.depth:
            raise ValueError(
                f"layer {VGG19_LAYERS[last]!r} lies deeper than this trunk, which ends at "
                f"{VGG19_LAYERS[self.depth - 1]!r}"
            )
        x = input
        if self.normalize:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out: dict[str, torch.Tensor] = {}
        for index, module in enumerate(self.features):
            x = module(x)
            if index in wanted:
                out[wanted[index]] = x
            if index == last:
                break
        return {name: out[name] for name in names}

    def extra_repr(self) -> str:
        weights = self.weights if self.weights is None else repr(self.weights)
        return f"layers={self.layers}, weights={weights}, normalize={self.normalize}"
