"""Deployment of every network in rainkit.nn.MODELS: ONNX export, torch.jit.trace and scripting.

Each test is parametrised over :data:`rainkit.nn.MODELS`, so a network added there is covered
without touching this file; :func:`small` passes the usual width keywords a class takes.
"""

from __future__ import annotations

import inspect
import io
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from _random_weights import randomize_
from rainkit.nn import MODELS, build_model
from rainkit.nn._common import _downsample_by_gathers, downsample, pool_to_grid

NAMES = sorted(MODELS)
# rainkit's own networks and the PReNet family, checked here with random weights (a fresh network
# is the identity, whose export proves nothing). Every other family tests its own ONNX export
# and torch.compile in tests/nn/families/test_<name>.py, with its test settings and the authors'
# weights' shapes (MPRNet's legacy ONNX export differed from eager by 0.04 with the generic small
# settings here, on 2 CPU cores: see the closing note of 2026-12-07).
CASES = sorted(n for n in NAMES if MODELS[n].__module__.startswith(
    ("rainkit.nn.models.", "rainkit.nn.families.prenet.")))

# Small settings for any network, future ones included: each keyword goes to the classes that
# take it (the defaults of the others are used), so the tests stay fast on 2 CPU cores.
SMALL_KWARGS: dict[str, object] = {
    "channels": 8, "base_channels": 8, "num_blocks": 1, "stages": 2, "depth": 3,
}
# Batch and size at export or trace time, then the shapes the exported graph must also handle:
# another batch, odd sizes, a size smaller than every pooling factor, and 1x1.
EXPORT_SHAPE = (2, 3, 12, 16)
CHECK_SHAPES = [(1, 3, 7, 13), (3, 3, 20, 9), (1, 3, 2, 3), (1, 3, 1, 1)]
TRACER_QUIET = pytest.mark.filterwarnings(
    "ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning", "ignore::FutureWarning"
)


def small(name: str) -> nn.Module:
    params = inspect.signature(MODELS[name]).parameters
    kwargs = {k: v for k, v in SMALL_KWARGS.items() if k in params}
    if "channels" in kwargs:  # DerainNet's deprecated base_channels is the same setting
        kwargs.pop("base_channels", None)
    torch.manual_seed(0)
    # random weights: a fresh network is the identity, and an exported identity proves nothing
    net = randomize_(build_model(name, **kwargs)).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so eval-mode BN is no identity
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net


