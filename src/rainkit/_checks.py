"""Private input checks and reductions shared by every public function of rainkit.

Every check raises :class:`TypeError` for a wrong type and :class:`ValueError` for a wrong
shape, value or option, with a message that says what was expected and what came. None of them
looks at tensor *values*, so none forces a device synchronisation.

Numbers: a number option accepts any real number (``int``, ``float``, numpy scalars such as
``np.float32(1)``; not ``bool``) and rejects ``nan`` and ``inf``; an int option accepts ``int``
and numpy integers (not ``bool``); a bool option accepts only ``bool`` (and ``np.bool_``), so a
string such as ``"no"`` is an error rather than ``True``. Tensors: every image check rejects
tensors with a zero-size dimension (an empty batch would give NaN from every mean).

Non-finite values (the one policy, decided here):

* **Where values are read anyway** -- metrics that return numbers, image writers, data loading
  and scoring on the CPU -- the function calls :func:`check_finite`, which raises
  :class:`ValueError` naming the argument and counting the NaN/inf entries. A NaN pixel there
  would otherwise become a NaN score or a black pixel without a word.
* **Inside training steps** -- networks (every :class:`~rainkit.nn.RainNet`), losses,
  :func:`~rainkit.metrics.rgb_to_y` and other differentiable ops -- nothing is checked by
  default: :func:`check_finite` reads the values and so forces a device synchronisation on every
  call, which STYLE.md forbids by default. NaN and inf propagate (IEEE semantics), so a bad
  input gives a non-finite output that the caller sees; call :func:`check_finite` on the input
  (or :func:`torch.autograd.set_detect_anomaly` while debugging) to find where it came from.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

import numpy as np
import torch
from torch import nn

__all__ = [
    "REDUCTIONS",
    "Reduction",
    "check_bool",
    "check_choice",
    "check_device",
    "check_finite",
    "check_floating_tensor",
    "check_image_tensor",
    "check_in_range",
    "check_int",
    "check_mapping",
    "check_module_dtype",
    "check_nonempty",
    "check_number",
    "check_output_path",
    "check_path",
    "check_positive",
    "check_raster",
    "check_real",
    "check_reduction",
    "check_same_shape",
    "check_tensor",
    "reduce",
    "renamed_keyword",
]

FuncT = TypeVar("FuncT", bound=Callable[..., Any])
Reduction = Literal["none", "mean", "sum"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def _type_name(value: object) -> str:
    return type(value).__name__


def check_tensor(value: object, name: str = "input") -> torch.Tensor:
    """Raise TypeError unless ``value`` is a :class:`torch.Tensor`; return it."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {_type_name(value)}")
    return value


def check_nonempty(tensor: torch.Tensor, name: str = "input") -> torch.Tensor:
    """Raise ValueError if ``tensor`` has a zero-size dimension (no elements)."""
    if tensor.numel() == 0:
        raise ValueError(
            f"{name} must not be empty, got shape {tuple(tensor.shape)} (a zero-size dimension)"
        )
    return tensor


def check_floating_tensor(value: object, name: str = "input") -> torch.Tensor:
    """Raise unless ``value`` is a non-empty floating-point tensor of any shape; return it.

    Integer tensors are rejected because arithmetic on them wraps around or truncates (``uint8``
    ``0 - 16`` is ``240``), complex ones because a loss or metric of them is not defined.
    """
    tensor = check_tensor(value, name)
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {tensor.dtype}; convert integer "
            f"images with {name}.float() / 255 (or rainkit.data.to_float_tensor)"
        )
    return check_nonempty(tensor, name)


