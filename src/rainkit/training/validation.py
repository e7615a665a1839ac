"""Validation scores of a network over whole images, shared out across processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from rainkit._checks import check_device, check_int, check_nonempty, check_output_path
from rainkit.data.io import save_image
from rainkit.metrics import ScoreTable, ScoringConvention
from rainkit.metrics import format_scores as format_score_row
from rainkit.metrics.conventions import resolve_convention
from rainkit.training.devices import all_reduce_sum

__all__ = ["Validator", "centre_crop", "format_scores"]


class _Pairs(Protocol):
    """What :class:`Validator` reads its pairs from: a sequence, or a dataset with a length
    (:class:`rainkit.data.PairedRainDataset` is not a :class:`~collections.abc.Sequence`)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


def centre_crop(image: torch.Tensor, size: int | None) -> torch.Tensor:
    r"""The central ``size`` by ``size`` window of an image (each side capped at the image's).

    Args:
        image: a tensor :math:`(*, H, W)`.
        size: the largest side kept, an ``int`` :math:`\ge 1`; ``None`` keeps the whole image.

    Returns:
        A view :math:`(*, \min(H, size), \min(W, size))` of ``image``.

    Raises:
        TypeError: if ``image`` is not a real tensor or ``size`` not an ``int`` or ``None``.
        ValueError: if ``image`` has fewer than 2 dimensions or a zero-size dimension, or
            ``size`` is below 1.

    Example:
        >>> centre_crop(torch.zeros(3, 40, 10), 16).shape
        torch.Size([3, 16, 10])
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if image.is_complex():
        raise TypeError(f"image must be a real tensor, got dtype {image.dtype}")
    if image.dim() < 2:
        raise ValueError(f"image must have at least 2 dimensions (H, W), got shape "
                         f"{tuple(image.shape)}")
    check_nonempty(image, "image")
    h, w = image.shape[-2:]
    if size is None:
        return image
    size = check_int(size, "size", minimum=1)
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[..., top:top + size, left:left + size]


class Validator:
    r"""Mean PSNR, SSIM (on RGB and on Y) and LPIPS of a network over validation pairs.

    The scores are one :class:`rainkit.metrics.ScoreTable` under the ``"rgb"`` convention and
    ``convention`` (default ``"prenet-y"``: Y of BT.601 as MATLAB's ``rgb2ycbcr``, PReNet's
    SSIM), on outputs clamped to :math:`[0, 1]` and not quantized; LPIPS is added when a module
    is given. Means are over images (each image scored at its own size, optionally
    centre-cropped to ``max_size``). Under DDP each process scores every ``world``-th pair and
    the sums are combined with :func:`all_reduce_sum`, so every process gets the same means.

    Args:
        pairs: a sequence of ``(rainy, clean, name)`` with tensors :math:`(3, H, W)` in
            :math:`[0, 1]`, such as a :class:`rainkit.data.PairedRainDataset` without patches.
        device: where the network runs.
        convention: the luma convention of ``psnr_y``/``ssim_y`` (a name in
            :data:`rainkit.metrics.CONVENTIONS` or a convention); an RGB convention
            (``"rgb"``, ``"spanet-rgb"``) replaces the RGB scores instead, and then there are
            no ``_y`` scores.
        max_size: centre-crop each image to at most this side (``None``: whole images); at
            least the SSIM window, 11.
        lpips: an LPIPS module (:class:`rainkit.metrics.LPIPS`) on ``device``, or ``None``.
        rank: this process's rank (0 without DDP).
        world: the number of processes (1 without DDP).

    Attributes:
        names: the score names (the table's keys), ``["psnr", "ssim", "psnr_y", "ssim_y"]``
            plus ``"lpips"``.
        table: the :class:`rainkit.metrics.ScoreTable` that computes them.

    Raises:
        TypeError: if ``pairs`` is not a sequence, ``device`` not a device or ``lpips`` not a
            module.
        ValueError: if ``pairs`` is empty, ``device`` is not on this machine, ``max_size`` is
            below 11, ``rank`` is not in ``[0, world)`` or ``convention`` is unknown.

    Example:
        >>> clean = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> validator = Validator([(clean.flip(-1), clean, "pair")])
        >>> scores, grids = validator.score(lambda rainy: rainy.flip(-1), keep=1)
        >>> scores["psnr"], scores["ssim"]
        (inf, 1.0)
        >>> grids[0][0], grids[0][1].shape  # rainy | derained | clean
        ('pair', torch.Size([3, 32, 96]))
    """

    #: The smallest side SSIM scores (its Gaussian window).
    window = 11

    def __init__(self, pairs: _Pairs, device: torch.device | str = "cpu", *,
                 convention: str | ScoringConvention = "prenet-y",
                 max_size: int | None = None, lpips: nn.Module | None = None, rank: int = 0,
                 world: int = 1) -> None:
        if isinstance(pairs, str) or not (isinstance(pairs, Sequence)
                                          or hasattr(pairs, "__getitem__")):
            raise TypeError(f"pairs must be a sequence of (rainy, clean, name), got "
                            f"{type(pairs).__name__}")
        if len(pairs) == 0:
            raise ValueError("pairs must hold at least one (rainy, clean, name), got none")
        if lpips is not None and not isinstance(lpips, nn.Module):
            raise TypeError(f"lpips must be an LPIPS module (rainkit.metrics.LPIPS) or None, got "
                            f"{type(lpips).__name__}")
        device = check_device(device, "device")
        if max_size is not None:
            check_int(max_size, "max_size", minimum=self.window)
        world = check_int(world, "world", minimum=1)
        if not 0 <= check_int(rank, "rank") < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        self.pairs, self.device, self.max_size = pairs, torch.device(device), max_size
        self.lpips, self.rank, self.world = lpips, rank, world
        conv = resolve_convention(convention)
        conventions = ("rgb", conv) if conv.y_channel else (conv,)
        self.table = ScoreTable(conventions, lpips=lpips, data_range=1.0)
        self.convention = conv
        self.names = list(self.table.keys)

    @torch.no_grad()
    def metrics(self, output: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        r"""The scores of one batch, averaged over it.

        Args:
            output: derained images :math:`(B, 3, H, W)`, clamped here to :math:`[0, 1]`.
            clean: the clean images, same shape, in :math:`[0, 1]`.

        Returns:
            Score name (see :attr:`names`) to its mean over the batch.
        """
        row = self.table(output.clamp(0, 1), clean)
        return {key: float(value.mean()) for key, value in row.items()}

    @torch.no_grad()
    def score(self, derain: Callable[[torch.Tensor], torch.Tensor], keep: int = 0,
              save_dir: str | os.PathLike[str] | None = None
              ) -> tuple[dict[str, float], list[tuple[str, torch.Tensor]]]:
        r"""Mean scores of ``derain(rainy)`` over the pairs, and up to ``keep`` sample grids.

        Args:
            derain: a network in eval mode, or any function from :math:`(1, 3, H, W)` rainy
                images on :attr:`device` to derained ones of the same shape.
            keep: how many pairs (the first of this process's share) to return as grids.
            save_dir: also write each derained image (clamped, cropped like the scores) to
                ``save_dir/<pair name>.png`` with :func:`rainkit.data.save_image` (8-bit,
                rounded); each process writes its share. ``None`` writes nothing.

        Returns:
            ``(scores, grids)``: score name to its mean over all pairs (of all processes), and
            ``(name, grid)`` pairs whose grid is rainy, derained and clean side by side,
            :math:`(3, H, 3W)` on the CPU.

        Raises:
            TypeError: if ``derain`` is not callable or returns no tensor, ``keep`` is not an
                ``int``, ``save_dir`` not a path, or a pair is not ``(rainy, clean, name)``
                with floating-point tensors (the message names ``pairs[i]``).
            ValueError: if a pair is smaller than the SSIM window (11 pixels) after cropping
                or its images are not :math:`(3, H, W)` of one shape, ``derain`` changes the
                shape, ``keep`` is negative, or ``save_dir`` is empty or a file.
            OSError: if an image cannot be written.
        """
        if not callable(derain):
            raise TypeError(f"derain must be a network or a function of the rainy images, got "
                            f"{type(derain).__name__}")
        keep = check_int(keep, "keep", minimum=0)
        folder = None if save_dir is None else check_output_path(save_dir, "save_dir",
                                                                 folder=True)
        totals, count = dict.fromkeys(self.names, 0.0), 0
        grids: list[tuple[str, torch.Tensor]] = []
        for index in range(self.rank, len(self.pairs), self.world):
            rainy, clean, name = _check_pair(self.pairs[index], index)
            rainy, clean = (centre_crop(t, self.max_size)[None].to(self.device)
                            for t in (rainy, clean))
            if min(clean.shape[-2:]) < self.window:
                raise ValueError(f"validation pair {name!r} is {tuple(clean.shape[-2:])} "
                                 f"pixels, smaller than the SSIM window ({self.window})")
            output = derain(rainy)
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"derain must return a tensor, got {type(output).__name__}")
            if output.shape != rainy.shape:
                raise ValueError(f"derain must return the shape of its input "
                                 f"{tuple(rainy.shape)}, got {tuple(output.shape)}")
            output = output.float().clamp(0, 1)
            for key, value in self.metrics(output, clean).items():
                totals[key] += value
            count += 1
            if folder is not None:
                save_image(output[0].cpu(), folder / f"{name}.png")
            if len(grids) < keep:
                grids.append((name, torch.cat([rainy[0], output[0], clean[0]], dim=-1).cpu()))
        totals = all_reduce_sum({**totals, "_count": float(count)}, self.device)
        n = max(totals.pop("_count"), 1.0)
        return {k: v / n for k, v in totals.items()}, grids


def _check_pair(pair: object, index: int) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """``pairs[index]`` as ``(rainy, clean, name)``, or a clear error naming it."""
    where = f"pairs[{index}]"
    if not isinstance(pair, (tuple, list)) or len(pair) != 3:
        raise TypeError(f"{where} must be a (rainy, clean, name) triple, got "
                        f"{type(pair).__name__} {pair!r:.60}")
    rainy, clean, name = pair
    for image, part in ((rainy, "rainy"), (clean, "clean")):
        if not isinstance(image, torch.Tensor) or not image.is_floating_point():
            kind = image.dtype if isinstance(image, torch.Tensor) else type(image).__name__
            raise TypeError(f"{where} ({name!r}): the {part} image must be a floating-point "
                            f"tensor, got {kind}")
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f"{where} ({name!r}): the {part} image must have shape (3, H, W), "
                             f"got {tuple(image.shape)}")
    if rainy.shape != clean.shape:
        raise ValueError(f"{where} ({name!r}): the rainy and clean images differ in shape: "
                         f"{tuple(rainy.shape)} and {tuple(clean.shape)}")
    return rainy, clean, name


def format_scores(scores: Mapping[str, float]) -> str:
    """One line for the scores of :meth:`Validator.score`, as the training example prints them.

    The labels, units and decimals are those of :func:`rainkit.metrics.format_scores` (the
    score table's key scheme), in the order of ``scores``.

    Args:
        scores: score name to value, with at least ``psnr`` and ``ssim`` (and usually
            ``psnr_y``, ``ssim_y``, optionally ``lpips``).

    Returns:
        ``"PSNR 27.31 dB, SSIM 0.8712, Y-PSNR 28.90 dB, Y-SSIM 0.8890"`` (and ``", LPIPS
        ..."``).

    Raises:
        TypeError: if ``scores`` is not a mapping or a score is not a real number.
        ValueError: if ``psnr`` or ``ssim`` is missing.

    Example:
        >>> format_scores({"psnr": 27.314, "ssim": 0.87123, "psnr_y": 28.9, "ssim_y": 0.889})
        'PSNR 27.31 dB, SSIM 0.8712, Y-PSNR 28.90 dB, Y-SSIM 0.8890'
    """
    if not isinstance(scores, Mapping):
        raise TypeError(f"scores must be a mapping of name to value, got {type(scores).__name__}")
    missing = [k for k in ("psnr", "ssim") if k not in scores]
    if missing:
        raise ValueError(f"scores lacks {missing}; it holds {sorted(scores)}")
    return format_score_row(scores)
