"""Benchmark NeRD-Rain inference on CPU: rainkit against the authors' formulation of the network.

The reference is NeRD-Rain (``MultiscaleNet``, ``dim=48``; ``--small`` for NeRD-Rain-S) as Chen et
al. (CVPR 2024) formulate it in ``model.py``, ``mlp.py`` and ``test.py``, written out here
independently of rainkit with the authors' module names (so the same state dict loads into
both): LayerNorm as ``(x - mean) / sqrt(var + 1e-5)`` over the channels of a ``b (h w) c`` copy
and back; transposed attention with L2-normalised ``q`` and ``k`` copied to ``b head c (h w)``,
``softmax(q k^T * temperature) @ v``, back to ``b c h w``, ``project_out``; the GDFN with
``chunk`` and ``gelu(x1) * x2``; both INRs as LIIF queries (unfold 3x3, coordinates with their
sinusoidal encoding, cell sizes, four local-ensemble MLP passes weighted by area);
``Fusion``; nearest ``F.interpolate`` for every rescaling; NCHW, float32. The test-time
processing is the authors' ``test.py``: ``window_partitionx`` into 256 x 256 windows (grid, right
column, bottom row, corner), one batch through the network, ``window_reversex``. rainkit's
:class:`~rainkit.nn.families.nerdrain.NeRDRain` gets the same random weights and both run under
``torch.no_grad()`` on the same image. The script prints their largest output difference, then
the median time per image of interleaved rounds, for each thread count, and the ratio.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_nerdrain.py
"""

from __future__ import annotations

import argparse
import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from _timing import timed
from rainkit.nn import build_model

# -- the network ---------------------------------------------------------------------------------


