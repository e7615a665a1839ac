"""Measure how far the SSIM/PSNR defaults of popular packages land from each other.

Run by hand (needs the ``bench`` extra and the rain-dev pairs beside the checkout)::

    python docs/figures/metric_conventions.py [../shared/data/rain-dev/val]

It scores each rainy image against its clean image and writes the mean over the images, as an
RST table, to ``docs/guides/_metric_conventions_table.rst`` (committed; the docs include it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).resolve()
OUT = HERE.parents[1] / "guides" / "_metric_conventions_table.rst"
DEFAULT_DATA = HERE.parents[3] / "shared" / "data" / "rain-dev" / "val"


def load_pairs(root: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = []
    for rainy_path in sorted((root / "rainy").glob("*.png")):
        rainy = np.asarray(Image.open(rainy_path).convert("RGB"))
        clean = np.asarray(Image.open(root / "clean" / rainy_path.name).convert("RGB"))
        pairs.append((rainy, clean))
    return pairs


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None].double() / 255.0


def rows() -> list[tuple[str, str, str, Callable[[np.ndarray, np.ndarray], float]]]:
    import kornia
    import piq
    import pytorch_msssim
    import torchmetrics.functional.image as tmf
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from rainkit.metrics import psnr, ssim

    def t(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        return lambda a, b: float(fn(to_tensor(a), to_tensor(b)).mean())

    return [
        ("SSIM", "rainkit, RGB (= scikit-image, Gaussian settings)", "ssim(x, y)",
         t(lambda a, b: ssim(a, b))),
        ("SSIM", "rainkit, Y of BT.601 YCbCr (paper convention)", "ssim(x, y, y_channel=True)",
         t(lambda a, b: ssim(a, b, y_channel=True))),
        ("SSIM", "scikit-image, Gaussian settings", "gaussian_weights=True, sigma=1.5, "
         "use_sample_covariance=False, data_range=255",
         lambda a, b: structural_similarity(a, b, channel_axis=-1, gaussian_weights=True,
                                            sigma=1.5, use_sample_covariance=False,
                                            data_range=255)),
        ("SSIM", "scikit-image, defaults", "7x7 uniform window, sample covariance, uint8",
         lambda a, b: structural_similarity(a, b, channel_axis=-1)),
        ("SSIM", "pytorch-msssim, defaults", "data_range=255 on [0, 1] input",
         t(lambda a, b: pytorch_msssim.ssim(a, b, size_average=False))),
        ("SSIM", "piq, defaults", "downsample=True (images > 256 px are pooled)",
         t(lambda a, b: piq.ssim(a, b, reduction="none"))),
        ("SSIM", "torchmetrics, defaults", "data_range from the values, reflect padding",
         t(lambda a, b: tmf.structural_similarity_index_measure(a, b, reduction="none"))),
        ("SSIM", "kornia, window 11", "zero padding ('same'), map averaged over all pixels",
         t(lambda a, b: kornia.metrics.ssim(a, b, 11).mean())),
        ("PSNR", "rainkit, RGB", "psnr(x, y)", t(lambda a, b: psnr(a, b))),
        ("PSNR", "rainkit, Y of BT.601 YCbCr (paper convention)", "psnr(x, y, y_channel=True)",
         t(lambda a, b: psnr(a, b, y_channel=True))),
        ("PSNR", "scikit-image", "uint8 input, data_range from the dtype (255)",
         lambda a, b: peak_signal_noise_ratio(b, a)),
        ("PSNR", "torchmetrics, data_range=1.0", "one image at a time (a batch pools the MSE)",
         t(lambda a, b: tmf.peak_signal_noise_ratio(a, b, data_range=1.0))),
        ("PSNR", "kornia", "max_val=1.0", t(lambda a, b: kornia.metrics.psnr(a, b, 1.0))),
    ]


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DATA
    pairs = load_pairs(root)
    if not pairs:
        raise SystemExit(f"no pairs under {root}/rainy and {root}/clean")
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 8 30 38 12 12",
        "",
        "   * - metric",
        "     - implementation",
        "     - settings",
        "     - mean",
        "     - max abs difference from rainkit RGB",
    ]
    reference: dict[str, np.ndarray] = {}
    for metric, name, settings, fn in rows():
        values = np.array([fn(rainy, clean) for rainy, clean in pairs])
        reference.setdefault(metric, values)
        deviation = float(np.max(np.abs(values - reference[metric])))
        if metric == "SSIM":
            shown, shown_dev = f"{values.mean():.4f}", f"{deviation:.1e}"
        else:
            shown, shown_dev = f"{values.mean():.2f} dB", f"{deviation:.2f} dB"
        lines += [f"   * - {metric}", f"     - {name}", f"     - {settings}", f"     - {shown}",
                  f"     - {shown_dev}"]
        print(f"{metric:5s} {name:55s} {shown:>10s} {shown_dev:>10s}")
    header = (f".. Generated by docs/figures/metric_conventions.py on {len(pairs)} rain-dev/val "
              "pairs (rainy scored against clean).\n\n")
    OUT.write_text(header + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
