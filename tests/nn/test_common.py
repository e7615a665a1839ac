"""check_network_input: the forward check of every block and network of rainkit.nn."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from rainkit.nn import (
    ConvLSTMCell,
    DilatedResidualStack,
    MultiScaleBranches,
    PyramidPooling,
    ResidualBlock,
    UNet,
)

BLOCKS: dict[str, Callable[[], nn.Module]] = {
    "residual": lambda: ResidualBlock(4),
    "dilated": lambda: DilatedResidualStack(4, (1, 2)),
    "multiscale": lambda: MultiScaleBranches(4, lambda c: ResidualBlock(c)),
    "pyramid": lambda: PyramidPooling(4, bins=(1, 2)),
    "convlstm": lambda: ConvLSTMCell(4, 3),
    "unet": lambda: UNet(in_channels=4, base_channels=4, depth=2),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.rand(4, 5, 5), ValueError, r"input must have shape \(B, C, H, W\), got a 3-D"),
        (torch.rand(1, 1, 4, 5, 5), ValueError, "got a 5-D tensor"),
        (torch.rand(2, 3, 5, 5), ValueError, "input must have 4 channels at dim -3, got 3"),
        (torch.zeros(2, 4, 5, 5, dtype=torch.uint8), TypeError, "floating-point"),
        (torch.zeros(2, 4, 5, 5, dtype=torch.complex64), TypeError, "floating-point"),
        (torch.zeros(0, 4, 5, 5), ValueError, "input must not be empty"),
        (torch.zeros(2, 4, 0, 5), ValueError, "input must not be empty"),
        (torch.rand(2, 4, 5, 5, dtype=torch.float64), TypeError,
         r"input has dtype torch.float64 but \w+'s parameters are torch.float32; convert the "
         r"input with input.to\(torch.float32\) or the module with module.to\(torch.float64\)"),
        (torch.rand(2, 4, 5, 5).half(), TypeError, "input has dtype torch.float16"),
        ([[0.0]], TypeError, "input must be a torch.Tensor, got list"),
        (None, TypeError, "input must be a torch.Tensor, got NoneType"),
    ],
    ids=["rank3", "rank5", "channels", "uint8", "complex", "empty-batch", "zero-height",
         "float64", "float16", "list", "none"],
)
def test_forward_rejects_bad_input(name: str, x: object, error: type, match: str) -> None:
    block = BLOCKS[name]()
    with pytest.raises(error, match=match):
        block(x)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_converting_the_module_or_autocast_runs(name: str) -> None:
    # the two fixes the dtype message names both work
    x = torch.rand(2, 4, 1, 6, dtype=torch.float64)
    out = BLOCKS[name]().double()(x)
    first = out[0] if isinstance(out, tuple) else out
    assert first.dtype == torch.float64 and first.shape[-2:] == (1, 6)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = BLOCKS[name]()(torch.rand(2, 4, 5, 5))
    first = out[0] if isinstance(out, tuple) else out
    assert torch.isfinite(first.float()).all()


def test_convlstm_checks_its_state() -> None:
    cell = ConvLSTMCell(4, 3)
    x = torch.rand(2, 4, 5, 5)
    h, c = cell(x)
    h, c = cell(x, (h, c))
    assert h.shape == (2, 3, 5, 5)
    with pytest.raises(ValueError, match=r"state h must have shape \(2, 3, 5, 5\) to match the "
                                         r"input, got \(2, 3, 4, 5\)"):
        cell(x, (h[..., :4, :], c))
    with pytest.raises(ValueError, match="state c must have 3 channels"):
        cell(x, (h, torch.rand(2, 4, 5, 5)))
    with pytest.raises(TypeError, match="state must be a pair"):
        cell(x, h)


def test_bool_options_must_be_bools() -> None:
    # UNet(residual="no") used to build a residual UNet (bool("no") is True)
    with pytest.raises(TypeError, match="residual must be a bool"):
        UNet(residual="no")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="activate_after_add must be a bool"):
        ResidualBlock(4, activate_after_add=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="skip must be a bool"):
        MultiScaleBranches(4, lambda c: ResidualBlock(c), skip=None)  # type: ignore[arg-type]
    assert UNet(base_channels=4, depth=1, residual=False).residual is False


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_cuda_float16_autocast_runs(name: str) -> None:
    # under autocast a block gets float16 activations from the layer before it while its
    # parameters stay float32: the dtype check must let that through
    block = BLOCKS[name]().cuda()
    with torch.autocast("cuda", dtype=torch.float16):
        out = block(torch.rand(2, 4, 9, 9, device="cuda"))
        first = out[0] if isinstance(out, tuple) else out
        inner = block(first[:, :4].contiguous()) if first.shape[1] >= 4 else None
    assert torch.isfinite(first.float()).all()
    if inner is not None:
        assert torch.isfinite((inner[0] if isinstance(inner, tuple) else inner).float()).all()
