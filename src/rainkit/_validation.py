"""Private input checks and reductions shared by every public function of rainkit.

Every check raises :class:`TypeError` for a wrong type and :class:`ValueError` for a wrong
shape, value or option, with a message that says what was expected and what came. None of them
looks at tensor *values*, so none forces a device synchronisation.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Literal, get_args

import numpy as np
import torch

__all__ = [
    "REDUCTIONS",
    "Reduction",
    "check_choice",
    "check_image_tensor",
    "check_in_range",
    "check_int",
    "check_positive",
    "check_real",
    "check_reduction",
    "check_same_shape",
    "check_tensor",
    "reduce",
]

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def _type_name(value: object) -> str:
    return type(value).__name__


def check_tensor(value: object, name: str = "input") -> torch.Tensor:
    """Raise TypeError unless ``value`` is a :class:`torch.Tensor`; return it."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_type_name(value)}")
    return value


def check_image_tensor(
    value: object,
    name: str = "input",
    *,
    ndims: Sequence[int] = (4,),
    channels: int | Sequence[int] | None = None,
    floating: bool = True,
) -> torch.Tensor:
    """Check an image tensor's type, number of dimensions, channels and dtype.

    Args:
        value: the object to check.
        name: the argument's name, used in messages.
        ndims: accepted numbers of dimensions; channels are at dim ``-3``.
        channels: accepted channel counts, or ``None`` for any.
        floating: require a floating-point dtype.
    """
    tensor = check_tensor(value, name)
    if tensor.ndim not in ndims:
        names = {2: "(H, W)", 3: "(C, H, W)", 4: "(B, C, H, W)"}
        shapes = " or ".join(names.get(n, f"{n}-D") for n in ndims)
        raise ValueError(
            f"{name} must have shape {shapes}, got a {tensor.ndim}-D tensor of shape "
            f"{tuple(tensor.shape)}"
        )
    if channels is not None:
        allowed = (channels,) if isinstance(channels, int) else tuple(channels)
        if tensor.shape[-3] not in allowed:
            want = " or ".join(str(c) for c in allowed)
            raise ValueError(
                f"{name} must have {want} channels at dim -3, got {tensor.shape[-3]} "
                f"(shape {tuple(tensor.shape)})"
            )
    if floating and not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {tensor.dtype}")
    return tensor


def check_same_shape(
    a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("input", "target")
) -> None:
    """Raise ValueError unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )


def check_reduction(reduction: object) -> Reduction:
    """Raise ValueError unless ``reduction`` is one of ``'none'``, ``'mean'``, ``'sum'``."""
    return check_choice(reduction, REDUCTIONS, "reduction")  # type: ignore[return-value]


def check_choice(value: object, choices: Iterable[str], name: str) -> str:
    """Raise ValueError unless ``value`` is one of ``choices``; the message lists them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_positive(value: object, name: str, *, strict: bool = True) -> float:
    """Raise unless ``value`` is a real number ``> 0`` (or ``>= 0`` when not strict)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    if not (value > 0 if strict else value >= 0) or value != value:
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value}")
    return float(value)


def check_in_range(value: object, name: str, low: float, high: float) -> float:
    """Raise unless ``value`` is a real number in the closed interval ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return float(value)


def check_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Raise unless ``value`` is an ``int`` (not ``bool``), optionally ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {_type_name(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_real(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Raise unless ``value`` is a finite real number in range; return it as a ``float``.

    Python and NumPy numbers (``np.float32(1)``, ``np.int64(2)``) are accepted; ``bool``,
    strings, NaN and infinities are not. ``minimum`` is exclusive when ``strict_minimum``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_type_name(value)} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}")
    if minimum is not None and (number <= minimum if strict_minimum else number < minimum):
        raise ValueError(f"{name} must be {'>' if strict_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return number


def reduce(values: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    """Reduce per-sample ``values`` by ``'none'`` (unchanged), ``'mean'`` or ``'sum'``."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    check_reduction(reduction)
    raise AssertionError("unreachable")  # pragma: no cover
