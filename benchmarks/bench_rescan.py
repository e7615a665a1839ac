"""Benchmark RESCAN inference on CPU: rainkit against the authors' formulation of the network.

The reference is RESCAN as Li et al. (ECCV 2018) write it in ``config/model.py`` with the
default settings (GRU units, 'Full' frame, 24 channels, five units with input dilations
1, 1, 2, 4, 8, four stages), coded here independently of rainkit in NCHW float32: per unit six
separate 3x3 convolutions (``conv_x{z,r,n}``, ``conv_h{z,r,n}``), the GRU update, the SE gate
(``nn.AdaptiveAvgPool2d`` and two ``nn.Linear``) and LeakyReLU(0.2); the decoder; the next
stage reads ``O - R``. rainkit's :class:`~rainkit.nn.families.rescan.RESCAN` gets the same
weights through the key conversion that loads the authors' checkpoints. Both run under
``torch.no_grad()`` on the same image; the script prints their largest output difference and
the median time per image of interleaved rounds, and the ratio authors / rainkit.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_rescan.py

Measured once (2-core AMD EPYC shared with other jobs, load average 4.5-7, torch 2.14.1,
1 thread, 3 x 240 x 320, median of 5 interleaved rounds): authors 3066 ms, rainkit 1540 ms,
**1.99x**, max output difference 1.2e-7. See ``benchmarks/README.md`` ("RESCAN, SPANet and
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

from rainkit.nn.families.rescan import RESCAN, convert_authors_state


class AuthorsSE(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(nn.Linear(channels, reduction), nn.ReLU(True),
                                nn.Linear(reduction, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        return x * self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)


class AuthorsGRU(nn.Module):
    def __init__(self, cin: int, cout: int, dilation: int) -> None:
        super().__init__()
        for g in "zrn":
            setattr(self, f"conv_x{g}", nn.Conv2d(cin, cout, 3, padding=dilation,
                                                  dilation=dilation))
        for g in "zrn":
            setattr(self, f"conv_h{g}", nn.Conv2d(cout, cout, 3, padding=1))
        self.se = AuthorsSE(cout, 6)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None) -> torch.Tensor:
        if h is None:
            h = torch.sigmoid(self.conv_xz(x)) * torch.tanh(self.conv_xn(x))
        else:
            z = torch.sigmoid(self.conv_xz(x) + self.conv_hz(h))
            r = torch.sigmoid(self.conv_xr(x) + self.conv_hr(h))
            n = torch.tanh(self.conv_xn(x) + self.conv_hn(r * h))
            h = (1 - z) * h + z * n
        return F.leaky_relu(self.se(h), 0.2)


class AuthorsRESCAN(nn.Module):
    """RESCAN as ``config/model.py`` formulates it (module names as in the released files)."""

    def __init__(self, channels: int = 24, stages: int = 4) -> None:
        super().__init__()
        self.stages = stages
        self.rnns = nn.ModuleList([AuthorsGRU(3, channels, 1)]
                                  + [AuthorsGRU(channels, channels, 2 ** i) for i in range(4)])
        self.dec = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1),
                                 AuthorsSE(channels, 6), nn.LeakyReLU(0.2),
                                 nn.Conv2d(channels, 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x in BGR; returns O - R_S
        original, states = x, [None] * len(self.rnns)
        for _ in range(self.stages):
            for k, rnn in enumerate(self.rnns):
                x = states[k] = rnn(x, states[k])
            rain = self.dec(x)
            x = original - rain
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
    authors = AuthorsRESCAN().eval()
    ours = RESCAN().eval()
    ours.load_state_dict(convert_authors_state(authors.state_dict()))
    image = torch.rand(1, 3, *args.size)
    with torch.no_grad():
        diff = (ours(image) - authors(image.flip(1)).flip(1)).abs().max().item()
    print(f"RESCAN {tuple(image.shape)}: max |rainkit - authors| = {diff:.2e}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        times: dict[str, list[float]] = {"authors": [], "rainkit": []}
        with torch.no_grad():
            authors(image.flip(1))
            ours(image)
            for _ in range(args.rounds):
                times["authors"].append(_time(lambda: authors(image.flip(1)).flip(1)))
                times["rainkit"].append(_time(lambda: ours(image)))
        a, r = (statistics.median(times[k]) for k in ("authors", "rainkit"))
        print(f"threads={threads}: authors {a * 1e3:.0f} ms, rainkit {r * 1e3:.0f} ms, "
              f"{a / r:.2f}x")


if __name__ == "__main__":
    main()
