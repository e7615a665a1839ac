"""NeRD-Rain (Chen et al., CVPR 2024): the networks, the ten released checkpoints, the loss."""

from __future__ import annotations

from rainkit.nn.families.nerdrain.loss import fft_loss, nerdrain_loss, pyramid
from rainkit.nn.families.nerdrain.network import (
    NeRDRain,
    NeRDRainS,
    window_merge,
    window_partition,
)
from rainkit.nn.registry import Family, PretrainedWeights, PublishedScore, register_family

__all__ = [
    "FAMILY",
    "NeRDRain",
    "NeRDRainS",
    "fft_loss",
    "nerdrain_loss",
    "pyramid",
    "window_merge",
    "window_partition",
]

_SOURCE = ("Chen et al., CVPR 2024; github.com/cschenxiang/NeRD-Rain README figs/table.png "
           "(commit 295f4fdf)")
_DRIVE = "https://drive.google.com/file/d/{}/view?usp=sharing"
_TRAIN = {
    "rain200l": ("Rain200L (1,800 training pairs)", "Rain200L", "mprnet-y"),
    "rain200h": ("Rain200H (1,800 training pairs)", "Rain200H", "mprnet-y"),
    "did": ("DID-Data (12,000 training pairs, three rain densities)", "DID-Data", "prenet-y"),
    "ddn": ("DDN-Data (12,600 training pairs, Rain14000)", "DDN-Data", "prenet-y"),
    "spa": ("SPA-Data (about 640,000 real rain training patches)", "SPA-Data", "mprnet-y"),
}
# (model, training set) -> (Google Drive id, Baidu extraction code, PSNR, SSIM), from the
# authors' README (links) and figs/table.png (figures).
_FILES = {
    ("nerdrain_s", "rain200l"): ("1Grzb8ga_1tZEIMGXhtF_W2cDHS4Dq-Lz", "thga", 41.30, 0.9895),
    ("nerdrain_s", "rain200h"): ("1WXjrM50r7m8YjPKZOqmfNeJU57WEjZzc", "twg1", 32.06, 0.9315),
    ("nerdrain_s", "did"): ("12drqRA6tVv_k_y3WCuFVIBEEHKe6KTsr", "bljv", 35.36, 0.9647),
    ("nerdrain_s", "ddn"): ("1oonCvgCEjDQXHuGBRkdZ5DmE33zv6Rt7", "10ut", 34.25, 0.9578),
    ("nerdrain_s", "spa"): ("1oO5Q4ZDFF983uXL2isYzzdV3BwPXY0Ru", "p7h9", 48.90, 0.9936),
    ("nerdrain", "rain200l"): ("14pAgjJu8txIy7KD-7iB089U7jysnARrW", "ub1n", 41.71, 0.9903),
    ("nerdrain", "rain200h"): ("1MOG3ZrXQxH-o13O1QWB6EiZhJsXOlUXs", "x45q", 32.40, 0.9373),
    ("nerdrain", "did"): ("10uvLyC0NjbOWAEfFgB9nDEQDHC_CB8KC", "n37f", 35.53, 0.9659),
    ("nerdrain", "ddn"): ("1KYiW5lYFrgP5AsImF94-fpXw5B0NdR4K", "01m0", 34.45, 0.9596),
    ("nerdrain", "spa"): ("1c3lLvRQACii_-9hJLA_J4mgZePWNXWLR", "mhkn", 49.58, 0.9940),
}
_PARAMS = {"nerdrain": 22893146, "nerdrain_s": 10530314}


def _entry(model: str, trained: str) -> PretrainedWeights:
    drive, baidu, psnr, ssim = _FILES[model, trained]
    training_set, test_set, convention = _TRAIN[trained]
    title = "NeRD-Rain" if model == "nerdrain" else "NeRD-Rain-S"
    # Protocol C: one model per dataset, trained and tested on it. Scoring as DRSformer's
    # evaluations/: Rain200L/H and SPA-Data with evaluate_PSNR_SSIM.m ("mprnet-y"), DID-Data and
    # DDN-Data with RCDNet's statistic.m ("prenet-y").
    return PretrainedWeights(
        name=f"{model}-{trained}",
        model=model,
        url=_DRIVE.format(drive),
        sha256=None,
        downloadable=False,
        training_set=training_set,
        num_params=_PARAMS[model],
        published=(PublishedScore(test_set, psnr, ssim, convention, _SOURCE, protocol="C"),),
        notes=(f"The authors' {title} model for {test_set}, on Google Drive (id {drive}) and "
               f"Baidu Netdisk (extraction code {baidu}; link in the authors' README): download "
               f"it in a browser, then `rainkit download {model}-{trained} --url FILE`. No hash "
               "is published: rainkit checks keys and shapes strictly and pins the SHA-256 on "
               "first use. The repository has no licence file; rainkit does not redistribute "
               "the file."),
    )


#: The NeRD-Rain family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    training_loss=nerdrain_loss,
    name="nerdrain",
    title="NeRD-Rain (Chen et al., CVPR 2024)",
    paper=("X. Chen, J. Pan, J. Dong, \"Bidirectional Multi-Scale Implicit Neural "
           "Representations for Image Deraining\", CVPR 2024"),
    repository="https://github.com/cschenxiang/NeRD-Rain (commit 295f4fdf)",
    licence="no licence file in the authors' repository: weights are the authors', not "
            "redistributed by rainkit",
    models=("nerdrain", "nerdrain_s"),
    test_kwargs={"nerdrain": {"dim": 8, "num_blocks": 1, "window_size": None},
                 "nerdrain_s": {"dim": 8, "num_blocks": 1, "window_size": None}},
    tiling=("approximate: the transposed attention mixes channels with a matrix computed over "
            "the whole window, so the network has no finite receptive field; the authors' own "
            "test-time windows (window_size) are part of the network's inference"),
    input_note=("RGB in [0, 1] (PIL + to_tensor); predicts the clean image as input + "
                "residual; windows of 256 (sides shorter than that reflect-padded to a multiple "
                "of 16)"),
    weights=tuple(_entry(m, t) for m in ("nerdrain", "nerdrain_s") for t in _TRAIN),
))
