from pathlib import Path

from gatewarden.canonical import COLUMN_NAMES, requests_ddl, schema_markdown

REPO = Path(__file__).resolve().parents[1]


def test_schema_doc_is_generated_from_canonical_columns():
    assert schema_markdown() in (REPO / "docs" / "schema.md").read_text()


def test_ddl_lists_every_canonical_column_once():
    ddl = requests_ddl()
    assert all(ddl.count(f"    {name} ") == 1 for name in COLUMN_NAMES)
