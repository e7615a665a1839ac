"""PSNR and SSIM of an image pair under one named scoring convention, for evaluation loops."""

from __future__ import annotations

import numpy as np
import torch

from rainkit.metrics.conventions import Quantize, ScoringConvention, resolve_convention
from rainkit.metrics.table import ScoreTable, key_for

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

    A one-convention :class:`~rainkit.metrics.ScoreTable` with its keys renamed ``"psnr"`` and
    ``"ssim"`` (the images are prepared once for both). Average the per-image values over a
    test set yourself, as the scripts do (mean of per-image PSNRs, mean of per-image SSIMs), or
    with :func:`~rainkit.metrics.mean_scores`. To score under several conventions at once
    (and LPIPS or no-reference metrics), use a :class:`~rainkit.metrics.ScoreTable`.

    Args:
        input: the restored image(s): a tensor :math:`(B, 3, H, W)` or :math:`(3, H, W)`, or a
            numpy array :math:`(H, W, 3)` (uint8, uint16 or float); see :func:`psnr`.
        target: the clean image(s), same type and shape as ``input`` (floating dtypes may
            differ: float32 with float64 is computed in float64).
        convention: a key of :data:`CONVENTIONS` (``"prenet-y"``, ``"mprnet-y"``,
            ``"basicsr-y"``, ``"rgb"``, ``"spanet-rgb"``, or the old names ``"matlab-y"`` and
            ``"matlab-y-uint8"``) or a :class:`ScoringConvention`.
        data_range: the scale of floating inputs (``None``: 1.0 for floats, 255 for uint8).
        crop_border: border for conventions that take it as an option (``"basicsr-y"``);
            ``None`` keeps the convention's.
        quantize: ``"round"`` or ``"floor"`` to snap a floating network output to 8 bits as
            the reference test script did before saving it
            (``convention.pipeline_quantize`` says which); ``None`` scores it as given.

    Returns:
        ``{"psnr": ..., "ssim": ...}``: tensors of shape :math:`(B,)` for tensor inputs
        (:math:`(1,)` for a single :math:`(3, H, W)` image), Python floats for numpy inputs.

    Raises:
        ValueError: also for NaN or infinite pixels (see :class:`~rainkit.metrics.ScoreTable`).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> clean = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        >>> noisy = np.clip(clean + rng.normal(0, 2, clean.shape), 0, 255).astype(np.uint8)
        >>> scores = score(noisy, clean, "mprnet-y")
        >>> sorted(scores)
        ['psnr', 'ssim']
        >>> isinstance(scores["psnr"], float)
        True
    """
    conv = resolve_convention(convention)
    table = ScoreTable([conv], data_range=data_range, crop_border=crop_border,
                       quantize=quantize)
    row = table(input, target)
    return {name: row[key_for(name, conv)] for name in ("psnr", "ssim")}
