"""rainkit.loss: (being written)."""

__all__: list[str] = []
