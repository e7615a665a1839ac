"""Fuzz every public name of rainkit with bad and odd input: a clear error or a correct result.

The matrix is built by introspection over the ``__all__`` of :mod:`rainkit.nn`,
:mod:`rainkit.loss`, :mod:`rainkit.metrics`, :mod:`rainkit.data`, :mod:`rainkit.init`,
:mod:`rainkit.training` and :mod:`rainkit.checkpoint`:
a public name added later is covered by the generic rules (a :class:`~rainkit.nn.RainNet` is
built with its defaults and called on images; a function or a module with ``(input, target)``
gets image pairs; see :func:`_generic_spec`) or :func:`test_every_public_name_is_fuzzed` fails
and asks for an entry in the table (the ``_*_specs`` functions). Every option with a default is
found from the signature and fuzzed by its annotated type (number, int, bool, choice,
sequence). Every call is classified as one of

* ``clear``: a :class:`TypeError` or :class:`ValueError` (:class:`FileNotFoundError` for a
  path) raised by a frame inside the rainkit package, whose message names the argument;
* ``correct``: a result with finite values (where the inputs were finite) and the right shape;
* ``crash``: any other exception (from deep inside torch, numpy or PIL, or a message that does
  not say which argument is wrong);
* ``silent``: a result for input that must be rejected (an integer tensor, an ``inf`` option,
  a string where a bool goes), or a non-finite / wrongly shaped result from finite input;
* ``rejected``: a clear error for input that must be accepted (such as ``np.float32(1.0)``
  for a float option).

Each case says what it expects: ``accept``, ``reject`` or ``either`` (a clear error or a
correct result are both fine, e.g. float64 images into a float32 network or a 2 x 2 image
into SSIM). ``python tests/fuzz_report.py`` prints the counts of the whole matrix, per public
name and per class of input.

The cases are built by *classes of input* (:data:`CLASSES`), each applied to every public name
whose signature admits it, rather than case by case: something that is not a tensor where a
tensor goes (a python list or tuple, a numpy array, a scalar, ``None``), a wrong dtype, NaN and
infinity, a wrong rank, zero-size dimensions, a wrong channel count, a string or a number where
a callable, a layer type or a module goes, negative, zero and huge numbers, wrong device
strings, path-like nonsense (a folder, a missing file, a text file, an empty string), an
unknown keyword argument, and the valid variants that must be accepted (a batch of one,
non-contiguous and channels-last memory, odd sizes).

Names other branches are fixing at the time of writing are in :data:`KNOWN_FAILURES`; their
failing cases are ``xfail`` (strict=False) until those branches are merged, then the entries
are to be removed.
"""

from __future__ import annotations

import atexit
import inspect
import math
import random
import re
import shutil
import signal
import tempfile
import threading
import traceback
import types
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import rainkit
import rainkit.checkpoint
import rainkit.data
import rainkit.inference
import rainkit.init
import rainkit.loss
import rainkit.metrics
import rainkit.nn
import rainkit.nn.blocks
import rainkit.training

PACKAGES = ("rainkit.nn", "rainkit.nn.blocks", "rainkit.loss", "rainkit.metrics", "rainkit.data",
            "rainkit.init", "rainkit.training", "rainkit.checkpoint", "rainkit.inference")
RAINKIT_DIR = Path(rainkit.__file__).resolve().parent
OUTCOMES = ("clear", "correct", "crash", "silent", "rejected")

# Public names whose failing cases are left to other engineers: name -> (who, what), e.g.
# ("branch X", "what it fixes"); remove the entry after that branch is merged. Their failing
# cases are xfail; passing ones pass. Empty: every public name must give a clear error or a
# correct result.
KNOWN_FAILURES: dict[str, tuple[str, str]] = {}
# Single failing cases kept open: case id -> who and why (none at present).
OPEN_CASES: dict[str, str] = {}
# Cases not run until fixed because they would exhaust memory: case id -> why (none at present;
# pad_to_size / paired_random_crop with size=inf asked for ~45 GB before size was checked).
UNSAFE_CASES: dict[str, str] = {}


# The classes of input: name -> what the class holds. Every case belongs to one
# (:func:`input_class`, :func:`option_class`); fuzz_report.py counts the outcomes per class.
CLASSES: dict[str, str] = {
    "valid_variant": "valid input that must be accepted: batch of one, non-contiguous, "
                     "channels-last, non-square, small sizes, requires_grad, numpy images",
    "not_a_tensor": "a python list, tuple, scalar or None, or numpy mixed with torch, where a "
                    "tensor goes",
    "dtype": "integer, bool, complex, float16, bfloat16 and float64 tensors or arrays",
    "non_finite": "NaN and infinity, in pixels and in options",
    "rank": "a wrong number of dimensions",
    "zero_size": "an empty batch, zero height, width or channels",
    "channels": "a wrong channel count",
    "value_range": "pixel values outside [0, 1] (0-255 floats)",
    "pair_mismatch": "input and target that disagree in shape, batch, channels or dtype",
    "number": "negative, zero and huge numbers, and floats where ints go",
    "wrong_type": "a string, bool, complex, list, None or numpy scalar of the wrong kind for "
                  "an option",
    "choice": "an unknown, empty or upper-case option string",
    "sequence": "an empty, too long, negative or ill-typed sequence option",
    "callable": "a string or a number where a callable, a layer type or a module goes",
    "device": "a wrong device string (unknown, cuda:99) or type",
    "path": "path-like nonsense: a folder, a missing file, a text or garbage file, an empty "
            "string, a number",
    "unknown_keyword": "a keyword argument the name does not take",
    "other": "named cases of one public name (its own table entry)",
}

_INPUT_CLASSES = (
    ("valid_variant", ("ok", "noncontiguous", "nonsquare", "batch1", "channels_last",
                       "requires_grad", "size=", "numpy_hwc", "numpy_uint8")),
    ("zero_size", ("empty_batch", "zero_", "numpy_empty")),
    ("dtype", ("dtype=", "numpy_int32", "mismatch_dtype")),
    ("non_finite", ("nan_pixel", "inf_pixel")),
    ("rank", ("rank",)),
    ("channels", ("channels=",)),
    ("value_range", ("out_of_range_values",)),
    ("pair_mismatch", ("mismatch_",)),
    ("not_a_tensor", ("list", "tuple", "scalar", "none", "numpy_", "torch_numpy", "target_")),
)
_OPTION_LABELS = {
    "non_finite": {"inf", "-inf", "nan", "nan_range"},
    "number": {"-1", "-1.0", "0", "0.0", "1.5", "float_int", "huge", "neg", "zero", "negative",
               "one", "reversed", "three", "too_many", "empty_range"},
    "choice": {"bogus", "empty", "upper", "unknown"},
    "path": {"missing", "directory", "text_file", "garbage", "empty_str", "text", "empty_file",
             "truncated", "under_a_file", "missing_folder", "file"},
    "device": {"cuda_99"},
}


def input_class(label: str) -> str:
    """The class of an input case, from its label."""
    for klass, prefixes in _INPUT_CLASSES:
        if label.startswith(prefixes):
            return klass
    return "other"


def option_class(kind: str | None, label: str) -> str:
    """The class of an option case, from the option's kind and the value's label."""
    if kind in ("callable", "device", "path"):
        return kind
    if kind in ("seq_int", "seq_str", "weights", "range") and label not in ("inf", "nan",
                                                                             "nan_range"):
        return "sequence"
    for klass, labels in _OPTION_LABELS.items():
        if label in labels:
            return klass
    if kind is not None or label in ("int", "str", "None", "list", "bool", "float", "tensor",
                                     "ints", "instance", "module"):
        return "wrong_type"
    return "other"


# --------------------------------------------------------------------------------------------
# Cases and their classification


@dataclass
class Case:
    """One call: ``run()`` makes it; ``expect`` is 'accept', 'reject' or 'either'."""

    name: str
    label: str
    run: Callable[[], object]
    expect: str
    args: tuple[str, ...]
    finite: bool = True
    check: Callable[[object], str | None] | None = None
    slow: bool = False
    klass: str = "other"
    # Python's own TypeError for a keyword the signature lacks is clear wherever it is raised
    python_ok: bool = False

    @property
    def id(self) -> str:
        return f"{self.name.removeprefix('rainkit.')}[{self.label}]"


