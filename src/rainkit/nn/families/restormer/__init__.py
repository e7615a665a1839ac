"""Restormer (Zamir et al., CVPR 2022): the network, the authors' released deraining checkpoint."""

from __future__ import annotations

from rainkit.nn.families.restormer.network import (
    ChannelNorm,
    Downsample,
    Restormer,
    TransformerBlock,
    Upsample,
    UShapedTransformer,
    pad_to_multiple,
)
from rainkit.nn.registry import Family, PretrainedWeights, PublishedScore, register_family

__all__ = [
    "FAMILY",
    "ChannelNorm",
    "Downsample",
    "Restormer",
    "TransformerBlock",
    "UShapedTransformer",
    "Upsample",
    "pad_to_multiple",
]

_URL = "https://github.com/swz30/Restormer/releases/download/v1.0/deraining.pth"
# Paper Table 1 as quoted in ../shared/pretrained/restormer/README.md, which says it was not
# checked against the paper there; the authors' README shows the table only as an image.
_SOURCE = ("Zamir et al., CVPR 2022, Table 1 (deraining), as quoted by third parties; the "
           "authors' README shows it as an image; not checked against the paper by rainkit")
_SCORES = (("Test100", 32.00, 0.923), ("Rain100H", 31.46, 0.904), ("Rain100L", 38.99, 0.978),
           ("Test2800", 34.18, 0.944), ("Test1200", 33.19, 0.926))

#: The Restormer family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    name="restormer",
    title="Restormer (Zamir et al., CVPR 2022)",
    paper=("S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, \"Restormer: "
           "Efficient Transformer for High-Resolution Image Restoration\", CVPR 2022"),
    repository="https://github.com/swz30/Restormer (commit df766d55)",
    licence=("Academic Public License (non-commercial use only; commercial use needs the "
             "authors' permission): rainkit re-implements the network and never ships or "
             "redistributes the authors' code or weights"),
    models=("restormer",),
    tiling=("approximate: every output pixel depends on the whole image (MDTA's attention "
            "maps pool over all pixels), so tiles differ from the whole-image result near "
            "and away from their borders; the authors' test script runs whole images"),
    input_note=("RGB in [0, 1] (the authors' test.py converts cv2's BGR to RGB); reflect-pads "
                "to a multiple of 8 and adds the predicted residual to the input"),
    weights=(
        PretrainedWeights(
            name="restormer-rain13k",
            model="restormer",
            url=_URL,
            sha256=None,  # none published; pinned on the first download (see notes)
            downloadable=True,
            training_set="Rain13K (13,712 pairs: the MSPFN collection)",
            num_params=26_126_644,
            model_kwargs={},
            published=tuple(PublishedScore(test_set, psnr, ssim, "mprnet-y", _SOURCE,
                                           protocol="B")
                            for test_set, psnr, ssim in _SCORES),
            notes=("The authors' deraining.pth (`{'params': state_dict}`), linked from their "
                   "README as a Google Drive folder (drive.google.com/drive/folders/"
                   "1ZEDDEVW0UgkpWi-N4Lj_JUoVChGXCu_u) and attached to the repository's v1.0 "
                   "release at the URL above, a direct link. The authors publish no hash and "
                   "rainkit has not verified one, so none is claimed: `rainkit download "
                   "restormer-rain13k` fetches it, checks every key and shape strictly and "
                   "pins its SHA-256 in the hub cache on the first download (trust on first "
                   "use; later downloads and loads must match the pin). "
                   "Academic Public License: non-commercial use only."),
        ),
    ),
))