class BasicConv(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class WithBiasLayerNorm(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(-1, keepdim=True)
        sigma = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(sigma + 1e-5) * self.weight + self.bias


class LayerNorm(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = WithBiasLayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        y = self.body(x.permute(0, 2, 3, 1).reshape(b, h * w, c))  # b (h w) c
        return y.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()  # b c h w


class Attention(nn.Module):
    def __init__(self, c: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(c, 3 * c, 1, bias=False)
        self.qkv_dwconv = BasicConv(3 * c)
        self.project_out = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(b, self.heads, c // self.heads, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
        return self.project_out((attn @ v).reshape(b, c, h, w))


class FeedForward(nn.Module):
    def __init__(self, c: int, factor: float) -> None:
        super().__init__()
        hidden = int(c * factor)
        self.project_in = nn.Conv2d(c, 2 * hidden, 1, bias=False)
        self.dwconv = BasicConv(2 * hidden)
        self.project_out = nn.Conv2d(hidden, c, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


class TransformerBlock(nn.Module):
    def __init__(self, c: int, heads: int, factor: float) -> None:
        super().__init__()
        self.norm1, self.attn = LayerNorm(c), Attention(c, heads)
        self.norm2, self.ffn = LayerNorm(c), FeedForward(c, factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class Embed(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, c, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def resample(c: int, down: bool) -> nn.Module:
    m = nn.Module()
    m.body = nn.Sequential(nn.Conv2d(c, c // 2 if down else 2 * c, 3, padding=1, bias=False),
                           nn.PixelUnshuffle(2) if down else nn.PixelShuffle(2))
    m.forward = m.body.forward  # type: ignore[method-assign]
    return m


def make_coord(shape: tuple[int, int]) -> torch.Tensor:
    seqs = []
    for n in shape:
        r = 1 / n
        seqs.append(-1 + r + 2 * r * torch.arange(n).float())
    return torch.stack(torch.meshgrid(*seqs, indexing="ij"), dim=-1)


def encode(p: torch.Tensor) -> torch.Tensor:
    freq = 2 ** torch.arange(4, dtype=torch.float32) * math.pi
    spectrum = p[..., None] * freq
    enc = torch.stack([spectrum.sin(), spectrum.cos()], dim=-2)
    return torch.cat([p, enc.reshape(*p.shape[:-1], -1)], dim=-1)


class INR(nn.Module):
    """LIIF query of every feature pixel (``mlp.py``): four local-ensemble passes."""

    def __init__(self, c: int) -> None:
        super().__init__()
        widths = [9 * c + 20, 256, 256, 256]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.imnet = nn.Module()
        self.imnet.layers = nn.Sequential(*layers, nn.Linear(256, 3))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        b, c, h, w = feat.shape
        coord = encode(make_coord((h, w)).reshape(-1, 2)).unsqueeze(0).repeat(b, 1, 1)
        cell = torch.ones(h * w, 2)
        cell[:, 0] *= 2 / h
        cell[:, 1] *= 2 / w
        cell = cell.unsqueeze(0).repeat(b, 1, 1)
        feat = F.unfold(feat, 3, padding=1).view(b, c * 9, h, w)
        feat_coord = make_coord((h, w)).permute(2, 0, 1).unsqueeze(0).expand(b, 2, h, w)
        preds, areas = [], []
        for vx in (-1, 1):
            for vy in (-1, 1):
                shifted = coord.clone()  # the authors compute and never use it
                shifted[:, :, 0] += vx / h + 1e-6
                shifted[:, :, 1] += vy / w + 1e-6
                shifted.clamp_(-1 + 1e-6, 1 - 1e-6)
                q_feat = feat.view(b, c * 9, -1).permute(0, 2, 1)
                q_coord = encode(feat_coord.reshape(b, 2, -1).permute(0, 2, 1))
                rel = coord - q_coord
                rel[:, :, 0] *= h
                rel[:, :, 1] *= w
                rel_cell = cell.clone()
                rel_cell[:, :, 0] *= h
                rel_cell[:, :, 1] *= w
                inp = torch.cat([q_feat, rel, rel_cell], dim=-1)
                preds.append(self.imnet.layers(inp.view(b * h * w, -1)).view(b, h * w, -1))
                areas.append(torch.abs(rel[:, :, 0] * rel[:, :, 1]) + 1e-9)
        total = torch.stack(areas).sum(dim=0)
        areas = [areas[3], areas[2], areas[1], areas[0]]
        ret = sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, areas, strict=True))
        return ret.view(b, h, w, -1).permute(0, 3, 1, 2)  # type: ignore[union-attr]


class Fusion(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.query_conv = nn.Conv2d(c, c, 3, 1, 1)
        self.key_conv = nn.Conv2d(c, c, 3, 1, 1)
        self.gamma1 = nn.Conv2d(2 * c, 2, 3, 1, 1)
        self.gamma2 = nn.Conv2d(2 * c, 2, 3, 1, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        a = torch.sigmoid(self.query_conv(x) * self.key_conv(y))
        ax, ay = x * a, y * a
        xg = self.gamma1(torch.cat((x, ax), 1))
        yg = self.gamma2(torch.cat((y, ay), 1))
        return x * xg[:, [0]] + ax * xg[:, [1]] + (y * yg[:, [0]] + ay * yg[:, [1]])


def interp(x: torch.Tensor, s: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=s)


class AuthorsNeRDRain(nn.Module):
    """``MultiscaleNet`` with the released defaults (``dim=48``; ``dim=32`` for NeRD-Rain-S)."""

    def __init__(self, d: int = 48, nb: tuple[int, int, int] = (2, 3, 3)) -> None:
        super().__init__()
        hs, f = (1, 2, 4), 2.66

        def stack(level: int) -> nn.Sequential:
            return nn.Sequential(*(TransformerBlock(d * 2 ** level, hs[level], f)
                                   for _ in range(nb[level])))

        def red(level: int) -> nn.Conv2d:
            return nn.Conv2d(d * 2 ** (level + 1), d * 2 ** level, 1, bias=False)

        def conv3(c: int) -> nn.Conv2d:
            return nn.Conv2d(d, c, 3, padding=1, bias=False)

        self.patch_embed_small = Embed(d)
        self.encoder_level1_small, self.down1_2_small = stack(0), resample(d, True)
        self.encoder_level2_small, self.down2_3_small = stack(1), resample(2 * d, True)
        self.latent_small, self.up3_2_small = stack(2), resample(4 * d, False)
        self.reduce_chan_level2_small, self.decoder_level2_small = red(1), stack(1)
        self.up2_1_small, self.reduce_chan_level1_small = resample(2 * d, False), red(0)
        self.decoder_level1_small, self.output_small = stack(0), conv3(3)
        self.INR = INR(d)
        self.patch_embed_mid = Embed(d)
        parts = (("encoder_level1", lambda: stack(0)), ("down1_2", lambda: resample(d, True)),
                 ("encoder_level2", lambda: stack(1)), ("down2_3", lambda: resample(2 * d, True)),
                 ("latent", lambda: stack(2)), ("up3_2", lambda: resample(4 * d, False)),
                 ("reduce_chan_level2", lambda: red(1)), ("decoder_level2", lambda: stack(1)),
                 ("up2_1", lambda: resample(2 * d, False)), ("reduce_chan_level1", lambda: red(0)),
                 ("decoder_level1", lambda: stack(0)))
        for scale, n in (("mid", 2), ("max", 3)):
            for name, make in parts:
                for i in range(1, n + 1):
                    suffix = ("" if i == 1 else str(i)) if name.startswith(("down", "up")) else i
                    setattr(self, f"{name}_{scale}{suffix}", make())
            if scale == "mid":
                self.output_mid, self.output_mid_context = conv3(3), conv3(d)
                self.INR2 = INR(d)
                self.patch_embed_max = Embed(d)
        self.output_max, self.output_max_context1 = conv3(3), conv3(d)
        self.output_max_context2 = conv3(d)
        self.BF1, self.BF2, self.BF3 = Fusion(4 * d), Fusion(4 * d), Fusion(4 * d)
        self.upsmall2mid1, self.upsmall2mid2 = resample(4 * d, False), resample(2 * d, False)
        self.upmid2max1, self.upmid2max2 = resample(4 * d, False), resample(2 * d, False)

    def m(self, name: str) -> nn.Module:
        return getattr(self, name)

    def enc(self, x: torch.Tensor, s: str, i: int) -> tuple[torch.Tensor, ...]:
        j = "" if i == 1 else str(i)
        e1 = self.m(f"encoder_level1_{s}{i}")(x)
        e2 = self.m(f"encoder_level2_{s}{i}")(self.m(f"down1_2_{s}{j}")(e1))
        return e1, e2, self.m(f"latent_{s}{i}")(self.m(f"down2_3_{s}{j}")(e2))

    def dec(self, up: torch.Tensor, e1: torch.Tensor, e2: torch.Tensor, s: str, i: int,
            red1: int | None = None) -> torch.Tensor:
        j = "" if i == 1 else str(i)
        y = self.m(f"reduce_chan_level2_{s}{i}")(torch.cat([up, e2], 1))
        y = self.m(f"decoder_level2_{s}{i}")(y)
        y = torch.cat([self.m(f"up2_1_{s}{j}")(y), e1], 1)
        y = self.m(f"reduce_chan_level1_{s}{red1 or i}")(y)
        return self.m(f"decoder_level1_{s}{i}")(y)

    def forward(self, inp: torch.Tensor) -> list[torch.Tensor]:
        img_mid, img_small = interp(inp, 0.5), interp(inp, 0.25)
        e1s = self.encoder_level1_small(self.patch_embed_small(img_small))
        e2s = self.encoder_level2_small(self.down1_2_small(e1s))
        lat_s = self.latent_small(self.down2_3_small(e2s))
        small_ = self.INR(self.upsmall2mid2(self.upsmall2mid1(lat_s))) + img_small
        mid_img = img_mid + interp(small_, 2)
        e1m, e2m, lat_m = self.enc(self.patch_embed_mid(mid_img), "mid", 1)
        mid_ = self.INR2(self.upmid2max2(self.upmid2max1(lat_m))) + mid_img
        max_img = inp + interp(mid_, 2)
        e1, e2, lat1 = self.enc(self.patch_embed_max(max_img), "max", 1)
        y = self.dec(self.up3_2_max(lat1), e1, e2, "max", 1)
        e1, e2, lat2 = self.enc(self.output_max_context1(y), "max", 2)
        y = self.dec(self.up3_2_max2(lat2), e1, e2, "max", 2)
        e1, e2, lat3 = self.enc(self.output_max_context2(y), "max", 3)
        bff1, bff2 = interp(self.BF1(lat1, lat2), 0.5), interp(self.BF2(lat2, lat3), 0.5)
        up_max = self.up3_2_max3(lat3)
        y = self.dec(self.up3_2_mid(lat_m + bff1), e1m, e2m, "mid", 1)
        e1m, e2m, lat_m2 = self.enc(self.output_mid_context(y), "mid", 2)
        bff3 = interp(self.BF3(lat_m, lat_m2), 0.5)
        up_mid = self.up3_2_mid2(lat_m2 + bff2)
        lat_s = lat_s + bff3
        y = torch.cat([self.up3_2_small(lat_s), e2s], 1)
        y = self.decoder_level2_small(self.reduce_chan_level2_small(y))
        y = torch.cat([self.up2_1_small(y), e1s], 1)
        small_feat = self.decoder_level1_small(self.reduce_chan_level1_small(y))
        out_small = self.output_small(small_feat) + img_small
        mid_feat = self.dec(up_mid, e1m, e2m, "mid", 2) + interp(small_feat, 2)
        out_mid = self.output_mid(mid_feat) + img_mid
        feat = self.dec(up_max, e1, e2, "max", 3, red1=2) + interp(mid_feat, 2)
        out = self.output_max(feat) + inp
        return [out, out_mid, out_small, mid_, mid_img / 2, small_, img_small]


# -- test.py -------------------------------------------------------------------------------------


def partitions(x: torch.Tensor, win: int) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.view(b, c, h // win, win, w // win, win)
    return x.permute(0, 2, 4, 1, 3, 5).contiguous().view(-1, c, win, win)


def reverses(windows: torch.Tensor, win: int, h: int, w: int) -> torch.Tensor:
    c = windows.shape[1]
    x = windows.view(-1, h // win, w // win, c, win, win)
    return x.permute(0, 3, 1, 4, 2, 5).contiguous().view(-1, c, h, w)


def partitionx(x: torch.Tensor, win: int) -> tuple[torch.Tensor, list[int]]:
    _, _, height, width = x.shape
    h, w = win * (height // win), win * (width // win)
    parts = [partitions(x[:, :, :h, :w], win)]
    if w != width:
        parts.append(partitions(x[:, :, :h, -win:], win))
    if h != height:
        parts.append(partitions(x[:, :, -win:, :w], win))
    if h != height and w != width:
        parts.append(x[:, :, -win:, -win:])
    ends = list(torch.tensor([p.shape[0] for p in parts]).cumsum(0).tolist())
    return torch.cat(parts, 0), ends


def reversex(windows: torch.Tensor, win: int, height: int, width: int, ends: list[int]
             ) -> torch.Tensor:
    h, w = win * (height // win), win * (width // win)
    main = reverses(windows[: ends[0]], win, h, w)
    res = torch.zeros(main.shape[0], main.shape[1], height, width)
    res[:, :, :h, :w] = main
    k = 1
    if w != width:
        res[:, :, :h, w:] = reverses(windows[ends[0]:ends[1]], win, h, win)[:, :, :, w - width:]
        k = 2
    if h != height:
        d = reverses(windows[ends[k - 1]:ends[k]], win, win, w)
        res[:, :, h:, :w] = d[:, :, h - height:, :]
    if h != height and w != width:
        res[:, :, h:, w:] = windows[ends[2]:][:, :, h - height:, w - width:]
    return res


def authors_test(net: AuthorsNeRDRain, x: torch.Tensor, win: int = 256) -> torch.Tensor:
    windows, ends = partitionx(x, win)
    return reversex(net(windows)[0], win, x.shape[2], x.shape[3], ends)


# -- timing --------------------------------------------------------------------------------------




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--small", action="store_true", help="NeRD-Rain-S (dim 32)")
    args = parser.parse_args()
    torch.manual_seed(0)
    dim, name = (32, "nerdrain_s") if args.small else (48, "nerdrain")
    authors = AuthorsNeRDRain(dim).eval()
    with torch.no_grad():  # trained-like weights: non-zero output layers, varied norms
        for pname, p in authors.named_parameters():
            if p.dim() >= 2:
                p.normal_(0, 0.7 / (p[0].numel() ** 0.5))
            elif "temperature" in pname or pname.endswith("body.weight"):
                p.uniform_(0.5, 1.5)
            else:
                p.normal_(0, 0.05)
    rainkit = build_model(name).eval()
    rainkit.load_state_dict(authors.state_dict())
    y = torch.rand(1, 3, args.height, args.width)
    count = sum(p.numel() for p in rainkit.parameters())
    print(f"torch {torch.__version__}, {name} ({count:,} parameters), 1 x 3 x {args.height} x "
          f"{args.width} float32, windows of 256 (test.py), no_grad, median of {args.rounds} "
          "interleaved rounds, seconds per image")
    with torch.no_grad():
        diff = (rainkit(y) - authors_test(authors, y)).abs().max().item()
        print(f"max |rainkit - authors| = {diff:.2e}")
        print(f"| threads | {'authors':>8} | {'rainkit':>8} | authors / rainkit |")
        print("|---|---|---|---|")
        for threads in args.threads:
            torch.set_num_threads(threads)
            t = timed({"authors": lambda: authors_test(authors, y), "rainkit": lambda: rainkit(y)},
                      args.rounds, args.warmup)
            print(f"| {threads:>7} | {t['authors']:>8.3f} | {t['rainkit']:>8.3f} | "
                  f"{t['authors'] / t['rainkit']:>16.2f}x |", flush=True)


if __name__ == "__main__":
    main()
