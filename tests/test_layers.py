"""The shape of pressroom/, channels/ and flows/, read from the source with ``ast`` (nothing is imported):

* every module belongs to one layer of ``LAYERS`` and imports only from its own layer or lower ones,
  module-level and in-function imports alike (README "Layers");
* no imports form a cycle;
* no function is longer than ``MAX_FUNCTION_LINES``.

Today's exceptions are listed explicitly (``KNOWN_VIOLATIONS``, ``LONG_FUNCTIONS``). The lists may only
shrink: a new exception fails, and so does an entry that is no longer true, so whoever removes one also
deletes its line here."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pressroom", "channels", "flows")

# The layers, lowest first: a module may import from its own layer and the layers before it, never from a
# later one. "x.*" covers the package x and every module under it; a plain name covers that one module
# (``pressroom`` alone is pressroom/__init__.py). Every module must be covered: a new top-level module of
# pressroom/ has to be placed here.
LAYERS = [
    ("foundation", ["pressroom", "pressroom.settings", "pressroom.errors", "pressroom.model", "pressroom.runtime",
                    "pressroom.secrets", "pressroom.files", "pressroom.crashpoints", "pressroom.clock",
                    "pressroom.text.*"]),
    ("channels", ["channels.*"]),                  # pure renderers
    ("releases", ["pressroom.releases.*"]),        # loader, catalog (validation renders the channels)
    ("transports", ["pressroom.transports.*"]),    # how a rendition reaches an outlet
    ("delivery", ["pressroom.delivery.*",          # ledger, engine, approval, notify, doctor, corrections …
                  "pressroom.migrations.*"]),      # the ledger's migrations
    ("sites", ["pressroom.sites.*"]),              # portal column, press hall, preview, reports
    ("flows", ["flows.*"]),
    ("cli", ["pressroom.cli.*"]),
]

# Today's violations, as imports (importer, imported), being removed; none may be added. Each is either an
# upward import or an import that closes a cycle; the cycle test leaves them out of the import graph.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()

MAX_FUNCTION_LINES = 60  # counted from the ``def`` line to the last line (decorators left out)
# Functions longer than that ("path:qualified name": current length). A listed function may only get
# shorter; when it does, lower its number here, and delete its line once it fits.
LONG_FUNCTIONS: dict[str, int] = {}


# -- reading the source -------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (a package by its own name)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


@lru_cache(maxsize=None)
def tree(name: str) -> ast.Module:
    path = modules()[name]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _project_module(dotted: str) -> str | None:
    """The project module an import of ``dotted`` loads: the longest prefix that is one of ours."""
    while dotted and dotted not in modules():
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def imported_by(name: str) -> set[str]:
    """The project modules ``name`` imports anywhere in its source (functions included), relative imports
    resolved. ``from p import x`` counts as importing the module p.x when there is one, else p."""
    is_package = modules()[name].name == "__init__.py"
    found = set()
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules() else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            module = _project_module(target)
            if module and module != name:
                found.add(module)
    return found


@lru_cache(maxsize=None)
def graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imported_by(name)) for name in modules()}


def layer_of(name: str) -> int | None:
    """Index into LAYERS of the most specific entry covering ``name``."""
    best, best_len = None, -1
    for index, (_, entries) in enumerate(LAYERS):
        for entry in entries:
            prefix = entry.removesuffix(".*")
            covers = name == prefix or (entry.endswith(".*") and name.startswith(prefix + "."))
            if covers and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def describe(name: str) -> str:
    index = layer_of(name)
    return f"{name} (layer {index} {LAYERS[index][0]})"


def upward_imports() -> set[tuple[str, str]]:
    return {(importer, imported) for importer, deps in graph().items() for imported in deps
            if layer_of(importer) is not None and layer_of(imported) is not None
            and layer_of(imported) > layer_of(importer)}


def cycles(edges: dict[str, set[str]]) -> list[tuple[list[str], list[str]]]:
    """Per strongly connected component: one concrete cycle (its first module repeated at the end) and
    every module of the component."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v: str) -> None:  # Tarjan; the graph is a few dozen modules deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [(_cycle_through(min(c), c, edges), sorted(c)) for c in components]


