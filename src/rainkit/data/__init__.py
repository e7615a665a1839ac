"""Paired rainy/clean datasets, image reading, paired transforms, test sets and synthetic rain."""

from rainkit.data.io import (
    IMAGE_EXTENSIONS,
    decode_image,
    read_image,
    save_image,
    split_alpha,
    to_float_tensor,
)
from rainkit.data.jpeg import jpeg_roundtrip
from rainkit.data.layouts import LAYOUTS, ImagePair, Layout, find_pairs
from rainkit.data.memory import estimate_decoded_bytes
from rainkit.data.paired import PairedRainDataset
from rainkit.data.samples import (
    DEMO_TRAIN_PHOTOS,
    DEMO_VAL_PHOTOS,
    SAMPLE_PHOTOS,
    demo_datasets,
    sample_photos,
)
from rainkit.data.split import TrainValData, split_indices, train_val_datasets
from rainkit.data.synthetic import SyntheticRainDataset, line_kernel, synthesize_rain
from rainkit.data.testsets import (
    PROTOCOLS,
    TEST_SETS,
    BenchmarkProtocol,
    TestSet,
    check_test_folder,
    figure_mismatches,
    find_test_set,
    guess_test_set,
)
from rainkit.data.transforms import pad_to_size, paired_random_crop, paired_random_flip

__all__ = [
    "DEMO_TRAIN_PHOTOS",
    "DEMO_VAL_PHOTOS",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "PROTOCOLS",
    "SAMPLE_PHOTOS",
    "TEST_SETS",
    "BenchmarkProtocol",
    "ImagePair",
    "Layout",
    "PairedRainDataset",
    "SyntheticRainDataset",
    "TestSet",
    "TrainValData",
    "check_test_folder",
    "decode_image",
    "demo_datasets",
    "estimate_decoded_bytes",
    "figure_mismatches",
    "find_pairs",
    "find_test_set",
    "guess_test_set",
    "jpeg_roundtrip",
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
