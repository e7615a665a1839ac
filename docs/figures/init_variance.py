"""Figure for the Kaiming guide: activation second moment through a deep conv-ReLU stack.

Run by hand (``python docs/figures/init_variance.py``); writes
``docs/_static/figures/init_variance.png``.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch import nn

from rainkit.init import kaiming_init_

OUT = Path(__file__).resolve().parents[1] / "_static" / "figures" / "init_variance.png"


def second_moments(init: str, depth: int = 30, channels: int = 32) -> list[float]:
    """Mean square of the activations after each of ``depth`` conv-ReLU layers."""
    torch.manual_seed(0)
    layers = [nn.Conv2d(channels, channels, 3, padding=1) for _ in range(depth)]
    for conv in layers:
        if init == "kaiming (gain sqrt 2)":
            kaiming_init_(conv, mode="fan_in")
        elif init == "no ReLU gain (gain 1)":
            nn.init.normal_(conv.weight, std=1 / math.sqrt(conv.weight[0].numel()))
            nn.init.zeros_(conv.bias)
        # "PyTorch default" keeps nn.Conv2d's own kaiming_uniform_(a=sqrt(5)).
    x = torch.randn(8, channels, 32, 32)
    moments = []
    with torch.no_grad():
        for conv in layers:
            x = torch.relu(conv(x))
            moments.append(x.pow(2).mean().item())
    return moments


def main() -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for init in ("kaiming (gain sqrt 2)", "no ReLU gain (gain 1)", "PyTorch default"):
        ax.semilogy(range(1, 31), second_moments(init), marker="o", markersize=3, label=init)
    ax.set_xlabel("layer (3x3 conv + ReLU, 32 channels)")
    ax.set_ylabel("mean square activation")
    ax.set_title("Signal through depth at initialisation")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT)


if __name__ == "__main__":
    main()
