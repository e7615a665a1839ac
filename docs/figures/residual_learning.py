"""Figures for the residual-learning guide: residual vs direct mapping, and a learned rain layer.

Run by hand, with the rain-dev pairs beside the checkout (a few CPU minutes)::

    python docs/figures/residual_learning.py [../shared/data/rain-dev]

Trains the same small U-Net twice on real rainy/clean patches with the same seed, data order and
optimiser: once predicting the clean image directly (``residual=False``), once predicting the rain
layer that is subtracted from the input (``residual=True``). Writes
``docs/_static/figures/residual_vs_direct.png`` (validation Y-PSNR against training step) and
``docs/_static/figures/rain_layer.png`` (rainy | predicted rain layer | derained | clean).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from rainkit.data import PairedRainDataset
from rainkit.metrics import psnr
from rainkit.nn import UNet

HERE = Path(__file__).resolve()
FIGURES = HERE.parents[1] / "_static" / "figures"
DEFAULT_DATA = HERE.parents[3] / "shared" / "data" / "rain-dev"
STEPS, EVAL_EVERY, PATCH, BATCH, CROP = 200, 20, 48, 8, 128


def validation_crops(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    rainy, clean = [], []
    for r, c, _ in PairedRainDataset(root / "val"):
        top, left = (r.shape[1] - CROP) // 2, (r.shape[2] - CROP) // 2
        rainy.append(r[:, top:top + CROP, left:left + CROP])
        clean.append(c[:, top:top + CROP, left:left + CROP])
    return torch.stack(rainy), torch.stack(clean)


def train(root: Path, residual: bool) -> tuple[UNet, list[int], list[float]]:
    torch.manual_seed(0)
    model = UNet(base_channels=16, depth=3, residual=residual)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = PairedRainDataset(root / "train", patch_size=PATCH, augment=True)
    loader = DataLoader(data, batch_size=BATCH, shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(0))
    val_rainy, val_clean = validation_crops(root)
    steps, scores, step = [], [], 0
    while step < STEPS:
        for rainy, clean, _ in loader:
            loss = torch.nn.functional.l1_loss(model(rainy), clean)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if step % EVAL_EVERY == 0 or step == 1:
                with torch.no_grad():
                    out = model(val_rainy).clamp(0, 1)
                steps.append(step)
                scores.append(psnr(out, val_clean, y_channel=True).item())
                print(f"residual={residual} step {step}: val Y-PSNR {scores[-1]:.2f} dB",
                      flush=True)
            if step == STEPS:
                break
    return model, steps, scores


def main() -> None:
    torch.set_num_threads(2)
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    val_rainy, val_clean = validation_crops(root)
    input_score = psnr(val_rainy, val_clean, y_channel=True).item()
    results = {residual: train(root, residual) for residual in (False, True)}

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for residual, (_, steps, scores) in results.items():
        label = "residual: output = rainy - f(rainy)" if residual else "direct: output = f(rainy)"
        ax.plot(steps, scores, marker="o", markersize=3, label=label)
    ax.axhline(input_score, color="gray", linestyle="--", label="rainy input")
    ax.set_xlabel("training step (batch 8, 48x48 patches)")
    ax.set_ylabel("validation Y-PSNR (dB)")
    ax.set_title("Same U-Net, same data: residual vs direct")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "residual_vs_direct.png")

    model = results[True][0]
    with torch.no_grad():
        derained = model(val_rainy[:1]).clamp(0, 1)[0]
    rain = val_rainy[0] - derained
    panels = [val_rainy[0], (rain / rain.abs().max().clamp_min(1e-6)).abs(), derained, val_clean[0]]
    titles = ["rainy", "predicted rain layer (scaled)", "derained", "clean"]
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9), dpi=100)
    for ax, image, title in zip(axes, panels, titles):
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(FIGURES / "rain_layer.png")
    # Photographic panels: shrink and palette-quantise to keep the committed file small.
    from PIL import Image

    image = Image.open(FIGURES / "rain_layer.png").convert("RGB")
    image = image.resize((image.width * 4 // 5, image.height * 4 // 5), Image.LANCZOS)
    image.quantize(256).save(FIGURES / "rain_layer.png", optimize=True)


if __name__ == "__main__":
    main()
