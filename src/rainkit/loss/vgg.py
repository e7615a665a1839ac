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
import pickle
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from rainkit._checks import check_image_tensor, check_module_dtype, renamed_keyword
from rainkit._hub import resolve_weights_file

__all__ = ["VGG19_LAYERS", "VGG19_URL", "VGG19_WEIGHTS_FILE", "VGGFeatures", "min_input_size"]

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
        if not isinstance(layer, str):
            raise TypeError(f"{name} must hold layer names (str), got {type(layer).__name__} "
                            f"{layer!r:.40}")
        if layer not in _INDEX:
            raise ValueError(
                f"unknown VGG19 layer {layer!r} in {name}; valid names are "
                + ", ".join(VGG19_LAYERS)
            )
    return result


def _make_trunk(depth: int, init: bool) -> nn.Sequential:
    """The first ``depth`` modules of VGG19's ``features``; uninitialised unless ``init``.

    The convolutions are built on the meta device and given memory only once, so weights that
    are about to be loaded are not first initialised (20 M random numbers for nothing). With
    ``init``, torchvision's VGG initialisation: Kaiming-normal weights (fan-out, ReLU gain),
    zero biases, which keeps deep activations image-dependent (PyTorch's default convolution
    initialisation shrinks them layer by layer until the biases dominate).
    """
    modules: list[nn.Module] = []
    channels = 3
    for item in _CFG:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            conv = nn.Conv2d(channels, int(item), kernel_size=3, padding=1, device="meta")
            modules += [conv, nn.ReLU(inplace=False)]
            channels = int(item)
        if len(modules) >= depth:
            break
    trunk = nn.Sequential(*modules[:depth]).to_empty(device="cpu")
    if init:
        for module in trunk:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return trunk


def min_input_size(layers: Sequence[str]) -> int:
    """The smallest height and width at which every tap of ``layers`` exists.

    Each 2x2 max-pool before (or at) the deepest tap halves the map, rounding down, so a tap
    behind :math:`k` pools needs at least :math:`2^k` pixels: 1 for ``relu1_2``, 16 for
    ``conv5_4`` and ``relu5_1``, 32 for ``pool5``.

    Example:
        >>> from rainkit.loss import min_input_size
        >>> [min_input_size(layers) for layers in (("relu1_2",), ("relu2_1", "conv5_4"), "pool5")]
        [1, 16, 32]
    """
    deepest = max(_INDEX[name] for name in check_layers(layers))
    return 1 << sum(1 for name in VGG19_LAYERS[: deepest + 1] if name.startswith("pool"))


def check_vgg_input(input: object, name: str, layers: Sequence[str]) -> torch.Tensor:
    """Check a batch for a VGG pass to ``layers``: (B >= 1, 3, H, W), H and W large enough."""
    tensor = check_image_tensor(input, name, channels=3)
    layers = check_layers(layers)
    if tensor.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got an empty batch of shape "
                         f"{tuple(tensor.shape)}")
    size = min_input_size(layers)
    height, width = tensor.shape[-2:]
    if height < size or width < size:
        deepest = max(layers, key=_INDEX.__getitem__)
        raise ValueError(
            f"{name} must be at least {size}x{size} pixels for the VGG19 layer {deepest!r} "
            f"({size.bit_length() - 1} 2x2 max-pools lie before it), got {height}x{width}"
        )
    return tensor


def _weights_file(weights: str | os.PathLike[str]) -> str:
    path = resolve_weights_file(
        VGG19_WEIGHTS_FILE,
        None if isinstance(weights, str) and weights == "imagenet" else weights,
        what="VGG19 ImageNet weights",
        url=VGG19_URL,
        hint="Or pass vgg_weights=None for random weights (tests only).",
    )
    return os.path.realpath(path)