def check_finite(tensor: torch.Tensor, name: str = "input") -> torch.Tensor:
    """Raise ValueError if ``tensor`` holds NaN or an infinity; return it unchanged.

    This check reads the values, so on a GPU it waits for the device (one synchronisation); see
    the module's policy for where it is called and where it is not. Integer and ``bool`` tensors
    are always finite and cost nothing.

    Args:
        tensor: a tensor of any shape and dtype (check the type first, e.g. with
            :func:`check_tensor`).
        name: the argument's name, used in the message.

    Returns:
        ``tensor`` itself.

    Raises:
        ValueError: ``"image must be finite, got 3 NaN and 1 inf of 12 values"``.

    Example:
        >>> check_finite(torch.zeros(2, 2), "image").shape
        torch.Size([2, 2])
        >>> check_finite(torch.tensor([0.0, float("nan")]), "image")
        Traceback (most recent call last):
        ...
        ValueError: image must be finite, got 1 NaN and 0 inf of 2 values; ...
    """
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return tensor
    if bool(torch.isfinite(tensor).all()):
        return tensor
    nan = int(torch.isnan(tensor).sum())
    inf = int(torch.isinf(tensor).sum())
    raise ValueError(
        f"{name} must be finite, got {nan} NaN and {inf} inf of {tensor.numel()} values; "
        f"find where they come from (e.g. torch.autograd.set_detect_anomaly) or replace them "
        f"with torch.nan_to_num({name})"
    )


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

    Tensors with a zero-size dimension (empty batch, no channels, zero height or width) are
    rejected with :class:`ValueError`.
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
    return check_nonempty(tensor, name)


def check_raster(
    value: object, name: str = "image", *, min_ndim: int = 2, floating: bool = False
) -> torch.Tensor:
    """Check a tensor holding pixels in its last two dimensions, :math:`(*, H, W)`.

    Raises :class:`TypeError` for a non-tensor (a numpy array or a list included), a complex
    dtype, and (when ``floating``) any non-floating dtype; :class:`ValueError` for fewer than
    ``min_ndim`` dimensions or a zero-size dimension. Integer and ``bool`` images pass when
    not ``floating``.
    """
    tensor = check_tensor(value, name)
    if tensor.ndim < min_ndim:
        raise ValueError(
            f"{name} must have shape (*, H, W) with at least {min_ndim} dimensions, got a "
            f"{tensor.ndim}-D tensor of shape {tuple(tensor.shape)}"
        )
    if tensor.is_complex():
        raise TypeError(f"{name} must be a real-valued image tensor, got dtype {tensor.dtype}")
    if floating and not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {tensor.dtype}; convert integer "
            f"images with rainkit.data.to_float_tensor({name})"
        )
    return check_nonempty(tensor, name)


def check_path(value: object, name: str = "path") -> Path:
    """Raise TypeError unless ``value`` is a ``str`` or an :class:`os.PathLike`; return a Path."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise TypeError(f"{name} must be a str or os.PathLike (a file path), got "
                    f"{_type_name(value)} {value!r}")


def check_output_path(value: object, name: str = "path", *, folder: bool = False) -> Path:
    """Check a path to write: a str or os.PathLike, not empty, not a folder, inside a folder.

    With ``folder`` the path is a folder to write into: it may exist as a folder, not as a file.
    Either way the nearest existing ancestor must be a folder (so that it can be created).
    Raises TypeError for a wrong type and ValueError otherwise; returns a :class:`Path`.
    """
    path = check_path(value, name)
    if isinstance(value, (str, os.PathLike)) and os.fspath(value) == "":
        raise ValueError(f"{name} must not be empty (it would mean the current folder)")
    if folder and path.exists() and not path.is_dir():
        raise ValueError(f"{name} must be a folder, got the file {path}")
    if not folder and path.is_dir():
        raise ValueError(f"{name} must be a file path, got the folder {path}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{name} {path} cannot be written: {parent} is a file, not a "
                                 f"folder")
            break
    return path


def check_mapping(value: object, name: str, *, optional: bool = False) -> dict[Any, Any]:
    """Raise TypeError unless ``value`` is a mapping (or ``None`` when ``optional``).

    Returns a new ``dict`` of it (empty for ``None``).
    """
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        allowed = "a mapping or None" if optional else "a mapping"
        raise TypeError(f"{name} must be {allowed}, got {_type_name(value)} {value!r:.80}")
    return dict(value)


def check_device(value: object, name: str = "device") -> torch.device:
    """Check a device: a :class:`torch.device` or a string such as ``"cpu"``, ``"cuda:1"``.

    A CUDA or MPS device must exist on this machine. Raises TypeError for a wrong type and
    ValueError for an unknown or missing device; returns the :class:`torch.device`.
    """
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a torch.device or a str such as 'cpu' or 'cuda:1', got "
                        f"{_type_name(value)} {value!r}")
    try:
        device = torch.device(value)
    except RuntimeError as err:
        raise ValueError(f"{name} must be a device such as 'cpu', 'cuda' or 'cuda:1', got "
                         f"{value!r} ({err})") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name} {value!r}: CUDA is not available on this machine")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{name} {value!r}: this machine has {count} CUDA device(s)")
    mps = getattr(torch.backends, "mps", None)
    if device.type == "mps" and not (mps is not None and mps.is_available()):
        raise ValueError(f"{name} {value!r}: MPS is not available on this machine")
    return device


def check_module_dtype(x: torch.Tensor, module: nn.Module, name: str = "input") -> None:
    """Raise TypeError unless ``x`` has the dtype of ``module``'s parameters.

    A module computes in its parameters' dtype: a float64 or float16 input to a float32 module
    would fail deep inside the convolution. Under :func:`torch.autocast` the layers cast their
    inputs themselves, so nothing is checked there.
    """
    param = next(module.parameters(), None)
    if param is None or x.dtype == param.dtype:
        return
    if torch.is_autocast_enabled(x.device.type):
        return
    raise TypeError(
        f"{name} has dtype {x.dtype} but {type(module).__name__}'s parameters are {param.dtype}; "
        f"convert the input with {name}.to({param.dtype}) or the module with "
        f"module.to({x.dtype}) (or run it under torch.autocast)"
    )


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
    return cast(Reduction, check_choice(reduction, REDUCTIONS, "reduction"))


def check_choice(value: object, choices: Iterable[str], name: str) -> str:
    """Raise ValueError unless ``value`` is one of ``choices``; the message lists them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return value


def check_number(value: object, name: str) -> float:
    """Raise unless ``value`` is a finite real number; return it as a ``float``.

    Accepts ``int``, ``float`` and numpy scalars (``np.float32(1)``, ``np.int64(2)``); rejects
    ``bool`` (``True`` is almost always a slip for a bool option) with :class:`TypeError` and
    ``nan`` / ``inf`` with :class:`ValueError`.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {_type_name(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return number


def check_positive(value: object, name: str, *, strict: bool = True) -> float:
    """Raise unless ``value`` is a finite real number ``> 0`` (or ``>= 0`` when not strict)."""
    number = check_number(value, name)
    if not (number > 0 if strict else number >= 0):
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'}, got {value}")
    return number


def check_in_range(value: object, name: str, low: float, high: float) -> float:
    """Raise unless ``value`` is a real number in the closed interval ``[low, high]``."""
    number = check_number(value, name)
    if not low <= number <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return number


def check_int(value: object, name: str, *, minimum: int | None = None) -> int:
    """Raise unless ``value`` is an int (``int`` or a numpy integer, not ``bool``).

    Optionally ``>= minimum``; returns a Python ``int``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_type_name(value)}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def check_bool(value: object, name: str) -> bool:
    """Raise TypeError unless ``value`` is a ``bool`` (or ``np.bool_``); return it.

    ``bool("no")`` is ``True``, so a truthiness test would silently turn a string option on.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


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
    reduction = check_reduction(reduction)  # a string comparison: no device sync
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def renamed_keyword(old: str, new: str, since: str) -> Callable[[FuncT], FuncT]:
    """Keep the keyword ``old`` of a function (or ``__init__``) working after its rename to ``new``.

    A call with ``old=`` gets a :class:`FutureWarning` naming both and is passed on as ``new=``;
    giving both is a :class:`TypeError`. The signature (and the docs) show only ``new``.

    Example:
        >>> import warnings
        >>> @renamed_keyword("weights", "vgg_weights", since="0.3")
        ... def build(vgg_weights=None):
        ...     return vgg_weights
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     build(weights="imagenet"), caught[0].category.__name__
        ('imagenet', 'FutureWarning')
    """

    def decorate(func: FuncT) -> FuncT:
        owner = func.__qualname__.removesuffix(".__init__")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{owner}() got both {old}= and {new}=; {old} was renamed "
                                    f"{new} in rainkit {since}: pass only {new}=")
                warnings.warn(f"{owner}({old}=...) was renamed {new}= in rainkit {since}; the "
                              f"old keyword will be removed", FutureWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return cast(FuncT, wrapper)

    return decorate
