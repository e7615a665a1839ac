"""Benchmark MPRNet inference on CPU: rainkit against the authors' formulation of the network.

The reference is MPRNet (deraining configuration) as Zamir et al. (CVPR 2021) formulate it in
``Deraining/MPRNet.py``, written out here independently of rainkit, module for module with the
authors' names (so the same state dict loads into both): stage 1 runs each of the four quarter
patches through ``shallow_feat1`` and the encoder on its own, concatenates the features, decodes
the top and the bottom half on their own; stage 2 likewise with two halves; every resampling is
``nn.Upsample`` (bilinear, x0.5 or x2) *followed* by its 1x1 convolution; ORSNet applies each
upsampler and its 1x1 convolutions in turn; CABs are ``conv, PReLU, conv``, channel attention
``x * sigmoid(...)`` and ``+= x``; NCHW, float32. The input is reflect-padded to a multiple of
8 and cropped back, as the authors' ``demo.py`` does. rainkit's :class:`~rainkit.nn.MPRNet`
gets the same random weights and both run under ``torch.no_grad()`` on the same image. The
script prints their largest output difference, then the median time per image of interleaved
rounds (one call of each per round), for each thread count, and the ratio authors / rainkit.
``authors-NHWC`` is the same reference in the channels_last layout.

Run by hand, under the shared CPU lock::

    flock /tmp/rainkit-cpu.lock env PYTHONPATH=src .venv/bin/python benchmarks/bench_mprnet.py
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from _timing import timed
from rainkit.nn import build_model


def conv(cin: int, cout: int, k: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)


class CALayer(nn.Module):
    def __init__(self, c: int, reduction: int) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(conv(c, c // reduction, 1), nn.ReLU(inplace=True),
                                     conv(c // reduction, c, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.avg_pool(x))


class CAB(nn.Module):
    def __init__(self, c: int, act: nn.Module) -> None:
        super().__init__()
        self.CA = CALayer(c, 4)
        self.body = nn.Sequential(conv(c, c, 3), act, conv(c, c, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.CA(self.body(x))
        res += x
        return res


class SAM(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = conv(c, c, 1), conv(c, 3, 1), conv(3, c, 1)

    def forward(self, x: torch.Tensor, x_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.conv2(x) + x_img
        return self.conv1(x) * torch.sigmoid(self.conv3(img)) + x, img


class Resample(nn.Module):
    """``nn.Upsample(scale)`` then a 1x1 convolution (the authors' DownSample / UpSample)."""

    def __init__(self, cin: int, cout: int, scale: float, attr: str) -> None:
        super().__init__()
        self.attr = attr
        setattr(self, attr, nn.Sequential(nn.Upsample(scale_factor=scale, mode="bilinear",
                                                      align_corners=False),
                                          nn.Conv2d(cin, cout, 1, bias=False)))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        y = getattr(self, self.attr)(x)
        return y if skip is None else y + skip


class Encoder(nn.Module):
    def __init__(self, n: int, s: int, act: nn.Module, csff: bool) -> None:
        super().__init__()
        widths = (n, n + s, n + 2 * s)
        for i, c in enumerate(widths, 1):
            setattr(self, f"encoder_level{i}", nn.Sequential(CAB(c, act), CAB(c, act)))
        self.down12 = Resample(n, n + s, 0.5, "down")
        self.down23 = Resample(n + s, n + 2 * s, 0.5, "down")
        if csff:
            for kind in ("enc", "dec"):
                for i, c in enumerate(widths, 1):
                    setattr(self, f"csff_{kind}{i}", nn.Conv2d(c, c, 1, bias=False))

    def forward(self, x: torch.Tensor, e: list[torch.Tensor] | None = None,
                d: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        outs = []
        for i in (1, 2, 3):
            if i > 1:
                x = getattr(self, f"down{i - 1}{i}")(x)
            x = getattr(self, f"encoder_level{i}")(x)
            if e is not None and d is not None:
                x = x + getattr(self, f"csff_enc{i}")(e[i - 1]) + getattr(
                    self, f"csff_dec{i}")(d[i - 1])
            outs.append(x)
        return outs


class Decoder(nn.Module):
    def __init__(self, n: int, s: int, act: nn.Module) -> None:
        super().__init__()
        for i, c in enumerate((n, n + s, n + 2 * s), 1):
            setattr(self, f"decoder_level{i}", nn.Sequential(CAB(c, act), CAB(c, act)))
        self.skip_attn1, self.skip_attn2 = CAB(n, act), CAB(n + s, act)
        self.up21 = Resample(n + s, n, 2.0, "up")
        self.up32 = Resample(n + 2 * s, n + s, 2.0, "up")

    def forward(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        enc1, enc2, enc3 = outs
        dec3 = self.decoder_level3(enc3)
        dec2 = self.decoder_level2(self.up32(dec3, self.skip_attn2(enc2)))
        dec1 = self.decoder_level1(self.up21(dec2, self.skip_attn1(enc1)))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    def __init__(self, c: int, act: nn.Module, num_cab: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*(CAB(c, act) for _ in range(num_cab)), conv(c, c, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = self.body(x)
        res += x
        return res


class ORSNet(nn.Module):
    def __init__(self, n: int, o: int, s: int, act: nn.Module, num_cab: int) -> None:
        super().__init__()
        for i in (1, 2, 3):
            setattr(self, f"orb{i}", ORB(n + o, act, num_cab))
        self.up_enc1 = Resample(n + s, n, 2.0, "up")
        self.up_dec1 = Resample(n + s, n, 2.0, "up")
        self.up_enc2 = nn.Sequential(Resample(n + 2 * s, n + s, 2.0, "up"),
                                     Resample(n + s, n, 2.0, "up"))
        self.up_dec2 = nn.Sequential(Resample(n + 2 * s, n + s, 2.0, "up"),
                                     Resample(n + s, n, 2.0, "up"))
        for kind in ("enc", "dec"):
            for i in (1, 2, 3):
                setattr(self, f"conv_{kind}{i}", nn.Conv2d(n, n + o, 1, bias=False))

    def forward(self, x: torch.Tensor, e: list[torch.Tensor], d: list[torch.Tensor]
                ) -> torch.Tensor:
        x = self.orb1(x)
        x = x + self.conv_enc1(e[0]) + self.conv_dec1(d[0])
        x = self.orb2(x)
        x = x + self.conv_enc2(self.up_enc1(e[1])) + self.conv_dec2(self.up_dec1(d[1]))
        x = self.orb3(x)
        return x + self.conv_enc3(self.up_enc2(e[2])) + self.conv_dec3(self.up_dec2(d[2]))


class AuthorsMPRNet(nn.Module):
    """MPRNet (deraining defaults: n_feat 40, scale_unetfeats 20, scale_orsnetfeats 16)."""

    def __init__(self, n: int = 40, s: int = 20, o: int = 16, num_cab: int = 8) -> None:
        super().__init__()
        act = nn.PReLU()
        for i in (1, 2, 3):
            setattr(self, f"shallow_feat{i}", nn.Sequential(conv(3, n, 3), CAB(n, act)))
        self.stage1_encoder = Encoder(n, s, act, csff=False)
        self.stage1_decoder = Decoder(n, s, act)
        self.stage2_encoder = Encoder(n, s, act, csff=True)
        self.stage2_decoder = Decoder(n, s, act)
        self.stage3_orsnet = ORSNet(n, o, s, act, num_cab)
        self.sam12, self.sam23 = SAM(n), SAM(n)
        self.concat12 = conv(2 * n, n, 3)
        self.concat23 = conv(2 * n, n + o, 3)
        self.tail = conv(n + o, 3, 3)

    def net(self, x3: torch.Tensor) -> torch.Tensor:
        h, w = x3.shape[2], x3.shape[3]
        top, bot = x3[:, :, : int(h / 2)], x3[:, :, int(h / 2):]
        quarters = [top[..., : int(w / 2)], top[..., int(w / 2):], bot[..., : int(w / 2)],
                    bot[..., int(w / 2):]]
        f = [self.stage1_encoder(self.shallow_feat1(q)) for q in quarters]
        f_top = [torch.cat((k, v), 3) for k, v in zip(f[0], f[1], strict=True)]
        f_bot = [torch.cat((k, v), 3) for k, v in zip(f[2], f[3], strict=True)]
        r_top, r_bot = self.stage1_decoder(f_top), self.stage1_decoder(f_bot)
        s_top, _ = self.sam12(r_top[0], top)
        s_bot, _ = self.sam12(r_bot[0], bot)
        x2_top = self.concat12(torch.cat([self.shallow_feat2(top), s_top], 1))
        x2_bot = self.concat12(torch.cat([self.shallow_feat2(bot), s_bot], 1))
        g_top = self.stage2_encoder(x2_top, f_top, r_top)
        g_bot = self.stage2_encoder(x2_bot, f_bot, r_bot)
        g = [torch.cat((k, v), 2) for k, v in zip(g_top, g_bot, strict=True)]
        r2 = self.stage2_decoder(g)
        s3, _ = self.sam23(r2[0], x3)
        x3_cat = self.concat23(torch.cat([self.shallow_feat3(x3), s3], 1))
        return self.tail(self.stage3_orsnet(x3_cat, g, r2)) + x3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        hp, wp = (h + 7) // 8 * 8, (w + 7) // 8 * 8
        padded = F.pad(x, (0, wp - w, 0, hp - h), "reflect")
        return self.net(padded)[:, :, :h, :w]




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=321)
    parser.add_argument("--width", type=int, default=481)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    args = parser.parse_args()
    torch.manual_seed(0)
    authors = AuthorsMPRNet().eval()
    with torch.no_grad():  # trained-like, non-zero output layers (PyTorch's init elsewhere)
        for p in authors.parameters():
            if p.dim() == 4:
                p.normal_(0, 0.6 / (p[0].numel() ** 0.5))
    rainkit = build_model("mprnet").eval()
    rainkit.load_state_dict(authors.state_dict())
    authors_nhwc = AuthorsMPRNet().eval().to(memory_format=torch.channels_last)
    authors_nhwc.load_state_dict(authors.state_dict())
    y = torch.rand(1, 3, args.height, args.width)
    y_nhwc = y.contiguous(memory_format=torch.channels_last)
    print(f"torch {torch.__version__}, MPRNet (deraining, 3,637,249 parameters), 1 x 3 x "
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
                       "rainkit": lambda: rainkit(y)}, args.rounds, args.warmup)
            print(f"| {threads:>7} | {t['authors']:>8.3f} | {t['authors-NHWC']:>12.3f} | "
                  f"{t['rainkit']:>8.3f} | {t['authors'] / t['rainkit']:>16.2f}x |", flush=True)


if __name__ == "__main__":
    main()
