"""PSNR and SSIM of an image pair under one named scoring convention, for evaluation loops."""

from __future__ import annotations

import numpy as np
import torch

from rainkit.metrics.conventions import Quantize, ScoringConvention, resolve_convention
from rainkit.metrics.psnr import psnr
from rainkit.metrics.ssim import ssim

__all__ = ["score"]


def score(
    input: torch.Tensor | np.ndarray,
    target: torch.Tensor | np.ndarray,
    convention: str | ScoringConvention,
    *,
    data_range: float | None = None,
    crop_border: int | None = None,
    quantize: Quantize | None = None,
) -> dict[str, torch.Tensor | float]:
    r"""Per-image PSNR and SSIM as a published evaluation script computes them.

    Equivalent to ``psnr(input, target, convention=convention, reduction="none", ...)`` and
    the same call of :func:`ssim`, with the convention resolved once. Average the per-image
    values over a test set yourself, as the scripts do (mean of per-image PSNRs, mean of
    per-image SSIMs).

    Args:
        input: the restored image(s): a tensor :math:`(B, 3, H, W)` or :math:`(3, H, W)`, or a
            numpy array :math:`(H, W, 3)` (uint8, uint16 or float); see :func:`psnr`.
        target: the clean image(s), same type, shape and dtype as ``input``.
        convention: a key of :data:`CONVENTIONS` (``"matlab-y"``, ``"matlab-y-uint8"``,
            ``"basicsr-y"``, ``"rgb"``) or a :class:`ScoringConvention`.
        data_range: the scale of floating inputs (``None``: 1.0 for floats, 255 for uint8).
        crop_border: border for conventions that take it as an option (``"basicsr-y"``);
            ``None`` keeps the convention's.
        quantize: ``"round"`` or ``"floor"`` to snap a floating network output to 8 bits as
            the reference test script did before saving it
            (``convention.pipeline_quantize`` says which); ``None`` scores it as given.

    Returns:
        ``{"psnr": ..., "ssim": ...}``: tensors of shape :math:`(B,)` for tensor inputs
        (:math:`(1,)` for a single :math:`(3, H, W)` image), Python floats for numpy inputs.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> clean = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        >>> noisy = np.clip(clean + rng.normal(0, 2, clean.shape), 0, 255).astype(np.uint8)
        >>> scores = score(noisy, clean, "matlab-y-uint8")
        >>> sorted(scores)
        ['psnr', 'ssim']
        >>> isinstance(scores["psnr"], float)
        True
    """
    conv = resolve_convention(convention)
    options = {"data_range": data_range, "crop_border": crop_border, "convention": conv,
               "quantize": quantize, "reduction": "none"}
    values = {"psnr": psnr(input, target, **options),  # type: ignore[arg-type]
              "ssim": ssim(input, target, **options)}  # type: ignore[arg-type]
    if isinstance(input, np.ndarray):
        return {name: float(value[0]) for name, value in values.items()}  # type: ignore[index]
    return values  # type: ignore[return-value]
