"""The registry of metrics a :class:`~rainkit.metrics.ScoreTable` can compute, by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import torch

from rainkit._checks import check_bool, check_int
from rainkit.metrics.conventions import ScoringConvention

__all__ = ["METRICS", "Metric", "PreparedPair", "register_metric", "unregister_metric"]

FuncT = TypeVar("FuncT", bound=Callable[..., Any])


@dataclass(frozen=True)
class PreparedPair:
    r"""An image pair prepared once under one convention: what a full-reference metric gets.

    Attributes:
        input: the restored images :math:`(B, C, H, W)` (float64 for numpy input, else the
            tensors' floating dtype), after the convention's 8-bit snap or ``quantize``, luma
            and border crop: :math:`C = 1` for a luma convention, 3 for RGB.
        target: the clean images, prepared alike, same shape.
        data_range: the peak :math:`L` of the scale both are on (``1.0`` for :math:`[0, 1]`,
            ``255`` for 8-bit data).
        convention: the convention they were prepared under; a metric reads its own settings
            from it (SSIM its window, constants and downsampling).
    """

    input: torch.Tensor
    target: torch.Tensor
    data_range: float
    convention: ScoringConvention


@dataclass(frozen=True)
class Metric:
    r"""A metric that :class:`~rainkit.metrics.ScoreTable` can compute.

    Attributes:
        name: its key in :data:`METRICS`, and the stem of its score keys.
        function: for a full-reference metric (``reference=True``), ``function(pair)`` with a
            :class:`PreparedPair`; for a no-reference metric, ``function(image)`` with the
            restored images :math:`(B, 3, H, W)` in :math:`[0, 1]`. Either returns one value
            per image, a tensor :math:`(B,)`.
        reference: whether the metric needs the clean image.
        label: the heading of its column ("PSNR", "NIQE").
        unit: its unit ("dB"), or ``""``.
        decimals: digits after the point in tables.
        higher_is_better: ``True`` for PSNR and SSIM, ``False`` for NIQE, BRISQUE or LPIPS.
    """

    name: str
    function: Callable[..., torch.Tensor]
    reference: bool = True
    label: str = ""
    unit: str = ""
    decimals: int = 4
    higher_is_better: bool = True


_METRICS: dict[str, Metric] = {}

#: Every registered metric, by name (read-only): ``"psnr"`` and ``"ssim"`` (full reference)
#: and the no-reference metrics that register themselves. See :func:`register_metric`.
METRICS: Mapping[str, Metric] = MappingProxyType(_METRICS)


def register_metric(name: str, *, reference: bool = True, label: str | None = None,
                    unit: str = "", decimals: int = 4,
                    higher_is_better: bool = True) -> Callable[[FuncT], FuncT]:
    r"""Register a metric under ``name`` for :class:`~rainkit.metrics.ScoreTable` (a decorator).

    A full-reference metric takes one :class:`PreparedPair` (prepared once per convention and
    shared by every metric of the table); a no-reference metric (``reference=False``) takes the
    restored images alone, :math:`(B, 3, H, W)` in :math:`[0, 1]`. Both return a tensor
    :math:`(B,)`. Callers need no change: ``ScoreTable(metrics=(..., name))`` or
    ``ScoreTable(no_reference=(name,))`` computes it.

    Args:
        name: a lowercase identifier, not registered yet (it becomes a score key).
        reference: whether the metric compares with the clean image.
        label: column heading (default: ``name.upper()``).
        unit: unit shown after values, e.g. ``"dB"``.
        decimals: digits after the point in tables.
        higher_is_better: the direction of improvement.

    Returns:
        The decorator, which returns the function unchanged.

    Raises:
        TypeError: if an option has the wrong type.
        ValueError: if ``name`` is taken or not a lowercase identifier.

    Example:
        >>> import torch
        >>> from rainkit.metrics import METRICS, ScoreTable, register_metric
        >>> @register_metric("mae_doc", label="MAE", higher_is_better=False)
        ... def mae(pair):
        ...     return (pair.input - pair.target).abs().mean(dim=(1, 2, 3))
        >>> table = ScoreTable(["rgb"], metrics=["psnr", "mae_doc"])
        >>> table.keys
        ('psnr', 'mae_doc')
        >>> x = torch.zeros(1, 3, 16, 16)
        >>> table(x + 0.5, x)["mae_doc"]
        tensor([0.5000])
        >>> from rainkit.metrics.registry import unregister_metric
        >>> unregister_metric("mae_doc")
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"name must be a lowercase identifier (a score key), got {name!r}")
    if name in _METRICS:
        raise ValueError(f"a metric named {name!r} is registered already; choose another name")
    check_bool(reference, "reference")
    check_bool(higher_is_better, "higher_is_better")
    check_int(decimals, "decimals", minimum=0)
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label must be a str or None, got {type(label).__name__}")
    if not isinstance(unit, str):
        raise TypeError(f"unit must be a str, got {type(unit).__name__}")

    def decorate(function: FuncT) -> FuncT:
        if not callable(function):
            raise TypeError(f"a metric must be callable, got {type(function).__name__}")
        _METRICS[name] = Metric(name, function, reference, label or name.upper(), unit,
                                decimals, higher_is_better)
        return function

    return decorate


def unregister_metric(name: str) -> None:
    """Remove ``name`` from :data:`METRICS` (for tests and doctests that register a metric)."""
    _METRICS.pop(name, None)
