"""Paired rainy/clean datasets, image reading, paired transforms and synthetic rain."""

from rainkit.data.io import (
    IMAGE_EXTENSIONS,
    decode_image,
    read_image,
    save_image,
    split_alpha,
    to_float_tensor,
)
from rainkit.data.memory import estimate_decoded_bytes
from rainkit.data.paired import LAYOUTS, ImagePair, Layout, PairedRainDataset, find_pairs
from rainkit.data.samples import (
    DEMO_TRAIN_PHOTOS,
    DEMO_VAL_PHOTOS,
    SAMPLE_PHOTOS,
    demo_datasets,
    sample_photos,
)
from rainkit.data.split import TrainValData, split_indices, train_val_datasets
from rainkit.data.synthetic import SyntheticRainDataset, line_kernel, synthesize_rain
from rainkit.data.transforms import pad_to_size, paired_random_crop, paired_random_flip

__all__ = [
    "DEMO_TRAIN_PHOTOS",
    "DEMO_VAL_PHOTOS",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "SAMPLE_PHOTOS",
    "ImagePair",
    "Layout",
    "PairedRainDataset",
    "SyntheticRainDataset",
    "TrainValData",
    "decode_image",
    "demo_datasets",
    "estimate_decoded_bytes",
    "find_pairs",
    "line_kernel",
    "pad_to_size",
    "paired_random_crop",
    "paired_random_flip",
    "read_image",
    "sample_photos",
    "save_image",
    "split_alpha",
    "split_indices",
    "synthesize_rain",
    "to_float_tensor",
    "train_val_datasets",
]
