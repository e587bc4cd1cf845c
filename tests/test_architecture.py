"""The package's imports point one way: no circles, layers only look down.

Everything here reads the source with ``ast``; nothing is imported to find
the dependencies, so a lazy import inside a function counts like any other.
"""

import ast
from pathlib import Path

import pytest

import skhidden
from skhidden._base import BaseHiddenState
from skhidden._registry import ESTIMATORS

PACKAGE = Path(skhidden.__file__).parent
MAX_CLASS_LINES = 250


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(name, tree, modules):
    """skhidden modules that module ``name`` imports, anywhere in its source."""
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            # ``from pkg import sub`` imports the submodule when there is one.
            targets = [
                f"{source}.{alias.name}"
                if f"{source}.{alias.name}" in modules
                else source
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


_CACHE = {}


def _trees_cache():
    """``module name -> ast`` of every module in the package, parsed once."""
    if not _CACHE:
        for path in PACKAGE.rglob("*.py"):
            _CACHE[_module_name(path)] = ast.parse(path.read_text(), str(path))
    return _CACHE


def _is_package(name):
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def import_graph():
    """``module -> set of skhidden modules it imports`` for the whole package."""
    trees = _trees_cache()
    return {name: _imports(name, tree, trees) for name, tree in trees.items()}


def find_cycle(graph):
    """One import circle of ``graph`` as a list of modules, or None."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def reachable(graph, start):
    """Every module ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def estimator_modules():
    """Modules defining a class that enters the registry (``@register_estimator``)."""
    found = set()
    for name, tree in _trees_cache().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                getattr(d, "id", None) == "register_estimator"
                for d in node.decorator_list
            ):
                found.add(name)
    return found


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_relative_absolute_and_lazy_imports():
    graph = import_graph()
    assert "skhidden._base" in graph["skhidden.classifier"]  # from ._base import
    assert "skhidden.nn.encoder" in graph["skhidden.nn.aggregation"]  # from .encoder
    assert "skhidden.plotting" in graph["skhidden.demo"]  # imported inside a function
    assert "skhidden.classifier" in graph["skhidden"]  # the package's own exports


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_persistence_imports_no_estimator_module():
    graph, estimators = import_graph(), estimator_modules()
    assert estimators == {cls.__module__ for cls in ESTIMATORS.values()}
    for module in ("skhidden.persistence", "skhidden._composites"):
        assert not reachable(graph, module) & estimators, module


@pytest.mark.parametrize(
    "module, below",
    [
        # sequence data: numpy only
        ("skhidden.sequences", set()),
        # torch modules: each other and nothing else of skhidden
        *[
            (name, "skhidden.nn")
            for name in sorted(_trees_cache())
            if name.startswith("skhidden.nn")
        ],
        # the estimator base: everything below the estimators
        ("skhidden._base", None),
    ],
)
def test_layers_only_import_downwards(module, below):
    graph = import_graph()
    imported = reachable(graph, module)
    if below == set():
        assert imported == set()
    elif isinstance(below, str):
        assert all(name.startswith(below) for name in imported), imported
    else:
        upper = estimator_modules() | {
            "skhidden",
            "skhidden.persistence",
            "skhidden.plotting",
            "skhidden.demo",
        }
        assert not imported & upper, imported & upper


def test_torch_modules_and_data_know_nothing_above_them():
    for name, tree in _trees_cache().items():
        if not (name.startswith("skhidden.nn") or name == "skhidden.sequences"):
            continue
        roots = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and not node.level
        }
        assert not roots & {"sklearn", "skorch"}, name
        if name == "skhidden.sequences":
            assert "torch" not in roots


def test_every_exported_estimator_is_registered():
    exported = [getattr(skhidden, name) for name in skhidden.__all__]
    estimators = [
        c for c in exported if isinstance(c, type) and issubclass(c, BaseHiddenState)
    ]
    assert sorted(c.__name__ for c in estimators) == sorted(ESTIMATORS)
    assert all(ESTIMATORS[c.__name__] is c for c in estimators)


def _class_lines(node):
    """Lines of a class, its docstring included (shared parameters are
    documented once, in ``skhidden/_docstrings.py``)."""
    return node.end_lineno - node.lineno + 1


def test_no_class_is_longer_than_one_sitting():
    long = [
        f"{name}.{node.name}: {_class_lines(node)} lines"
        for name, tree in _trees_cache().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and _class_lines(node) > MAX_CLASS_LINES
    ]
    assert not long
