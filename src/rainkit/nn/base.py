"""The base class of rainkit's deraining networks: the ``return_rain`` contract."""

# No ``from __future__ import annotations`` here: TorchScript reads the class annotation
# ``in_channels: int`` of every subclass and cannot resolve it as the string "int".
from typing import ClassVar

import torch
from torch import nn

from rainkit.nn._common import check_network_input

__all__ = ["RainNet", "StagedRainNet"]


class RainNet(nn.Module):
    """Base of the rain-removal networks: ``forward(x, return_rain=False)``.

    Every network in :data:`rainkit.nn.MODELS` derives from it. A subclass sets
    ``in_channels`` in its ``__init__`` and implements ``_separate(x) -> (derained, rain)`` with
    ``derained + rain == x`` (up to rounding); :class:`RainNet` then provides the input check,
    ``forward(x, return_rain=...)`` and :meth:`rain_layer`. A network that predicts the clean image
    directly returns ``(derained, x - derained)``; one that predicts the rain layer returns
    ``(x - rain, rain)``. See the guide "Adding a network or a loss" for what a network must also
    provide to train with ``examples/train.py``.

    Shape:
        - Input: :math:`(B, C_{in}, H, W)`, any :math:`H, W \\ge 1`, in the dtype of the
          network's parameters (convert one with ``.to(dtype)``; under :func:`torch.autocast`
          any floating dtype); anything else raises :class:`TypeError` or :class:`ValueError`.
        - Output: :math:`(B, C_{in}, H, W)`; with ``return_rain=True`` a pair of such tensors.

    Example:
        >>> import torch
        >>> from rainkit.nn import RainNet
        >>> class Identity(RainNet):
        ...     def __init__(self) -> None:
        ...         super().__init__()
        ...         self.in_channels = 3
        ...     def _separate(self, x):
        ...         return x, torch.zeros_like(x)
        >>> derained, rain = Identity()(torch.rand(1, 3, 4, 4), return_rain=True)
        >>> float(rain.abs().max())
        0.0
    """

    in_channels: int
    #: ``True`` on an exact port of an authors' network whose default configuration has no
    #: trainable-identity variant (e.g. :class:`~rainkit.nn.PReNetReal`, whose output
    #: convolution gives the clean image itself): a fresh one is not the identity, and the
    #: identity-at-initialisation tests skip it. ``False`` (the default) promises that a fresh
    #: network returns its input (:func:`rainkit.init.zero_output_init_`).
    exact_port: ClassVar[bool] = False
    #: Names (or name prefixes, ending at a module: ``"reduce_chan_level1_max3"``) of
    #: parameters that :meth:`forward` never reads, kept only so that the authors' checkpoint
    #: loads with ``strict=True`` (e.g. a layer the authors' forward skips). They get no
    #: gradient; the tests that check every parameter trains skip them. Empty by default.
    unused_parameters: ClassVar[tuple[str, ...]] = ()

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError  # pragma: no cover

    def forward(
        self, x: torch.Tensor, return_rain: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Derain ``x``; with ``return_rain=True`` return ``(derained, rain)``."""
        # TorchScript compiles neither the check nor its messages (it skips this branch)
        if not torch.jit.is_scripting():
            check_network_input(x, self.in_channels, self)
        derained, rain = self._separate(x)
        if return_rain:
            return derained, rain
        return derained

    def rain_layer(self, x: torch.Tensor) -> torch.Tensor:
        """The estimated rain layer :math:`R = x - \\hat{B}`, shape :math:`(B, C, H, W)`."""
        check_network_input(x, self.in_channels, self)
        return self._separate(x)[1]


class StagedRainNet(RainNet):
    """A :class:`RainNet` that refines its estimate over stages (PReNet, SAPNet, ...).

    A subclass implements ``_stages(x, every) -> list`` (every stage's estimate when ``every``
    is true, else a one-item list with the last); this class derives :meth:`stage_outputs`
    (what a recursive loss supervises) and the derained image from it.
    """

    def _stages(self, x: torch.Tensor, every: bool) -> list[torch.Tensor]:
        raise NotImplementedError  # pragma: no cover

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The estimate after each stage, a list of :math:`(B, C, H, W)` tensors."""
        check_network_input(x, self.in_channels, self)
        return self._stages(x, every=True)

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        derained = self._stages(x, every=False)[-1]
        return derained, x - derained