def _cycle_through(start: str, component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path start -> ... -> start inside one strongly connected component."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w == start:
                return paths[v] + [start]
            if w in component and w not in paths:
                paths[w] = paths[v] + [w]
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # cannot happen in a strongly connected component


def without(edges, removed: set[tuple[str, str]]) -> dict[str, set[str]]:
    return {importer: {imported for imported in deps if (importer, imported) not in removed}
            for importer, deps in edges.items()}


def function_lengths() -> dict[str, int]:
    """Length of every function and method by "path:qualified name" (a nested function as outer.inner)."""
    out = {}

    def walk(node: ast.AST, path: str, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualified = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    key = f"{path}:{qualified}"
                    while key in out:  # the same name defined twice (e.g. in both branches of an if)
                        key += "'"
                    out[key] = child.end_lineno - child.lineno + 1
                walk(child, path, qualified + ".")
            else:
                walk(child, path, prefix)

    for name, file in modules().items():
        walk(tree(name), file.relative_to(ROOT).as_posix(), "")
    return out


# -- the tests ----------------------------------------------------------------------------------------

def test_every_module_has_a_layer():
    unplaced = sorted(name for name in modules() if layer_of(name) is None)
    assert not unplaced, f"modules in no layer (add them to LAYERS in {Path(__file__).name}): {unplaced}"


def test_the_layer_table_names_only_existing_modules():
    stale = [entry for _, entries in LAYERS for entry in entries
             if entry.removesuffix(".*") not in modules()]
    assert not stale, f"LAYERS names modules that do not exist: {stale}"


def test_no_module_imports_from_a_higher_layer():
    new = sorted(upward_imports() - KNOWN_VIOLATIONS)
    assert not new, "upward imports (a lower layer must not depend on a higher one):\n" + "\n".join(
        f"  {describe(importer)} imports {describe(imported)}" for importer, imported in new)


def test_no_import_cycles():
    # Every cycle between layers runs through an upward import. Leaving out the allow-listed imports, any
    # cycle left fails, inside a layer or between layers.
    found = cycles(without(graph(), KNOWN_VIOLATIONS))
    assert not found, "import cycles (module-level and in-function imports):\n" + "\n".join(
        f"  {' -> '.join(cycle)}" + (f"\n    (all entangled: {', '.join(members)})" if len(members) > len(cycle) - 1
                                     else "") for cycle, members in found)


def test_known_violations_are_all_still_violations():
    entangled = {module: frozenset(members) for _, members in cycles(graph()) for module in members}
    upward = upward_imports()
    gone = sorted((importer, imported) for importer, imported in KNOWN_VIOLATIONS
                  if imported not in graph().get(importer, ())  # the import is gone
                  or not ((importer, imported) in upward or imported in entangled.get(importer, ())))
    assert not gone, "neither an upward import nor part of a cycle any more — delete from KNOWN_VIOLATIONS:\n" + (
        "\n".join(f"  ({importer!r}, {imported!r})," for importer, imported in gone))


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(edges) == [(["a", "b", "c", "a"], ["a", "b", "c"])]  # "e" importing itself is no cycle


def test_no_new_long_functions():
    lengths = function_lengths()
    too_long = {key: n for key, n in lengths.items() if n > MAX_FUNCTION_LINES}
    new = sorted(f"  {key}: {n} lines" for key, n in too_long.items() if key not in LONG_FUNCTIONS)
    grown = sorted(f"  {key}: {n} lines (listed at {LONG_FUNCTIONS[key]})"
                   for key, n in too_long.items() if key in LONG_FUNCTIONS and n > LONG_FUNCTIONS[key])
    assert not new and not grown, (
        f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(new + grown))


def test_long_function_list_is_current():
    lengths = function_lengths()
    stale = []
    for key, listed in sorted(LONG_FUNCTIONS.items()):
        now = lengths.get(key)
        if now is None:
            stale.append(f"  {key}: gone or renamed — delete its line")
        elif now <= MAX_FUNCTION_LINES:
            stale.append(f"  {key}: {now} lines now — delete its line")
        elif now < listed:
            stale.append(f"  {key}: {now} lines now — lower its entry from {listed}")
    assert not stale, "LONG_FUNCTIONS is out of date:\n" + "\n".join(stale)


def test_no_flow_or_channel_module_shadows_the_standard_library():
    """Prefect puts a flow file's folder on sys.path when it loads a deployment's entrypoint; a module there
    named like a standard one (flows/inspect.py) then replaces it in every process started afterwards."""
    import sys

    clash = sorted(f"{d}/{p.name}" for d in ("flows", "channels") for p in (ROOT / d).glob("*.py")
                   if p.stem in sys.stdlib_module_names)
    assert not clash, clash