def _raised_in_rainkit(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    path = Path(last.tb_frame.f_code.co_filename).resolve()
    return RAINKIT_DIR in path.parents


def _values(result: object) -> Iterable[object]:
    if isinstance(result, (tuple, list)):
        for item in result:
            yield from _values(item)
    elif isinstance(result, dict):
        for item in result.values():
            yield from _values(item)
    else:
        yield result


def _all_finite(result: object) -> bool:
    for value in _values(result):
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() or value.is_complex():
                if not bool(torch.isfinite(value.detach()).all()):
                    return False
        elif isinstance(value, np.ndarray):
            if np.issubdtype(value.dtype, np.inexact) and not np.isfinite(value).all():
                return False
        elif isinstance(value, float) and not math.isfinite(value):
            return False
    return True


class _TooSlow(Exception):
    """A case ran past :data:`CASE_SECONDS` (a huge count that builds or loops forever)."""


CASE_SECONDS = 20


def _too_slow(signum: int, frame: object) -> None:
    raise _TooSlow(f"did not finish within {CASE_SECONDS} s")


def _run_limited(run: Callable[[], object]) -> object:
    """``run()``, stopped after :data:`CASE_SECONDS` where SIGALRM exists (main thread)."""
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not \
            threading.main_thread():
        return run()
    previous = signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
    try:
        return run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def classify(case: Case) -> tuple[str, str]:
    """Run ``case`` and return ``(outcome, detail)``; outcome is one of :data:`OUTCOMES`."""
    # the same outcome whatever ran before (paired_random_flip draws from the global RNGs)
    random.seed(0)
    torch.manual_seed(0)
    try:
        with warnings.catch_warnings():  # torch's broadcasting warnings are part of the outcome
            warnings.simplefilter("ignore")
            result = _run_limited(case.run)
    except (TypeError, ValueError, FileNotFoundError) as exc:
        message = str(exc)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        detail = f"{type(exc).__name__}: {message} [{Path(where.filename).name}:{where.lineno}]"
        python_signature_error = case.python_ok and isinstance(exc, TypeError) and \
            "unexpected keyword argument" in message
        if not _raised_in_rainkit(exc) and not python_signature_error:
            return "crash", detail
        # "dilation must be >= 1" names the argument dilations
        if case.args and not any(arg.rstrip("s") in message for arg in case.args):
            return "crash", detail + f" (message names none of {case.args})"
        return ("rejected" if case.expect == "accept" else "clear"), detail
    except Exception as exc:  # classifying every failure is the point
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return "crash", f"{type(exc).__name__}: {exc} [{Path(where.filename).name}:{where.lineno}]"
    if case.expect == "reject":
        return "silent", f"accepted, returned {_describe(result)}"
    if case.finite and not _all_finite(result):
        return "silent", f"non-finite result from finite input: {_describe(result)}"
    if case.check is not None:
        problem = case.check(result)
        if problem:
            return "silent", problem
    return "correct", _describe(result)


def _describe(result: object) -> str:
    if isinstance(result, torch.Tensor):
        text = f"tensor{tuple(result.shape)} {result.dtype}"
        if result.numel() <= 4:
            text += f" {result.detach().flatten().tolist()}"
        return text
    if isinstance(result, (tuple, list)):
        return "(" + ", ".join(_describe(r) for r in result[:4]) + ")"
    if isinstance(result, nn.Module):
        return type(result).__name__
    return repr(result)[:80]


# --------------------------------------------------------------------------------------------
# Inputs


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@dataclass
class Spec:
    """How to call one public name.

    ``kind``:
        ``"image"``: ``call(x)`` on one image batch; ``"pair"``: ``call(x, y)``;
        ``"none"``: only the option cases.
    ``make(**options)`` returns the callable (a built module, or a partial function).
    ``strict``: the callable needs exactly ``(B, channels, H, W)`` floating input (networks and
    blocks), so other ranks and channel counts must be rejected and any ``H, W >= 1`` accepted.
    """

    name: str
    kind: str
    make: Callable[..., Callable[..., object]]
    options: dict[str, Any] = field(default_factory=dict)
    option_args: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    channels: int = 3
    size: int = 16
    min_size: int = 1
    strict: bool = False
    input_args: tuple[str, ...] = ("input", "target")
    out: Callable[[tuple[torch.Tensor, ...], object], str | None] | None = None
    int_images: str = "reject"
    numpy_ok: bool = False
    slow: bool = False
    overrides: dict[tuple[str, str], str] = field(default_factory=dict)
    introspect: bool = True
    ndim: int = 4
    # make(**options) hands every option to the public name (False: it picks some by name,
    # so an unknown keyword would never reach it)
    passes_options: bool = True


def _same_shape(inputs: tuple[torch.Tensor, ...], result: object) -> str | None:
    first = result[0] if isinstance(result, tuple) else result
    if not isinstance(first, torch.Tensor) or first.shape != inputs[0].shape:
        return f"expected a tensor of shape {tuple(inputs[0].shape)}, got {_describe(first)}"
    return None


def _scalar(inputs: tuple[object, ...], result: object) -> str | None:
    if isinstance(result, float):
        return None
    if isinstance(result, tuple):  # CombinedLoss: (total, terms)
        result = result[0]
    if not isinstance(result, torch.Tensor) or result.ndim != 0:
        return f"expected a scalar, got {_describe(result)}"
    return None


def _channels_out(count: Callable[[nn.Module], int]) -> Callable[..., str | None]:
    def check(module: nn.Module) -> Callable[..., str | None]:
        def inner(inputs: tuple[torch.Tensor, ...], result: object) -> str | None:
            x = inputs[0]
            want = (x.shape[0], count(module), *x.shape[-2:])
            outs = result if isinstance(result, tuple) else (result,)
            for out in outs:
                if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
                    return f"expected shape {want}, got {_describe(out)}"
            return None
        return inner
    return check


def input_cases(spec: Spec) -> list[tuple[str, tuple[object, ...], str, bool]]:
    """``(label, inputs, expect, finite)`` for the bad and odd inputs of ``spec``."""
    c, s = spec.channels, spec.size
    pair = spec.kind == "pair"
    strict = spec.strict

    def mk(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> tuple[object, ...]:
        x = _rand(*shape, seed=1)
        y = _rand(*shape, seed=2)
        if dtype == torch.uint8:
            x, y = (x * 255).to(dtype), (y * 255).to(dtype)
        elif dtype == torch.bool:
            x, y = x > 0.5, y > 0.5
        else:
            x, y = x.to(dtype), y.to(dtype)
        return (x, y) if pair else (x,)

    def img(b: int, ch: int, h: int, w: int) -> tuple[int, ...]:
        return (ch, h, w) if spec.ndim == 3 else (b, ch, h, w)

    base = img(2, c, s, s)
    cases: list[tuple[str, tuple[object, ...], str, bool]] = [
        ("ok", mk(base), "accept", True),
        ("noncontiguous", tuple(t.transpose(-1, -2) for t in mk(img(2, c, s, s + 1))),
         "accept", True),
        ("nonsquare", mk(img(2, c, s, s + 3)), "accept", True),
    ]
    if spec.ndim == 4:
        cases += [
            ("batch1", mk((1, c, s, s)), "accept", True),
            ("channels_last", tuple(t.contiguous(memory_format=torch.channels_last)
                                    for t in mk(base)), "accept", True),
            ("empty_batch", mk((0, c, s, s)), "reject", True),
        ]
    for dtype in (torch.uint8, torch.int64, torch.bool, torch.complex64):
        cases.append((f"dtype={str(dtype).removeprefix('torch.')}", mk(base, dtype),
                      spec.int_images if dtype != torch.complex64 else "reject", True))
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        cases.append((f"dtype={str(dtype).removeprefix('torch.')}", mk(base, dtype), "either",
                      True))
    rank_expect = "reject" if strict else "either"
    ranks = {1: (s,), 2: (s, s), 3: (c, s, s), 4: (2, c, s, s), 5: (1, 2, c, s, s)}
    for rank, shape in ranks.items():
        if rank != spec.ndim:
            expect = "reject" if rank == 1 and spec.kind != "pair" else rank_expect
            cases.append((f"rank{rank}", mk(shape), expect, True))
    for ch in (1, 2, 4):
        if ch != c:
            cases.append((f"channels={ch}", mk(img(2, ch, s, s)), rank_expect, True))
    for px in (1, 2, 7):
        if px < s:
            expect = "accept" if strict else "either"
            if px < spec.min_size:
                expect = "reject"
            cases.append((f"size={px}", mk(img(2, c, px, px)), expect, True))
    cases.append(("size=1x9", mk(img(2, c, 1, 9)), "either" if spec.min_size > 1 else
                  ("accept" if strict else "either"), True))
    cases += [
        ("zero_height", mk(img(2, c, 0, s)), "reject", True),
        ("zero_width", mk(img(2, c, s, 0)), "reject", True),
        ("zero_channels", mk(img(2, 0, s, s)), "reject", True),
    ]
    good = mk(base)
    nan = tuple(t.clone() for t in good)
    nan[0].view(-1)[0] = float("nan")
    inf = tuple(t.clone() for t in good)
    inf[0].view(-1)[0] = float("inf")
    cases += [
        ("nan_pixel", nan, "either", False),
        ("inf_pixel", inf, "either", False),
        ("out_of_range_values", tuple(t * 255 for t in good), "either", True),
        ("requires_grad", tuple(t.clone().requires_grad_(i == 0) for i, t in enumerate(good)),
         "accept", True),
        ("list", tuple(t.tolist() for t in good), "reject", True),
        ("tuple", tuple(tuple(t.tolist()) for t in good), "reject", True),
        ("scalar", tuple(0.5 for _ in good), "reject", True),
        ("none", tuple(None for _ in good), "reject", True),
        ("numpy_nchw", tuple(t.numpy() for t in good), "either" if spec.numpy_ok else "reject",
         True),
    ]
    if spec.numpy_ok:
        hwc = tuple(t[0].permute(1, 2, 0).numpy() for t in good)  # numpy images are (H, W, C)
        cases.append(("numpy_hwc", hwc, "accept", True))
        cases.append(("numpy_uint8", tuple((a * 255).astype(np.uint8) for a in hwc), "accept",
                      True))
        cases.append(("numpy_int32", tuple((a * 255).astype(np.int32) for a in hwc), "reject",
                      True))
        cases.append(("numpy_empty", tuple(a[:0] for a in hwc), "reject", True))
    if pair:
        x, y = good
        cases += [
            ("mismatch_height", (x, y[..., :-1, :]), "reject", True),
            ("mismatch_batch_broadcast", (x, y[:1]), "reject", True),
            ("mismatch_channels", (x, y[:, :1]), "reject", True),
            ("mismatch_dtype", (x, y.double()), "either", True),
            ("numpy_torch_mix", (x.numpy(), y), "reject", True),
            ("torch_numpy_mix", (x, y.numpy()), "reject", True),
            ("target_none", (x, None), "reject", True),
            ("target_scalar", (x, 0.5), "reject", True),
        ]
    return cases


# --------------------------------------------------------------------------------------------
# Option values


def _option_kind(param: inspect.Parameter) -> str | None:
    ann = str(param.annotation)
    default = param.default
    if param.name in ("device", "map_location"):
        return "device"
    if "Callable" in ann or "nn.Module" in ann or "VGGFeatures" in ann or ann.startswith("type"):
        return "callable"
    if "Random" in ann:
        return None
    if "PathLike" in ann:
        return "path"
    if "Sequence[tuple" in ann:  # pairs: only their own table entry knows them
        return None
    if "tuple[int" in ann:
        return "seq_int"
    if ann == "bool" or isinstance(default, bool):
        return "bool"
    if "Sequence[str]" in ann:
        return "seq_str"
    if "Sequence[int]" in ann:
        return "seq_int"
    if "Sequence[float] | None" in ann:
        return "weights"
    if "float | Sequence[float]" in ann:
        return "range"
    if ann in ("Reduction", "Criterion") or "Literal" in ann or isinstance(default, str) or \
            ann in ("str", "str | None"):
        return "choice"
    if "float" in ann:
        return "float"
    if "int" in ann:
        return "int"
    return None


NAN, INF = float("nan"), float("inf")
HUGE_INT, HUGE_FLOAT = 2**62, 1e30  # a huge count; a huge float32-representable number

# path-like nonsense shared by every path option (read paths: each must be refused)
_PATHS = Path(tempfile.mkdtemp(prefix="rainkit-fuzz-paths-"))
atexit.register(shutil.rmtree, _PATHS, ignore_errors=True)
(_PATHS / "folder").mkdir()
(_PATHS / "notes.txt").write_text("not a checkpoint, not an image\n")


# Options that size an allocation or count layers, stages or loop steps: a huge value is a
# request for a huge network or tensor, not bad input (torch's allocator refuses it, or the
# loop runs for ever), so they get no "huge" case. Every other number option gets one.
_SIZING = re.compile(r"channels|blocks|stages|depth|num_cab|layers|steps|dim$|hidden|size|"
                     r"length|width|blur|samples|repeat|expansion|factor|dilation|bins|per_image")


def option_values(kind: str, default: object, name: str = "", nullable: bool = False
                  ) -> list[tuple[str, object, str]]:
    """``(label, value, expect)`` for an option ``name`` of ``kind`` whose default is
    ``default``; ``nullable``: its annotation admits ``None``."""
    maybe_none = [] if default is None else [("None", None, "accept" if nullable else "reject")]
    sizing = bool(_SIZING.search(name))
    if kind == "float":
        ref = 1.0 if not isinstance(default, (int, float)) else float(default)
        return [("-1.0", -1.0, "reject"), ("0.0", 0.0, "either"), ("inf", INF, "reject"),
                *([] if sizing else [("huge", HUGE_FLOAT, "either")]),
                ("-inf", -INF, "reject"), ("nan", NAN, "reject"), ("str", "1", "reject"),
                ("bool", True, "reject"), ("complex", 1j, "reject"),
                ("np.float32", np.float32(ref), "accept"), ("np.float64", np.float64(ref),
                                                            "accept"),
                ("np.int64", np.int64(max(1, round(ref))), "either"),
                ("tensor", torch.tensor(ref), "either"), *maybe_none]
    if kind == "int":
        ref = 1 if not isinstance(default, int) else default
        return [("-1", -1, "reject"), ("0", 0, "either"), ("1.5", 1.5, "reject"),
                *([] if sizing else [("huge", HUGE_INT, "either")]),
                ("float_int", float(ref), "reject"), ("inf", INF, "reject"),
                ("nan", NAN, "reject"), ("str", str(ref), "reject"), ("bool", True, "reject"),
                ("np.int64", np.int64(ref), "accept"),
                *maybe_none]
    if kind == "bool":
        return [("str_no", "no", "reject"), ("int_0", 0, "reject"), ("int_1", 1, "reject"),
                ("None", None, "reject"), ("np.bool_", np.bool_(not default), "either")]
    if kind == "choice":
        return [("bogus", "bogus", "reject"), ("empty", "", "reject"), ("int", 1, "reject"),
                ("upper", str(default).upper() if default else "X", "reject"),
                ("list", [default], "reject"), *maybe_none]
    if kind == "seq_int":
        return [("empty", (), "reject"), ("zero", (0,), "reject"), ("neg", (-1,), "reject"),
                ("float", (1.5,), "reject"), ("str", "12", "reject"), ("int", 2, "either"),
                ("list", [1, 2], "accept"), ("nan", (NAN,), "reject")]
    if kind == "seq_str":
        return [("empty", (), "reject"), ("bogus", ("bogus",), "reject"), ("int", 3, "reject"),
                ("ints", (1,), "reject"), ("None", None, "either")]
    if kind == "weights":
        return [("neg", (-1.0,), "reject"), ("inf", (INF,), "reject"), ("nan", (NAN,), "reject"),
                ("str", "1", "reject"), ("empty", (), "reject"), ("too_many", (1.0,) * 9,
                                                                    "reject")]
    if kind == "range":
        return [("inf", INF, "reject"), ("nan", NAN, "reject"), ("str", "a", "reject"),
                ("reversed", (2.0, 1.0), "reject"), ("three", (1.0, 2.0, 3.0), "reject"),
                ("bool", True, "reject"), ("nan_range", (0.1, NAN), "reject")]
    if kind == "path":
        return [("int", 3, "reject"), ("missing", "/nonexistent/weights.pth", "reject"),
                ("directory", _PATHS / "folder", "reject"),
                ("text_file", _PATHS / "notes.txt", "reject"), ("empty_str", "", "reject")]
    if kind == "callable":  # a callable, a layer type or a module
        return [("str", "relu", "reject"), ("int", 3, "reject"), ("list", [nn.ReLU], "reject")]
    if kind == "device":
        return [("bogus", "gpu0", "reject"), ("cuda_99", "cuda:99", "reject"),
                ("int_neg", -1, "reject"), ("list", ["cpu"], "reject"), ("cpu", "cpu", "accept")]
    raise AssertionError(kind)


# --------------------------------------------------------------------------------------------
# The table: how to build and call each public name


def _lpips_fn(**options: object) -> Callable[..., object]:
    options.setdefault("weights", None)
    return lambda x, y: rainkit.metrics.lpips(x, y, **options)


def _fn(func: Callable[..., object], **fixed: object) -> Callable[..., Callable[..., object]]:
    def make(**options: object) -> Callable[..., object]:
        return lambda *inputs: func(*inputs, **{**fixed, **options})
    return make


def _cls(cls: type, *args: object, **fixed: object) -> Callable[..., Callable[..., object]]:
    def make(**options: object) -> Callable[..., object]:
        return cls(*args, **{**fixed, **options})
    return make


def _mirror(x: object) -> object:
    """``x`` flipped left to right (a negative for the contrastive losses), or ``x`` itself."""
    return x.flip(-1) if isinstance(x, torch.Tensor) and x.ndim >= 1 else x


def _cls_with_negative(cls: type, **fixed: object) -> Callable[..., Callable[..., object]]:
    def make(**options: object) -> Callable[..., object]:
        module = cls(**{**fixed, **options})
        return lambda x, y: module(x, y, _mirror(y))
    return make


def _shallow_vgg_losses() -> dict[str, dict[str, object]]:
    return {
        "PerceptualLoss": {"layers": ("relu2_1",)},
        "StyleLoss": {"layers": ("relu1_1", "relu2_1")},
        "ContrastiveLoss": {"layers": ("relu1_1", "relu2_1")},
        "EasyContrastiveLoss": {"layers": ("relu2_1",)},
    }


def _features(x: object) -> dict[str, object]:
    """Two feature maps from one tensor (the bad value itself when it is not an image)."""
    if isinstance(x, torch.Tensor) and x.ndim >= 2:
        return {"relu1_1": x, "relu2_1": x[..., ::2, ::2]}
    return {"relu1_1": x, "relu2_1": x}


def _data_specs() -> list[Spec]:
    d = rainkit.data
    tmp = Path(tempfile.mkdtemp(prefix="rainkit-fuzz-"))
    garbage = tmp / "garbage.png"
    garbage.write_bytes(b"not an image")
    empty_dir = tmp / "empty"
    empty_dir.mkdir()

    def path_spec(name: str, func: Callable[..., object], arg: str) -> Spec:
        values = [("missing", tmp / "missing.png"), ("int", 3), ("None", None),
                  ("garbage", garbage), ("directory", empty_dir), ("empty_str", "")]

        def make(**options: object) -> Callable[..., object]:
            return lambda: func(options.get(arg, garbage))
        # a file error names the file or folder rather than the argument
        spec = Spec(f"rainkit.data.{name}", "none", make, introspect=False,
                    input_args=(arg, "path", "file", "folder"))
        spec.option_args = {arg: tuple(values)}
        return spec

    return [
        path_spec("read_image", d.read_image, "path"),
        path_spec("decode_image", d.decode_image, "path"),
        path_spec("find_pairs", d.find_pairs, "root"),
        path_spec("PairedRainDataset", d.PairedRainDataset, "root"),
        path_spec("train_val_datasets", d.train_val_datasets, "data_dir"),
        Spec("rainkit.data.save_image", "image",
             lambda **o: lambda x: d.save_image(x, tmp / "out.png", **o), input_args=("image",),
             ndim=3, int_images="either"),
        Spec("rainkit.data.to_float_tensor", "image", _fn(d.to_float_tensor),
             input_args=("image",), int_images="either", ndim=3),
        Spec("rainkit.data.pad_to_size", "image", _fn(d.pad_to_size, size=20),
             options={"size": 20}, input_args=("image",), ndim=3),
        Spec("rainkit.data.paired_random_crop", "pair", _fn(d.paired_random_crop, size=8),
             options={"size": 8}, input_args=("rainy", "clean", "size"), int_images="either",
             ndim=3),
        Spec("rainkit.data.paired_random_flip", "pair", _fn(d.paired_random_flip),
             input_args=("rainy", "clean"), int_images="either", ndim=3),
        Spec("rainkit.data.synthesize_rain", "image", _fn(d.synthesize_rain, seed=0),
             input_args=("image",),
             overrides={("angle", "-1.0"): "accept", ("angle", "0.0"): "accept"}),
        Spec("rainkit.data.line_kernel", "none",
             lambda **o: lambda: d.line_kernel(**{"length": 9.0, "angle": 10.0, **o}),
             options={"length": 9.0, "angle": 10.0, "width": 1.0},
             overrides={("angle", "-1.0"): "accept", ("angle", "0.0"): "accept"}),
        Spec("rainkit.data.jpeg_roundtrip", "image", _fn(d.jpeg_roundtrip),
             input_args=("image",), ndim=3, int_images="either",
             overrides={("subsampling", "upper"): "accept"}),  # "4:2:0".upper() is itself
        Spec("rainkit.data.find_test_set", "none",
             lambda **o: lambda: d.find_test_set(o.get("name", "bogus")), introspect=False,
             input_args=("name",),
             option_args={"name": (("int", 3), ("None", None), ("unknown", "Rain100HH"))}),
        Spec("rainkit.data.guess_test_set", "none",
             lambda **o: lambda: d.guess_test_set(o.get("path", 3)), introspect=False,
             input_args=("path",),
             option_args={"path": (("int", 3), ("None", None))}),
        Spec("rainkit.data.check_test_folder", "none",
             lambda **o: lambda: d.check_test_folder(o.get("test_set", "Rain100H"),
                                                     o.get("n_pairs", -1)), introspect=False,
             input_args=("test_set", "n_pairs"),
             option_args={"test_set": (("int", 3), ("None", None), ("unknown", "bogus")),
                          "n_pairs": (("str", "100"), ("negative", -1), ("float", 100.0))}),
        Spec("rainkit.data.figure_mismatches", "none",
             lambda **o: lambda: d.figure_mismatches(
                 o.get("figure", _FIGURE), test_set=o.get("test_set", "Rain100H"),
                 convention=o.get("convention", "prenet-y"), protocol=o.get("protocol")),
             introspect=False, input_args=("figure", "test_set", "convention", "protocol"),
             option_args={"figure": (("int", 3), ("None", None)),
                          "test_set": (("int", 3), ("unknown", "bogus")),
                          "convention": (("int", 3), ("None", None)),
                          "protocol": (("unknown", "D"), ("int", 1))}),
        Spec("rainkit.data.SyntheticRainDataset", "none",
             lambda **o: lambda: d.SyntheticRainDataset([_rand(3, 16, 16)], **o)[0]),
        Spec("rainkit.data.sample_photos", "none",
             lambda **o: lambda: d.sample_photos(o.get("names", ["camera"])),
             passes_options=False,
             option_args={"names": (("str", "camera"), ("int", 3), ("None", None),
                                    ("unknown", ["bogus"]))}),
        Spec("rainkit.data.estimate_decoded_bytes", "none",
             lambda **o: lambda: d.estimate_decoded_bytes(o.get("paths", [])),
             passes_options=False,
             option_args={"paths": (("str", "a.png"), ("int", 3), ("None", None))}),
        Spec("rainkit.data.demo_datasets", "none",
             lambda **o: lambda: d.demo_datasets(**{"patch_size": 8, "samples_per_image": 1,
                                                    **o})),
        Spec("rainkit.data.split_indices", "none",
             lambda **o: lambda: d.split_indices(o.pop("num_pairs", 5),
                                                 o.pop("val_fraction", 0.4), **o),
             option_args={"num_pairs": (("one", 1), ("float", 5.0), ("bool", True),
                                        ("None", None)),
                          "val_fraction": (("zero", 0.0), ("one", 1.0), ("nan", NAN),
                                           ("str", "0.1"), ("None", None))}),
    ]


# Tiny settings per registered network, so the whole matrix runs in CI time; a network added
# to MODELS later gets the generic keywords its signature takes (:func:`_tiny_kwargs`).
TINY_NETWORKS: dict[str, dict[str, Any]] = {
    "baseline": {"channels": 8, "num_blocks": 1},
    "derainnet": {"channels": 8, "num_blocks": 1},
    "dilatedpyramidnet": {"channels": 8},
    "unet": {"base_channels": 8, "depth": 3},
    "brn": {"stages": 2, "channels": 8, "num_blocks": 1, "rain_blocks": 1},
    "restormer": {"channels": 8, "num_blocks": 1, "num_refinement_blocks": 1},
    "drsformer": {"channels": 8, "num_blocks": 1},
    "mprnet": {"channels": 8, "unet_channels": 4, "orsnet_channels": 4, "num_cab": 1,
               "reduction": 2},
    "nerdrain": {"dim": 8, "num_blocks": 1},
    "nerdrain_s": {"dim": 8, "num_blocks": 1},
    "rescan": {"channels": 8, "stages": 2},
    "sapnet": {"stages": 2, "channels": 8, "dilations": (1, 2), "reduction": 2},
    "spanet": {"channels": 8},
}
_GENERIC_TINY = {"channels": 8, "base_channels": 8, "dim": 8, "num_blocks": 1, "stages": 2,
                 "depth": 3}
# options a network may refuse for its own reasons, in its own terms: a sequence of the wrong
# length (one entry per level), a head count that does not divide the channels
_NETWORK_EITHER = {("num_blocks", "list"), ("heads", "list"), ("heads", "int"),
                   ("num_blocks", "int"), ("dilations", "list"), ("dilations", "int"),
                   ("bins", "list"), ("bins", "int")}


def _tiny_kwargs(name: str, cls: type) -> dict[str, Any]:
    """The family's ``test_kwargs`` for ``name`` where it declares them, else :data:`TINY_NETWORKS`
    or the generic small keywords the class takes."""
    for family in rainkit.nn.FAMILIES.values():
        if name in family.test_kwargs:
            return dict(family.test_kwargs[name])
    if name in TINY_NETWORKS:
        return dict(TINY_NETWORKS[name])
    params = inspect.signature(cls).parameters
    return {k: v for k, v in _GENERIC_TINY.items() if k in params}


def _network_name(cls: type) -> str:
    """``rainkit.nn.<Class>`` when rainkit.nn exports it, else its module path (importable)."""
    if getattr(rainkit.nn, cls.__name__, None) is cls:
        return f"rainkit.nn.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def _network_specs() -> list[Spec]:
    """Every network in :data:`rainkit.nn.MODELS`, built tiny, as a strict image function."""
    specs = []
    for name, cls in sorted(rainkit.nn.MODELS.items()):
        overrides = {key: "either" for key in _NETWORK_EITHER}
        if cls is rainkit.nn.PReNet:  # PReNet(recurrent=None) is PRN, the paper's network
            overrides[("recurrent", "None")] = "accept"
        specs.append(Spec(_network_name(cls), "image", _cls(cls, **_tiny_kwargs(name, cls)),
                          strict=True, input_args=("input", "x"), out=lambda m: _same_shape,
                          overrides=overrides))
    return specs


def _block_specs() -> list[Spec]:
    nnm = rainkit.nn

    def same(m: nn.Module) -> Callable[..., str | None]:
        return _same_shape

    return [
        Spec("rainkit.nn.ResidualBlock", "image", _cls(nnm.ResidualBlock, 3), strict=True,
             input_args=("input", "x"), out=same),
        Spec("rainkit.nn.DilatedResidualStack", "image",
             _cls(nnm.DilatedResidualStack, 3, dilations=(1, 2)), strict=True,
             input_args=("input", "x"), out=same),
        Spec("rainkit.nn.MultiScaleBranches", "image",
             _cls(nnm.MultiScaleBranches, 3, lambda c: nnm.ResidualBlock(c)), strict=True,
             input_args=("input", "x"), out=_channels_out(lambda m: m.out_channels)),
        Spec("rainkit.nn.PyramidPooling", "image", _cls(nnm.PyramidPooling, 3), strict=True,
             input_args=("input", "x"), out=_channels_out(lambda m: m.out_channels)),
        Spec("rainkit.nn.ConvLSTMCell", "image", _cls(nnm.ConvLSTMCell, 3, 4), strict=True,
             input_args=("input", "x"), out=_channels_out(lambda m: m.hidden_channels)),
        Spec("rainkit.nn.ConvGRUCell", "image", _cls(nnm.ConvGRUCell, 3, 4), strict=True,
             input_args=("input", "x"), out=_channels_out(lambda m: m.hidden_channels)),
        *_more_block_specs(),
        Spec("rainkit.nn.build_model", "none",
             lambda **o: lambda: nnm.build_model(o.get("name", "baseline"),
                                                 **{k: v for k, v in o.items() if k != "name"}),
             option_args={"name": (("bogus", "bogus"), ("int", 3), ("None", None))}),
        Spec("rainkit.nn.family_of", "none",
             lambda **o: lambda: nnm.family_of(**{"name": "mprnet", **o}),
             option_args={"name": (("bogus", "bogus"), ("int", 3), ("None", None),
                                   ("empty", ""))}),
        Spec("rainkit.nn.receptive_field", "none",
             lambda **o: lambda: nnm.receptive_field(o.pop("model", nn.Conv2d(3, 3, 3)), **o),
             options={"in_channels": 3, "size": 17, "samples": 2},
             # size=[1, 2] is a valid size, too small for the 3x3 probe: a clear error or a result
             overrides={("size", "list"): "either"},
             option_args={"model": (("str", "conv"), ("None", None))}),
        Spec("rainkit.init.kaiming_init_", "none",
             lambda **o: lambda: rainkit.init.kaiming_init_(o.pop("module", nn.Conv2d(3, 3, 3)),
                                                            **o),
             options={"mode": "fan_out", "nonlinearity": "relu"},
             option_args={"module": (("str", "conv"), ("None", None),
                                     ("tensor", torch.zeros(3)))}),
    ]


def _first_three(x: object) -> object:
    """The first three channels of a batch (an image beside features), or ``x`` itself."""
    if isinstance(x, torch.Tensor) and x.ndim == 4 and x.shape[1] >= 3:
        return x[:, :3]
    return x


def _more_block_specs() -> list[Spec]:
    """The blocks of :mod:`rainkit.nn.blocks` that rainkit.nn does not re-export: each built
    small on 4 channels and called as a strict image function (same shape out, unless said)."""
    b = rainkit.nn.blocks

    def same(m: nn.Module) -> Callable[..., str | None]:
        return _same_shape

    def block(name: str, *args: object, out: Any = same,
              overrides: dict[tuple[str, str], str] | None = None, **fixed: object) -> Spec:
        return Spec(f"rainkit.nn.blocks.{name}", "image", _cls(getattr(b, name), *args, **fixed),
                    channels=4, strict=True, input_args=("input", "x", "channels"), out=out,
                    overrides=overrides or {})

    weight, bias = torch.full((4, 4), 0.5), torch.zeros(4, 4)
    return [
        block("BiasFreeLayerNorm2d", 4),
        block("LayerNorm2d", 4),
        block("ChannelAttention", 4, reduction=2),
        block("ChannelAttentionBlock", 4, reduction=2),
        block("GatedDconvFeedForward", 4),
        block("MixedScaleFeedForward", 4),
        block("MixtureOfExpertsFeatureCompensator", 4),
        block("MultiDconvTransposedAttention", 4),
        block("OriginalResolutionBlock", 4, num_cab=1, reduction=2),
        block("SpatialIRNN", 4, out=None,  # alpha: any real initial recurrent weight
              overrides={("alpha", "-1.0"): "either"}),
        block("SqueezeExcite", 4, 2),
        block("TopKSparseAttention", 4),
        block("ImplicitNeuralRepresentation", 4, hidden=(8,),
              out=_channels_out(lambda m: 3)),
        Spec("rainkit.nn.blocks.BidirectionalFusion", "pair", _cls(b.BidirectionalFusion, 4),
             channels=4, input_args=("x", "y", "input", "channels"), out=same,
             # two feature maps, not images: any rank-4 pair of matching shapes is valid
             overrides={("input", "mismatch_batch_broadcast"): "either"}),
        Spec("rainkit.nn.blocks.SupervisedAttention", "image",
             lambda **o: (lambda m: lambda x: m(x, _first_three(x)))(
                 b.SupervisedAttention(4, **o)),
             channels=4, strict=True, input_args=("features", "image", "input", "channels"),
             out=same),  # (features, image): the features keep their shape
        Spec("rainkit.nn.blocks.spatial_irnn", "image",
             lambda **o: lambda x: b.spatial_irnn(x, o.get("weight", weight),
                                                  o.get("bias", bias)),
             channels=4, input_args=("x", "input", "weight"), introspect=False,
             option_args={"weight": (("list", [[0.5] * 4] * 4), ("shape", torch.ones(3, 4)),
                                     ("int", torch.ones(4, 4, dtype=torch.int64))),
                          "bias": (("None", None), ("shape", torch.zeros(4)))}),
    ]


# with fewer_scales=True, the weights of the scales that do not fit are dropped by design, so
# too many weights is not an error there
FEWER_SCALES = {("scale_weights", "too_many"): "either"}
# SSIM's size check names the window that does not fit
SSIM_ARGS = ("input", "target", "window_size")


def _loss_metric_specs() -> list[Spec]:
    L, M = rainkit.loss, rainkit.metrics
    specs = [
        Spec("rainkit.loss.charbonnier_loss", "pair", _fn(L.charbonnier_loss),
             options={"eps": 1e-3, "reduction": "mean"}, out=lambda m: _scalar,
             overrides={("eps", "0.0"): "reject"}),
        Spec("rainkit.loss.CharbonnierLoss", "pair", _cls(L.CharbonnierLoss),
             out=lambda m: _scalar, overrides={("eps", "0.0"): "reject"}),
        Spec("rainkit.loss.ssim_loss", "pair", _fn(L.ssim_loss), out=lambda m: _scalar,
             input_args=SSIM_ARGS),
        Spec("rainkit.loss.SSIMLoss", "pair", _cls(L.SSIMLoss), out=lambda m: _scalar,
             input_args=SSIM_ARGS),
        Spec("rainkit.loss.CombinedLoss", "pair",
             lambda **o: L.CombinedLoss({"l1": (nn.L1Loss(), o.get("weight", 1.0)),
                                         "charbonnier": (L.CharbonnierLoss(), 0.5)}),
             input_args=("output", "positive"), out=lambda m: _scalar,
             options={"weight": 1.0}, passes_options=False),
        Spec("rainkit.loss.VGGFeatures", "image",
             _cls(L.VGGFeatures, vgg_weights=None, layers=("relu2_1",)),
             input_args=("input",)),
        Spec("rainkit.loss.gram_matrix", "image", _fn(L.gram_matrix), input_args=("features",)),
        Spec("rainkit.metrics.psnr", "pair", _fn(M.psnr), out=lambda m: _scalar, numpy_ok=True),
        Spec("rainkit.metrics.PSNR", "pair", _cls(M.PSNR), out=lambda m: _scalar,
             numpy_ok=True),
        Spec("rainkit.metrics.ssim", "pair", _fn(M.ssim), out=lambda m: _scalar, numpy_ok=True,
             input_args=SSIM_ARGS),
        Spec("rainkit.metrics.SSIM", "pair", _cls(M.SSIM), out=lambda m: _scalar,
             numpy_ok=True, input_args=SSIM_ARGS),
        # fewer_scales: the fuzz images (16 px) are smaller than five scales need (161 px)
        Spec("rainkit.metrics.ms_ssim", "pair", _fn(M.ms_ssim, fewer_scales=True),
             out=lambda m: _scalar, numpy_ok=True, input_args=SSIM_ARGS,
             overrides=FEWER_SCALES),
        Spec("rainkit.metrics.MS_SSIM", "pair", _cls(M.MS_SSIM, fewer_scales=True),
             out=lambda m: _scalar, numpy_ok=True, input_args=SSIM_ARGS,
             overrides=FEWER_SCALES),
        Spec("rainkit.loss.ms_ssim_loss", "pair", _fn(L.ms_ssim_loss, fewer_scales=True),
             out=lambda m: _scalar, input_args=SSIM_ARGS,
             overrides=FEWER_SCALES),
        Spec("rainkit.loss.MSSSIMLoss", "pair", _cls(L.MSSSIMLoss, fewer_scales=True),
             out=lambda m: _scalar, input_args=SSIM_ARGS,
             overrides=FEWER_SCALES),
        # hint is free text (the last line of the missing-file message): any string is good
        Spec("rainkit.metrics.LPIPS", "pair", _cls(M.LPIPS, weights=None), size=32,
             out=lambda m: _scalar, options={"net": "alex", "reduction": "mean"},
             overrides={("hint", "bogus"): "accept", ("hint", "empty"): "accept",
                        ("hint", "upper"): "accept"}),
        Spec("rainkit.metrics.lpips", "pair", _lpips_fn, size=32, out=lambda m: _scalar,
             slow=True),
        Spec("rainkit.metrics.rgb_to_y", "image", _fn(M.rgb_to_y), input_args=("image",)),
        Spec("rainkit.metrics.rgb_to_ycbcr", "image", _fn(M.rgb_to_ycbcr),
             input_args=("image",)),
    ]
    for name, fixed in _shallow_vgg_losses().items():
        cls = getattr(L, name)
        # the contrastive losses need a negative: the positive mirrored (the bad value itself
        # when it is not a tensor), so every case reaches the check it is about
        make = (_cls_with_negative if "Contrastive" in name else _cls)(cls, vgg_weights=None,
                                                                       **fixed)
        specs.append(Spec(f"rainkit.loss.{name}", "pair", make,
                          input_args=("output", "positive"), out=lambda m: _scalar))
    for name in ("perceptual_loss", "style_loss"):
        func = getattr(L, name)
        specs.append(Spec(f"rainkit.loss.{name}", "pair",
                          lambda f=func, **o: lambda x, y: f(_features(x), _features(y), **o),
                          input_args=("output_features", "target_features", "features"),
                          out=lambda m: _scalar, size=8))
    for name in ("contrastive_loss", "easy_contrastive_loss"):
        func = getattr(L, name)
        specs.append(Spec(
            f"rainkit.loss.{name}", "pair",
            lambda f=func, **o: lambda x, y: f(_features(x), _features(y),
                                               o.pop("negatives", [_features(_mirror(y))]), **o),
            input_args=("output_features", "positive_features", "negative_features",
                        "features"),
            out=lambda m: _scalar, size=8,
            option_args={"negatives": (("empty", []), ("None", None), ("tensor", _rand(1)))}))
    return specs


def _generic_spec(name: str) -> Spec | None:
    """A spec for a public name without a table entry, when its signature says how to call it.

    A function whose first two parameters are ``input, target`` gets image pairs; so does a
    module class that builds with no arguments (``weights=None`` when it takes weights) and
    whose ``forward`` takes ``input, target``. Anything else needs an entry in the table.
    """
    obj = _resolve(name)
    if isinstance(obj, type):
        if not issubclass(obj, nn.Module):
            return None
        init = inspect.signature(obj.__init__).parameters
        required = [p for n, p in init.items() if n != "self" and p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        forward = list(inspect.signature(obj.forward).parameters)[1:3]
        if required or forward != ["input", "target"]:
            return None
        fixed = {"weights": None} if "weights" in init else {}
        return Spec(name, "pair", _cls(obj, **fixed))
    if callable(obj):
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):  # a type alias such as dict[str, Tensor]
            return None
        required = [n for n, p in params.items() if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if required == ["input", "target"]:
            return Spec(name, "pair", _fn(obj))
    return None


def _later_specs() -> list[Spec]:
    """Public names added on main after this file was written (only those present)."""
    specs = []
    if hasattr(rainkit.metrics, "score"):
        specs.append(Spec(
            "rainkit.metrics.score", "pair", _fn(rainkit.metrics.score, convention="basicsr-y"),
            numpy_ok=True, input_args=SSIM_ARGS,
            option_args={"convention": (("bogus", "bogus"), ("int", 3), ("None", None))}))
    if hasattr(rainkit.data, "split_alpha"):
        specs.append(Spec("rainkit.data.split_alpha", "image", _fn(rainkit.data.split_alpha),
                          channels=4, ndim=3, input_args=("image",), int_images="either"))
    nnm = rainkit.nn
    if hasattr(nnm, "tiled_forward"):
        specs.append(Spec(
            "rainkit.nn.tiled_forward", "image",
            lambda **o: lambda x: nnm.tiled_forward(nnm.BaselineNet(channels=4, num_blocks=1),
                                                    x, **o),
            options={"tile": 8, "margin": 2, "align": 4}, input_args=("image", "input"),
            out=lambda m: _same_shape))
    if hasattr(nnm, "context_margin"):
        specs.append(Spec(
            "rainkit.nn.context_margin", "none",
            lambda **o: lambda: nnm.context_margin(o.pop("model", nn.Conv2d(3, 3, 3)), **o),
            options={"in_channels": 3, "max_size": 65},
            option_args={"model": (("str", "conv"), ("None", None))}))
    lossm = rainkit.loss
    if hasattr(lossm, "min_input_size"):
        specs.append(Spec(
            "rainkit.loss.min_input_size", "none",
            lambda **o: lambda: lossm.min_input_size(o.get("layers", ("relu1_1",))),
            introspect=False,
            option_args={"layers": (("unknown", "relu9_9"), ("int", 3), ("None", None),
                                    ("empty", ()), ("list_of_int", [1, 2]))}))
    def by_name(func: Callable[..., object]) -> Callable[..., Callable[[], object]]:
        return lambda **o: lambda: func(o.get("name", "no-such-model"))

    for fname in ("load_pretrained", "download_pretrained", "describe_pretrained"):
        if hasattr(nnm, fname):
            # only bad names: a good one would read (or download) a checkpoint file
            specs.append(Spec(
                f"rainkit.nn.{fname}", "none", by_name(getattr(nnm, fname)),
                introspect=False, input_args=("name", "checkpoint"),
                option_args={"name": (("bogus", "bogus"), ("int", 3), ("None", None))}))
    if hasattr(nnm, "register_model"):
        # only bad calls: a good one would change the global MODELS table
        specs.append(Spec(
            "rainkit.nn.register_model", "none",
            lambda **o: lambda: nnm.register_model(o.get("name", "fuzz-net"),
                                                   o.get("cls", int)),
            introspect=False,
            # register_model(name) with cls=None is the decorator form
            overrides={("cls", "None"): "accept"},
            option_args={"name": (("spaces", "a b"), ("int", 3), ("None", None)),
                         "cls": (("int", int), ("None", None), ("instance", nn.Conv2d(1, 1, 1)))}))
    return specs


def _enter(context: Any) -> object:
    """Enter and leave a context manager (a generator-based one runs its checks on entry)."""
    with context as value:
        return value


def _cropped(size: int) -> Callable[..., Callable[..., str | None]]:
    def check(inputs: tuple[torch.Tensor, ...], result: object) -> str | None:
        x = inputs[0]
        want = (*x.shape[:-2], min(x.shape[-2], size), min(x.shape[-1], size))
        if not isinstance(result, torch.Tensor) or tuple(result.shape) != want:
            return f"expected shape {want}, got {_describe(result)}"
        return None
    return lambda m: check


def _training_checkpoint_specs() -> list[Spec]:
    """rainkit.training and rainkit.checkpoint: files only under a temporary folder."""
    T, C = rainkit.training, rainkit.checkpoint
    root = Path(tempfile.mkdtemp(prefix="rainkit-fuzz-train-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)

    def fresh() -> Path:
        return Path(tempfile.mkdtemp(dir=root))

    def file(name: str, data: bytes) -> Path:
        (root / name).write_bytes(data)
        return root / name

    text = file("garbage.txt", b"not a log and not a checkpoint\n")
    binary = file("garbage.bin", bytes(range(256)) * 4)
    empty = file("empty.pt", b"")
    folder = root / "folder"
    folder.mkdir()
    net = rainkit.nn.BaselineNet(channels=4, num_blocks=1)
    kwargs = {"channels": 4, "num_blocks": 1}
    good = C.save_checkpoint(root / "net.pt", net, model_name="baseline", model_kwargs=kwargs)
    torch.save(net.state_dict(), root / "plain.pt")
    stored = torch.load(good, weights_only=True)
    stored["model"] = {k: v + 1 for k, v in stored["model"].items()}  # checksum now wrong
    torch.save(stored, root / "corrupt.pt")
    truncated = file("truncated.pt", good.read_bytes()[: good.stat().st_size // 2])
    checkpoint = C.load_checkpoint(good)
    nan_net = rainkit.nn.BaselineNet(channels=4, num_blocks=1)
    with torch.no_grad():
        next(nan_net.parameters()).fill_(NAN)
    # bad paths to read, and bad paths to write (a good path to write is a new temporary one)
    read_paths = (("missing", root / "missing.pt"), ("int", 3), ("None", None),
                  ("directory", folder), ("empty_str", ""), ("garbage", binary),
                  ("text", text), ("empty_file", empty), ("truncated", truncated),
                  ("plain_state_dict", root / "plain.pt"), ("corrupted", root / "corrupt.pt"))
    write_paths = (("int", 3), ("None", None), ("directory", folder), ("empty_str", ""),
                   ("under_a_file", text / "x.pt"), ("list", [str(root / "x.pt")]))
    mappings = (("int", 3), ("str", "ab"), ("list", [1]))
    devices = {"map_location": (("cuda_99", "cuda:99"),)}

    def file_spec(name: str, make: Callable[..., Callable[[], object]], arg: str,
                  values: tuple[tuple[str, object], ...]) -> Spec:
        # a file error names the file (or the checkpoint) rather than the argument
        return Spec(name, "none", make, introspect=False,
                    input_args=(arg, "path", "file", "folder", "checkpoint"),
                    option_args={arg: values})

    def log(columns: str = "epoch,loss\n1,0.5\n2,0.25\n") -> Path:
        path = fresh() / "log.csv"
        path.write_text(columns)
        return path

    def parts() -> tuple[torch.optim.Optimizer, Any]:
        optimizer = torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)

    other_optimizer = torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1)
    weight, bias = nn.Linear(2, 1).parameters()
    two_groups = torch.optim.SGD([{"params": [weight]}, {"params": [bias]}], lr=0.1)
    state = T.training_state(*parts(), epoch=3)
    optimizer_args = {
        "optimizer": (("None", None), ("module", nn.Linear(2, 1)), ("str", "sgd")),
        "scheduler": (("None", None), ("str", "cosine"),
                      ("other_optimizer", torch.optim.lr_scheduler.CosineAnnealingLR(
                          other_optimizer, T_max=10))),
        "scaler": (("str", "amp"), ("bool", True)),
    }

    def training_state(**o: Any) -> Callable[[], object]:
        def call() -> object:
            optimizer, scheduler = parts()
            return T.training_state(o.get("optimizer", optimizer), o.get("scheduler", scheduler),
                                    o.get("scaler"))
        return call

    def restore(**o: Any) -> Callable[[], object]:
        def call() -> object:
            optimizer, scheduler = parts()
            return T.restore_training_state(o.get("state", state),
                                            o.get("optimizer", optimizer),
                                            o.get("scheduler", scheduler), o.get("scaler"))
        return call

    x, y = _rand(3, 16, 16, seed=1), _rand(3, 16, 16, seed=2)
    pairs = [(x, y, "p0"), (y, x, "p1")]

    def validator(**o: Any) -> Callable[[], object]:
        score = {k: o.pop(k) for k in ("keep", "save_dir") if k in o}
        derain = o.pop("derain", lambda rainy: rainy)
        items = o.pop("pairs", pairs)
        return lambda: T.Validator(items, **o).score(derain, **score)[0]

    def record(**o: Any) -> Callable[[], object]:
        def call() -> object:
            options = {"model_name": "baseline", "model_kwargs": kwargs,
                       "log_row": {"loss": 0.5}, "training": {"epoch": 1}, **o}
            return T.record_epoch(options.pop("folder", fresh()), options.pop("epoch", 1),
                                  options.pop("model", net), **options)
        return call

    def claim(**o: Any) -> Callable[[], object]:
        def call() -> object:
            options = dict(o)
            return T.claim_run_dir(options.pop("folder", fresh()),
                                   options.pop("outputs", ["last.pt", "log.csv"]), **options)
        return call

    def positional(func: Callable[..., object], *defaults: tuple[str, Callable[[], object]]
                   ) -> Callable[..., Callable[[], object]]:
        """``func(*positional, **options)``, each positional argument an option or a default."""
        def make(**o: Any) -> Callable[[], object]:
            def call() -> object:
                options = dict(o)
                args = [options.pop(name) if name in options else default()
                        for name, default in defaults]
                return func(*args, **options)
            return call
        return make

    def save(**o: Any) -> Callable[[], object]:
        return positional(C.save_checkpoint, ("path", lambda: fresh() / "net.pt"),
                          ("model", lambda: net))(**{"model_name": "baseline", **o})

    def prepare(**o: Any) -> Callable[[], object]:
        return positional(C.prepare_checkpoint, ("model", lambda: net))(
            **{"model_name": "baseline", **o})

    def write(**o: Any) -> Callable[[], object]:
        return positional(C.write_checkpoint, ("path", lambda: fresh() / "net.pt"),
                          ("prepared", lambda: C.prepare_checkpoint(net, model_name="baseline"))
                          )(**o)

    prepared = C.prepare_checkpoint(net, model_name="baseline")
    checkpoint_parts = {  # the arguments save_checkpoint and prepare_checkpoint share
        "model_name": (("int", 3), ("empty", ""), ("None", None)),
        "model": (("None", None), ("str", "net"), ("tensor", _rand(3)), ("nan_weights", nan_net)),
        "model_kwargs": (*mappings, ("non_json", {"a": object()}), ("int_keys", {1: 2})),
        "training": mappings,
        "metadata": mappings,
    }
    scores = {"psnr": 27.3, "ssim": 0.87, "psnr_y": 28.9, "ssim_y": 0.89}
    image = _rand(3, 8, 8)
    return [
        # rainkit.training.run_dir
        Spec("rainkit.training.claim_run_dir", "none", claim,
             overrides={("clear", "empty"): "accept", ("clear", "bogus"): "accept"},
             option_args={
                 "folder": (("int", 3), ("None", None), ("file", text), ("empty_str", "")),
                 "outputs": (("int", 3), ("None", None), ("ints", [1]), ("empty_name", [""]),
                             ("absolute", ["/nonexistent/last.pt"]), ("parent", ["../x.pt"])),
             }),
        Spec("rainkit.training.append_log_row", "none",
             positional(T.append_log_row, ("path", lambda: fresh() / "log.csv"),
                        ("row", lambda: {"epoch": 1, "loss": 0.5})),
             option_args={
                 "row": (("list", [1]), ("None", None), ("empty", {}), ("str", "ab")),
             }),
        file_spec("rainkit.training.append_log_row",
                  positional(T.append_log_row, ("path", lambda: fresh() / "log.csv"),
                             ("row", lambda: {"epoch": 1, "loss": 0.5})), "path", (
                 ("int", 3), ("None", None), ("directory", folder),
                 ("empty_str", ""), ("missing_folder", root / "missing" / "log.csv"),
                          ("garbage", file("log.bin", binary.read_bytes())),
                          ("text", file("log.txt", text.read_bytes())),
                          ("other_columns", file("other.csv", b"epoch,psnr\n1,20\n")))),
        Spec("rainkit.training.truncate_log", "none",
             positional(T.truncate_log, ("path", log), ("epoch", lambda: 1),
                        ("columns", lambda: ["epoch", "loss"])),
             option_args={
                 "epoch": (("-1", -1), ("float", 1.5), ("str", "1"), ("None", None),
                           ("bool", True)),
                 "columns": (("str", "epoch"), ("int", 3), ("None", None), ("no_key", ["loss"]),
                             ("other", ["epoch", "psnr"])),
             }),
        file_spec("rainkit.training.truncate_log",
                  positional(T.truncate_log, ("path", log), ("epoch", lambda: 1),
                             ("columns", lambda: ["epoch", "loss"])), "path", (
                      ("int", 3), ("None", None), ("directory", folder), ("empty_str", ""),
                      ("garbage", file("cut.bin", binary.read_bytes())),
                      ("text", file("cut.txt", text.read_bytes())))),
        Spec("rainkit.training.record_epoch", "none", record, option_args={
            "folder": (("int", 3), ("None", None), ("file", text), ("empty_str", ""),
                       ("under_a_file", text / "run")),
            "epoch": (("zero", 0), ("str", "1"), ("float", 1.5), ("None", None)),
            "model": (("None", None), ("str", "net"), ("nan_weights", nan_net)),
            "model_name": (("int", 3), ("empty", ""), ("None", None)),
            "model_kwargs": (*mappings, ("non_json", {"a": object()}), ("int_keys", {1: 2})),
            "log_row": (("list", [1]), ("None", None)),
            "training": (("None", None), *mappings),
            "metadata": mappings,
            "samples": (("int", 3), ("str", "ab"), ("not_pairs", [("a",)]),
                        ("not_tensor", [("a", 3)]), ("name_int", [(3, image)]),
                        ("five_channels", [("a", _rand(5, 8, 8))])),
        }),
        # rainkit.training.resume
        Spec("rainkit.training.merge_settings", "none",
             positional(T.merge_settings, ("stored", lambda: {"epochs": 10, "device": "cuda"}),
                        ("given", lambda: {"epochs": 10, "device": "cpu"}),
                        ("fixed", lambda: ["epochs"])),
             # "{}".upper() is "{}" itself, a good label
             overrides={("label", "upper"): "accept"},
             option_args={
                 "stored": (("list", [1]), ("None", None), ("str", "ab")),
                 "given": (("list", [1]), ("None", None), ("str", "ab")),
                 "fixed": (("str", "epochs"), ("int", 3), ("None", None), ("ints", [3])),
             }),
        Spec("rainkit.training.training_state", "none", training_state, passes_options=False,
             option_args=optimizer_args),
        Spec("rainkit.training.restore_training_state", "none", restore, passes_options=False,
             option_args={
            "state": (("list", [1]), ("None", None), ("empty", {}),
                      ("optimizer_int", {**state, "optimizer": 3}),
                      ("scheduler_int", {**state, "scheduler": 3}),
                      ("two_groups", {**state, "optimizer": two_groups.state_dict()})),
            **optimizer_args,
        }),
        # rainkit.training.devices
        Spec("rainkit.training.pick_device", "none", lambda **o: lambda: T.pick_device(**o)),
        Spec("rainkit.training.distributed_session", "none",
             lambda **o: lambda: _enter(T.distributed_session(o.get("device", "cpu"))),
             passes_options=False,
             option_args={"device": (("bogus", "bogus"), ("int", 0), ("None", None),
                                     ("cuda_99", "cuda:99"), ("list", ["cpu"]))}),
        Spec("rainkit.training.all_reduce_sum", "none",
             positional(T.all_reduce_sum, ("values", lambda: {"loss": 1.5, "count": 3.0})),
             option_args={"values": (("list", [1.0]), ("None", None), ("str", "ab"),
                                     ("str_value", {"loss": "1.5"}),
                                     ("list_value", {"loss": [1.0]}),
                                     ("None_value", {"loss": None}),
                                     ("bool_value", {"loss": True}))}),
        # rainkit.training.validation
        Spec("rainkit.training.centre_crop", "image", _fn(T.centre_crop, size=8),
             options={"size": 8}, input_args=("image",), ndim=3, int_images="either",
             out=_cropped(8), overrides={("size", "None"): "accept"}),
        # max_size=None (whole images) is the default; 16 makes np.int64(16) a good value
        Spec("rainkit.training.Validator", "none", validator, options={"max_size": 16},
             overrides={("max_size", "None"): "accept"},
             option_args={
                 "pairs": (("str", "abc"), ("int", 3), ("None", None), ("empty", []),
                           ("not_triples", [(x, y)]), ("lists", [(x.tolist(), y.tolist(), "p")]),
                           ("uint8", [((x * 255).byte(), (y * 255).byte(), "p")]),
                           ("mismatch", [(x, y[:, :, :12], "p")]), ("rank2", [(x[0], y[0], "p")]),
                           ("too_small", [(x[:, :8, :8], y[:, :8, :8], "p")])),
                 "derain": (("int", 3), ("None", None), ("wrong_shape", lambda r: r[..., :8, :]),
                            ("numpy", lambda r: r.numpy())),
                 "keep": (("-1", -1), ("str", "1"), ("float", 1.5)),
                 "save_dir": (("int", 3), ("file", text), ("empty_str", "")),
                 "lpips": (("str", "alex"), ("int", 3)),
             }),
        Spec("rainkit.training.format_scores", "none",
             positional(T.format_scores, ("scores", lambda: scores)),
             option_args={"scores": (("list", [1]), ("None", None), ("str", "ab"), ("empty", {}),
                                     ("str_value", {**scores, "psnr": "27"}),
                                     ("None_value", {**scores, "ssim": None}),
                                     ("bool_value", {**scores, "ssim": True}),
                                     ("list_value", {**scores, "psnr_y": [1.0]}))}),
        # rainkit.checkpoint
        Spec("rainkit.checkpoint.atomic_save", "none",
             positional(C.atomic_save, ("obj", lambda: {"a": 1}),
                        ("path", lambda: fresh() / "x.pt")),
             option_args={"obj": (("lambda", lambda: 0), ("generator", (i for i in range(2))))}),
        file_spec("rainkit.checkpoint.atomic_save",
                  positional(C.atomic_save, ("obj", lambda: {"a": 1}),
                             ("path", lambda: fresh() / "x.pt")), "path", write_paths),
        Spec("rainkit.checkpoint.save_checkpoint", "none", save, option_args=checkpoint_parts),
        file_spec("rainkit.checkpoint.save_checkpoint", save, "path", write_paths),
        Spec("rainkit.checkpoint.prepare_checkpoint", "none", prepare,
             option_args=checkpoint_parts),
        Spec("rainkit.checkpoint.write_checkpoint", "none", write,
             option_args={"prepared": (("None", None), ("str", "net"), ("list", [prepared]),
                                       ("empty", {}), ("module", net),
                                       ("other_format", {**prepared, "format": "x"}),
                                       ("non_mapping_training", {**prepared, "training": 3}))}),
        file_spec("rainkit.checkpoint.write_checkpoint", write, "path", write_paths),
        Spec("rainkit.checkpoint.load_checkpoint", "none",
             positional(C.load_checkpoint, ("path", lambda: good)), option_args=devices),
        file_spec("rainkit.checkpoint.load_checkpoint",
                  positional(C.load_checkpoint, ("path", lambda: good)), "path", read_paths),
        Spec("rainkit.checkpoint.load_model", "none",
             positional(C.load_model, ("path", lambda: good)), option_args=devices),
        file_spec("rainkit.checkpoint.load_model", positional(C.load_model, ("path", lambda: good)),
                  "path", read_paths),
        Spec("rainkit.checkpoint.load_weights_source", "none",
             positional(C.load_weights_source, ("spec", lambda: good)), option_args=devices),
        file_spec("rainkit.checkpoint.load_weights_source",
                  positional(C.load_weights_source, ("spec", lambda: good)), "spec",
                  (*read_paths, ("unknown_name", "no-such-net"))),
        Spec("rainkit.checkpoint.build_from_checkpoint", "none",
             positional(C.build_from_checkpoint, ("checkpoint", lambda: checkpoint)),
             # source only names the checkpoint in messages: any path-like label is good
             overrides={("source", label): "accept" for label in
                        ("missing", "directory", "text_file", "empty_str")},
             option_args={"checkpoint": (
                 ("None", None), ("list", [1]), ("empty", {}), ("str", "net.pt"),
                 ("name_list", {**checkpoint, "model_name": ["a"]}),
                 ("weights_int", {**checkpoint, "model": 3}),
                 ("kwargs_list", {**checkpoint, "model_kwargs": [1]}),
                 ("unknown_model", {**checkpoint, "model_name": "no-such-net"}),
                 ("wrong_weights", {**checkpoint, "model": {}}),
                 ("bad_kwargs", {**checkpoint, "model_kwargs": {"bogus": 1}}))}),
    ]


def _registry_metrics_inference_specs() -> list[Spec]:
    """Names added with the zoo, the score table and the photo path (issues 21-23)."""
    nnm, M, inf = rainkit.nn, rainkit.metrics, rainkit.inference
    root = Path(tempfile.mkdtemp(prefix="rainkit-fuzz-zoo-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    net = nnm.BaselineNet(channels=4, num_blocks=1)
    weights = root / "net.pt"
    torch.save(net.state_dict(), weights)
    text = _PATHS / "notes.txt"
    folder = _PATHS / "folder"
    read_paths = (("missing", root / "missing.pt"), ("int", 3), ("None", None),
                  ("directory", folder), ("text_file", text), ("empty_str", ""))
    write_paths = (("int", 3), ("None", None), ("directory", folder), ("empty_str", ""),
                   ("under_a_file", text / "x.png"))
    state = net.state_dict()
    x = _rand(2, 3, 32, 32, seed=1)
    photo = inf.read_photo(_write_png(root / "photo.png"))

    def by(func: Callable[..., object], *defaults: tuple[str, Callable[[], object]]
           ) -> Callable[..., Callable[[], object]]:
        def make(**o: Any) -> Callable[[], object]:
            def call() -> object:
                options = dict(o)
                args = [options.pop(n) if n in options else d() for n, d in defaults]
                return func(*args, **options)
            return call
        return make

    def named(public: str, make: Callable[..., Callable[[], object]], args: tuple[str, ...],
              /, **option_args: tuple[tuple[str, object], ...]) -> Spec:
        return Spec(public, "none", make, introspect=False, input_args=args,
                    option_args=option_args)

    file_args = ("path", "file", "folder", "source", "weights")
    return [
        named("rainkit.nn.identify", by(nnm.identify, ("weights", lambda: 3)), ("weights",),
              weights=(("int", 3), ("None", None), ("str", "net.pt"), ("dict", dict(state)))),
        named("rainkit.nn.load_network", by(nnm.load_network, ("source", lambda: "bogus")),
              ("source", *file_args),
              source=(*read_paths, ("unknown", "no-such-net")),
              map_location=(("bogus", "gpu0"), ("cuda_99", "cuda:99"))),
        named("rainkit.nn.read_weights", by(nnm.read_weights, ("path", lambda: weights)),
              file_args, path=read_paths,
              map_location=(("bogus", "gpu0"), ("cuda_99", "cuda:99"), ("list", ["cpu"]))),
        named("rainkit.nn.load_state_strict",
              lambda **o: lambda: nnm.load_state_strict(
                  o.get("net", nnm.BaselineNet(channels=4, num_blocks=1)), o.get("state", state),
                  what="net.pt"),
              ("net", "state", "what", "weights", "key", "shape"),
              net=(("None", None), ("str", "baseline"), ("int", 3)),
              state=(("None", None), ("list", [1]), ("empty", {}),
                     ("wrong_keys", {f"x.{k}": v for k, v in state.items()}),
                     ("wrong_shapes", {k: v[..., :1] if v.ndim else v for k, v in
                                       state.items()}),
                     ("not_tensors", {k: 1.0 for k in state}))),
        named("rainkit.nn.register_family", by(nnm.register_family, ("family", lambda: 3)),
              ("family",),
              family=(("int", 3), ("None", None), ("str", "prenet"), ("dict", {"name": "x"}))),
        Spec("rainkit.metrics.NIQE", "image", _cls(M.NIQE), size=96,
             input_args=("input", "image"), out=lambda m: _scalar, slow=True),
        Spec("rainkit.metrics.BRISQUE", "image", _cls(M.BRISQUE), size=64,
             input_args=("input", "image"), out=lambda m: _scalar, slow=True),
        Spec("rainkit.metrics.niqe", "image", _fn(M.niqe), size=96, numpy_ok=True,
             input_args=("input", "image"), out=lambda m: _scalar, slow=True),
        Spec("rainkit.metrics.brisque", "image", _fn(M.brisque), size=64, numpy_ok=True,
             input_args=("input", "image"), out=lambda m: _scalar, slow=True),
        Spec("rainkit.metrics.ScoreTable", "pair", _cls(M.ScoreTable), size=32,
             input_args=("input", "target", "window_size"),
             # its default convention fixes the border: crop_border=1 contradicts it
             overrides={("no_reference", "empty"): "accept", ("no_reference", "None"): "either",
                        ("crop_border", "np.int64"): "either"}),
        named("rainkit.metrics.auto_downsample_factor",
              by(M.auto_downsample_factor, ("height", lambda: 256), ("width", lambda: 256)),
              ("height", "width"),
              height=(("-1", -1), ("zero", 0), ("1.5", 1.5), ("str", "256"), ("None", None),
                      ("bool", True)),
              width=(("-1", -1), ("str", "256"), ("nan", NAN))),
        named("rainkit.metrics.format_scores",
              by(M.format_scores, ("scores", lambda: {"psnr_y": 27.3, "ssim_y": 0.87})),
              ("scores", "table"),
              scores=(("list", [1]), ("None", None), ("str", "ab"),
                      ("str_value", {"psnr_y": "27"}), ("None_value", {"psnr_y": None}),
                      ("bool_value", {"psnr_y": True})),
              table=(("int", 3), ("str", "prenet-y"))),
        named("rainkit.metrics.key_for", by(M.key_for, ("metric", lambda: "psnr"),
                                            ("convention", lambda: None)),
              ("metric", "convention"),
              metric=(("int", 3), ("None", None), ("empty", "")),
              convention=(("int", 3), ("list", ["rgb"]))),
        named("rainkit.metrics.mean_scores", by(M.mean_scores, ("rows", lambda: [])),
              ("rows",),
              rows=(("int", 3), ("None", None), ("str", "ab"), ("ints", [1]),
                    ("str_value", [{"psnr": "27"}]), ("nan", [{"psnr": NAN}]),
                    ("other_keys", [{"psnr": 1.0}, {"ssim": 1.0}]))),
        named("rainkit.metrics.register_metric",
              lambda **o: lambda: M.register_metric(o.get("name", "psnr"), **{
                  k: v for k, v in o.items() if k != "name"})(lambda pair: pair.input),
              ("name", "label", "unit", "decimals", "reference", "higher_is_better"),
              name=(("existing", "psnr"), ("int", 3), ("None", None), ("empty", "")),
              decimals=(("-1", -1), ("str", "2")), reference=(("str", "yes"),),
              label=(("int", 3),)),
        named("rainkit.checkpoint.export_safetensors",
              by(rainkit.checkpoint.export_safetensors, ("source", lambda: weights),
                 ("path", lambda: Path(tempfile.mkdtemp(dir=root)) / "net.safetensors")),
              ("source", "path", *file_args),
              source=read_paths, path=write_paths),
        Spec("rainkit.init.zero_output_init_", "none",
             lambda **o: lambda: rainkit.init.zero_output_init_(o.get("module", nn.Conv2d(3, 3,
                                                                                       3))),
             introspect=False, input_args=("module", "modules"),
             option_args={"module": (("str", "conv"), ("None", None), ("tensor", torch.zeros(3)),
                                     ("no_layer", nn.ReLU()))}),
        # inference: the photo path
        Spec("rainkit.inference.Derainer", "image",
             lambda **o: inf.Derainer(nnm.BaselineNet(channels=4, num_blocks=1),
                                    **{"margin": 4, "tile": 16, **o}),
             size=24, input_args=("image", "input"), out=lambda m: _same_shape,
             options={"margin": 4, "tile": 16},
             overrides={("margin", "int"): "accept", ("scale", "int"): "either",
                        ("margin", "upper"): "reject", ("cache_dir", "directory"): "accept",
                        ("cache_dir", "missing"): "either", ("cache_dir", "empty_str"): "either",
                        ("input", "rank3"): "accept", ("input", "mismatch_dtype"): "either"}),
        named("rainkit.inference.read_photo", by(inf.read_photo, ("path", lambda: text)),
              ("path", "file", "photo"), path=read_paths),
        named("rainkit.inference.resolve_scale",
              by(inf.resolve_scale, ("scale", lambda: 1.0), ("height", lambda: 100),
                 ("width", lambda: 100)),
              ("scale", "height", "width", "target"),
              scale=(("bogus", "bogus"), ("zero", 0.0), ("-1.0", -1.0), ("nan", NAN),
                     ("None", None), ("bool", True)),
              height=(("zero", 0), ("str", "100"), ("1.5", 1.5)),
              target=(("zero", 0), ("str", "384"))),
        named("rainkit.inference.tile_margin",
              by(inf.tile_margin, ("model", lambda: 3)), ("model", "in_channels", "cache_dir"),
              model=(("int", 3), ("None", None), ("str", "baseline")),
              in_channels=(("zero", 0), ("str", "3"))),
        Spec("rainkit.inference.to_uint8", "image", _fn(inf.to_uint8), ndim=3,
             input_args=("image",), int_images="either"),
        named("rainkit.inference.write_photo",
              by(inf.write_photo, ("photo", lambda: photo),
                 ("path", lambda: Path(tempfile.mkdtemp(dir=root)) / "out.png")),
              ("photo", "path", "file", "folder", "rounding"),
              photo=(("int", 3), ("None", None), ("tensor", x[0])),
              path=write_paths, rounding=(("bogus", "bogus"), ("int", 1))),
    ]


def _write_png(path: Path) -> Path:
    rainkit.data.save_image(_rand(3, 24, 24), path)
    return path


SPEC_BUILDERS = (_network_specs, _block_specs, _loss_metric_specs, _data_specs, _later_specs,
                 _training_checkpoint_specs, _registry_metrics_inference_specs)
# public names that are not callables with inputs to fuzz
NOT_FUZZED = {
    "rainkit.nn.RainNet": "abstract base class (its subclasses are fuzzed)",
    "rainkit.metrics.ScoringConvention": "a record of a paper's scoring rules (via score)",
    "rainkit.data.ImagePair": "a named tuple that find_pairs returns",
    "rainkit.data.Layout": "a record describing a dataset layout (via find_pairs)",
    "rainkit.data.TestSet": "a record of the TEST_SETS table (via find_test_set)",
    "rainkit.data.BenchmarkProtocol": "a record of the PROTOCOLS table (via TEST_SETS)",
    "rainkit.data.TrainValData": "a named tuple that train_val_datasets returns",
    "rainkit.metrics.MS_SSIM_WEIGHTS": "a constant (the five scale weights of the paper)",
    "rainkit.nn.PretrainedWeights": "a record of the PRETRAINED table (via load_pretrained)",
    "rainkit.nn.PublishedScore": "a record of a published figure (via PRETRAINED)",
    "rainkit.loss.Features": "a type alias (dict of layer name to feature map)",
    "rainkit.loss.FeatureLoss": "abstract base class (its subclasses are fuzzed)",
    "rainkit.nn.Family": "a record of the FAMILIES table (via register_family)",
    "rainkit.nn.LoadedNetwork": "a record that load_network returns",
    "rainkit.nn.WeightsFile": "a record that read_weights returns (via identify)",
    "rainkit.metrics.Column": "a record of a ScoreTable's columns",
    "rainkit.metrics.Metric": "a record of the METRICS table (via register_metric)",
    "rainkit.metrics.PreparedPair": "a record the score table hands to metric functions",
    "rainkit.inference.Photo": "a record that read_photo returns (via write_photo)",
    "rainkit.inference.margin_cache_dir": "takes no arguments (reads RAINKIT_CACHE)",
}


# a published figure for rainkit.data.figure_mismatches (any object with these attributes)
_FIGURE = types.SimpleNamespace(test_set="Rain100H", convention="prenet-y", protocol="A")


def _covered(names: Iterable[str]) -> set[int]:
    return {id(_resolve(name)) for name in names}


def all_specs() -> list[Spec]:
    specs = [spec for builder in SPEC_BUILDERS for spec in builder()]
    covered = _covered({spec.name for spec in specs} | set(NOT_FUZZED))
    for name in public_names():
        if id(_resolve(name)) not in covered:
            spec = _generic_spec(name)
            if spec is not None:
                specs.append(spec)
    for spec in specs:
        if not spec.introspect:
            continue
        obj = _resolve(spec.name)
        target = obj.__init__ if isinstance(obj, type) else obj
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):  # pragma: no cover
            continue
        # every option that has a default is fuzzed, unless the spec fixes it
        for pname, param in params.items():
            if pname in ("self", "weights", "vgg_weights") or \
                    param.default is inspect.Parameter.empty:
                continue
            if pname in spec.option_args or pname == "seed":
                continue
            spec.options.setdefault(pname, param.default)
        for wname in ("weights", "vgg_weights"):
            if wname in params and spec.name.endswith(("LPIPS", "lpips", "Loss", "VGGFeatures")):
                spec.option_args.setdefault(wname, (
                    ("int", 3), ("directory", _PATHS / "folder"),
                    ("text_file", _PATHS / "notes.txt"), ("missing", _PATHS / "missing.pth"),
                    ("empty_str", "")))
    return specs


def _resolve(name: str) -> Any:
    module, _, attr = name.rpartition(".")
    return getattr(__import__(module, fromlist=[attr]), attr)


def _parameter(spec: Spec, pname: str) -> inspect.Parameter | None:
    obj = _resolve(spec.name)
    target = obj.__init__ if isinstance(obj, type) else obj
    return inspect.signature(target).parameters.get(pname)


def _param_kind(spec: Spec, pname: str) -> str | None:
    obj = _resolve(spec.name)
    target = obj.__init__ if isinstance(obj, type) else obj
    params = inspect.signature(target).parameters
    if pname in params:
        return _option_kind(params[pname])
    default = spec.options[pname]
    return "float" if isinstance(default, float) else "int" if isinstance(default, int) else None


def _base_inputs(spec: Spec) -> tuple[torch.Tensor, ...]:
    shape = (2, spec.channels, spec.size, spec.size)[-spec.ndim:]
    x, y = _rand(*shape, seed=1), _rand(*shape, seed=2)
    return (x, y) if spec.kind == "pair" else (x,) if spec.kind == "image" else ()


def _call(spec: Spec, options: dict[str, object], inputs: tuple[object, ...],
          cache: dict[str, object]) -> object:
    if options or spec.name not in cache:
        func = spec.make(**options)
        if not options:
            cache[spec.name] = func
    else:
        func = cache[spec.name]
    if spec.kind == "none":
        return func()
    return func(*inputs)


def _checker(spec: Spec, inputs: tuple[object, ...], cache: dict[str, object]
             ) -> Callable[[object], str | None] | None:
    if spec.out is None:
        return None
    return lambda result: spec.out(cache.get(spec.name))(inputs, result)  # type: ignore[misc]


def build_cases() -> list[Case]:
    """Every case of the matrix, in a stable order."""
    cases: list[Case] = []
    cache: dict[str, object] = {}
    for spec in all_specs():
        if spec.kind != "none":
            for label, inputs, expect, finite in input_cases(spec):
                expect = spec.overrides.get(("input", label), expect)
                cases.append(Case(
                    spec.name, label,
                    (lambda s=spec, i=inputs: _call(s, {}, i, cache)),
                    expect, spec.input_args, finite,
                    _checker(spec, inputs, cache), slow=spec.slow, klass=input_class(label),
                ))
        base = _base_inputs(spec)
        for pname, default in spec.options.items():
            kind = _param_kind(spec, pname)
            if kind is None:
                continue
            nullable = "None" in str(_parameter(spec, pname).annotation) \
                if _parameter(spec, pname) is not None else False
            for label, value, expect in option_values(kind, default, pname, nullable):
                expect = spec.overrides.get((pname, label), expect)
                cases.append(Case(
                    spec.name, f"{pname}={label}",
                    (lambda s=spec, p=pname, v=value, b=base: _call(s, {p: v}, b, {})),
                    expect, (pname,), True, None, slow=spec.slow,
                    klass=option_class(kind, label),
                ))
        for pname, values in spec.option_args.items():
            args = (pname,) if spec.introspect else (pname, *spec.input_args)
            for label, value in values:
                cases.append(Case(
                    spec.name, f"{pname}={label}",
                    (lambda s=spec, p=pname, v=value, b=base: _call(s, {p: v}, b, {})),
                    spec.overrides.get((pname, label), "reject"), args, True, None,
                    slow=spec.slow, klass=option_class(None, label),
                ))
        if spec.introspect and spec.passes_options:
            # an unknown keyword must be refused, not swallowed by a **kwargs
            cases.append(Case(
                spec.name, "unknown_keyword",
                (lambda s=spec, b=base: _call(s, {"bogus_option": 1}, b, {})),
                "reject", ("bogus_option",), True, None, slow=spec.slow,
                klass="unknown_keyword", python_ok=True,
            ))
    return cases


def public_names() -> list[str]:
    names = []
    for package in PACKAGES:
        module = __import__(package, fromlist=["__all__"])
        for name in module.__all__:
            if callable(getattr(module, name)):
                names.append(f"{package}.{name}")
    return names


# --------------------------------------------------------------------------------------------
# The tests

CASES = build_cases()


def test_every_public_name_is_fuzzed() -> None:
    # a name re-exported elsewhere (rainkit.nn.ResidualBlock is rainkit.nn.blocks.ResidualBlock)
    # is covered by its object
    covered = _covered({spec.name for spec in all_specs()} | set(NOT_FUZZED))
    missing = [name for name in public_names() if id(_resolve(name)) not in covered]
    assert not missing, f"add a Spec for these public names to tests/test_public_api_fuzz.py: " \
                        f"{missing}"


def test_generic_rule_fuzzes_a_new_pair_function() -> None:
    # what a public (input, target) function added without a table entry would get
    spec = _generic_spec("rainkit.loss.charbonnier_loss")
    assert spec is not None and spec.kind == "pair"
    outcomes = {label: classify(Case(spec.name, label, (lambda i=inputs: spec.make()(*i)),
                                     expect, spec.input_args, finite))[0]
                for label, inputs, expect, finite in input_cases(spec)}
    assert outcomes["ok"] == "correct" and outcomes["dtype=uint8"] == "clear"
    assert set(outcomes.values()) <= {"clear", "correct"}, outcomes
    assert _generic_spec("rainkit.data.find_pairs") is None  # needs a table entry


def test_every_network_in_models_is_fuzzed() -> None:
    names = {spec.name for spec in all_specs()}
    assert {_network_name(cls) for cls in rainkit.nn.MODELS.values()} <= names


def test_every_class_of_input_is_exercised() -> None:
    counts: dict[str, int] = {}
    for case in CASES:
        assert case.klass in CLASSES, (case.id, case.klass)
        counts[case.klass] = counts.get(case.klass, 0) + 1
    assert set(counts) == set(CLASSES), set(CLASSES) - set(counts)


def test_known_failures_are_public_names() -> None:
    names = set(public_names())
    assert set(KNOWN_FAILURES) <= names, set(KNOWN_FAILURES) - names


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.slow else []) for c in CASES],
)
def test_public_api_fuzz(case: Case) -> None:
    if case.id in UNSAFE_CASES:
        pytest.skip(f"allocates tens of GB until fixed ({UNSAFE_CASES[case.id]})")
    outcome, detail = classify(case)
    if outcome in ("clear", "correct"):
        return
    if case.name in KNOWN_FAILURES:
        who, what = KNOWN_FAILURES[case.name]
        pytest.xfail(f"known failure, {who}: {what}: {outcome}: {detail}")
    if case.id in OPEN_CASES:
        pytest.xfail(f"open: {OPEN_CASES[case.id]}: {outcome}: {detail}")
    pytest.fail(f"{outcome} (expected {case.expect}): {detail}")


