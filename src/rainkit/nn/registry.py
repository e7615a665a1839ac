"""Name-to-class table of the rainkit networks, for command-line ``--model`` flags."""

from __future__ import annotations

from torch import nn

from rainkit.nn.models.baseline import BaselineNet
from rainkit.nn.models.derain_net import DerainNet
from rainkit.nn.models.dilated_pyramid_net import DilatedPyramidNet
from rainkit.nn.models.prenet import PRN, PRNR, PReNet, PReNetGRU, PReNetR, PReNetReal
from rainkit.nn.models.unet import UNet

__all__ = ["MODELS", "build_model"]

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
