"""notebooks/explore.ipynb runs top to bottom on sample_logs with the venv's kernel, so it never goes stale."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conftest import REPO, SAMPLE_LOGS

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = REPO / "notebooks" / "explore.ipynb"
SAMPLE = SAMPLE_LOGS / "requests-2026-11-20.jsonl.gz"


@pytest.mark.skipif(not SAMPLE.exists(), reason="sample_logs/ is not in this checkout")
def test_explore_notebook_runs_on_sample_logs_and_leaves_the_database_alone(cli, db_path: Path, monkeypatch) -> None:
    assert cli("ingest", SAMPLE, "--db", db_path, "-q").exit_code == 0
    assert cli("analyze", "--db", db_path, "-q").exit_code == 0
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    monkeypatch.setenv("GATEWARDEN_DB", str(db_path))  # the kernel inherits it; the parameters cell reads it

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(db_path.parent)}}).execute()

    text = "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert "window 2026-11-20 00:00 .. 2026-11-21 00:00 UTC" in text
    for detector in ("token_ip_fanout", "ip_token_fanout", "asn_automation"):
        assert detector in text
    assert "ip_token_fanout.floor: 5.0 ->" in text and "findings: " in text and "threshold_tuned" in text
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before  # tuning happened on a scratch copy
    assert not list(db_path.parent.glob("*.ipynb"))
