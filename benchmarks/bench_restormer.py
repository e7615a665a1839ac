"""Benchmark Restormer inference on CPU: rainkit against the authors' formulation.

The reference is Restormer's forward as the authors write it (swz30/Restormer,
``basicsr/models/archs/restormer_arch.py``), re-implemented here without einops and
independently of rainkit's blocks: LayerNorm through ``to_3d`` (a ``(B, HW, C)`` copy), mean,
biased variance, ``(x - mu) / sqrt(var + 1e-5) * w + b``, and ``to_4d``; MDTA with
``F.normalize`` of q and k, ``(q @ k^T) * temperature``, softmax, ``attn @ v``, the head
rearrangements with ``.contiguous()`` and the output projection; GDFN with ``chunk``,
``gelu(x1) * x2``; the U-shaped skeleton; and ``Deraining/test.py``'s processing (reflect pad
to a multiple of 8, run, crop). It is NCHW float32, as the authors run it. rainkit's
:class:`~rainkit.nn.families.restormer.Restormer` gets the same random weights (the same key
names: no conversion) and both run under ``torch.no_grad()`` on the same image. The released
configuration is used (26,126,644 parameters), with random weights scaled so that every block
does something (not the untrained identity).

The script prints the largest output difference, then the median time per image over
interleaved rounds, and the ratio authors / rainkit, for each thread count. ``rainkit-NHWC``
runs rainkit in the channels_last layout (``net.to(memory_format=torch.channels_last)`` and a
channels_last image).

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_restormer.py
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from _timing import timed
from rainkit.nn import build_model

# --------------------------------------------------------------------------------------------
# The authors' formulation (module names as theirs, so state dicts are interchangeable).


def to_3d(x: torch.Tensor) -> torch.Tensor:  # rearrange(x, 'b c h w -> b (h w) c')
    b, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, h * w, c)


def to_4d(x: torch.Tensor, h: int, w: int) -> torch.Tensor:  # 'b (h w) c -> b c h w'
    b, _, c = x.shape
    return x.reshape(b, h, w, c).permute(0, 3, 1, 2)


class WithBiasLayerNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(-1, keepdim=True)
        sigma = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(sigma + 1e-5) * self.weight + self.bias


class LayerNorm(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = WithBiasLayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        return to_4d(self.body(to_3d(x)), h, w)


class FeedForward(nn.Module):
    def __init__(self, dim: int, factor: float) -> None:
        super().__init__()
        hidden = int(dim * factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, 1, bias=False)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, 3, 1, 1, groups=hidden * 2, bias=False)
        self.project_out = nn.Conv2d(hidden, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.project_in(x)
        x1, x2 = self.dwconv(x).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, 3, 1, 1, groups=dim * 3, bias=False)
        self.project_out = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        heads = self.num_heads
        # rearrange 'b (head c) h w -> b head c (h w)', then .contiguous()
        q, k, v = (t.reshape(b, heads, c // heads, h * w).contiguous() for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        out = (attn @ v).reshape(b, c, h, w)
        return self.project_out(out)


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


class PatchEmbed(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def down(n: int) -> nn.Module:
    module = nn.Module()
    module.body = nn.Sequential(nn.Conv2d(n, n // 2, 3, 1, 1, bias=False), nn.PixelUnshuffle(2))
    module.forward = module.body.forward  # type: ignore[method-assign]
    return module


def up(n: int) -> nn.Module:
    module = nn.Module()
    module.body = nn.Sequential(nn.Conv2d(n, n * 2, 3, 1, 1, bias=False), nn.PixelShuffle(2))
    module.forward = module.body.forward  # type: ignore[method-assign]
    return module


class AuthorsRestormer(nn.Module):
    """Restormer as the authors write it, with Deraining/test.py's padding and crop."""

    def __init__(self, dim: int = 48, num_blocks: tuple[int, ...] = (4, 6, 6, 8),
                 refinement: int = 4, heads: tuple[int, ...] = (1, 2, 4, 8),
                 factor: float = 2.66) -> None:
        super().__init__()

        def stage(d: int, n: int, h: int) -> nn.Sequential:
            return nn.Sequential(*[TransformerBlock(d, h, factor) for _ in range(n)])

        self.patch_embed = PatchEmbed(dim)
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
        self.refinement = stage(dim * 2, refinement, heads[0])
        self.output = nn.Conv2d(dim * 2, 3, 3, 1, 1, bias=False)

    def network(self, inp: torch.Tensor) -> torch.Tensor:
        e1 = self.encoder_level1(self.patch_embed(inp))
        e2 = self.encoder_level2(self.down1_2(e1))
        e3 = self.encoder_level3(self.down2_3(e2))
        latent = self.latent(self.down3_4(e3))
        d3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(latent), e3], 1)))
        d2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], 1)))
        d1 = self.decoder_level1(torch.cat([self.up2_1(d2), e1], 1))
        return self.output(self.refinement(d1)) + inp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padh = ((h + 8) // 8) * 8 - h if h % 8 else 0
        padw = ((w + 8) // 8) * 8 - w if w % 8 else 0
        x = F.pad(x, (0, padw, 0, padh), "reflect")
        return self.network(x)[..., :h, :w]


# --------------------------------------------------------------------------------------------


def randomise_(net: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights that make every block act (as the fixtures' README draws them)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.ndim == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=generator) * 0.6 / fan_in ** 0.5)
            elif name.endswith("temperature") or name.endswith("weight"):
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
    args = parser.parse_args()
    authors = randomise_(AuthorsRestormer()).eval()
    rainkit = build_model("restormer").eval()
    rainkit.load_state_dict(authors.state_dict(), strict=True)
    nhwc = build_model("restormer").eval().to(memory_format=torch.channels_last)
    nhwc.load_state_dict(authors.state_dict(), strict=True)
    x = torch.rand(1, 3, args.height, args.width, generator=torch.Generator().manual_seed(1))
    x_nhwc = x.contiguous(memory_format=torch.channels_last)
    print(f"torch {torch.__version__}, Restormer (released configuration, 26,126,644 "
          f"parameters, random weights), 1 x 3 x {args.height} x {args.width} float32, "
          f"no_grad, median of {args.rounds} interleaved rounds, seconds per image")
    with torch.no_grad():
        reference = authors(x)
        for name, out in (("rainkit", rainkit(x)), ("rainkit-NHWC", nhwc(x_nhwc))):
            diff = (out - reference).abs().max().item()
            print(f"max |{name} - authors| = {diff:.2e} (mean |authors - input| = "
                  f"{(reference - x).abs().mean().item():.3f})")
        print("| threads | authors | rainkit | rainkit-NHWC | authors / rainkit | "
              "authors / rainkit-NHWC |")
        print("|---|---|---|---|---|---|")
        for threads in args.threads:
            torch.set_num_threads(threads)
            t = timed({"authors": lambda: authors(x), "rainkit": lambda: rainkit(x),
                       "rainkit-NHWC": lambda: nhwc(x_nhwc)}, args.rounds)
            print(f"| {threads} | {t['authors']:.3f} | {t['rainkit']:.3f} | "
                  f"{t['rainkit-NHWC']:.3f} | {t['authors'] / t['rainkit']:.2f}x | "
                  f"{t['authors'] / t['rainkit-NHWC']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
