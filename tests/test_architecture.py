"""The package's shape: no import cycle (function-level imports included) and one-way layers.

grimp reads every import statement of every module, including those inside functions, so a cycle
hidden behind a function-level import is found too. Imports under ``if TYPE_CHECKING`` are left out:
they never run.
"""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

# Top to bottom: a layer may import the layers below it, never one above.
LAYERS = [
    ("gatekeeper.cli", "gatekeeper.web", "gatekeeper.demo", "gatekeeper.training"),
    ("gatekeeper.api",),
    ("gatekeeper.app",),
    ("gatekeeper.door",),
    ("gatekeeper.services",),
    ("gatekeeper.match", "gatekeeper.vision"),
    ("gatekeeper.storage",),
    ("gatekeeper.core",),
]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("gatekeeper", exclude_type_checking_imports=True, cache_dir=None)


def test_no_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append(" -> ".join((module, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_function_level_imports_are_seen(graph: grimp.ImportGraph) -> None:
    # The composition root imports the face pipeline inside a property (start-up speed): the
    # cycle check above only means something if such imports are part of the graph.
    assert graph.direct_import_exists(importer="gatekeeper.app", imported="gatekeeper.vision.pipeline")


@pytest.mark.parametrize("upper", range(len(LAYERS) - 1))
def test_lower_layers_never_import_upper_ones(graph: grimp.ImportGraph, upper: int) -> None:
    illegal = []
    for high in LAYERS[upper]:
        for lower_layer in LAYERS[upper + 1 :]:
            for low in lower_layer:
                chain = graph.find_shortest_chains(importer=low, imported=high, as_packages=True)
                illegal += [" -> ".join(c) for c in chain]
    assert not illegal, f"a lower layer imports {LAYERS[upper]}:\n" + "\n".join(illegal)


def test_vision_and_core_know_nothing_of_storage(graph: grimp.ImportGraph) -> None:
    for pure in ("gatekeeper.core", "gatekeeper.vision"):
        for io in ("gatekeeper.storage", "gatekeeper.door", "gatekeeper.services", "gatekeeper.match.gallery"):
            assert not graph.find_shortest_chains(importer=pure, imported=io, as_packages=True), f"{pure} reaches {io}"


@pytest.mark.parametrize("module", ["gatekeeper.cli", "gatekeeper.app", "gatekeeper.services.audit", "gatekeeper.cli.settings_report", "gatekeeper.cli.display"])
def test_database_commands_load_no_face_stack(module: str) -> None:
    """What `people`, `audit` and `config` import never loads torch, MTCNN, OpenCV or faiss:
    those alone take seconds to start on a door box."""
    code = f"import sys, {module}; print(sorted(m for m in ('torch', 'faiss', 'facenet_pytorch', 'cv2') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"{module} loads {out}"


# The modules that may sit loose at the top of the package: the composition root, the public
# API, settings, errors, the demo (and the package's own __init__ / __main__).
LOOSE = {"gatekeeper", "gatekeeper.__main__", "gatekeeper.api", "gatekeeper.app", "gatekeeper.config", "gatekeeper.errors", "gatekeeper.demo"}


def test_every_module_has_a_room(graph: grimp.ImportGraph) -> None:
    """Each module lives in a layer's package (or is one of the few loose ones), so the layer
    rules above cover all of them; a new loose module has to be placed, not just added."""
    layered = [name for layer in LAYERS for name in layer]
    homeless = sorted(m for m in graph.modules if m not in LOOSE and not any(m == p or m.startswith(p + ".") for p in layered))
    assert not homeless, f"modules in no layer: {homeless}"
    loose = sorted(m for m in graph.modules if m.count(".") == 1 and not graph.find_children(m) and m not in ("gatekeeper.__main__",))
    assert len(loose) <= 6, f"{len(loose)} loose modules at the top of gatekeeper/: {loose}"


def test_no_function_outside_migrations_is_longer_than_60_lines() -> None:
    """A function that does not fit a screen does more than one thing (the console used to be one
    380-line closure); migrations are exempt: each is a fixed record of one schema step."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "gatekeeper"
    long = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, "\n".join(long)


def test_every_api_route_describes_its_body() -> None:
    """The REST API's answers are pydantic models, so the OpenAPI schema says what each returns
    (not ``dict[str, object]``)."""
    from gatekeeper.web.routers import access_api, api, review_api

    bare = []
    for route in [*api.router.routes, *access_api.router.routes, *review_api.router.routes]:
        model = getattr(route, "response_model", None)
        if route.path.endswith("/export"):
            continue  # a CSV or JSON file download
        if model is None or getattr(model, "__origin__", None) is dict:
            bare.append(route.path)
    assert not bare, f"routes without a response model: {bare}"


def test_every_package_ships() -> None:
    """A non-editable install carries only the packages pyproject lists: a new sub-package left
    out of it imports in a checkout and fails on a door box."""
    import tomllib
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(repo).parts) for p in (repo / "gatekeeper").rglob("__init__.py") if "migrations" not in p.parts}
    assert not found - listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
