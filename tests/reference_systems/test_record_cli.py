"""``brownout record-reference``: argument handling that needs no model server."""

from __future__ import annotations

import pytest

from harness.cli import main as brownout


def test_record_reference_help_lists_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        brownout(["record-reference", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--only", "--dir", "--base-url"):
        assert option in out


def test_record_reference_rejects_an_unknown_run_and_lists_the_known_ones() -> None:
    with pytest.raises(SystemExit, match=r"matches no reference run\. Known: research_naive"):
        brownout(["record-reference", "--only", "nope", "--base-url", "http://127.0.0.1:9/v1"])
