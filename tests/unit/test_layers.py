"""The layer rules of ARCHITECTURE.md, checked by import-linter on every test run."""

import shutil
import subprocess
import sys
from pathlib import Path


def test_import_layers_hold() -> None:
    root = Path(__file__).resolve().parents[2]
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe, "--config", str(root / "pyproject.toml")], cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
