"""The package's imports go one way, down the layers of docs/architecture.md.

Every module of ``xlens`` is parsed with ``ast``; every import it makes (at the top or
inside a function) of another xlens module must go to the same layer or a lower one, an
import inside a function is allowed only for an optional dependency, no private name is
imported from another module, and the modules of one layer import each other without a
cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "xlens"

#: Lowest first: a module may import modules of its own layer or of the layers before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("version", "errors"),
    ("engine",),
    ("cosmology", "imaging"),
    ("halo_model",),
    ("profiles",),
    ("halos",),
    ("tracer",),
    ("model",),
    ("simulator",),
    ("config",),
    ("inference", "dataset"),
    ("plotting",),
    ("cli",),
    ("__init__",),
)

#: Imports allowed inside functions: optional dependencies (extras of pyproject.toml), imported
#: where they are used, and zarr (imported by the dataset functions only, so `import xlens` stays light).
OPTIONAL = {"matplotlib", "dask", "distributed", "zarr", "jax", "jaxlib", "optax", "blackjax", "numpyro", "dynesty"}


def _top(module: str) -> str:
    """``xlens.halos.batch`` -> ``halos``; ``xlens`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(module: str) -> int:
    top = _top(module)
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"{module}: its top-level name {top!r} is in no layer of tests/test_layers.py")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(module: str, path: Path):
    """(imported module, names, line, inside a function) for every import of ``module``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nested = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested |= {id(n) for n in ast.walk(node) if n is not node}
    for node in ast.walk(tree):
        inside = id(node) in nested
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, (), node.lineno, inside
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(a.name for a in node.names)
            if target.startswith("xlens"):
                # `from . import engine` imports the module xlens.engine
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
                if subs:
                    for sub in subs:
                        yield sub, (), node.lineno, inside
                    continue
            yield target, names, node.lineno, inside


def _internal(target: str) -> str | None:
    """The xlens module that ``target`` names (a module, or a package's ``__init__``)."""
    if not target.startswith("xlens"):
        return None
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


EDGES = [
    (module, target, names, line, inside)
    for module, path in MODULES.items()
    for target, names, line, inside in _imports(module, path)
]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    for src, target, _, line, inside in EDGES:
        if src != module:
            continue
        dest = _internal(target)
        if dest is None:
            if inside:
                root = target.split(".")[0]
                assert root in OPTIONAL or root == "__future__", (
                    f"{module}:{line} imports {target} inside a function; only optional dependencies "
                    f"({sorted(OPTIONAL)}) may be imported there"
                )
            continue
        assert not inside, f"{module}:{line} imports {dest} inside a function: imports go at the top"
        assert _rank(dest) <= _rank(module), (
            f"{module}:{line} imports {dest}, a higher layer ({_top(dest)!r} above {_top(module)!r})"
        )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_is_imported(module):
    for src, target, names, line, _ in EDGES:
        if src != module or _internal(target) is None:
            continue
        private = [n for n in names if n.startswith("_") and n != "__version__"]
        hidden = [p for p in target.split(".")[1:] if p.startswith("_") and p != "__init__"]
        assert not private, f"{module}:{line} imports private names {private} from {target}"
        assert not hidden, f"{module}:{line} imports from the private module {target}"


def test_no_import_cycles():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for src, target, _, _, _ in EDGES:
        dest = _internal(target)
        if dest is not None and dest != src and not (src.startswith(dest + ".") and MODULES[dest].name ==
                                                     "__init__.py"):
            graph[src].add(dest)
    # a package's __init__ re-exports its modules: an edge module -> its own package is a cycle
    # only if the package imports the module back, which is reported like any other cycle
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The parser finds imports inside functions and relative imports (so the tests above can fail)."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from ..simulator import Simulator\n    from . import _geometry\n")
    found = list(_imports("xlens.profiles.probe", path))
    assert ("xlens.simulator", ("Simulator",), 2, True) in found
    assert ("xlens.profiles", ("_geometry",), 3, True) in found
    assert _rank("xlens.simulator") > _rank("xlens.profiles.probe")
