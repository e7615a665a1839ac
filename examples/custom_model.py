"""Build your own deraining network from rainkit blocks in a few lines.

The seed's "Mymodel" was a user's own network. With :mod:`rainkit.nn` it is a handful of
blocks: a head convolution, a dilated residual stack for a wide receptive field, pyramid pooling
for image-wide context, and a tail predicting the rain layer, subtracted from the input.

    python examples/custom_model.py                 # 64 channels, 128 x 128 input
    python examples/custom_model.py --channels 8 --size 33
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from rainkit.init import kaiming_init_
from rainkit.nn import DilatedResidualStack, PyramidPooling, ResidualBlock, receptive_field


class MyModel(nn.Module):
    """A user's network: image (B, 3, H, W) in [0, 1] -> derained image of the same shape."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        context = PyramidPooling(channels, bins=(1, 2, 4))
        self.rain = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
            ResidualBlock(channels, norm_layer=nn.BatchNorm2d, activate_after_add=True),
            DilatedResidualStack(channels, dilations=(1, 2, 4)),
            context,
            nn.Conv2d(context.out_channels, 3, 3, padding=1),
        )
        kaiming_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.rain(x)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=128, help="input height and width")
    args = parser.parse_args(argv)
    model = MyModel(args.channels).eval()
    x = torch.rand(1, 3, args.size, args.size)
    with torch.no_grad():
        y = model(x)
    params = sum(p.numel() for p in model.parameters())
    # The local receptive field, measured without the pyramid's global branches.
    local = nn.Sequential(*list(model.rain)[:4])
    rf_local = receptive_field(local, size=65, samples=2)
    rf = receptive_field(model, size=args.size | 1, samples=2)
    print(f"output {tuple(y.shape)}, {params:,} parameters")
    print(f"receptive field: {rf_local[0]} x {rf_local[1]} pixels through the convolutions, "
          f"{rf[0]} x {rf[1]} (the whole {args.size | 1}-pixel input) with pyramid pooling")
    return {"shape": tuple(y.shape), "params": params, "rf_local": rf_local, "rf": rf}


if __name__ == "__main__":
    main()
