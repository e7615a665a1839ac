"""Check the import graph of src/rainkit: no cycle and no upward arrow between layers.

Every ``import`` and ``from ... import`` of a rainkit module is an edge, including imports
inside functions (a function-local import hides a cycle; it does not remove it). Modules are
grouped into layers, listed from the bottom; a module may import its own layer and the layers
below, never a layer above. The layers are written once, here, and explained in ARCHITECTURE.md.

Usage::

    python tools/check_imports.py          # exit 1 with the offending edges, else a summary
    python tools/check_imports.py --dot    # the graph in Graphviz dot on stdout

CI runs it in ``make test``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Layers from the bottom. A module belongs to the first layer whose prefix matches it (the
#: longest prefix wins). ``rainkit`` itself (the version) is the bottom.
LAYERS: list[tuple[str, ...]] = [
    ("rainkit", "rainkit._checks", "rainkit._files", "rainkit._hub",
     "rainkit._checkpoint_file", "rainkit._fused_conv", "rainkit.init"),
    ("rainkit.metrics", "rainkit.data"),
    ("rainkit.nn", "rainkit.loss"),
    ("rainkit.checkpoint", "rainkit.inference"),
    ("rainkit.training",),
    ("rainkit.cli", "rainkit.__main__"),
]


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def imports_of(path: Path, module: str, known: set[str]) -> set[str]:
    """The rainkit modules ``path`` imports (resolved to modules that exist)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def add(name: str) -> None:
        while name and name not in known:  # ``from a.b import c``: c may be a name, not a module
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "rainkit":
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "rainkit":
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                add(candidate if candidate in known else target)
    return found


def graph(src: Path = SRC) -> dict[str, set[str]]:
    """Every module of ``src/rainkit`` to the rainkit modules it imports."""
    files = {module_name(p, src): p for p in sorted((src / "rainkit").rglob("*.py"))}
    known = set(files)
    return {module: imports_of(path, module, known) for module, path in files.items()}


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or self-loops."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def problems_of(edges: dict[str, set[str]]) -> list[str]:
    """Modules in no layer, upward imports and cycles, one line each."""
    problems: list[str] = []
    for module in sorted(edges):
        if layer_of(module) < 0:
            problems.append(f"{module}: in no layer (add its prefix to LAYERS in {__file__})")
    for source in sorted(edges):
        for target in sorted(edges[source]):
            if layer_of(target) > layer_of(source):
                problems.append(f"upward import: {source} (layer {layer_of(source)}) imports "
                                f"{target} (layer {layer_of(target)})")
    for cycle in find_cycles(edges):
        problems.append("import cycle: " + " -> ".join(cycle))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dot", action="store_true", help="print the graph as Graphviz dot")
    args = parser.parse_args(argv)
    edges = graph()
    if args.dot:
        print("digraph rainkit {")
        for source in sorted(edges):
            for target in sorted(edges[source]):
                print(f'  "{source}" -> "{target}";')
        print("}")
        return 0
    problems = problems_of(edges)
    if problems:
        print("\n".join(problems))
        return 1
    n_edges = sum(len(t) for t in edges.values())
    print(f"import graph: {len(edges)} modules, {n_edges} edges, {len(LAYERS)} layers, "
          "no cycle, no upward import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
