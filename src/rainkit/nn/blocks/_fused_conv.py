"""Private convolution helpers with a oneDNN fast path for CPU inference (activation fused in)."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F

try:
    from torch.utils._python_dispatch import _get_current_dispatch_mode
except ImportError:  # pragma: no cover - a torch without it: assume no mode is active

    def _get_current_dispatch_mode() -> None:  # type: ignore[misc]  # older torch: no mode type
        return None

__all__ = ["Activation", "activate", "conv2d_accumulate_", "conv2d_act", "conv2d_add",
           "fused_inference"]

Activation = Literal["relu", "sigmoid", "tanh"] | None

def _pointwise_op() -> Any:
    """``torch.ops.mkldnn._convolution_pointwise`` (what inductor fuses CPU convolutions into)."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._convolution_pointwise
    except (AttributeError, RuntimeError):  # pragma: no cover - a build without the op
        return None


_OP = _pointwise_op()
_OP_INPLACE = (getattr(torch.ops.mkldnn, "_convolution_pointwise_", None)
               if _OP is not None else None)


def fused_inference(x: torch.Tensor) -> bool:
    """Whether the fused oneDNN path applies to ``x``.

    It does for a float32 CPU tensor when autograd is off (``torch.no_grad()`` or
    ``torch.inference_mode()``), outside autocast, outside ``torch.compile``, ``torch.export``
    and ``torch.jit.trace`` (the ONNX exporters use them) and outside a Python dispatch mode such as
    :class:`~torch.utils.flop_counter.FlopCounterMode` (which all see only the plain operators).
    Everywhere else the plain operators run, so gradients, other devices and dtypes behave
    exactly as usual. A scripted network (:func:`torch.jit.script`) always runs the plain
    operators: TorchScript compiles none of the fused path.
    """
    fused = False
    # TorchScript skips the body of `if not torch.jit.is_scripting()` only in this spelling
    if not torch.jit.is_scripting():
        fused = (
            _OP is not None
            and _OP_INPLACE is not None
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and not torch.is_grad_enabled()
            and not torch.is_autocast_enabled("cpu")
            and not torch.compiler.is_compiling()
            and not torch.compiler.is_exporting()
            and not torch.jit.is_tracing()
            and _get_current_dispatch_mode() is None
        )
    return fused


def conv2d_act(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    act: str | None = None,
    fused: bool = False,
) -> torch.Tensor:
    """:math:`\\operatorname{act}(W * x + b)`, stride 1, 'same' zero padding (odd kernels).

    ``act`` is one of :data:`Activation` (``"relu"``, ``"sigmoid"``, ``"tanh"`` or ``None``),
    annotated ``str`` because TorchScript has no ``Literal``. With ``fused=True`` (only valid
    where :func:`fused_inference` holds) one oneDNN call computes the convolution and applies
    the activation while the output is in cache.
    """
    padding = weight.shape[-1] // 2
    if not torch.jit.is_scripting():  # TorchScript compiles only the plain operators
        if fused:
            out: torch.Tensor = _OP(x, weight, bias, [padding, padding], [1, 1], [1, 1], 1,
                                    act or "none", [], None)
            return out
    return activate(F.conv2d(x, weight, bias, padding=padding), act)


def activate(y: torch.Tensor, act: str | None) -> torch.Tensor:
    """``y`` through the :data:`Activation` named ``act`` (``None``: unchanged); an if-chain
    rather than a dict of functions, so that TorchScript compiles it."""
    if act is None:
        return y
    if act == "relu":
        return torch.relu(y)
    if act == "sigmoid":
        return torch.sigmoid(y)
    if act == "tanh":
        return torch.tanh(y)
    raise ValueError("act must be one of 'relu', 'sigmoid', 'tanh' or None")


def conv2d_add(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    other: torch.Tensor,
    act: str | None = None,
    fused: bool = False,
) -> torch.Tensor:
    """:math:`\\operatorname{act}(W * x + b + \\text{other})`; fused as in :func:`conv2d_act`;
    ``act`` is ``"relu"`` or ``None``."""
    padding = weight.shape[-1] // 2
    if not torch.jit.is_scripting():  # TorchScript compiles only the plain operators
        if fused:
            added: torch.Tensor = _OP.binary(x, other, weight, bias, [padding, padding],
                                             [1, 1], [1, 1], 1, "add", None, act, [], None)
            return added
    y = F.conv2d(x, weight, bias, padding=padding) + other
    return y if act is None else torch.relu(y)


def conv2d_accumulate_(out: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``out += W * x`` in place, written by the oneDNN convolution itself (fused path only).

    ``out`` must be a dense buffer of the convolution's output shape, in the layout of ``x``.
    """
    padding = weight.shape[-1] // 2
    # _OP_INPLACE is None only where fused_inference() is False, and only the fused path calls
    # this: the checker cannot see that
    _OP_INPLACE.binary(out, x, weight, None, [padding, padding], [1, 1],  # type: ignore[union-attr]
                       [1, 1], 1, "add", None, None, [], None)
    return out
