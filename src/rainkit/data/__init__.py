"""rainkit.data: (being written)."""

__all__: list[str] = []
