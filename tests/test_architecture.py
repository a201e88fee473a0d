"""The package's import structure: no circles, and solvers never reach for a problem.

The import graph is read from the source with ``ast`` (nothing is imported), counting
every ``import`` statement, those inside functions included: a lazy import still ties
two modules together, it only moves the failure to run time. Imports under
``if TYPE_CHECKING:`` are for annotations only and do not count.

Run as a script to print every circle and every forbidden edge.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pdeml"

#: (importer prefix, imported prefix) pairs that must never occur: kernels stay below the
#: problems that use them.
FORBIDDEN = [("pdeml.solvers", "pdeml.problems")]


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    modules = {}
    for file in package.rglob("*.py"):
        parts = list(file.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = file
    return modules


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking(node):
            stack.extend(getattr(node, "orelse", []))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a name imported from a package that is
    itself a submodule counts as that submodule)."""
    modules = module_files(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, file in modules.items():
        is_package = file.name == "__init__.py"
        for node in _imports(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _absolute(name, is_package, node)
                targets = [
                    f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
                    for a in node.names
                ]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def forbidden_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports that cross a line in :data:`FORBIDDEN`."""
    bad = []
    for source, targets in sorted(graph.items()):
        for target in sorted(targets):
            for importer, imported in FORBIDDEN:
                if source.startswith(importer) and target.startswith(imported):
                    bad.append((source, target))
    return bad


def test_circle_finder_sees_a_circle() -> None:
    # The finder itself must be able to fail: a two-module and a three-module circle.
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(circles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_graph_counts_lazy_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "one.py").write_text("def f():\n    from pkg import two\n")
    (package / "two.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import one\n"
        "from . import one as again\n"
    )
    graph = import_graph(package)
    assert graph["pkg.one"] == {"pkg.two"}
    assert graph["pkg.two"] == {"pkg.one"}
    assert circles(graph) == [["pkg.one", "pkg.two"]]


def test_no_import_circles_in_pdeml() -> None:
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_solvers_never_import_a_problem() -> None:
    bad = forbidden_edges(import_graph())
    assert not bad, "forbidden imports:\n" + "\n".join(f"{a} imports {b}" for a, b in bad)


if __name__ == "__main__":
    graph = import_graph()
    for circle in circles(graph):
        print("circle:", " -> ".join(circle))
    for source, target in forbidden_edges(graph):
        print("forbidden:", source, "imports", target)


def test_import_pdeml_loads_no_heavy_library() -> None:
    # `import pdeml` and `pdeml --help` start in about 0.3 s because these load on first
    # use (validation/reports/startup.md); scipy.special alone took 0.26 s.
    import subprocess
    import sys

    heavy = ("torch", "dask", "numba", "scipy", "h5py", "xarray", "matplotlib")
    probe = f"import sys, pdeml; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
