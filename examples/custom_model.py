"""Your own deraining network: built from rainkit blocks, registered, trained, saved and loaded.

A network of your own joins rainkit in two steps:

1. derive it from :class:`rainkit.nn.RainNet` (set ``in_channels``, implement
   ``_separate(x) -> (derained, rain)``) and give its constructor keyword arguments with
   JSON-like values, so a checkpoint can store them;
2. register it under a name with :func:`rainkit.nn.register_model`. From then on
   ``rainkit.nn.build_model("mynet", ...)``, :func:`rainkit.checkpoint.load_model` and
   ``examples/train.py --model mynet`` know it.

This file does both at import, so ``examples/train.py`` can train the network with every feature
it has (validation, checkpoints, resume, DDP, ...) by importing this file first::

    python examples/train.py --model_module examples/custom_model.py --model mynet \\
        --model_kwargs '{"channels": 32}' --data_dir /data/rain-dev/train

(and again ``--model_module examples/custom_model.py`` with ``--resume`` or ``--mode test``: a
checkpoint of ``mynet`` is rebuilt from the registered class). Run as a script, it prints the
network's size and receptive field, trains it for a few steps on synthetic rain with rainkit's
data and losses, saves a checkpoint and loads it back::

    python examples/custom_model.py                  # 64 channels, 128-pixel patches, 20 steps
    python examples/custom_model.py --channels 8 --size 33 --steps 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from skimage import data as skdata
from torch import nn

from rainkit.checkpoint import load_model, save_checkpoint
from rainkit.data import SyntheticRainDataset
from rainkit.init import kaiming_init_
from rainkit.loss import CharbonnierLoss
from rainkit.nn import (
    DilatedResidualStack,
    PyramidPooling,
    RainNet,
    ResidualBlock,
    receptive_field,
    register_model,
)


class MyNet(RainNet):
    """A user's network: image :math:`(B, 3, H, W)` in [0, 1] -> derained image, same shape.

    A head convolution, a residual block, a dilated residual stack for a wide receptive field,
    pyramid pooling for image-wide context, and a tail predicting the rain layer, which is
    subtracted from the input.
    """

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.in_channels, self.channels = 3, channels
        context = PyramidPooling(channels, bins=(1, 2, 4))
        self.rain = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
            ResidualBlock(channels, norm_layer=nn.BatchNorm2d, activate_after_add=True),
            DilatedResidualStack(channels, dilations=(1, 2, 4)),
            context,
            nn.Conv2d(context.out_channels, 3, 3, padding=1),
        )
        kaiming_init_(self)

    def _separate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rain = self.rain(x)
        return x - rain, rain


# Re-running this file in one process (a notebook) defines a new class: replace the entry then.
register_model("mynet", MyNet, overwrite=True)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64, help="(default: %(default)s)")
    parser.add_argument("--size", type=int, default=128,
                        help="side of the training patches (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=20, help="training steps "
                        "(default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("runs/custom/mynet.pt"),
                        help="where the checkpoint goes (default: %(default)s)")
    args = parser.parse_args(argv)
    for name in ("channels", "size", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    torch.manual_seed(0)
    model = MyNet(args.channels)
    params = sum(p.numel() for p in model.parameters())
    # The local receptive field, measured without the pyramid's global branches.
    rf_local = receptive_field(nn.Sequential(*list(model.rain)[:4]), size=65, samples=2)
    rf = receptive_field(model, size=args.size | 1, samples=2)
    print(f"{params:,} parameters; receptive field {rf_local[0]} x {rf_local[1]} pixels through "
          f"the convolutions, {rf[0]} x {rf[1]} (the whole {args.size | 1}-pixel input) with "
          "pyramid pooling")

    photo = torch.from_numpy(np.asarray(skdata.astronaut(), np.float32) / 255).permute(2, 0, 1)
    pairs = SyntheticRainDataset([photo], patch_size=args.size, samples_per_image=4 * args.steps,
                                 augment=True, seed=0)
    loader = torch.utils.data.DataLoader(pairs, batch_size=4, shuffle=True)
    criterion, optimizer = CharbonnierLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for rainy, clean, _ in loader:
        loss = criterion(model(rainy), clean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    print(f"{len(losses)} training steps on synthetic rain: Charbonnier loss {losses[0]:.4f} -> "
          f"{losses[-1]:.4f}")

    save_checkpoint(args.out, model, model_name="mynet", model_kwargs={"channels": args.channels})
    loaded = load_model(args.out)  # rebuilt by name from rainkit.nn.MODELS: no code needed here
    with torch.no_grad():
        same = torch.equal(loaded(rainy), model.eval()(rainy))
    print(f"checkpoint {args.out}: reloads as {type(loaded).__name__}(channels="
          f"{loaded.channels}), same output: {same}")
    return {"params": params, "rf_local": rf_local, "rf": rf, "losses": losses,
            "checkpoint": args.out, "same_output": same}


if __name__ == "__main__":
    main()
