"""rainkit.nn.families: one home per family of published networks, each registering itself.

A family's home is a subpackage ``rainkit/nn/families/<name>/``: its networks (each decorated
with :func:`~rainkit.nn.register_model`), the table of its released checkpoints, their key
conversion, the authors' test-time processing and a :class:`~rainkit.nn.Family` passed to
:func:`~rainkit.nn.register_family`. This package imports every subpackage it finds, in sorted
order, so a new family is picked up by :data:`rainkit.nn.MODELS`, :data:`rainkit.nn.PRETRAINED`,
the command line, the tests and the docs tables without an edit anywhere else. Nothing is read
or downloaded at import.
"""

import importlib
import pkgutil

__all__: list[str] = []

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _module.ispkg and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
del _module