def _read_trunk_state(path: str, trunk: nn.Sequential) -> dict[str, torch.Tensor]:
    """The state dict of ``trunk`` read from the VGG19 file ``path``, checked key by key.

    Accepts torchvision's VGG19 state dict (``features.{i}.weight`` / ``.bias`` plus the
    classifier, which is ignored) or a trunk state dict without the prefix; layers deeper than
    ``trunk`` are ignored. Raises :class:`ValueError` for a file that ``torch.load`` cannot
    read, for an object that is not a state dict of tensors, and for missing keys or shapes
    that differ from VGG19's, naming the file and what was expected.
    """
    expected = {k: tuple(v.shape) for k, v in trunk.state_dict().items()}
    where = f"vgg_weights: the VGG19 weights file {path!r}"
    hint = (f"expected torchvision's {VGG19_WEIGHTS_FILE} (a state dict with keys "
            f"'features.0.weight', 'features.0.bias', ...) from {VGG19_URL}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True,
                           mmap=zipfile.is_zipfile(path))
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError,
            UnicodeDecodeError) as err:
        raise ValueError(f"{where} is not a PyTorch checkpoint that torch.load can read "
                         f"({type(err).__name__}: {str(err)[:200]}); {hint}") from None
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise ValueError(f"{where} must hold a state dict (a dict from str to tensors), got "
                         f"{type(state).__name__}; {hint}")
    found = list(state)
    if any(key.startswith("features.") for key in state):
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    # keep the trunk's layers only; the classifier and deeper layers are not needed
    keys = [k for k in state if k.split(".", 1)[0].isdigit()]
    state = {k: state[k] for k in keys if int(k.split(".", 1)[0]) < len(trunk)}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(f"{where} does not hold a VGG19 trunk: missing keys {missing[:6]}, "
                         f"unexpected keys {unexpected[:6]}; the file's keys begin "
                         f"{found[:6]} ({len(found)} in all); {hint}")
    for key, shape in expected.items():
        value = state[key]
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise ValueError(f"{where}: {key!r} must be a floating-point tensor, got "
                             f"{type(value).__name__}; {hint}")
        if tuple(value.shape) != shape:
            raise ValueError(f"{where}: {key!r} has shape {tuple(value.shape)}, VGG19's is "
                             f"{shape}; {hint}")
    return state


def _drop_trunk_from_state_dict(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: object
) -> None:
    # The trunk is frozen and rebuilt from its weights source: it is configuration, not state.
    for key in [k for k in state_dict if k.startswith(prefix + "features.")]:
        del state_dict[key]


def _fill_trunk_in_state_dict(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: object
) -> None:
    # A state dict without the trunk (as state_dict() writes it) keeps the current trunk; one
    # with it (written by an older rainkit, or by hand) loads it, strictly as usual.
    features = module.get_submodule("features")
    trunk = {prefix + "features." + k: v for k, v in features.state_dict().items()}
    if not any(key in state_dict for key in trunk):
        state_dict.update(trunk)


