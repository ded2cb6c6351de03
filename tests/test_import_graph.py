"""The package's import graph (issue #29): no cycle among kcolor's modules,
and no module outside ``kcolor/instance/`` imports the instance kind; kinds
plug in through ``kcolor.kinds``."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("kcolor", "export")


def _module_name(path):
    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def _modules():
    out = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(folder, f)
                    out[_module_name(path)] = path
    return out


def _imports(path, name, known):
    """The modules of ``known`` that ``path`` (module ``name``) imports,
    wherever the import statement stands (inside functions too)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            # a submodule import also runs its parent packages' __init__
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph():
    mods = _modules()
    return {name: _imports(path, name, mods) for name, path in mods.items()}


def find_cycle(edges):
    """One cycle of ``edges`` ({node: set of nodes}) as a list, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state:
                cycle = visit(m)
                if cycle:
                    return cycle
        state[n] = "done"
        stack.pop()
        return None

    for n in sorted(edges):
        if n not in state:
            cycle = visit(n)
            if cycle:
                return cycle
    return None


def _parents(name):
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_find_cycle_finds_one_and_only_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_are_read_inside_functions_and_relative(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from kcolor import presets\n    import kcolor.color\n"
                 "from . import decode\n")
    known = {"kcolor", "kcolor.presets", "kcolor.color", "kcolor.decode"}
    # "from kcolor import presets" runs kcolor/__init__.py too
    assert _imports(str(p), "kcolor.m", known) == {"kcolor", "kcolor.presets", "kcolor.color",
                                                   "kcolor.decode"}


def test_no_import_cycle_among_the_packages_modules():
    edges = graph()
    assert len(edges) > 40
    # A package's own __init__ importing its submodules (registration) is
    # not an edge back up: importing a submodule runs it first anyway.
    edges = {n: {m for m in ms if m not in _parents(n)} for n, ms in edges.items()}
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


@pytest.mark.parametrize("kind_package", ["kcolor.instance", "kcolor.hints"])
def test_no_module_outside_a_kind_imports_it(kind_package):
    """Colorize, presets, models and export ask kcolor.kinds; only the kind's
    own package imports its modules (its __init__ registers it)."""
    edges = graph()
    offenders = sorted(n for n, ms in edges.items()
                       if not (n == kind_package or n.startswith(kind_package + "."))
                       and any(m == kind_package or m.startswith(kind_package + ".") for m in ms))
    assert offenders == []
