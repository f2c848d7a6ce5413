"""The unit suite runs without CDK: `make test-unit` needs the package and its test tools, not jsii and Node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_unit_suite_passes_where_cdk_cannot_be_imported(tmp_path):
    for name in ("aws_cdk", "constructs", "jsii"):  # found first on the path: importing one fails loudly
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('a unit test imported {name}')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "lambda_src"), str(REPO)])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/unit",
            "--deselect",
            "tests/unit/test_layout.py::test_the_unit_suite_passes_where_cdk_cannot_be_imported",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
