"""Figure for the losses guide: the geometry of L1, L2 and Charbonnier.

Run by hand (``python docs/figures/pixel_losses.py``); writes
``docs/_static/figures/pixel_losses.png``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "_static" / "figures" / "pixel_losses.png"


def main() -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=100)

    # Left: penalty of one residual r = output - target, and its gradient's behaviour near 0.
    r = np.linspace(-0.5, 0.5, 1001)
    eps = 0.05  # large, so that its rounding of L1's corner is visible at this scale
    left.plot(r, np.abs(r), label="L1: |r|")
    left.plot(r, r**2, label="L2: r²")
    left.plot(r, np.sqrt(r**2 + eps**2), label=f"Charbonnier: √(r² + ε²), ε={eps}")
    left.set_xlabel("residual r = output - target")
    left.set_ylabel("penalty")
    left.set_title("Penalty of one pixel")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)

    # Right: unit balls in the plane of two pixel errors (Manhattan vs Euclidean distance).
    t = np.linspace(0, 2 * np.pi, 400)
    right.plot(np.cos(t), np.sin(t), label="L2 = 1 (Euclidean circle)")
    right.plot([1, 0, -1, 0, 1], [0, 1, 0, -1, 0], label="L1 = 1 (Manhattan diamond)")
    right.set_aspect("equal")
    right.set_xlabel("error of pixel 1")
    right.set_ylabel("error of pixel 2")
    right.set_title("Points at distance 1")
    right.legend(fontsize=7, loc="center")
    right.grid(alpha=0.3)

    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT)


if __name__ == "__main__":
    main()
