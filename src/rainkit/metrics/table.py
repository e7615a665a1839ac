"""One score table for every caller: each image prepared once per convention, one key scheme."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
import torch
from torch import nn

from rainkit._checks import check_finite, check_image_tensor
from rainkit.metrics._prepare import (
    Options,
    Tensors,
    _numpy_to_tensor,
    apply_options,
    check_options,
    to_tensors,
)
from rainkit.metrics.conventions import Quantize, ScoringConvention, resolve_convention
from rainkit.metrics.psnr import psnr_of_pair  # noqa: F401  (registers "psnr")
from rainkit.metrics.registry import METRICS, Metric, PreparedPair
from rainkit.metrics.ssim import ssim_of_pair  # noqa: F401  (registers "ssim")

__all__ = ["Column", "ScoreTable", "format_scores", "key_for", "mean_scores"]

_LPIPS = Metric("lpips", lambda image: image, reference=True, label="LPIPS",
                higher_is_better=False)


def key_for(metric: str, convention: str | ScoringConvention | None) -> str:
    """The score key of ``metric`` under ``convention``: ``"<metric>_y"`` for a luma
    convention, ``"<metric>"`` for an RGB one and for metrics without a convention (LPIPS,
    no-reference metrics).

    Args:
        metric: the metric's name, a non-empty ``str`` (``"psnr"``, ``"ssim"``, ...).
        convention: a :class:`~rainkit.metrics.ScoringConvention`, its name (a key of
            :data:`~rainkit.metrics.CONVENTIONS` or an alias), or ``None``.

    Raises:
        TypeError: ``metric`` is not a str, or ``convention`` not a convention, a name or
            ``None``.
        ValueError: ``metric`` is empty, or ``convention`` an unknown name.

    Example:
        >>> from rainkit.metrics import CONVENTIONS
        >>> key_for("psnr", CONVENTIONS["prenet-y"]), key_for("ssim", "rgb")
        ('psnr_y', 'ssim')
    """
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a metric's name (a str such as 'psnr'), got "
                        f"{type(metric).__name__} {metric!r:.40}")
    if not metric:
        raise ValueError("metric must be a metric's name such as 'psnr', got ''")
    luma = convention is not None and resolve_convention(convention).y_channel
    return metric + ("_y" if luma else "")


@dataclass(frozen=True)
class Column:
    """One column of a :class:`ScoreTable`.

    Attributes:
        key: the score key (see :func:`key_for`).
        metric: the metric's name in :data:`~rainkit.metrics.METRICS` (or ``"lpips"``).
        convention: the convention it is computed under; ``None`` for LPIPS and no-reference
            metrics, which score the images as given.
        label: the heading, ``"Y-PSNR"``, ``"SSIM"``, ``"NIQE"``...
        unit: ``"dB"`` or ``""``.
        decimals: digits after the point.
        higher_is_better: the direction of improvement.
    """

    key: str
    metric: str
    convention: ScoringConvention | None
    label: str
    unit: str
    decimals: int
    higher_is_better: bool

    def format(self, value: float) -> str:
        """``"Y-PSNR 28.90 dB"``."""
        return f"{self.label} {value:.{self.decimals}f}" + (f" {self.unit}" if self.unit else "")


def _column(metric: Metric, convention: ScoringConvention | None) -> Column:
    luma = convention is not None and convention.y_channel
    return Column(key_for(metric.name, convention), metric.name, convention,
                  ("Y-" if luma else "") + metric.label, metric.unit, metric.decimals,
                  metric.higher_is_better)


def _names(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, tuple)):
        raise TypeError(f"{what} must be a sequence of names, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, (str, ScoringConvention)):
            raise TypeError(f"{what} must hold names, got {type(item).__name__} {item!r:.40}")
    return tuple(value)


def _registered(name: str, reference: bool, what: str) -> Metric:
    kind = "full-reference" if reference else "no-reference"
    options = sorted(n for n, m in METRICS.items() if m.reference == reference)
    if name not in METRICS or METRICS[name].reference != reference:
        listed = ", ".join(repr(n) for n in options) or "none registered"
        raise ValueError(f"{what} must hold names of {kind} metrics; each {kind} metric must be "
                         f"one of {listed}, got {name!r}")
    return METRICS[name]


class ScoreTable:
    r"""The per-image scores of image pairs under one or more scoring conventions.

    Each pair is converted once (numpy arrays to float64 tensors, tensors to a common floating
    dtype), then prepared once per convention (the script's 8-bit snap or ``quantize``, luma,
    crop: a :class:`~rainkit.metrics.PreparedPair`), and every full-reference metric of the
    table runs on that one preparation. LPIPS and no-reference metrics score the restored
    image as given (after ``quantize``), in :math:`[0, 1]`.

    **Keys.** ``"<metric>_y"`` under a luma convention, ``"<metric>"`` under an RGB one
    (:func:`key_for`), ``"lpips"``, and the names of no-reference metrics: with the default
    conventions ``("prenet-y", "rgb")``, ``psnr_y``, ``ssim_y``, ``psnr``, ``ssim``. Two
    conventions of one colour space (``"prenet-y"`` with ``"mprnet-y"``) would write the same
    keys, so they need two tables. :attr:`columns` records the convention of every key.

    **Extending.** A metric registered with :func:`~rainkit.metrics.register_metric` is
    computed by name: ``metrics=`` for full-reference ones (each receives the
    :class:`~rainkit.metrics.PreparedPair`), ``no_reference=`` for no-reference ones such as
    NIQE (each receives the restored images :math:`(B, 3, H, W)` in :math:`[0, 1]`).

    **Checks.** Options are checked here, before any image. Images are checked for NaN and
    infinities (the values are read anyway; on a GPU this waits for the device once per call):
    a non-finite pixel raises :class:`ValueError` instead of giving a NaN score.

    Args:
        conventions: names (or :class:`~rainkit.metrics.ScoringConvention` objects) of the
            conventions to score under, in column order; aliases such as ``"matlab-y"`` are
            accepted. May be empty for a table of no-reference metrics.
        metrics: full-reference metrics computed under every convention (default PSNR and
            SSIM).
        no_reference: no-reference metrics computed on the restored images.
        lpips: an LPIPS module (:class:`~rainkit.metrics.LPIPS`, best with
            ``reduction="none"``) or ``None``; images are moved to its device.
        quantize: ``"round"`` or ``"floor"``: snap a floating restored image to 8 bits first,
            as a test script saving it did (see :func:`~rainkit.metrics.psnr`).
        data_range: the scale of floating inputs (``None``: 1.0 for floats, 255 for uint8
            and 65535 for uint16 arrays).
        crop_border: the border of conventions that take it as an option (``"basicsr-y"``);
            conventions with a fixed border keep theirs. In a table without such a convention,
            a value that contradicts the fixed border raises.

    Attributes:
        columns: the :class:`Column` of every score, in order.
        keys: the score keys, in order.
        conventions: the resolved conventions.

    Raises:
        TypeError: for an option of the wrong type.
        ValueError: for an unknown convention or metric, two conventions that write the same
            keys, a table with nothing to compute, or an option a convention contradicts.

    Example:
        >>> import numpy as np
        >>> from rainkit.metrics import ScoreTable
        >>> rng = np.random.default_rng(0)
        >>> clean = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        >>> result = np.clip(clean + rng.normal(0, 2, clean.shape), 0, 255).astype(np.uint8)
        >>> table = ScoreTable(["prenet-y", "rgb"])
        >>> table.keys
        ('psnr_y', 'ssim_y', 'psnr', 'ssim')
        >>> [c.label for c in table.columns]
        ['Y-PSNR', 'Y-SSIM', 'PSNR', 'SSIM']
        >>> row = table(result, clean)
        >>> round(row["psnr_y"], 2), round(row["psnr"], 2)
        (46.12, 41.69)
        >>> format_scores(row, table)
        'Y-PSNR 46.12 dB, Y-SSIM 0.9996, PSNR 41.69 dB, SSIM 0.9996'
    """

    def __init__(self, conventions: Sequence[str | ScoringConvention] = ("prenet-y", "rgb"),
                 *, metrics: Sequence[str] = ("psnr", "ssim"),
                 no_reference: Sequence[str] = (), lpips: nn.Module | None = None,
                 quantize: Quantize | None = None, data_range: float | None = None,
                 crop_border: int | None = None) -> None:
        self.conventions = tuple(resolve_convention(c)
                                 for c in _names(conventions, "conventions"))
        full = tuple(_registered(name, True, "metrics") for name in _names(metrics, "metrics"))
        blind = tuple(_registered(name, False, "no_reference")
                      for name in _names(no_reference, "no_reference"))
        if lpips is not None and not isinstance(lpips, nn.Module):
            raise TypeError(f"lpips must be an LPIPS module (rainkit.metrics.LPIPS) or None, "
                            f"got {type(lpips).__name__}")
        # one Options per convention; crop_border goes to the conventions that take it as an
        # option (a fixed border that it contradicts raises when no convention takes it)
        takes = [c.crop_border is None for c in self.conventions]
        self._options = tuple(check_options(data_range, crop_border if take or not any(takes)
                                            else None, None, "none", convention=c,
                                            quantize=quantize)
                              for c, take in zip(self.conventions, takes))
        self._plain = check_options(data_range, None, None, "none", quantize=quantize)
        self._plain = Options(self._plain.data_range, 0, False, False, quantize, None)
        self.data_range = data_range
        self.lpips = lpips
        self._full, self._blind = full, blind
        columns = [_column(m, c) for c in self.conventions for m in full]
        if lpips is not None:
            columns.append(_column(_LPIPS, None))
        columns += [_column(m, None) for m in blind]
        seen: dict[str, Column] = {}
        for column in columns:
            if column.key in seen:
                first, second = seen[column.key].convention, column.convention
                raise ValueError(
                    f"conventions {getattr(first, 'name', None)!r} and "
                    f"{getattr(second, 'name', None)!r} would both write the key "
                    f"{column.key!r} (both score {'Y' if column.key.endswith('_y') else 'RGB'}); "
                    f"score them with two tables"
                )
            seen[column.key] = column
        if not columns:
            raise ValueError("the table has nothing to compute: give conventions with metrics, "
                             "lpips or no_reference metrics")
        self.columns: tuple[Column, ...] = tuple(columns)
        self.keys: tuple[str, ...] = tuple(c.key for c in columns)

    @property
    def needs_reference(self) -> bool:
        """Whether any column compares with a clean image."""
        return bool(self.conventions and self._full) or self.lpips is not None

    @overload
    def __call__(self, input: torch.Tensor,
                 target: torch.Tensor | None = None) -> dict[str, torch.Tensor]: ...

    @overload
    def __call__(self, input: np.ndarray,
                 target: np.ndarray | None = None) -> dict[str, float]: ...

    @overload
    def __call__(self, input: torch.Tensor | np.ndarray,
                 target: torch.Tensor | np.ndarray | None = None
                 ) -> dict[str, torch.Tensor] | dict[str, float]: ...

    def __call__(self, input: torch.Tensor | np.ndarray,
                 target: torch.Tensor | np.ndarray | None = None
                 ) -> dict[str, torch.Tensor] | dict[str, float]:
        r"""Score restored images against clean ones (or alone, for no-reference tables).

        Args:
            input: the restored image(s): a tensor :math:`(B, C, H, W)` or :math:`(C, H, W)`
                (floating, any device), or a numpy array :math:`(H, W, C)` or :math:`(H, W)`
                (uint8, uint16 or float).
            target: the clean image(s), same type and shape; floating dtypes may differ
                (float32 with float64 is computed in float64). ``None`` scores only the
                no-reference columns and is an error for a table that needs a reference.

        Returns:
            Key (see :attr:`keys`) to per-image values: tensors :math:`(B,)` for tensor
            input, Python floats for a numpy image.

        Raises:
            TypeError: for inputs of the wrong type or mismatched dtypes.
            ValueError: for mismatched shapes or devices, non-finite values, images too small
                for a metric, or a missing ``target``.
        """
        if target is None:
            if self.needs_reference:
                raise ValueError(
                    f"target is needed for the columns "
                    f"{[k for k in self.keys if k not in {m.name for m in self._blind}]}; "
                    f"pass the clean image, or build a table with no_reference= metrics only"
                )
            tensors = _one_image(input, self.data_range)
        else:
            tensors = to_tensors(input, target, self.data_range, finite=True)
        scores: dict[str, torch.Tensor] = {}
        for convention, options in zip(self.conventions, self._options):
            x, y = apply_options(tensors, options)
            pair = PreparedPair(x, y, tensors.data_range, convention)
            for metric in self._full:
                scores[key_for(metric.name, convention)] = metric.function(pair)
        if self.lpips is not None or self._blind:
            rgb, clean = apply_options(tensors, self._plain)
            rgb = rgb / tensors.data_range
            if self.lpips is not None:
                scores["lpips"] = _run_lpips(self.lpips, rgb, clean / tensors.data_range)
            for metric in self._blind:
                scores[metric.name] = metric.function(rgb)
        if tensors.numpy:
            return {key: float(value.reshape(-1)[0]) for key, value in scores.items()}
        return dict(scores)

    def __repr__(self) -> str:
        names = [c.name for c in self.conventions]
        return f"ScoreTable(conventions={names}, keys={list(self.keys)})"


def _run_lpips(module: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    param = next(iter(module.parameters()), None)
    device = x.device if param is None else param.device
    values: torch.Tensor = module(x.to(device), y.to(device))
    if values.dim() == 0:
        if x.shape[0] != 1:
            raise ValueError("lpips must give one value per image: build it with "
                             "reduction='none' to score batches")
        values = values.reshape(1)
    return values.to(x.device)


def _one_image(input: object, data_range: float | None) -> Tensors:
    """A restored image alone (no-reference tables), converted like :func:`to_tensors`."""
    if isinstance(input, np.ndarray):
        x, default = _numpy_to_tensor(input, "input")
        return Tensors(x, x, default if data_range is None else float(data_range), True,
                       tuple(input.shape))
    x = check_image_tensor(input, "input", ndims=(3, 4))
    check_finite(x, "input")
    shape = tuple(x.shape)
    x = x.unsqueeze(0) if x.ndim == 3 else x
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return Tensors(x, x, 1.0 if data_range is None else float(data_range), False, shape)


def _label(key: str) -> tuple[str, str, int]:
    """Label, unit and decimals of a key in the key scheme, without a table."""
    stem, luma = (key[:-2], True) if key.endswith("_y") else (key, False)
    metric = METRICS.get(stem) or (_LPIPS if stem == "lpips" else None)
    if metric is None:
        return key, "", 4
    return ("Y-" if luma else "") + metric.label, metric.unit, metric.decimals


def format_scores(scores: Mapping[str, object], table: ScoreTable | None = None) -> str:
    """One line for a row of scores (or of their means), labelled as papers label them.

    Args:
        scores: score key to a real number, e.g. a :class:`ScoreTable` row with floats, or
            :func:`mean_scores` of rows.
        table: order, labels and decimals from this table's columns (keys it lacks follow);
            ``None``: the mapping's order, labels from the key scheme (``psnr_y`` is
            ``Y-PSNR``); unknown keys are shown as they are.

    Returns:
        ``"Y-PSNR 28.90 dB, Y-SSIM 0.8890, PSNR 27.31 dB, SSIM 0.8712"``.

    Raises:
        TypeError: if ``scores`` is not a mapping, a value is not a real number, or ``table``
            is neither a :class:`ScoreTable` nor ``None``.

    Example:
        >>> format_scores({"psnr": 27.314, "ssim": 0.87123, "lpips": 0.12345})
        'PSNR 27.31 dB, SSIM 0.8712, LPIPS 0.1235'
    """
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores must be a mapping of name to value, got {type(scores).__name__}")
    if table is not None and not isinstance(table, ScoreTable):
        raise TypeError(f"table must be a ScoreTable or None, got {type(table).__name__} "
                        f"{table!r:.40}")
    values: dict[str, float] = {}
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"scores[{key!r}] must be a real number, got "
                            f"{type(value).__name__} {value!r:.40}")
        values[key] = float(value)
    order = list(scores)
    if table is not None:
        order = [k for k in table.keys if k in scores] + [k for k in scores
                                                         if k not in table.keys]
    by_key = {c.key: c for c in table.columns} if table is not None else {}
    parts = []
    for key in order:
        if key in by_key:
            parts.append(by_key[key].format(values[key]))
            continue
        label, unit, decimals = _label(key)
        value = values[key]
        parts.append(f"{label} {value:.{decimals}f}" + (f" {unit}" if unit else ""))
    return ", ".join(parts)


def mean_scores(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of per-image rows, key by key, as the scripts average (mean of per-image PSNRs).

    Args:
        rows: an iterable (a list, a generator) of mappings of key to a real number: a Python
            or numpy number, not ``bool``, not a string, or a one-element tensor. Keys of the
            first row are averaged; every row must hold them.

    Returns:
        Key to mean; an empty dict for no rows. An infinite PSNR (identical images) makes the
        mean infinite, as in the scripts.

    Raises:
        TypeError: ``rows`` is not an iterable of mappings (a string, a mapping, a number), or
            a value is not a real number; the message names the row and key.
        ValueError: a row lacks a key of the first row, or a value is NaN (a metric that had
            nothing to measure, such as the NIQE of a constant image; its mean would be NaN
            without a word: drop the row or the key first).

    Example:
        >>> mean_scores([{"psnr": 30.0}, {"psnr": 32.0}])
        {'psnr': 31.0}
    """
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise TypeError(f"rows must be an iterable of mappings (one per image, key to value), "
                        f"got {type(rows).__name__} {rows!r:.40}")
    rows = list(rows)
    if not rows:
        return {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows[{index}] must be a mapping of key to value, got "
                            f"{type(row).__name__} {row!r:.40}")
    keys = list(rows[0])
    values: dict[str, list[float]] = {k: [] for k in keys}
    for index, row in enumerate(rows):
        missing = [k for k in keys if k not in row]
        if missing:
            raise ValueError(f"rows[{index}] lacks {missing}; every row needs {keys}")
        for key in keys:
            values[key].append(_score_value(row[key], f"rows[{index}][{key!r}]"))
    return {k: math.fsum(v) / len(rows) for k, v in values.items()}


def _score_value(value: object, name: str) -> float:
    """A real number (Python, numpy, or a one-element tensor) that is not NaN, as a float."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex() \
            and value.dtype != torch.bool:
        value = value.item()
    elif isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype,
                                                                              np.number):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} "
                        f"{value!r:.40}")
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{name} is NaN: a mean with it would be NaN; drop that row or key "
                         f"first (a NaN score means the metric had nothing to measure, e.g. "
                         f"the NIQE of a constant image)")
    return number
