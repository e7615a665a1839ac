"""Benchmark BRN inference on CPU: rainkit against the authors' formulation of the network.

The reference is BRN as Ren et al. (TIP 2020) write it in their released ``generator.py``,
coded here independently of rainkit, with the module names of their checkpoints: per stage,
the rain branch (``conv0_r`` + ReLU over ``cat([y, r])``, four separate 3x3 gate
convolutions ``conv_{i,f,g,o}_r`` each with its activation module over
``cat([features, h_r, h])``, the LSTM update, three residual blocks
``ReLU(x + ReLU(conv(ReLU(conv(x)))))``, ``conv_r``), then the image branch (``conv0`` over
``cat([y, x, r])``, gates over ``cat([features, h, h_r])``, five residual blocks, ``conv``,
the clean image itself); eight stages with shared weights, zero initial states computed as
such, NCHW, float32. It also holds the two residual blocks of the rain branch that the authors'
forward never runs, as their class does. rainkit's :class:`~rainkit.nn.families.brn.BRN`
(``residual=False``) gets the same random weights through the key conversion that loads the
authors' checkpoints, and both run under ``torch.no_grad()`` on the same image. The script
prints their largest output difference, then the median time per image of interleaved rounds
(one call of each per round) for each thread count, and the ratio authors / rainkit.
``authors-NHWC`` is the same reference in the channels_last layout, to show what the layout
alone gives.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_brn.py

Figures (the "BRN inference" section of ``benchmarks/README.md``): 481 x 321, 1 thread,
authors 12.94 s, rainkit 7.35 s per image, **1.76x**, largest difference 1.3e-7 (2026-12-07,
loaded 2-core machine; the 2-thread line of that run was disturbed by other jobs).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from _timing import timed
from rainkit.nn.families.brn import BRN, convert_authors_state


def _conv(cin: int, cout: int, act: nn.Module | None = None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, 1, 1)]
    return nn.Sequential(*layers, *([act] if act is not None else []))


def _res(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
                         nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU())


class AuthorsBRN(nn.Module):
    """BRN as the authors formulate it (module names as in their release)."""

    def __init__(self, stages: int = 8, channels: int = 32) -> None:
        super().__init__()
        self.stages, self.channels = stages, channels
        for suffix, cin in (("", 9), ("_r", 6)):
            setattr(self, f"conv0{suffix}", _conv(cin, channels, nn.ReLU()))
            for k in range(1, 6):
                setattr(self, f"res_conv{k}{suffix}", _res(channels))
            for gate, act in (("i", nn.Sigmoid), ("f", nn.Sigmoid), ("g", nn.Tanh),
                              ("o", nn.Sigmoid)):
                setattr(self, f"conv_{gate}{suffix}", _conv(3 * channels, channels, act()))
            setattr(self, f"conv{suffix}", _conv(channels, 3))

    def _lstm(self, x: torch.Tensor, c: torch.Tensor, suffix: str
              ) -> tuple[torch.Tensor, torch.Tensor]:
        i = getattr(self, f"conv_i{suffix}")(x)
        f = getattr(self, f"conv_f{suffix}")(x)
        g = getattr(self, f"conv_g{suffix}")(x)
        o = getattr(self, f"conv_o{suffix}")(x)
        c = f * c + i * g
        return o * torch.tanh(c), c

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        b, _, height, width = y.shape
        fmt = torch.channels_last if not y.is_contiguous() else torch.contiguous_format
        h = torch.zeros(b, self.channels, height, width).contiguous(memory_format=fmt)
        c, h_r, c_r = torch.zeros_like(h), torch.zeros_like(h), torch.zeros_like(h)
        x = r = y
        for _ in range(self.stages):
            r = self.conv0_r(torch.cat((y, r), 1))
            h_r, c_r = self._lstm(torch.cat((r, h_r, h), 1), c_r, "_r")
            r = h_r
            for k in range(1, 4):
                r = F.relu(getattr(self, f"res_conv{k}_r")(r) + r)
            r = self.conv_r(r)
            x = self.conv0(torch.cat((y, x, r), 1))
            h, c = self._lstm(torch.cat((x, h, h_r), 1), c, "")
            x = h
            for k in range(1, 6):
                x = F.relu(getattr(self, f"res_conv{k}")(x) + x)
            x = self.conv(x)
        return x




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (median)")
    args = parser.parse_args()
    torch.manual_seed(0)
    authors = AuthorsBRN().eval()
    rainkit = BRN(residual=False).eval()
    rainkit.load_state_dict(convert_authors_state(authors.state_dict()))
    y = torch.rand(1, 3, args.height, args.width)
    y_nhwc = y.contiguous(memory_format=torch.channels_last)
    authors_nhwc = AuthorsBRN().eval().to(memory_format=torch.channels_last)
    authors_nhwc.load_state_dict(authors.state_dict())
    print(f"torch {torch.__version__}, BRN (8 stages, 375,526 parameters used), 1 x 3 x "
          f"{args.height} x {args.width} float32, no_grad, median of {args.rounds} interleaved "
          "rounds, seconds per image")
    with torch.no_grad():
        diff = (rainkit(y) - authors(y)).abs().max().item()
        print(f"max |rainkit - authors| = {diff:.2e}")
        print(f"| threads | {'authors':>8} | {'authors-NHWC':>12} | {'rainkit':>8} | "
              "authors / rainkit |")
        print("|---|---|---|---|---|")
        for threads in args.threads:
            torch.set_num_threads(threads)
            t = timed({"authors": lambda: authors(y), "authors-NHWC": lambda: authors_nhwc(y_nhwc),
                       "rainkit": lambda: rainkit(y)}, args.rounds)
            print(f"| {threads:>7} | {t['authors']:>8.3f} | {t['authors-NHWC']:>12.3f} | "
                  f"{t['rainkit']:>8.3f} | {t['authors'] / t['rainkit']:>16.2f}x |", flush=True)


if __name__ == "__main__":
    main()
