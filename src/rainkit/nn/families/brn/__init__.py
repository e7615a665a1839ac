"""BRN (Ren et al., TIP 2020): the network, the authors' released checkpoints, their keys, and the
authors' real-rain test procedure.

The BRN authors released (github.com/csdwren/RecDerain, ``logs/``) BRN for Rain100H, Rain100L,
Rain1400, RainHeavy* and RainLight* (Rain200H/L, the re-released Rain100H/L) and a
"generalization" model, and the PReNet they re-trained on Rain200H/L. The PReNet files use
rainkit's :class:`~rainkit.nn.PReNet` network but belong here: the BRN authors released them.

Checkpoint names are ``<network>-<training set>``, lowercase, as in every family: ``brn-rain100h``,
``brn-rain200l``, ``prenet-rain200h``; the generalization model's training set is not stated,
so it is ``brn-generalization``.

What a port must get right, and this one does (each changes the output silently):

- BRN runs **8 stages** (the authors' test scripts), while their class defaults to 4;
- BRN predicts the clean image directly (``residual=False`` in every entry);
- the BRN files carry a ``module.`` prefix (removed by :func:`rainkit.nn.read_weights`) and
  two unused residual blocks of the rain branch (dropped by :func:`convert_authors_state`);
- all were saved from CUDA tensors (read with ``map_location="cpu"``);
- the published SPA-Data figure of the generalization model comes from a test procedure
  around the network, :func:`mosaic_ensemble`, not from the network alone.
"""

from __future__ import annotations

import functools

import torch

from rainkit.nn.families.brn.network import BRN
from rainkit.nn.families.prenet import convert_authors_state as convert_prenet_state
from rainkit.nn.registry import (
    Family,
    PretrainedWeights,
    PublishedScore,
    StateDict,
    register_family,
)

__all__ = ["BRN", "FAMILY", "convert_authors_state", "mosaic_ensemble"]

_GATES = ("i", "f", "g", "o")


def convert_authors_state(state: StateDict, rain_blocks: int = 3) -> StateDict:
    """The BRN authors' keys (``generator.py``, class ``BRN``) to rainkit's :class:`BRN`.

    Image branch: ``conv0`` -> ``image.head``; ``res_convK.{0,2}`` ->
    ``image.blocks.{K-1}.body.{0,2}``; ``conv_i, conv_f, conv_g, conv_o`` stacked into
    ``image.gates``; ``conv.0`` -> ``image.tail``. Rain branch: the same with the suffix ``_r``
    and ``rain.`` instead of ``image.``. The gates keep the authors' input order (features,
    own state, other branch's state). The rain branch's ``res_convK_r`` with ``K >
    rain_blocks`` (the authors' ``res_conv4_r`` and ``res_conv5_r``, which their forward never
    uses) are dropped. Keys it does not know are kept, so that strict loading names them.
    (The ``module.`` prefix is removed before, by the reader.)

    Args:
        state: the authors' state dict.
        rain_blocks: residual blocks the rain branch uses.

    Returns:
        A new state dict with rainkit's keys.

    Example:
        >>> import torch
        >>> state = {f"conv_{g}_r.0.bias": torch.zeros(2) for g in "ifgo"}
        >>> state["res_conv5_r.0.bias"] = torch.zeros(2)
        >>> {k: tuple(v.shape) for k, v in convert_authors_state(state).items()}
        {'rain.gates.bias': (8,)}
    """
    state = dict(state)
    out: StateDict = {}
    for branch, suffix in (("image", ""), ("rain", "_r")):
        for kind in ("weight", "bias"):
            keys = [f"conv_{g}{suffix}.0.{kind}" for g in _GATES]
            if all(k in state for k in keys):
                out[f"{branch}.gates.{kind}"] = torch.cat([state.pop(k) for k in keys])
    for key, value in state.items():
        module, _, rest = key.partition(".")
        branch, name = ("rain", module[:-2]) if module.endswith("_r") else ("image", module)
        number = name[len("res_conv"):]
        if name == "conv0":
            out[f"{branch}.head.{rest}"] = value
        elif name.startswith("res_conv") and number.isdigit():
            if branch == "rain" and int(number) > rain_blocks:
                continue  # never used by the authors' forward
            out[f"{branch}.blocks.{int(number) - 1}.body.{rest}"] = value
        elif name == "conv" and rest.startswith("0."):
            out[f"{branch}.tail.{rest[2:]}"] = value
        else:
            out[key] = value
    return out


def _mosaic(x: torch.Tensor) -> torch.Tensor:
    """The authors' ``pixelshuffle(img, 2)``: the four polyphase sub-images in a 2 x 2 mosaic,
    ``x[..., i::2, j::2]`` in quadrant ``(i, j)``."""
    return torch.cat([torch.cat([x[..., i::2, j::2] for j in (0, 1)], dim=-1) for i in (0, 1)],
                     dim=-2)


