"""The packages depend one way: golden -> hdl -> flows -> boards, tests on top.

golden (the specification) imports no other package of the project and no Amaranth; hdl
imports only golden; flows never imports boards; nothing outside the tests imports test code.
Every import counts, also those inside functions.  ``python tests/test_layers.py`` prints who
imports whom between the packages.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("golden", "hdl", "flows", "boards", "cocotb_tests", "tests")
ALLOWED = {
    "golden": {"golden"},
    "hdl": {"golden", "hdl"},
    "flows": {"golden", "hdl", "flows"},
    "boards": {"golden", "hdl", "flows", "boards"},
    "cocotb_tests": {"golden", "hdl", "flows", "boards", "cocotb_tests"},
    "tests": set(PACKAGES),
}
"""Which packages each package may import."""
FORBIDDEN_LIBRARIES = {"golden": {"amaranth", "cocotb", "cocotb_tools"}}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (module level or in functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def import_graph() -> dict[str, dict[str, list[str]]]:
    """``graph[a][b]``: the files of package ``a`` that import package ``b`` (a != b)."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in imported_modules(path) - {package}:
                if name in PACKAGES or name in FORBIDDEN_LIBRARIES.get(package, ()):
                    graph[package][name].append(str(path.relative_to(ROOT)))
    return graph


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package):
    edges = import_graph()[package]
    wrong = {target: files for target, files in edges.items()
             if target not in ALLOWED[package]}
    assert not wrong, f"{package} must not import {sorted(wrong)}: {wrong}"


def test_the_checker_sees_an_import_inside_a_function(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from flows.energy import x\n    import boards.demo\n")
    assert imported_modules(source) == {"flows", "boards"}


def test_evaluate_reports_energy_and_cycles_without_amaranth(tmp_path):
    """golden/evaluate.py --json where ``import amaranth`` fails (no HDL needed)."""
    blocker = tmp_path / "amaranth"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('amaranth is blocked here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "golden/evaluate.py", "--bits", "dynamic", "--limit", "50", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["energy_per_image_uj"] > 0 and report["cycles_per_image"] > 199
    check = subprocess.run([sys.executable, "-c", "import amaranth"], env=env,
                           capture_output=True, text=True)
    assert "blocked" in check.stderr  # the blocker really blocks


if __name__ == "__main__":
    for source, targets in sorted(import_graph().items()):
        for target, files in sorted(targets.items()):
            print(f"{source:>12} -> {target:<12} {len(files):>3} files")
