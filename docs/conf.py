"""Sphinx configuration for rainkit's documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))

import rainkit

project = "rainkit"
author = "rainkit developers"
copyright = "2026, rainkit developers"
release = rainkit.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "myst_parser",
    # MathJax served from the built site (no CDN), so formulas render offline
    "sphinx-mathjax-offline",
]

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "description"
# Show defaults as written in the source (``act_layer=nn.ReLU``), not as object reprs.
autodoc_preserve_defaults = True
# A method without a docstring of its own does not borrow torch.nn.Module's.
autodoc_inherit_docstrings = False
autodoc_mock_imports: list[str] = []
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False


def _offline_inventory() -> str:
    """An empty intersphinx inventory, the fallback when the real one cannot be fetched.

    CI builds without internet. With a fallback location, an unreachable inventory is an info
    message instead of a warning (which ``-W`` would turn into an error); online builds still
    link to the real documentation.
    """
    import zlib

    path = os.path.join(os.path.dirname(__file__), "_build", "empty-objects.inv")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    header = (
        b"# Sphinx inventory version 2\n# Project: offline\n# Version: 0\n"
        b"# The remainder of this file is compressed using zlib.\n"
    )
    with open(path, "wb") as file:
        file.write(header + zlib.compress(b""))
    return path


_EMPTY_INVENTORY = _offline_inventory()
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (None, _EMPTY_INVENTORY)),
    "torch": ("https://pytorch.org/docs/stable", (None, _EMPTY_INVENTORY)),
    "numpy": ("https://numpy.org/doc/stable", (None, _EMPTY_INVENTORY)),
}
intersphinx_timeout = 5
nitpicky = False

html_theme = "furo"
html_title = f"rainkit {release}"
exclude_patterns = ["_build", "**/_*.rst", "figures"]
source_suffix = {".rst": "restructuredtext"}
myst_heading_anchors = 3
# benchmarks/README.md is included below a page title, so its sections start at level 2.
suppress_warnings = ["myst.header"]
templates_path: list[str] = []


def _skip_member(app, what, name, obj, skip, options):
    """Hide torch plumbing on API pages: ``extra_repr`` and undocumented ``forward`` methods
    (a module's behaviour is documented on its class and on its function)."""
    if name == "extra_repr":
        return True
    if name == "forward" and not getattr(obj, "__doc__", None):
        return True
    return skip


def _write_generated_tables(app):
    """Tables made from rainkit's registries at every build, so they never fall behind."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "figures"))
    import model_zoo

    model_zoo.write_tables()


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("builder-inited", _write_generated_tables)
