"""rainkit: composable PyTorch components for single-image deraining."""

__version__ = "0.3.0"

__all__ = ["__version__"]