def _check_onnx_model(net: nn.Module, data: bytes) -> None:
    """The graph is valid, H and W (and the batch) are symbolic, and onnxruntime matches eager."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [bool(d.dim_param) for d in dims] == [True, False, True, True]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    for shape in [EXPORT_SHAPE, *CHECK_SHAPES]:
        x = torch.rand(shape)
        (got,) = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            expected = net(x)
        torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-4)


@TRACER_QUIET
@pytest.mark.parametrize("name", CASES)
def test_onnx_export_legacy_dynamic_size(name: str) -> None:
    # The TorchScript-based exporter (dynamo=False): fast, and the one of PyTorch before 2.9.
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    net = small(name)
    buffer = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        net, (torch.rand(EXPORT_SHAPE),), buffer, dynamo=False, opset_version=17,
        input_names=["image"], output_names=["derained"],
        dynamic_axes={"image": axes, "derained": axes},
    )
    _check_onnx_model(net, buffer.getvalue())


@pytest.mark.slow
@TRACER_QUIET
@pytest.mark.parametrize("name", CASES)
def test_onnx_export_dynamo_dynamic_size(name: str) -> None:
    # The torch.export-based exporter (dynamo=True, the default since PyTorch 2.9), which the
    # deployment guide recommends; about 5-10 s per network on a loaded 2-core machine.
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    net = small(name)
    dim = torch.export.Dim
    sizes = {0: dim("batch", min=1), 2: dim("height", min=1), 3: dim("width", min=1)}
    program = torch.onnx.export(
        net, (torch.rand(EXPORT_SHAPE),), dynamo=True, input_names=["image"],
        output_names=["derained"], dynamic_shapes=(sizes,),
    )
    _check_onnx_model(net, program.model_proto.SerializeToString())


@TRACER_QUIET
@pytest.mark.parametrize("name", CASES)
def test_trace_generalises_to_other_sizes(name: str) -> None:
    # Every network traces with sizes as traced values, so one trace serves every size. A trace
    # of DerainNet downsamples by gathers where eager code calls adaptive_avg_pool2d: the same
    # values up to float rounding.
    net = small(name)
    with torch.no_grad():
        traced = torch.jit.trace(net, (torch.rand(EXPORT_SHAPE),))
        for shape in [EXPORT_SHAPE, *CHECK_SHAPES]:
            x = torch.rand(shape)
            torch.testing.assert_close(traced(x), net(x), rtol=1e-4, atol=1e-4)


# torch.jit.script is deprecated (PyTorch 2.14 warns); UNet does not script (it indexes a
# ModuleList with a loop variable).
SCRIPTABLE = ["baseline", "derainnet", "dilatedpyramidnet", "prenet", "prenet_gru", "prenet_r",
              "prenet_real", "prenet_x", "prn", "prn_r"]


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("name", SCRIPTABLE)
def test_script(name: str) -> None:
    net = small(name)
    scripted = torch.jit.script(net)
    with torch.no_grad():
        for shape in [(1, 3, 7, 13), (1, 3, 1, 1)]:
            x = torch.rand(shape)
            torch.testing.assert_close(scripted(x), net(x))
            for got, expected in zip(scripted(x, True), net(x, return_rain=True)):
                torch.testing.assert_close(got, expected)


# The export-friendly pooling must keep the windows of F.adaptive_avg_pool2d (which eager code
# calls, and the networks called before); in float64 a single misplaced value would show far
# above rounding.
@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), factor=st.integers(2, 8))
def test_downsample_by_gathers_equals_adaptive_avg_pool(h: int, w: int, factor: int) -> None:
    x = torch.randn(2, 3, h, w, dtype=torch.float64)
    expected = F.adaptive_avg_pool2d(x, (math.ceil(h / factor), math.ceil(w / factor)))
    torch.testing.assert_close(downsample(x, factor), expected, rtol=0, atol=0)
    got = _downsample_by_gathers(x, factor)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), bins=st.integers(1, 8))
def test_pool_to_grid_equals_adaptive_avg_pool(h: int, w: int, bins: int) -> None:
    # bins > h or w included: adaptive pooling then repeats values, and so must pool_to_grid.
    x = torch.randn(2, 3, h, w, dtype=torch.float64)
    expected = F.adaptive_avg_pool2d(x, bins)
    torch.testing.assert_close(pool_to_grid(x, bins), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_pooling_float32_bfloat16_channels_last(dtype: torch.dtype) -> None:
    x = torch.randn(2, 5, 33, 47).to(dtype).contiguous(memory_format=torch.channels_last)
    got = _downsample_by_gathers(x, 4)
    assert got.dtype == dtype
    tol = {} if dtype == torch.float32 else {"rtol": 1e-2, "atol": 1e-2}
    torch.testing.assert_close(got, F.adaptive_avg_pool2d(x, (9, 12)), **tol)
    torch.testing.assert_close(pool_to_grid(x, 6), F.adaptive_avg_pool2d(x, 6), **tol)


@TRACER_QUIET
def test_downsample_gathers_under_trace() -> None:
    # A trace records the gathers, not adaptive_avg_pool2d with the example's output size.
    traced = torch.jit.trace(lambda t: downsample(t, 2), (torch.rand(1, 2, 8, 8),))
    assert "adaptive_avg_pool2d" not in str(traced.graph)
    x = torch.rand(1, 2, 7, 5)
    torch.testing.assert_close(traced(x), F.adaptive_avg_pool2d(x, (4, 3)))
