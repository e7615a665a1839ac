"""The ONNX round trip the family tests share: export with dynamic batch and size (the
TorchScript-based exporter), check the model, run it in onnxruntime at other shapes and compare
with eager PyTorch."""

from __future__ import annotations

import io
from collections.abc import Sequence

import pytest
import torch


def assert_onnx_matches_eager(net: torch.nn.Module, export_shape: tuple[int, ...],
                              shapes: Sequence[tuple[int, ...]], *, tol: float = 1e-4) -> None:
    """Export ``net`` at ``export_shape`` and require the ONNX model to equal eager ``net``
    within ``tol`` (absolute and relative) on every shape of ``shapes``."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    buffer = io.BytesIO()
    axes = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(net, (torch.rand(export_shape),), buffer, dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["derained"],
                      dynamic_axes={"image": axes, "derained": axes})
    onnx.checker.check_model(onnx.load_from_string(buffer.getvalue()))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(buffer.getvalue(), options,
                                   providers=["CPUExecutionProvider"])
    for shape in shapes:
        x = torch.rand(shape)
        (got,) = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(got), net(x), rtol=tol, atol=tol)
