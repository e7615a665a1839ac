"""Speed and agreement of rainkit's NIQE/BRISQUE against reference implementations.

References: piq's ``brisque`` (Apache-2.0; its SVR download replaced by the LIVE support vectors
shipped with rainkit) and BasicSR 1.4.2's ``niqe`` (Apache-2.0), loaded from an unpacked
``basicsr`` source distribution given by ``--basicsr-src`` (``pip download --no-deps
basicsr==1.4.2`` and unpack; basicsr itself does not import with current torchvision).

    OMP_NUM_THREADS=1 python benchmarks/bench_nr_metrics.py --images /path/to/pngs \\
        [--basicsr-src /tmp/basicsr-1.4.2/basicsr] [--device cuda]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

from rainkit.metrics import brisque, niqe
from rainkit.metrics._nr_features import to_grey255
from rainkit.metrics.brisque import svr_model


def _load_basicsr_niqe(root: Path):  # type: ignore[no-untyped-def]
    for pkg in ["basicsr", "basicsr.utils", "basicsr.metrics"]:
        sys.modules.setdefault(pkg, types.ModuleType(pkg))
    sys.modules.setdefault("cv2", types.ModuleType("cv2"))
    registry = types.ModuleType("basicsr.utils.registry")
    registry.METRIC_REGISTRY = types.SimpleNamespace(register=lambda *a, **k: (lambda f: f))
    sys.modules["basicsr.utils.registry"] = registry
    util = types.ModuleType("basicsr.metrics.metric_util")
    util.reorder_image, util.to_y_channel = None, None
    sys.modules["basicsr.metrics.metric_util"] = util
    sys.modules.setdefault("scipy.ndimage.filters", importlib.import_module("scipy.ndimage"))

    def load(name: str, path: Path) -> types.ModuleType:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module

    load("basicsr.utils.matlab_functions", root / "utils" / "matlab_functions.py")
    module = load("basicsr.metrics.niqe", root / "metrics" / "niqe.py")
    params = np.load(root / "metrics" / "niqe_pris_params.npz")
    return lambda grey: module.niqe(grey, params["mu_pris_param"], params["cov_pris_param"],
                                    params["gaussian_window"])


def _timed(fn, *args, repeat: int = 3):  # type: ignore[no-untyped-def]
    value, best = None, float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn(*args)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return value, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of PNG/JPEG files")
    parser.add_argument("--basicsr-src", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    from PIL import Image

    piq_brisque = None
    if importlib.util.find_spec("piq") is not None:
        piq_module = importlib.import_module("piq.brisque")
        model = svr_model()
        piq_module.load_url = lambda url, map_location=None: (model["dual_coef"].clone(),
                                                             model["support_vectors"].clone())
        piq_brisque = piq_module.brisque
    basicsr_niqe = _load_basicsr_niqe(args.basicsr_src) if args.basicsr_src else None

    print("image, size, NIQE ours [ms], NIQE BasicSR [ms], |diff|, BRISQUE ours [ms], "
          "BRISQUE piq [ms], |diff| (grey input, even crop)")
    totals = np.zeros(4)
    for path in sorted(p for p in args.images.rglob("*") if p.suffix.lower() in (".png", ".jpg")):
        rgb = np.array(Image.open(path).convert("RGB"))
        rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].double().div(255).to(args.device)
        grey = to_grey255(x, "live")  # 0-255 integers, (1, 1, H, W)
        n_ours, t_n = _timed(lambda g=grey: niqe(g / 255).item())
        b_ours, t_b = _timed(lambda g=grey: brisque(g / 255).item())
        row = [f"{path.name}", f"{rgb.shape[1]}x{rgb.shape[0]}", f"{t_n * 1e3:.0f}"]
        if basicsr_niqe is not None:
            n_ref, t_nr = _timed(basicsr_niqe, grey[0, 0].cpu().numpy())
            row += [f"{t_nr * 1e3:.0f}", f"{abs(n_ref - n_ours):.1e}"]
            totals[:2] += (t_n, t_nr)
        else:
            row += ["-", "-"]
        row.append(f"{t_b * 1e3:.0f}")
        if piq_brisque is not None:
            b_ref, t_br = _timed(lambda g=grey: piq_brisque(g / 255, data_range=1.0).item())
            row += [f"{t_br * 1e3:.0f}", f"{abs(b_ref - b_ours):.1e}"]
            totals[2:] += (t_b, t_br)
        print(", ".join(row))
    print(f"total NIQE ours {totals[0]:.2f} s vs BasicSR {totals[1]:.2f} s; "
          f"BRISQUE ours {totals[2]:.2f} s vs piq {totals[3]:.2f} s")


if __name__ == "__main__":
    main()
