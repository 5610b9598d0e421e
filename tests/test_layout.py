"""The tree stays navigable: tests mirror src/, the README maps every module, unit runs need no database."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from tests.conftest import REPO

SRC = REPO / "src" / "tsmon"
README = (REPO / "README.md").read_text()
# Test folders for top-level folders of the repository rather than packages of src/tsmon.
EXTRA_TEST_DIRS = {"sql"}


def _packages() -> list[str]:
    return sorted(p.parent.name for p in SRC.glob("*/__init__.py"))


def _source_map() -> dict[str, str]:
    """Rows of the README's source-layout table: package or module -> its description."""
    section = README[README.index("### Source layout") :]
    section = section[: section.index("\n## ")]
    return dict(re.findall(r"^\| `([a-z_]+/|[a-z_]+\.py)` \| (.*) \|$", section, flags=re.MULTILINE))


def test_readme_source_map_names_every_package_and_module() -> None:
    rows = _source_map()
    for package in _packages():
        assert f"{package}/" in rows, f"README's source layout has no row for {package}/"
        modules = sorted(p.stem for p in (SRC / package).glob("[a-z]*.py") if p.stem != "__init__")
        for module in modules:
            assert f"`{module}`" in rows[f"{package}/"], f"README's row for {package}/ does not name {module}"
    for module in sorted(
        p.name for p in SRC.glob("[a-z]*.py") if p.stem != "__init__" and p.stem != "__main__"
    ):
        assert module in rows, f"README's source layout has no row for {module}"


def test_tests_mirror_src() -> None:
    test_dirs = {p.parent.name for p in (REPO / "tests").glob("*/__init__.py")}
    assert test_dirs - set(_packages()) <= EXTRA_TEST_DIRS, "a test folder with no package of src/tsmon"
    untested = [p for p in _packages() if p not in test_dirs]
    assert not untested, f"packages without a tests/<package>/ folder: {untested}"


def test_unit_run_starts_no_database(tmp_path: object) -> None:
    # An unreachable database URL: any attempt to use it fails the run.
    env = {**os.environ, "TSMON_TEST_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "not db", "-p", "no:cacheprovider", "tests/ingest"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "deselected" in run.stdout  # the database tests of tests/ingest were there and left out
    assert "tsmon test database" not in run.stdout


# Floors, bottom up (../shared/docs/architecture.md): a package imports only from floors below its own.
FLOORS = {
    "__version__": 1,
    "settings": 1,
    "errors": 1,
    "detection": 1,
    "stats": 1,
    "features": 1,  # transformers over arrays, no I/O
    "forecast": 2,  # estimators over arrays, no I/O; periods found by detection's seasonality
    "db": 2,
    "processes": 2,
    "heartbeats": 3,
    "ingest": 3,
    "windows": 3,
    "schema": 4,  # the orchestrator: migrations, then the windows for the edition
    "scoring": 4,
    "analysis": 4,  # reads windows and samples, computes with stats, stores runs
    "scrape": 4,
    "demo": 4,
    "grafana": 4,
    "evaluation": 5,  # runs the worker's own code (scoring) and the forecasters over a corpus
    "api": 6,
    "worker": 6,
    "cli": 7,
    "__main__": 8,
}


def _imports() -> dict[str, set[str]]:
    """Top-level unit (package or module of src/tsmon) -> the other units it imports."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        unit = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tsmon":
                names = [f"tsmon.{a.name}" for a in node.names] if node.module == "tsmon" else [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.split(".")[0] == "tsmon"]
            for name in names:
                parts = name.split(".")
                if len(parts) > 1 and parts[1] != unit:
                    found.setdefault(unit, set()).add(parts[1])
    return found


def test_packages_import_only_from_floors_below() -> None:
    imports = _imports()
    unplaced = sorted((set(imports) | {u for deps in imports.values() for u in deps}) - set(FLOORS))
    assert not unplaced, f"units with no floor in FLOORS (place them): {unplaced}"
    upward = sorted(
        f"{unit} (floor {FLOORS[unit]}) imports {dep} (floor {FLOORS[dep]})"
        for unit, deps in imports.items()
        for dep in deps
        if FLOORS[dep] >= FLOORS[unit]
    )
    assert not upward, "imports that go sideways or up a floor:\n" + "\n".join(upward)
