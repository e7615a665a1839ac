"""tools/check_imports.py: the import graph of src/rainkit has no cycle and no upward arrow."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_imports", ROOT / "tools" / "check_imports.py")
assert _spec is not None and _spec.loader is not None
check_imports = importlib.util.module_from_spec(_spec)
sys.modules["check_imports"] = check_imports
_spec.loader.exec_module(check_imports)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "rainkit" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_rainkit_has_no_cycle_and_no_upward_import() -> None:
    assert check_imports.problems_of(check_imports.graph()) == []


def test_a_function_local_cycle_is_found(tmp_path: Path) -> None:
    src = _package(tmp_path, {
        "__init__.py": "",
        "checkpoint.py": "def f():\n    from rainkit.nn import pretrained\n",
        "nn/__init__.py": "from rainkit.nn import pretrained\n",
        "nn/pretrained.py": "def g():\n    import rainkit.checkpoint\n",
    })
    problems = check_imports.problems_of(check_imports.graph(src))
    assert any(p.startswith("import cycle:") and "rainkit.checkpoint" in p for p in problems)
    assert any("upward import: rainkit.nn.pretrained" in p for p in problems)


def test_relative_imports_resolve(tmp_path: Path) -> None:
    src = _package(tmp_path, {
        "__init__.py": "",
        "metrics/__init__.py": "from .ssim import ssim\n",
        "metrics/ssim.py": "from ..data import io\n",
        "data/__init__.py": "",
        "data/io.py": "",
    })
    edges = check_imports.graph(src)
    assert edges["rainkit.metrics"] == {"rainkit.metrics.ssim"}
    assert edges["rainkit.metrics.ssim"] == {"rainkit.data.io"}
