"""The README's column table is the schema's: adding a column to schema.py and running `make docs` is all it takes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from connect_exporter.schema import COLUMNS, CONTACT_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("columns", ROOT / "docs" / "columns.py")
assert spec is not None and spec.loader is not None
columns = importlib.util.module_from_spec(spec)
spec.loader.exec_module(columns)


def test_the_readme_lists_every_column_of_the_schema():
    block = columns.readme_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert block == columns.render(), "README.md's column table is out of date: run `make docs`"
    for column in (*COLUMNS, *CONTACT_COLUMNS):
        assert f"`{column.name}`" in block or f"`contacts[].{column.name}`" in block
