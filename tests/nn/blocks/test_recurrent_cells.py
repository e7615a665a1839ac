"""ConvLSTMCell and ConvGRUCell against the equations written out here, gradcheck, fused path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rainkit.nn import ConvGRUCell, ConvLSTMCell


def lstm_reference(x, h, c, w, b):
    """Shi et al.'s conv-LSTM with four separate gate convolutions over cat([x, h])."""
    xh = torch.cat([x, h], dim=1)
    wi, wf, wg, wo = w.chunk(4)
    bi, bf, bg, bo = b.chunk(4)
    i = torch.sigmoid(F.conv2d(xh, wi, bi, padding=1))
    f = torch.sigmoid(F.conv2d(xh, wf, bf, padding=1))
    g = torch.tanh(F.conv2d(xh, wg, bg, padding=1))
    o = torch.sigmoid(F.conv2d(xh, wo, bo, padding=1))
    c = f * c + i * g
    return o * torch.tanh(c), c


def gru_reference(x, h, wz, bz, wr, br, wg, bg):
    """Ren et al.'s PReNet_GRU step: z, r over [x, h]; candidate over [r * h, x]."""
    xh = torch.cat([x, h], dim=1)
    z = torch.sigmoid(F.conv2d(xh, wz, bz, padding=1))
    r = torch.sigmoid(F.conv2d(xh, wr, br, padding=1))
    g = torch.tanh(F.conv2d(torch.cat([r * h, x], dim=1), wg, bg, padding=1))
    return (1 - z) * h + z * g


def randomise(cell: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in cell.parameters():
            p.normal_(0, 0.3)


def test_lstm_matches_equations_float64() -> None:
    cell = ConvLSTMCell(3, 4).double()
    randomise(cell)
    x1, x2 = torch.randn(2, 2, 3, 6, 5, dtype=torch.float64)
    zeros = torch.zeros(2, 4, 6, 5, dtype=torch.float64)
    w, b = cell.gates.weight, cell.gates.bias
    h, c = cell(x1)  # state None: h = c = 0, W_h skipped
    rh, rc = lstm_reference(x1, zeros, zeros, w, b)
    torch.testing.assert_close(h, rh)
    torch.testing.assert_close(c, rc)
    h, c = cell(x2, (h, c))
    rh, rc = lstm_reference(x2, rh, rc, w, b)
    torch.testing.assert_close(h, rh)
    torch.testing.assert_close(c, rc)


def test_gru_matches_equations_float64() -> None:
    cell = ConvGRUCell(3, 4).double()
    randomise(cell)
    x1, x2 = torch.randn(2, 2, 3, 6, 5, dtype=torch.float64)
    wz, wr = cell.gates.weight.chunk(2)
    bz, br = cell.gates.bias.chunk(2)
    # The reference's candidate runs over [r * h, x]: the cell's over [x, r * h].
    wg = torch.cat([cell.candidate.weight[:, 3:], cell.candidate.weight[:, :3]], dim=1)
    bg = cell.candidate.bias
    h = cell(x1)
    rh = gru_reference(x1, torch.zeros(2, 4, 6, 5, dtype=torch.float64), wz, bz, wr, br, wg, bg)
    torch.testing.assert_close(h, rh)
    torch.testing.assert_close(cell(x2, h), gru_reference(x2, rh, wz, bz, wr, br, wg, bg))


@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_gradcheck(cls: type) -> None:
    cell = cls(2, 2).double()
    randomise(cell)
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)

    def run(x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        if cls is ConvLSTMCell:
            h, c = cell(x)
            h, c = cell(x, (h + h0, c))
            return h + c
        return cell(x, cell(x) + h0)

    assert torch.autograd.gradcheck(run, (x, h0))
    names = [n for n, _ in cell.named_parameters()]

    def from_params(*params: torch.Tensor) -> torch.Tensor:
        out = torch.func.functional_call(cell, dict(zip(names, params, strict=True)), (x,))
        return out[0] if isinstance(out, tuple) else out

    params = tuple(p.detach().requires_grad_() for p in cell.parameters())
    assert torch.autograd.gradcheck(from_params, params)


@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_fused_inference_equals_plain(cls: type) -> None:
    # Under no_grad on float32 CPU the cells run fused oneDNN convolutions; with grad, plain ops.
    cell = cls(5, 8)
    randomise(cell)
    x1, x2 = torch.rand(2, 2, 5, 17, 23)
    with torch.no_grad():
        s1 = cell(x1)
        s2 = cell(x2, s1)
    p1 = cell(x1)
    p2 = cell(x2, p1)
    for got, want in zip((s1, s2), (p1, p2), strict=True):
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,), strict=True):
            torch.testing.assert_close(g, w.detach(), rtol=1e-5, atol=1e-5)


def test_fused_path_does_not_modify_state() -> None:
    cell = ConvLSTMCell(3, 4)
    x = torch.rand(1, 3, 6, 6)
    with torch.no_grad():
        h, c = cell(x)
        h0, c0 = h.clone(), c.clone()
        cell(x, (h, c))
    assert torch.equal(h, h0) and torch.equal(c, c0)


@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_options_and_repr(cls: type) -> None:
    assert "hidden_channels=8" in repr(cls(4, 8))
    with pytest.raises(ValueError, match="odd"):
        cls(4, 8, kernel_size=2)
    with pytest.raises(ValueError, match="hidden_channels"):
        cls(4, 0)


def test_gru_parameter_count() -> None:
    # Three quarters of an LSTM: z, r and the candidate, each a 3x3 conv over C_x + C_h.
    assert sum(p.numel() for p in ConvGRUCell(32, 32).parameters()) == 3 * (64 * 32 * 9 + 32)


# torch.jit.script is deprecated (PyTorch 2.14 warns); the cells still script, skipping their
# input checks, and the scripted cell runs the plain operators.
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("cls", [ConvLSTMCell, ConvGRUCell])
def test_script_equals_eager(cls: type) -> None:
    cell = cls(3, 4)
    randomise(cell)
    scripted = torch.jit.script(cell)
    x1, x2 = torch.rand(2, 2, 3, 5, 7)
    first, expected = scripted(x1), cell(x1)  # autograd on: both run the plain operators
    for got, want in ((first, expected), (scripted(x2, first), cell(x2, expected))):
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,), strict=True):
            torch.testing.assert_close(g, w, rtol=0, atol=0)
    with torch.no_grad():  # eager runs the fused oneDNN path there: equal to float rounding
        got, want = scripted(x1), cell(x1)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
