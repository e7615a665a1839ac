"""Benchmark SAPNet inference on CPU: rainkit against the authors' formulation of the network.

The reference is SAPNet as Zheng et al. (WACV 2022) write it in ``Modeling/network.py``
(``SAPNet(recurrent_iter=6, use_dilation=True)``), coded here independently of rainkit in NCHW
float32: per stage ``conv0`` + ReLU over ``cat([y, x])``, four separate gate convolutions over
``cat([features, h])`` (with zero ``h`` and ``c`` at the first stage), five residual blocks
(conv, CRA layer, ReLU, conv, CRA layer, ReLU, dilations 1, 2, 4, 8, 16) as ``nn.Sequential``
modules, the output convolution and ``+ y``. rainkit's
:class:`~rainkit.nn.families.sapnet.SAPNet` gets the same weights through the key conversion
that loads the authors' checkpoint. Both run under ``torch.no_grad()`` on the same image; the
script prints their largest output difference and the median time per image of interleaved
rounds, and the ratio authors / rainkit.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_sapnet.py

Measured once (2-core AMD EPYC shared with other jobs, load average 4.5-7, torch 2.14.1,
1 thread, 3 x 240 x 320, median of 5 interleaved rounds): authors 3452 ms, rainkit 2135 ms,
**1.62x**, max output difference 1.2e-7. See ``benchmarks/README.md`` ("RESCAN, SPANet and
SAPNet inference").
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rainkit.nn.families.sapnet import SAPNet, convert_authors_state


class AuthorsCRA(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // reduction, 1, bias=False), nn.ReLU(True),
            nn.Conv2d(channels // reduction, channels, 1, bias=False))
        self.conv_1_1 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.avg_pool(x)
        return x * torch.sigmoid(self.conv_du(y) + self.conv_1_1(y))


def _gate(act: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(64, 32, 3, 1, 1), act)


class AuthorsSAPNet(nn.Module):
    """SAPNet as ``Modeling/network.py`` formulates it (module names as in the release)."""

    def __init__(self, stages: int = 6) -> None:
        super().__init__()
        self.stages = stages
        self.conv0 = nn.Sequential(nn.Conv2d(6, 32, 3, 1, 1), nn.ReLU())
        for k, d in enumerate((1, 2, 4, 8, 16), start=1):
            setattr(self, f"res_conv{k}", nn.Sequential(
                nn.Conv2d(32, 32, 3, 1, padding=d, dilation=d), AuthorsCRA(32, 16), nn.ReLU(),
                nn.Conv2d(32, 32, 3, 1, padding=d, dilation=d), AuthorsCRA(32, 16), nn.ReLU()))
        self.conv_i, self.conv_f = _gate(nn.Sigmoid()), _gate(nn.Sigmoid())
        self.conv_g, self.conv_o = _gate(nn.Tanh()), _gate(nn.Sigmoid())
        self.conv = nn.Sequential(nn.Conv2d(32, 3, 3, 1, 1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        b, _, height, width = y.shape
        h = torch.zeros(b, 32, height, width)
        c = torch.zeros(b, 32, height, width)
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


def _time(fn: Callable[[], torch.Tensor]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(240, 320))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    torch.manual_seed(0)
    authors = AuthorsSAPNet().eval()
    ours = SAPNet().eval()
    ours.load_state_dict(convert_authors_state(authors.state_dict()))
    image = torch.rand(1, 3, *args.size)
    with torch.no_grad():
        diff = (ours(image) - authors(image)).abs().max().item()
    print(f"SAPNet {tuple(image.shape)}: max |rainkit - authors| = {diff:.2e}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        times: dict[str, list[float]] = {"authors": [], "rainkit": []}
        with torch.no_grad():
            authors(image)
            ours(image)
            for _ in range(args.rounds):
                times["authors"].append(_time(lambda: authors(image)))
                times["rainkit"].append(_time(lambda: ours(image)))
        a, r = (statistics.median(times[k]) for k in ("authors", "rainkit"))
        print(f"threads={threads}: authors {a * 1e3:.0f} ms, rainkit {r * 1e3:.0f} ms, "
              f"{a / r:.2f}x")


if __name__ == "__main__":
    main()