def _unmosaic(m: torch.Tensor) -> torch.Tensor:
    """The authors' ``reverse_pixelshuffle(img, 2)``: the inverse of :func:`_mosaic`."""
    height, width = m.shape[-2:]
    top, left = (height + 1) // 2, (width + 1) // 2
    out = torch.empty_like(m)
    rows = (slice(0, top), slice(top, height))
    cols = (slice(0, left), slice(left, width))
    for i in (0, 1):
        for j in (0, 1):
            out[..., i::2, j::2] = m[..., rows[i], cols[j]]
    return out


def mosaic_ensemble(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The BRN authors' real-rain test procedure (``test_BRN_real.py``), before the clamp.

    The image is rearranged into the 2 x 2 mosaic of its four polyphase sub-images
    (:math:`x_{i::2, j::2}` in quadrant :math:`(i, j)`), and the network runs on the mosaic.
    Then, for each quadrant, the network's output mosaic with that quadrant replaced by the
    input's is rearranged back to a full-resolution image and derained again; the four results
    are averaged. The authors' script clamps the average to :math:`[0, 1]` before saving it;
    this function returns it unclamped (clamp it yourself to reproduce their files).

    This is the version of commit 5b2ad01 (2020-09-25) of github.com/csdwren/RecDerain; before
    it the script ran the network once on the mosaic and rearranged the result back. The
    repository does not say which version gave the published SPA-Data figure of the
    generalization model. The quadrants are pasted at rows ``H // 2`` and columns ``W // 2``,
    as the authors do; for odd sizes the mosaic's quadrants are one pixel larger than that
    (their code does the same).

    Args:
        net: a deraining network (``net(x)`` returns the derained image), normally
            ``load_pretrained("brn-generalization")``.
        x: rainy images :math:`(B, C, H, W)`, RGB in :math:`[0, 1]`.

    Returns:
        :math:`(B, C, H, W)`, the average of the four results, not clamped.

    Raises:
        TypeError: ``x`` is not a tensor.
        ValueError: ``x`` is not 4-dimensional.

    Example:
        >>> import torch
        >>> from rainkit.nn.families.brn import BRN
        >>> x = torch.rand(1, 3, 8, 10)
        >>> fresh = BRN(stages=1, channels=4)  # returns its input
        >>> torch.allclose(mosaic_ensemble(fresh, x), x)
        True
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"x must be a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    top, left = height // 2, width // 2
    mosaic = _mosaic(x)
    out = net(mosaic)
    total = torch.zeros_like(x)
    for rows in (slice(0, top), slice(top, height)):
        for cols in (slice(0, left), slice(left, width)):
            pasted = out.clone()
            pasted[..., rows, cols] = mosaic[..., rows, cols]
            total = total + net(_unmosaic(pasted))
    return total / 4


_BASE = "https://github.com/csdwren/RecDerain/raw/master/logs/"
_SOURCE = ("Ren et al., BRN (TIP 2020), tables in github.com/csdwren/RecDerain results/{table} "
           "(commit 5b2ad01d)")
_NOTE = ("Released by the BRN authors in csdwren/RecDerain, which has no licence file: rainkit "
         "does not ship or redistribute it.")
_BRN_NOTE = ("The file holds 412,518 parameters: 36,992 of them (res_conv4_r, res_conv5_r) are "
             "never used by the authors' forward and are dropped on loading. Run with 8 stages, "
             "as the authors' test_BRN.py. ")
#: Scoring convention of the published figures: the repository's statistic/*.m, the same
#: MATLAB-Y scripts as PReNet's (Y not rounded, Wang's ssim.m with automatic downsampling).
CONVENTION = "prenet-y"
_TRAIN = {
    "Rain100H": "RainTrainH (1,254 pairs: Yang et al.'s 1,800 minus 546 that share a background "
                "with Rain100H)",
    "Rain100L": "RainTrainL (200 pairs, Yang et al.)",
    "Rain1400": "Rain12600 (900 scenes x 14 rain types, Fu et al.)",
    "RainHeavy": "RainHeavy* / Rain200H (1,800 pairs, the re-released Rain100H)",
    "RainLight": "RainLight* / Rain200L (1,800 pairs, the re-released Rain100L)",
}


def _score(test_set: str, psnr: float, ssim: float, table: str,
           protocol: str) -> PublishedScore:
    return PublishedScore(test_set, psnr, ssim, CONVENTION, _SOURCE.format(table=table),
                          protocol=protocol)


def _brn(name: str, folder: str, sha256: str, published: tuple[PublishedScore, ...],
         training_set: str, notes: str = "") -> PretrainedWeights:
    return PretrainedWeights(
        name=name, model="brn", url=f"{_BASE}{folder}/BRN/net_latest.pth", sha256=sha256,
        training_set=training_set, num_params=375526,
        model_kwargs={"stages": 8, "residual": False}, convert=convert_authors_state,
        published=published, notes=_BRN_NOTE + notes + _NOTE,
    )


def _prenet(name: str, folder: str, sha256: str,
            published: tuple[PublishedScore, ...]) -> PretrainedWeights:
    return PretrainedWeights(
        name=name, model="prenet", url=f"{_BASE}{folder}/PReNet/net_latest.pth", sha256=sha256,
        training_set=_TRAIN[folder], num_params=168963, model_kwargs={"stages": 6},
        convert=functools.partial(convert_prenet_state, model="prenet"), published=published,
        notes=("PReNet (6 stages, the authors' default) re-trained by the BRN authors with "
               "PReNet's code; the same network and key layout as the PReNet family's files. "
               + _NOTE),
    )


#: The BRN family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="brn",
    title="BRN (Ren et al., TIP 2020)",
    paper=("D. Ren, W. Shang, P. Zhu, Q. Hu, D. Meng, W. Zuo, \"Single Image Deraining Using "
           "Bilateral Recurrent Network\", IEEE Transactions on Image Processing 29, 2020"),
    repository="https://github.com/csdwren/RecDerain (commit 5b2ad01d)",
    licence="no licence file in the authors' repository: weights are the authors', not "
            "redistributed by rainkit",
    models=("brn",),
    input_note=("RGB in [0, 1] (the authors' test script converts OpenCV's BGR to RGB); BRN "
                "predicts the clean image directly (its rain branch's estimate is an input of "
                "the image branch); the re-trained PReNet adds its output to the input"),
    weights=(
        _brn("brn-rain100h", "Rain100H",
             "46db6bbda038b49bc6c4e00d4af473939f586a6505384682769f8b4d98eda567",
             (_score("Rain100H", 30.47, 0.913, "1.jpg", "A"),), _TRAIN["Rain100H"]),
        _brn("brn-rain100l", "Rain100L",
             "de9b4bb3e2c076386f8298357e28f5a1d694797a61aadbbafc04f3b7ca93f885",
             (_score("Rain100L", 38.16, 0.982, "1.jpg", "A"),
              _score("Rain12", 36.74, 0.959, "1.jpg", "A")), _TRAIN["Rain100L"],
             "The Rain12 figure is this file's (the authors' test_Rain12.sh). "),
        _brn("brn-rain1400", "Rain1400",
             "11b4d2d77a75f081196f2ed77447b1b1b401bedd92543272217391f7ec56c3a2",
             (_score("Rain1400", 32.75, 0.948, "2.jpg", "A"),), _TRAIN["Rain1400"],
             "The authors saved and scored their Rain1400 results as JPEG (OpenCV quality "
             "95), not PNG. "),
        _brn("brn-rain200h", "RainHeavy",
             "8663ddfb16af5065016f707863af12f45a006ff0f2c88639e85ebc05ff7c75fd",
             (_score("Rain200H", 30.27, 0.917, "3.jpg", "C"),), _TRAIN["RainHeavy"]),
        _brn("brn-rain200l", "RainLight",
             "7683c2227b4b8c12cb039d2643b329a7ec4b2e6bb03ff4ef9d16a308a2527dc5",
             (_score("Rain200L", 38.86, 0.985, "3.jpg", "C"),), _TRAIN["RainLight"]),
        _brn("brn-generalization", "generalization_model",
             "7f9040c72c9ea128eae0cd8e862d40e576b5f5ed8e294a814b7d76b5b3fa8cba",
             (_score("SPA-Data", 35.34, 0.945, "4.jpg", ""),),
             "not stated by the authors (their 'generalization model'; the paper's SPA-Data "
             "table says its models are trained on RainLight*, but this is not the "
             "RainLight file)",
             "Tested on real rain (SPA-Data, 1,000 pairs) with the authors' test_BRN_real.py, "
             "whose procedure is rainkit.nn.families.brn.mosaic_ensemble; which version of "
             "that script gave the published figure is not stated. "),
        _prenet("prenet-rain200h", "RainHeavy",
                "cef889ca3daba79c6e96c7f13ecfd8cf823e105b8acf63efa8296b5020c27bed",
                (_score("Rain200H", 29.36, 0.903, "3.jpg", "C"),)),
        _prenet("prenet-rain200l", "RainLight",
                "a1df2965e2e99081371210c678f63d95de95c40d87f556deb491dd064cb59a27",
                (_score("Rain200L", 37.93, 0.983, "3.jpg", "C"),
                 _score("SPA-Data", 35.00, 0.941, "4.jpg", ""))),
    ),
))
