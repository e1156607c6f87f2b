"""docs/architecture.md names every module under ``vergeml/``, and only modules that exist.

Which files are modules: every ``*.py`` file under ``vergeml/`` (outside
``__pycache__``), named by its path relative to ``vergeml/`` with ``/``
separators (``cli/main.py``, ``models/imagenet/training/head.py``). An
``__init__.py`` counts only when it holds code: it is left out when every
top-level statement after its docstring is an import or an assignment to a
dunder name (``__all__``, ``__version__``), i.e. when it is a package marker,
a docstring or re-exports. ``data/__init__.py`` (the lazy API),
``services/__init__.py`` (shared helpers) and ``models/imagenet/__init__.py``
(the plugin class) count. The files are parsed with :mod:`ast`, never
imported, so no TensorFlow is loaded.

Missing modules: each module must appear in the document in backticks,
exactly as its relative path (```cli/main.py```), and start a row of a
module table (``| `cli/main.py` | ... |``): one line each.

Stale entries: a backticked span that is one path ending in ``.py``
(letters, digits, ``_ . / -`` only: no spaces, wildcards or ``<...>``) is
taken as a module path, and must name a file under ``vergeml/``, unless it
names a file of the repository outside the package. Precisely, for a span ``p``:

1. ``p`` starts with ``vergeml/``: a module path, the rest relative to ``vergeml/``;
2. ``p`` has a ``/`` and its first component is a folder of ``vergeml/``: a module path;
3. ``p`` has a ``/`` and its first component is another top-level entry of the
   repository (``tests/``, ``bench/``, ``docs/`` ...): not checked;
4. ``p`` is a bare file name that exists under ``vergeml/`` (``errors.py``): a
   module path; one that exists only elsewhere in the repository (``setup.py``,
   a test or bench file): not checked;
5. anything else (``grid.py``, ``config/old.py``): a module path, so a name
   that exists nowhere is reported as stale.
"""
import ast
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "vergeml"
DOC = ROOT / "docs" / "architecture.md"

PY_SPAN = re.compile(r"`([A-Za-z0-9_./-]+\.py)`")
SKIPPED_DIRS = {"__pycache__", "vergeml", "node_modules", "build", "dist"}


def has_code(path):
    """Whether an ``__init__.py`` holds more than a docstring, imports and dunder assignments."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]

    def trivial(node):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return True
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return all(isinstance(t, ast.Name) and t.id.startswith("__") and t.id.endswith("__")
                       for t in targets)
        return False
    return not all(trivial(node) for node in body)


def package_modules():
    """The relative paths (``cli/main.py``) of the modules the document must name."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        if path.name == "__init__.py" and not has_code(path):
            continue
        found.append(path.relative_to(PACKAGE).as_posix())
    return found


def repository_file_names():
    """Names of the ``.py`` files of the repository outside ``vergeml/`` (hidden folders skipped)."""
    names = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not d.endswith(".egg-info")
                   and not (Path(folder) == ROOT and d in SKIPPED_DIRS)
                   and d != "__pycache__"]
        names.update(f for f in files if f.endswith(".py"))
    return names


def module_path(span, outside_names):
    """The path relative to ``vergeml/`` that ``span`` names, or None when it is no module path
    (rules 1-5 of the module docstring)."""
    if span.startswith("vergeml/"):
        return span[len("vergeml/"):]
    first, slash, _ = span.partition("/")
    if slash:
        if (PACKAGE / first).is_dir():
            return span
        if (ROOT / first).exists():
            return None
        return span
    if (PACKAGE / span).is_file():
        return span
    if span in outside_names:
        return None
    return span


def test_module_rules():
    assert not has_code(PACKAGE / "cli" / "__init__.py")
    assert has_code(PACKAGE / "data" / "__init__.py")
    names = {"setup.py", "test_fast_cli.py"}
    assert module_path("vergeml/cli/main.py", names) == "cli/main.py"
    assert module_path("cli/main.py", names) == "cli/main.py"
    assert module_path("tests/unit/test_cli.py", names) is None
    assert module_path("setup.py", names) is None
    assert module_path("errors.py", names) == "errors.py"
    assert module_path("grid_run.py", names) == "grid_run.py"


def test_every_module_is_named():
    doc = DOC.read_text(encoding="utf-8")
    missing = [m for m in package_modules() if f"`{m}`" not in doc]
    assert not missing, (
        f"docs/architecture.md does not name these modules (add one row each, as `path` "
        f"relative to vergeml/, in the section where they sit in the data flow): {', '.join(missing)}")


def test_every_module_has_a_row():
    rows = {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", DOC.read_text(encoding="utf-8"), re.M)}
    without = [m for m in package_modules() if m not in rows]
    assert not without, (
        f"docs/architecture.md names these modules but not in a row of their own "
        f"(| `path` | what it is |): {', '.join(without)}")


def test_no_stale_module_path():
    outside = repository_file_names()
    spans = PY_SPAN.findall(DOC.read_text(encoding="utf-8"))
    stale = sorted({span for span in spans
                    if (rel := module_path(span, outside)) is not None and not (PACKAGE / rel).is_file()})
    assert not stale, (
        f"docs/architecture.md names modules that do not exist under vergeml/ "
        f"(renamed or removed?): {', '.join(stale)}")
