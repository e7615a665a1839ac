"""Benchmark SPANet inference on CPU: rainkit against the authors' formulation of the network.

The reference is SPANet as Wang et al. (CVPR 2019) write it in ``SPANet.py``, coded here
independently of rainkit, in NCHW float32: ``conv_in`` + ReLU, 17 bottlenecks
``ReLU(block(x) * A + x)`` as separate ``nn.Conv2d``/``nn.ReLU`` modules, one ``SAM`` module
applied before blocks 4, 7, 10 and 13 -- including its direction-attention convolutions, whose
result the authors' code discards -- and the IRNN as the per-step recurrence of the authors'
kernel in torch: for each of the four directions, a loop over the scanned axis that computes
``relu(o * w + b + x[..., i])`` on a strided slice and stacks the steps. rainkit's
:class:`~rainkit.nn.SPANet` gets the same weights through the key conversion that loads the
authors' checkpoints. Both run under ``torch.no_grad()`` on the same image; the script prints
their largest output difference and the median time per image of interleaved rounds, and the
ratio authors / rainkit.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_spanet.py

Measured once (2-core AMD EPYC shared with other jobs, load average 4.5-7, torch 2.14.1,
1 thread, 3 x 240 x 320, median of 5 interleaved rounds): authors 2979 ms, rainkit 1472 ms,
**2.02x**, max output difference 3.9e-7. See ``benchmarks/README.md`` ("RESCAN, SPANet and
SAPNet inference").
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rainkit.nn.families.spanet import SPANet, convert_authors_state

DIRECTIONS = ("up", "right", "down", "left")


def _scan(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, dim: int, reverse: bool
          ) -> torch.Tensor:
    """One direction of the authors' kernel, step by step along ``dim``."""
    n = x.shape[dim]
    order = range(n - 1, -1, -1) if reverse else range(n)
    steps: list[torch.Tensor] = []
    for i in order:
        xi = x.select(dim, i)
        steps.append(torch.relu(xi) if not steps else torch.relu(steps[-1] * w + b + xi))
    if reverse:
        steps.reverse()
    return torch.stack(steps, dim=dim)


class AuthorsIRNN(nn.Module):
    """``Spacial_IRNN``: four 1x1 depthwise convolutions used as per-channel scalars."""

    def __init__(self, channels: int, alpha: float = 0.2) -> None:
        super().__init__()
        for d in DIRECTIONS:
            conv = nn.Conv2d(channels, channels, 1, groups=channels)
            nn.init.constant_(conv.weight, alpha)
            setattr(self, f"{d}_weight", conv)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        def p(d: str) -> tuple[torch.Tensor, torch.Tensor]:
            conv = getattr(self, f"{d}_weight")
            return conv.weight.view(1, -1, 1), conv.bias.view(1, -1, 1)

        return [_scan(x, *p("up"), dim=2, reverse=True),
                _scan(x, *p("right"), dim=3, reverse=False),
                _scan(x, *p("down"), dim=2, reverse=False),
                _scan(x, *p("left"), dim=3, reverse=True)]


class AuthorsAttention(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels // 2, 3, padding=1)
        self.conv2 = nn.Conv2d(channels // 2, channels // 2, 3, padding=1)
        self.conv3 = nn.Conv2d(channels // 2, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv3(F.relu(self.conv2(F.relu(self.conv1(x))))))


class AuthorsSAM(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.irnn1, self.irnn2 = AuthorsIRNN(channels), AuthorsIRNN(channels)
        self.conv_in = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(4 * channels, channels, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(4 * channels, channels, 3, padding=1, bias=False)
        self.attention_layer = AuthorsAttention(channels)
        self.conv_out = nn.Conv2d(channels, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.attention_layer(x)  # computed; its products are discarded, as theirs
        scans = self.irnn1(self.conv_in(x))
        for k, s in enumerate(scans):
            s.mul(weight[:, k:k + 1])
        scans = self.irnn2(self.conv2(torch.cat(scans, dim=1)))
        for k, s in enumerate(scans):
            s.mul(weight[:, k:k + 1])
        out = F.relu(self.conv3(torch.cat(scans, dim=1)))
        return torch.sigmoid(self.conv_out(out))


class AuthorsBottleneck(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.group1 = nn.Sequential(OrderedDict([  # their keys: group1.conv1, ...
            ("conv1", nn.Conv2d(channels, channels, 1, bias=False)), ("relu1", nn.ReLU(True)),
            ("conv2", nn.Conv2d(channels, channels, 3, padding=2, dilation=2, bias=False)),
            ("relu2", nn.ReLU(True)), ("conv3", nn.Conv2d(channels, channels, 1, bias=False))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.group1(x)


class AuthorsSPANet(nn.Module):
    """SPANet as ``SPANet.py`` formulates it (module names as in the authors' release)."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        self.conv_in = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False),
                                     nn.ReLU(True))
        self.SAM1 = AuthorsSAM(channels)
        for k in range(1, 18):
            setattr(self, f"res_block{k}", AuthorsBottleneck(channels))
        self.conv_out = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x in BGR, as cv2 reads it
        out = self.conv_in(x)
        attention = None
        for k in range(1, 18):
            if k in (4, 7, 10, 13):
                attention = self.SAM1(out)
            block = getattr(self, f"res_block{k}")(out)
            out = F.relu((block * attention if 4 <= k <= 15 else block) + out)
        return self.conv_out(out)


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
    authors = AuthorsSPANet().eval()
    with torch.no_grad():  # biases and weights that make the mask vary, as in spanet-spa
        for module in authors.SAM1.modules():
            if isinstance(module, nn.Conv2d) and module.groups > 1:
                module.weight.uniform_(-0.2, 0.6)
                module.bias.uniform_(-0.2, 0.2)
    ours = SPANet().eval()
    ours.load_state_dict(convert_authors_state(authors.state_dict()))
    image = torch.rand(1, 3, *args.size)
    with torch.no_grad():
        reference = authors(image.flip(1)).flip(1)
        mask = ours.attention(image)[0]
        diff = (ours(image) - reference).abs().max().item()
    print(f"SPANet {tuple(image.shape)}: max |rainkit - authors| = {diff:.2e}; mask range "
          f"{mask.min():.3f}-{mask.max():.3f}")
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