class VGGFeatures(nn.Module):
    r"""Frozen VGG19 trunk returning the activations of named layers.

    The trunk is torchvision's VGG19 ``features``, cut after the deepest of ``layers``. Its
    parameters never require gradients and it stays in eval mode (:meth:`train` is a no-op), so
    it can sit inside a model being trained, under DDP, and gradients still flow to the *input*.
    A ReLU works in place unless the convolution before it is a requested tap, so a ``conv`` tap
    is never overwritten by the ReLU after it.

    With ``normalize=True`` the input, an RGB image in :math:`[0, 1]`, is standardised with the
    ImageNet mean and std first (the statistics torchvision's weights expect):

    .. math:: \hat x_c = (x_c - \mu_c) / \sigma_c,\quad
        \mu = (0.485, 0.456, 0.406),\ \sigma = (0.229, 0.224, 0.225).

    ``normalize=False`` feeds the input as it comes, as AECR-Net (Wu et al., CVPR 2021) and
    ESRGAN (Wang et al., ECCVW 2018) do.

    **One trunk for several losses.** Build one ``VGGFeatures`` deep enough for every loss (the
    default, ``relu5_4``, holds all sixteen convolutions) and pass it as ``vgg=`` to each feature
    loss: the weights file is read once and one trunk is held. A forward pass stops at the
    deepest tap it is asked for, so a deep trunk costs memory, never time.
    :class:`~rainkit.loss.CombinedLoss` also makes losses that load the same weights share one
    trunk after the fact.

    **State dict.** The trunk is frozen and rebuilt from ``vgg_weights``, so :meth:`state_dict`
    leaves it out (a checkpoint of a model that holds a loss does not carry 80 MB of VGG
    weights per loss); :meth:`load_state_dict` accepts a state dict with or without it (with it,
    the trunk is loaded from it, strictly). ``vgg.features.state_dict()`` is the trunk's own,
    in torchvision's key format. A random trunk (``vgg_weights=None``) is therefore not restored by
    a state dict: it is for tests.

    Args:
        layers: names of the taps to return by default, from :data:`VGG19_LAYERS`
            (``"conv1_1"``, ``"relu1_1"``, ..., ``"conv5_4"``, ``"relu5_4"``, ``"pool1"``, ...).
        vgg_weights: ``"imagenet"`` loads torchvision's ``vgg19-dcbb9e9d.pth`` from the torch hub
            cache, ``torch.hub.get_dir()/checkpoints`` (``TORCH_HOME`` respected); a path loads
            that file (a torchvision VGG19 state dict, ``features.*`` keys, or a trunk state dict
            without the prefix); ``None`` draws random weights with torchvision's VGG
            initialisation (Kaiming-normal, zero biases; for tests). Nothing is
            downloaded; a missing file raises :class:`FileNotFoundError` naming the file, the
            folder it belongs in and its URL; a file that is not a PyTorch checkpoint, or whose
            state dict lacks the trunk's keys or has other shapes, raises :class:`ValueError`
            saying what it holds. Only the trunk's tensors are read from a zip-format file
            (memory-mapped); a legacy-format file is read whole. (Called ``weights`` before
            rainkit 0.3; that keyword still works, with a :class:`FutureWarning`.)
        normalize: standardise the input with the ImageNet mean and std.
        channels_last: run the trunk in the ``channels_last`` memory format (NHWC), inputs and
            weights (stored so, not converted per call), as oneDNN on CPUs and cuDNN with
            tensor cores prefer: a training step of L1 + perceptual +
            contrastive loss ran 13-16% faster on 2 CPU cores (``benchmarks/README.md``).
            The values are those of the default layout up to float rounding; the returned maps
            then have channels-last strides (use ``reshape``, not ``view``, on them).

    Shape:
        - input: :math:`(B, 3, H, W)` with :math:`B \geq 1` and :math:`H, W \geq`
          :func:`min_input_size` of the requested layers (16 for ``conv5_4``), values in
          :math:`[0, 1]` when ``normalize=True``, in the trunk's dtype (:attr:`dtype`, float32
          unless converted with ``.double()`` / ``.half()``): another dtype is a
          :class:`TypeError`, as in every rainkit module, rather than a silent cast that would
          round a float64 input to float32 or compute a float16 one in float32. Under
          :func:`torch.autocast` any floating dtype is accepted and autocast chooses the
          convolutions' dtype.
        - output: a dict from layer name to :math:`(B, C_l, H_l, W_l)`.

    Example:
        >>> import torch
        >>> from rainkit.loss import VGGFeatures
        >>> vgg = VGGFeatures(layers=("relu1_1", "relu2_1"), vgg_weights=None)
        >>> feats = vgg(torch.rand(2, 3, 16, 16))
        >>> {name: tuple(f.shape) for name, f in feats.items()}
        {'relu1_1': (2, 64, 16, 16), 'relu2_1': (2, 128, 8, 8)}
        >>> len(vgg.features), any(p.requires_grad for p in vgg.parameters())
        (7, False)
        >>> list(vgg.state_dict())  # the frozen trunk is not state
        []

    References:
        K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
        Recognition", ICLR 2015.
    """

    mean: torch.Tensor
    std: torch.Tensor

    @renamed_keyword("weights", "vgg_weights", since="0.3")
    def __init__(
        self,
        layers: Sequence[str] = ("relu5_4",),
        vgg_weights: str | os.PathLike[str] | None = "imagenet",
        normalize: bool = True,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        self.layers = check_layers(layers)
        if vgg_weights is not None and not isinstance(vgg_weights, (str, os.PathLike)):
            raise TypeError(
                f"vgg_weights must be 'imagenet', a path or None, got {type(vgg_weights).__name__}"
            )
        if not isinstance(normalize, bool):
            raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}")
        if not isinstance(channels_last, bool):
            raise TypeError(f"channels_last must be a bool, got {type(channels_last).__name__}")
        self.normalize = normalize
        self.channels_last = channels_last
        #: ``"imagenet"``, the path given, or ``None`` for random weights.
        self.vgg_weights = (vgg_weights if vgg_weights is None or vgg_weights == "imagenet"
                            else os.fspath(vgg_weights))
        #: the absolute path of the weights file read, or ``None`` for random weights.
        self.weights_file = None if vgg_weights is None else _weights_file(vgg_weights)
        self.depth = max(_INDEX[name] for name in self.layers) + 1
        self.features = _make_trunk(self.depth, init=self.weights_file is None)
        if channels_last:  # weights in the inputs' layout, or every call would convert them
            self.features.to(memory_format=torch.channels_last)
        if self.weights_file is not None:
            self._load(self.weights_file)
        self.features.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.register_state_dict_post_hook(  # type: ignore[no-untyped-call]  # untyped in torch
            _drop_trunk_from_state_dict)
        self.register_load_state_dict_pre_hook(  # type: ignore[no-untyped-call]  # idem
            _fill_trunk_in_state_dict)
        super().train(False)

    @property
    def weights(self) -> str | None:
        """Deprecated name of :attr:`vgg_weights` (renamed in rainkit 0.3)."""
        warnings.warn("VGGFeatures.weights was renamed VGGFeatures.vgg_weights in rainkit 0.3",
                      FutureWarning, stacklevel=2)
        return self.vgg_weights

    def _load(self, path: str) -> None:
        # A zip-format checkpoint is memory-mapped, so only the trunk's tensors (80 of VGG19's
        # 548 MB) are read from disk; a legacy (pickle) checkpoint can only be read whole.
        self.features.load_state_dict(_read_trunk_state(path, self.features), strict=True)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the trunk's weights (inputs must have it, outside autocast)."""
        return self.mean.dtype

    def train(self, mode: bool = True) -> VGGFeatures:
        """Keep eval mode whatever ``mode`` is (the trunk is a frozen feature extractor)."""
        return super().train(False)

    def forward(
        self, input: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """Return the activations of ``layers`` (default: the layers given at construction)."""
        names = self.layers if layers is None else check_layers(layers)
        check_vgg_input(input, "input", names)
        wanted = {_INDEX[name]: name for name in names}
        last = max(wanted)
        if last >= self.depth:
            raise ValueError(
                f"layer {VGG19_LAYERS[last]!r} lies deeper than this trunk, which ends at "
                f"{VGG19_LAYERS[self.depth - 1]!r}"
            )
        return self._walk(self._prepare(input), names, 0)[0]

    def _prepare(self, input: torch.Tensor) -> torch.Tensor:
        """Check the dtype and, with ``normalize``, standardise (what module 0 gets).

        Under autocast the input is cast to the trunk's dtype (autocast then picks the
        convolutions' dtype); otherwise it must already have it.
        """
        check_module_dtype(input, self, "input")
        x = input.to(self.dtype)
        if self.normalize:
            x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _walk(
        self, x: torch.Tensor, names: Sequence[str], start: int, stop: int | None = None
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Run modules ``start`` .. ``stop`` (default: the deepest of ``names``) on ``x``.

        ``x`` is the (normalised) input when ``start`` is 0, else the output of module
        ``start - 1``. Returns the taps of ``names`` met on the way and the last output, from
        which a later call with ``start = stop + 1`` continues.
        """
        wanted = {_INDEX[name]: name for name in names}
        last = max(wanted) if stop is None else stop
        out: dict[str, torch.Tensor] = {}
        for index in range(start, last + 1):
            module = self.features[index]
            if isinstance(module, nn.ReLU) and index > start and index - 1 not in wanted:
                # in place: no fresh buffer; the convolution's output is needed by nothing else
                # (its backward keeps its input and weight), unless it is a requested tap
                x = torch.relu_(x)
            else:
                x = module(x)
            if index in wanted:
                out[wanted[index]] = x
        return {name: out[name] for name in names if name in out}, x

    def extra_repr(self) -> str:
        weights = self.vgg_weights if self.vgg_weights is None else repr(self.vgg_weights)
        return (f"layers={self.layers}, vgg_weights={weights}, normalize={self.normalize}, "
                f"channels_last={self.channels_last}")
