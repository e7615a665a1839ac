"""MPRNet (Zamir et al., CVPR 2021): the deraining network, its released checkpoint, its loss."""

from __future__ import annotations

from rainkit.nn.families.mprnet.loss import edge_loss, laplacian_detail, mprnet_loss
from rainkit.nn.families.mprnet.network import MPRNet, reflect_pad_to_multiple
from rainkit.nn.registry import Family, PretrainedWeights, PublishedScore, register_family

__all__ = [
    "FAMILY",
    "MPRNet",
    "edge_loss",
    "laplacian_detail",
    "mprnet_loss",
    "reflect_pad_to_multiple",
]

_SOURCE = ("Zamir et al., CVPR 2021, Table 1 (deraining); github.com/swz30/MPRNet README "
           "(commit 43feb2ae)")
_URL = "https://drive.google.com/file/d/1O3WEJbcat7eTY6doXWeorAbQ1l_WmMnM/view?usp=sharing"


def _score(test_set: str, psnr: float, ssim: float) -> PublishedScore:
    # Protocol B: one model trained on Rain13K, tested on the five Rain13K test sets;
    # Deraining/evaluate_PSNR_SSIM.m (uint8 Y, Wang's SSIM), rainkit's "mprnet-y".
    return PublishedScore(test_set, psnr, ssim, "mprnet-y", _SOURCE, protocol="B")


#: The MPRNet family as registered in :data:`rainkit.nn.FAMILIES`.
FAMILY = register_family(Family(
    training_loss=mprnet_loss,
    name="mprnet",
    title="MPRNet (Zamir et al., CVPR 2021)",
    paper=("S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, L. Shao, "
           "\"Multi-Stage Progressive Image Restoration\", CVPR 2021"),
    repository="https://github.com/swz30/MPRNet (commit 43feb2ae; Deraining/MPRNet.py 435f483)",
    licence="Academic Public License (non-commercial; copies and modifications under the same "
            "licence): weights are the authors', not redistributed by rainkit",
    models=("mprnet",),
    test_kwargs={"mprnet": {"channels": 8, "unet_channels": 4, "orsnet_channels": 4,
                            "num_cab": 1}},
    tiling=("approximate: every channel-attention block scales its channels by a gate "
            "computed from the global mean of the whole patch, and stage 1 and 2 split the "
            "image into quarters and halves, so tiles differ from the whole image"),
    input_note=("RGB in [0, 1] (PIL + to_tensor); predicts the clean image as input + "
                "residual; reflect-pads to a multiple of 8 (the authors' demo.py)"),
    weights=(
        PretrainedWeights(
            name="mprnet-rain13k",
            model="mprnet",
            url=_URL,
            sha256=None,
            downloadable=False,
            training_set="Rain13K (13,712 pairs: Rain14000, Rain1800, Rain800, Rain12, ...)",
            num_params=3637249,
            published=(
                _score("Test100", 30.27, 0.897),
                _score("Rain100H", 30.41, 0.890),
                _score("Rain100L", 36.40, 0.965),
                _score("Test2800", 33.64, 0.938),
                _score("Test1200", 32.91, 0.916),
            ),
            notes=("model_deraining.pth, on Google Drive (linked from the authors' README and "
                   "Deraining/pretrained_models/README.md): download it in a browser, then "
                   "`rainkit download mprnet-rain13k --url FILE`. The authors publish no hash: "
                   "rainkit checks keys and shapes strictly and pins the SHA-256 on first use. "
                   "Academic Public License; rainkit does not redistribute it."),
        ),
    ),
))
