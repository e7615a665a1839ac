"""Name-to-class table of the rainkit networks, for command-line ``--model`` flags."""

from __future__ import annotations

from torch import nn

from rainkit.nn.models.base import RainNet
from rainkit.nn.models.baseline import BaselineNet
from rainkit.nn.models.derain_net import DerainNet
from rainkit.nn.models.dilated_pyramid_net import DilatedPyramidNet
from rainkit.nn.models.prenet import PRN, PRNR, PReNet, PReNetGRU, PReNetR, PReNetReal
from rainkit.nn.models.unet import UNet

__all__ = ["MODELS", "build_model", "register_model"]

#: Lowercase name of every network to its class.
MODELS: dict[str, type[nn.Module]] = {
    "baseline": BaselineNet,
    "derainnet": DerainNet,
    "dilatedpyramidnet": DilatedPyramidNet,
    "prenet": PReNet,
    "prenet_gru": PReNetGRU,
    "prenet_r": PReNetR,
    "prenet_real": PReNetReal,
    "prn": PRN,
    "prn_r": PRNR,
    "unet": UNet,
}


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Build the network called ``name`` in :data:`MODELS` with keyword arguments ``kwargs``.

    Args:
        name: one of the keys of :data:`MODELS` (``"baseline"``, ``"derainnet"``,
            ``"dilatedpyramidnet"``, ``"prenet"``, ``"prenet_gru"``, ``"prenet_r"``,
            ``"prenet_real"``, ``"prn"``, ``"prn_r"``, ``"unet"``).
        **kwargs: passed to the class.

    Returns:
        A freshly initialised network.

    Raises:
        ValueError: if ``name`` is unknown; the message lists the valid names.

    Example:
        >>> from rainkit.nn import build_model
        >>> build_model("unet", base_channels=8).base_channels
        8
    """
    if not isinstance(name, str) or name not in MODELS:
        valid = ", ".join(repr(n) for n in sorted(MODELS))
        raise ValueError(f"model name must be one of {valid}, got {name!r}")
    return MODELS[name](**kwargs)


def register_model(name: str, cls: type[nn.Module], *, overwrite: bool = False) -> type[nn.Module]:
    """Add a network class to :data:`MODELS` under ``name``, so that :func:`build_model`,
    :func:`rainkit.checkpoint.load_model` and ``examples/train.py --model name`` know it.

    Call it in your own code before building or loading (rainkit never registers anything on
    its own at import). The class must derive from :class:`~rainkit.nn.RainNet` (the
    ``forward(x, return_rain=False)`` contract) and take only keyword arguments with JSON-like
    values, so a checkpoint can rebuild it. Usable as a decorator with
    ``functools.partial(register_model, "name")``.

    Args:
        name: a lowercase identifier (letters, digits, ``_`` and ``-``).
        cls: the network class.
        overwrite: replace an existing entry of the same name (else that is an error).

    Returns:
        ``cls``, unchanged.

    Raises:
        TypeError: ``cls`` is not a :class:`~rainkit.nn.RainNet` subclass.
        ValueError: ``name`` is malformed, or taken and ``overwrite`` is false.

    Example:
        >>> import torch
        >>> from rainkit.nn import MODELS, RainNet, build_model, register_model
        >>> class Tiny(RainNet):
        ...     def __init__(self, channels: int = 4) -> None:
        ...         super().__init__()
        ...         self.in_channels = 3
        ...         self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        ...     def _separate(self, x):
        ...         rain = self.conv(x)
        ...         return x - rain, rain
        >>> _ = register_model("tiny", Tiny)
        >>> build_model("tiny")(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
        >>> del MODELS["tiny"]
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name) \
            or name != name.lower():
        raise ValueError(f"name must be a lowercase identifier (letters, digits, '_', '-'), "
                         f"got {name!r}")
    if not (isinstance(cls, type) and issubclass(cls, RainNet)):
        raise TypeError(f"cls must be a subclass of rainkit.nn.RainNet, got {cls!r}")
    if name in MODELS and MODELS[name] is not cls and not overwrite:
        raise ValueError(f"a network named {name!r} is already registered "
                         f"({MODELS[name].__name__}); pass overwrite=True to replace it")
    MODELS[name] = cls
    return cls
