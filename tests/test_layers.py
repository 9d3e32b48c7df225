"""The package's layers, read from its imports (every ``import`` in every module, inside functions too): the
tree reads as the data flow, and no module reaches back up a layer or into an import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import reno_exp

PACKAGE = Path(reno_exp.__file__).parent

# bottom first: a package imports its own layer and the ones below it, never one above
LAYERS = [
    ("config",),  # schema, value rules, composition, identity, labels: the config
    ("store", "weights"),  # the run directory on disk; where weights come from
    ("generators", "rewards", "transfer", "benchmarks"),  # the parts
    ("methods",),  # the objective and the optimisation methods
    ("assemble",),  # a config's parts, built
    ("cost",),  # what a run will cost, from a dry run of its parts
    ("experiment",),  # one run: batches, records, loggers
    ("evaluate",),  # the suites' scorers on a run's images
    ("tables", "analysis"),  # what a sweep's records add up to
    ("report", "bench"),  # one page per sweep; timing and GPU checks
    ("__main__", "prefetch"),  # entry points
]
LAYER = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def imports() -> dict[str, set[str]]:
    """module -> the reno_exp modules it imports (as written, resolved to a module of the package)."""
    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    out = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # a submodule, or a name of the module (its own code runs: it is imported)
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t.startswith("reno_exp.") and t != name:
                    found.add(t)
        out[name] = found
    return out


def layer_of(module: str) -> int:
    top = module.split(".")[1]
    return LAYER[top]


def test_every_package_has_a_layer_and_says_its_purpose_in_one_line():
    packages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert sorted(set(packages) - set(LAYER)) == []
    for package in packages:
        doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert doc and doc.strip(), f"reno_exp/{package}/__init__.py says nothing of its purpose"
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "prefetch.py"], modules  # entry points only


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{a} -> {b}" for a, targets in imports().items() for b in sorted(targets)
              if a.count(".") and b.count(".") and layer_of(b) > layer_of(a)]
    assert upward == []


def test_no_import_cycle():
    graph = imports()
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []
