"""Benchmark DRSformer inference on CPU (both variants): rainkit against the authors' formulation.

The reference is DRSformer's forward as the authors write it (cschenxiang/DRSformer,
``basicsr/models/archs/DRSformer_arch.py`` and ``DRSformer_arch_200L+SPA.py``), re-implemented
here without einops and independently of rainkit's blocks: the top-k sparse attention with four
``torch.topk`` masks (``zeros`` + ``scatter_``), ``torch.where(mask > 0, attn, -inf)``, four
softmaxes and four ``attn_i @ v`` products weighted by ``attn1..attn4``; the mixed-scale
feed-forward with its two depthwise branches, ``chunk``/``cat`` exchanges and grouped
convolutions; MEFC's ``OALayer`` (average pool, two linear layers, softmax per step) and
``GroupOLs`` of four ``OperationLayer`` steps that run the eight experts (separable
1x1..7x7, dilated 3x3..7x7, average pool), scale each by its weight, concatenate and mix; the
LayerNorm, skeleton and test-time processing of ``bench_restormer.py``. rainkit's
:class:`~rainkit.nn.families.drsformer.DRSformer` gets the same random weights (same key
names) and both run under ``torch.no_grad()`` on the same image, in the released
configuration of each variant (33,655,424 and 32,610,304 parameters).

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_drsformer.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_restormer import LayerNorm, PatchEmbed, down, timed, up
from rainkit.nn import build_model


class FeedForward(nn.Module):  # MSFN
    def __init__(self, dim: int, factor: float) -> None:
        super().__init__()
        h = int(dim * factor)
        self.project_in = nn.Conv2d(dim, h * 2, 1, bias=False)
        self.dwconv3x3 = nn.Conv2d(h * 2, h * 2, 3, 1, 1, groups=h * 2, bias=False)
        self.dwconv5x5 = nn.Conv2d(h * 2, h * 2, 5, 1, 2, groups=h * 2, bias=False)
        self.relu3, self.relu5 = nn.ReLU(), nn.ReLU()
        self.dwconv3x3_1 = nn.Conv2d(h * 2, h, 3, 1, 1, groups=h, bias=False)
        self.dwconv5x5_1 = nn.Conv2d(h * 2, h, 5, 1, 2, groups=h, bias=False)
        self.relu3_1, self.relu5_1 = nn.ReLU(), nn.ReLU()
        self.project_out = nn.Conv2d(h * 2, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project_in(x)
        x1_3, x2_3 = self.relu3(self.dwconv3x3(x)).chunk(2, dim=1)
        x1_5, x2_5 = self.relu5(self.dwconv5x5(x)).chunk(2, dim=1)
        x1 = self.relu3_1(self.dwconv3x3_1(torch.cat([x1_3, x1_5], dim=1)))
        x2 = self.relu5_1(self.dwconv5x5_1(torch.cat([x2_3, x2_5], dim=1)))
        return self.project_out(torch.cat([x1, x2], dim=1))


class Attention(nn.Module):  # TKSA
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, 1, 1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)
        for i in range(1, 5):
            setattr(self, f"attn{i}", nn.Parameter(torch.tensor([0.2])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        heads = self.num_heads
        q, k, v = (t.reshape(b, heads, c // heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        C = q.shape[2]
        attn = (q @ k.transpose(-2, -1)) * self.temperature
        out = 0
        for i, size in enumerate((int(C / 2), int(C * 2 / 3), int(C * 3 / 4), int(C * 4 / 5))):
            mask = torch.zeros(b, heads, C, C, device=x.device)
            index = torch.topk(attn, k=size, dim=-1, largest=True)[1]
            mask.scatter_(-1, index, 1.0)
            masked = torch.where(mask > 0, attn, torch.full_like(attn, float("-inf")))
            out = out + (masked.softmax(dim=-1) @ v) * getattr(self, f"attn{i + 1}")
        return self.project_out(out.reshape(b, c, h, w))


class TransformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, factor: float) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = LayerNorm(dim)
        self.ffn = FeedForward(dim, factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class Op(nn.Module):
    """``SepConv`` (kind "sep"), ``DilConv`` ("dil"): the layers in ``op``."""

    def __init__(self, kind: str, c: int, k: int) -> None:
        super().__init__()
        if kind == "sep":
            self.op = nn.Sequential(
                nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False), nn.Conv2d(c, c, 1, bias=False),
                nn.ReLU(), nn.Conv2d(c, c, k, 1, k // 2, groups=c, bias=False),
                nn.Conv2d(c, c, 1, bias=False))
        else:
            self.op = nn.Sequential(
                nn.Conv2d(c, c, k, 1, k - 1, dilation=2, groups=c, bias=False),
                nn.Conv2d(c, c, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class OperationLayer(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self._ops = nn.ModuleList([Op("sep", c, k) for k in (1, 3, 5, 7)]
                                  + [Op("dil", c, k) for k in (3, 5, 7)]
                                  + [nn.AvgPool2d(3, 1, 1, count_include_pad=False)])
        self._out = nn.Sequential(nn.Conv2d(c * 8, c, 1, bias=False), nn.ReLU())

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        weights = weights.transpose(1, 0)
        states = [op(x) * w.view([-1, 1, 1, 1]) for w, op in zip(weights, self._ops)]
        return self._out(torch.cat(states, dim=1))


class GroupOLs(nn.Module):
    def __init__(self, steps: int, c: int) -> None:
        super().__init__()
        self.preprocess = nn.Module()
        self.preprocess.op = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.ReLU())
        self._steps = steps
        self._ops = nn.ModuleList([OperationLayer(c) for _ in range(steps)])
        self.relu = nn.ReLU()

    def forward(self, s0: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        s0 = self.preprocess.op(s0)
        for i in range(self._steps):
            s0 = self.relu(self._ops[i](s0, weights[:, i, :]) + s0)
        return s0


class OALayer(nn.Module):
    def __init__(self, channel: int, k: int, num_ops: int) -> None:
        super().__init__()
        self.k, self.num_ops = k, num_ops
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.ca_fc = nn.Sequential(nn.Linear(channel, k * num_ops * 2), nn.ReLU(),
                                   nn.Linear(k * num_ops * 2, k * num_ops))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ca_fc(self.avg_pool(x).view(x.size(0), -1))
        return y.view(-1, self.k, self.num_ops)


class Subnet(nn.Module):  # MEFC
    def __init__(self, dim: int, steps: int = 4) -> None:
        super().__init__()
        self.layers = nn.ModuleList([OALayer(dim, steps, 8), GroupOLs(steps, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = F.softmax(self.layers[0](x), dim=-1)
        return self.layers[1](x, weights)


class AuthorsDRSformer(nn.Module):
    """DRSformer as the authors write it (``mefc=False``: the 200L+SPA file), with test.py's
    padding and crop."""

    def __init__(self, mefc: bool = True, dim: int = 48, num_blocks: tuple[int, ...] = (4, 6, 6, 8),
                 heads: tuple[int, ...] = (1, 2, 4, 8), factor: float = 2.66) -> None:
        super().__init__()
        self.mefc = mefc

        def stage(d: int, n: int, h: int) -> nn.Sequential:
            return nn.Sequential(*[TransformerBlock(d, h, factor) for _ in range(n)])

        self.patch_embed = PatchEmbed(dim)
        if mefc:
            self.encoder_level0 = Subnet(dim)
        self.encoder_level1 = stage(dim, num_blocks[0], heads[0])
        self.down1_2 = down(dim)
        self.encoder_level2 = stage(dim * 2, num_blocks[1], heads[1])
        self.down2_3 = down(dim * 2)
        self.encoder_level3 = stage(dim * 4, num_blocks[2], heads[2])
        self.down3_4 = down(dim * 4)
        self.latent = stage(dim * 8, num_blocks[3], heads[3])
        self.up4_3 = up(dim * 8)
        self.reduce_chan_level3 = nn.Conv2d(dim * 8, dim * 4, 1, bias=False)
        self.decoder_level3 = stage(dim * 4, num_blocks[2], heads[2])
        self.up3_2 = up(dim * 4)
        self.reduce_chan_level2 = nn.Conv2d(dim * 4, dim * 2, 1, bias=False)
        self.decoder_level2 = stage(dim * 2, num_blocks[1], heads[1])
        self.up2_1 = up(dim * 2)
        self.decoder_level1 = stage(dim * 2, num_blocks[0], heads[0])
        if mefc:
            self.refinement = Subnet(dim * 2)
        self.output = nn.Conv2d(dim * 2, 3, 3, 1, 1, bias=False)

    def network(self, inp: torch.Tensor) -> torch.Tensor:
        e1 = self.patch_embed(inp)
        if self.mefc:
            e1 = self.encoder_level0(e1)
        e1 = self.encoder_level1(e1)
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        latent = self.latent(self.down3_4(e3))
        d3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(latent), e3], 1)))
        d2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], 1)))
        d1 = self.decoder_level1(torch.cat([self.up2_1(d2), e1], 1))
        if self.mefc:
            d1 = self.refinement(d1)
        return self.output(d1) + inp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padh = ((h + 8) // 8) * 8 - h if h % 8 else 0
        padw = ((w + 8) // 8) * 8 - w if w % 8 else 0
        return self.network(F.pad(x, (0, padw, 0, padh), "reflect"))[..., :h, :w]


def randomise_(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights that make every block act (as the fixtures' README draws them)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) * 0.8 / fan_in ** 0.5)
            elif name.endswith(("attn1", "attn2", "attn3", "attn4")):
                p.copy_(torch.rand(p.shape, generator=generator) * 0.4 + 0.1)
            elif name.endswith("ca_fc.2.bias"):
                p.copy_(torch.randn(p.shape, generator=generator))
            elif name.endswith(("temperature", "body.weight")):
                p.copy_(torch.rand(p.shape, generator=generator) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median)")
    parser.add_argument("--variants", nargs="+", default=["mefc", "nomefc"])
    args = parser.parse_args()
    x = torch.rand(1, 3, args.height, args.width, generator=torch.Generator().manual_seed(1))
    print(f"torch {torch.__version__}, DRSformer (released configurations, random weights), "
          f"1 x 3 x {args.height} x {args.width} float32, no_grad, median of {args.rounds} "
          "interleaved rounds, seconds per image")
    print("| variant | threads | authors | rainkit | authors / rainkit | max abs diff |")
    print("|---|---|---|---|---|---|")
    for variant in args.variants:
        mefc = variant == "mefc"
        authors = randomise_(AuthorsDRSformer(mefc=mefc)).eval()
        rainkit = build_model("drsformer", mefc=mefc).eval()
        rainkit.load_state_dict(authors.state_dict(), strict=True)
        with torch.no_grad():
            diff = (rainkit(x) - authors(x)).abs().max().item()
            for threads in args.threads:
                torch.set_num_threads(threads)
                t = timed({"authors": lambda a=authors: a(x), "rainkit": lambda r=rainkit: r(x)},
                          args.rounds)
                print(f"| {variant} | {threads} | {t['authors']:.3f} | {t['rainkit']:.3f} | "
                      f"{t['authors'] / t['rainkit']:.2f}x | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
