"""The import contracts in pyproject.toml's [tool.importlinter] hold: the tray
never loads the service's server side or the model stack, the safety layers
need no web framework or Qt, the fronts reach the worker only through
supervision, the worker loads no web framework. Checked by `lint-imports`
(import-linter, a test extra), which follows indirect imports too; and a copy
of the tree with one forbidden import added proves the check can fail."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The venv's own console script, next to the interpreter running the tests.
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: install the test extras (pip install -e '.[test]'), "
                    "which bring import-linter.")
    # --no-cache: nothing written into the tree; lint-imports reads the
    # pyproject.toml of, and imports the packages from, its working directory.
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_import_contracts_hold():
    r = lint(ROOT)
    assert r.returncode == 0, f"an import contract is broken:\n{r.stdout}\n{r.stderr}"


def test_a_forbidden_import_breaks_the_check(tmp_path):
    """The same check on a copy of the tree in which the tray imports fastapi."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ("gui", "service"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "gui" / "contract_probe.py").write_text("import fastapi  # forbidden in the tray\n")
    r = lint(tmp_path)
    assert r.returncode != 0, f"lint-imports missed a forbidden import:\n{r.stdout}\n{r.stderr}"
    assert "gui.contract_probe -> fastapi" in r.stdout, r.stdout
