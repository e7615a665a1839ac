"""Benchmark PReNet inference on CPU: rainkit against the authors' formulation of the network.

The reference is PReNet as Ren et al. (CVPR 2019) write it, coded here from the paper and
independently of rainkit: per stage ``conv0`` over ``cat([y, x])`` + ReLU, four separate 3x3
gate convolutions (``conv_i``, ``conv_f``, ``conv_g``, ``conv_o``, each with its activation
module) over ``cat([features, h])``, the LSTM update, five residual blocks
``ReLU(x + ReLU(conv(ReLU(conv(x)))))``, the output convolution and ``+ y``; six stages with
shared weights, NCHW, float32. rainkit's :class:`~rainkit.nn.PReNet` gets the same random
weights (through the key conversion that loads the authors' checkpoints) and both run under
``torch.no_grad()`` on the same image. The script prints their largest output difference,
then the median time per image of interleaved rounds (one call of each per round), for each
thread count, and the ratio authors / rainkit. ``authors-NHWC`` is the same reference in the
channels_last layout, to show what the layout alone gives.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_prenet.py
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from _timing import timed
from rainkit.nn import PReNet
from rainkit.nn.families.prenet import convert_authors_state


def _conv(cin: int, cout: int, act: nn.Module | None = None) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, 1, 1)]
    return nn.Sequential(*layers, *([act] if act is not None else []))


class AuthorsPReNet(nn.Module):
    """PReNet as the paper formulates it (module names as in the authors' release)."""

    def __init__(self, stages: int = 6, channels: int = 32) -> None:
        super().__init__()
        self.stages, self.channels = stages, channels
        self.conv0 = _conv(6, channels, nn.ReLU())
        for k in range(1, 6):
            setattr(self, f"res_conv{k}", nn.Sequential(
                nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU(),
                nn.Conv2d(channels, channels, 3, 1, 1), nn.ReLU()))
        self.conv_i = _conv(2 * channels, channels, nn.Sigmoid())
        self.conv_f = _conv(2 * channels, channels, nn.Sigmoid())
        self.conv_g = _conv(2 * channels, channels, nn.Tanh())
        self.conv_o = _conv(2 * channels, channels, nn.Sigmoid())
        self.conv = _conv(channels, 3)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        b, _, height, width = y.shape
        h = torch.zeros(b, self.channels, height, width).contiguous(
            memory_format=torch.channels_last if not y.is_contiguous() else torch.contiguous_format)
        c = torch.zeros_like(h)
        x = y
        for _ in range(self.stages):
            x = self.conv0(torch.cat((y, x), 1))
            x = torch.cat((x, h), 1)
            i, f, g, o = self.conv_i(x), self.conv_f(x), self.conv_g(x), self.conv_o(x)
            c = f * c + i * g
            h = o * torch.tanh(c)
            x = h
            for k in range(1, 6):
                x = F.relu(getattr(self, f"res_conv{k}")(x) + x)
            x = self.conv(x) + y
        return x




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (median)")
    args = parser.parse_args()
    torch.manual_seed(0)
    authors = AuthorsPReNet().eval()
    rainkit = PReNet().eval()
    rainkit.load_state_dict(convert_authors_state(authors.state_dict(), "prenet"))
    y = torch.rand(1, 3, args.height, args.width)
    y_nhwc = y.contiguous(memory_format=torch.channels_last)
    authors_nhwc = AuthorsPReNet().eval().to(memory_format=torch.channels_last)
    authors_nhwc.load_state_dict(authors.state_dict())
    print(f"torch {torch.__version__}, PReNet (6 stages, 168,963 parameters), 1 x 3 x "
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
