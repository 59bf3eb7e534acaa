"""`brownout demo` over the checkpointed orchestrator: the naive variant's crash in the ambiguous window."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_finds_the_redone_charge_of_the_naive_checkpointed_system(tmp_path: Path) -> None:
    report = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "demo", "--only", "checkpointed", "--examples", "30",
         "--workers", "1", "--report", str(report)],
        capture_output=True, text=True, check=False, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "checkpointed hardened  passes" in out, out
    assert "checkpointed naive     FAILS   redone_side_effect" in out, out
    assert "smallest plan: tool[charge_card]#1: crash_after_effect" in out, out
