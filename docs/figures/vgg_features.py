"""Figure for the feature-losses guide: what VGG19 layers respond to, on a rainy photo.

Run by hand (``python docs/figures/vgg_features.py``); writes
``docs/_static/figures/vgg_features.png``. Uses torchvision's ImageNet weights
(``vgg19-dcbb9e9d.pth`` in ``torch.hub.get_dir()/checkpoints``) when the file is there, and
random weights otherwise; the figure's title says which, and the guide's caption must match.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from skimage import data

from rainkit.data import synthesize_rain
from rainkit.init import kaiming_init_
from rainkit.loss import VGGFeatures
from rainkit.loss.vgg import VGG19_WEIGHTS_FILE

OUT = Path(__file__).resolve().parents[1] / "_static" / "figures" / "vgg_features.png"
LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def load_vgg() -> tuple[VGGFeatures, str]:
    path = os.path.join(torch.hub.get_dir(), "checkpoints", VGG19_WEIGHTS_FILE)
    if os.path.isfile(path):
        return VGGFeatures(LAYERS, vgg_weights="imagenet", normalize=True), "ImageNet VGG19"
    torch.manual_seed(0)
    vgg = VGGFeatures(LAYERS, vgg_weights=None, normalize=True)
    kaiming_init_(vgg.features, mode="fan_in")  # keeps the signal alive through depth
    return vgg, "RANDOM Kaiming-initialised weights (ImageNet file not found)"


def normalise(m: torch.Tensor) -> torch.Tensor:
    return (m - m.min()) / (m.max() - m.min()).clamp_min(1e-12)


def save_small(fig: plt.Figure, path: Path) -> None:
    """Save as a 256-colour palette PNG (a fraction of the size of a full-colour one)."""
    fig.canvas.draw()
    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    image.quantize(colors=256).save(path, optimize=True)


def main() -> None:
    torch.set_num_threads(1)
    photo = torch.from_numpy(data.astronaut()[:192, 128:320]).permute(2, 0, 1).float() / 255
    rainy, _ = synthesize_rain(photo, density=0.01, length=21, angle=15, seed=0)
    vgg, label = load_vgg()
    with torch.no_grad():
        f_rainy = vgg(rainy[None])
        f_clean = vgg(photo[None])
    columns = ("strongest channel", "2nd channel", "mean over channels",
               "mean |rainy - clean|")
    fig, axes = plt.subplots(len(LAYERS), 5, figsize=(8.5, 8.9), dpi=64)
    for row, name in enumerate(LAYERS):
        fr, fc = f_rainy[name][0], f_clean[name][0]
        order = fr.flatten(1).var(dim=1).argsort(descending=True)
        panels = (fr[order[0]], fr[order[1]], fr.mean(0), (fr - fc).abs().mean(0))
        if row < 2:
            axes[row, 0].imshow((rainy if row == 0 else photo).permute(1, 2, 0).numpy())
        else:
            axes[row, 0].set_frame_on(False)
        axes[row, 0].set_ylabel(f"{name}\n{fr.shape[0]} x {fr.shape[1]} x {fr.shape[2]}",
                                fontsize=9)
        for col, panel in enumerate(panels, start=1):
            axes[row, col].imshow(normalise(panel).numpy(), cmap="gray",
                                  interpolation="nearest")
            if row == 0:
                axes[row, col].set_title(columns[col - 1], fontsize=9)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("rainy input", fontsize=9)
    axes[1, 0].set_title("clean", fontsize=9)
    fig.suptitle(f"VGG19 activations of a rainy photo, {label}", fontsize=10)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_small(fig, OUT)


if __name__ == "__main__":
    main()
