"""Bad input is refused with a message naming the value, the rule and the fix; never misread."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from harness import RunLog
from harness._cassette._file import FORMAT_VERSION, contained, load_cassette_file, write_atomically
from harness._errors import CassetteError
from harness.cli import main as cli
from judges import Criterion, Rubric
from judges._errors import MalformedReply
from judges._reply import parse_reply


def _cut_log(tmp_path: Path) -> Path:
    from harness import agent, run_system

    def system() -> str:
        with agent("a"):
            return "done"

    whole = tmp_path / "whole.jsonl"
    run_system(system).log.write(whole)
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(lines[:2]), encoding="utf-8")  # header and run_start, cut at a line boundary
    return cut


def test_check_refuses_a_run_log_without_run_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = _cut_log(tmp_path)
    assert cli(["check", str(cut)]) == 2
    err = capsys.readouterr().err
    assert str(cut) in err  # the value
    assert "incomplete run log" in err and "no run_end" in err  # the rule
    assert "--partial" in err and "Re-run" in err  # the fix
    assert cli(["check", str(tmp_path / "whole.jsonl")]) == 0


def test_check_partial_checks_a_cut_log_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = _cut_log(tmp_path)
    assert cli(["check", "--partial", str(cut)]) == 0
    out = capsys.readouterr().out
    assert "partial log: no run_end" in out
    assert cli(["check", "--partial", "--format", "json", str(cut)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["partial"] is True


def test_a_cassette_path_outside_the_rootdir_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    with pytest.raises(CassetteError) as info:
        contained(root / "../../x/evil.json", root, source="cassette='../../x/evil.json'")
    message = str(info.value)
    assert "'../../x/evil.json'" in message  # the value
    assert "outside the rootdir" in message  # the rule
    assert "Use a path relative to the rootdir" in message  # the fix
    assert contained(root / "cassettes" / "a.json", root, source="x") == root / "cassettes" / "a.json"


def test_a_newer_cassette_format_says_upgrade_brownout(tmp_path: Path) -> None:
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "brownout-cassette", "version": FORMAT_VERSION + 1}))
    with pytest.raises(CassetteError) as info:
        load_cassette_file(newer, record_command="pytest t.py::test_a --chaos-record-mode=all")
    message = str(info.value)
    assert f"version {FORMAT_VERSION + 1}" in message and "newer brownout" in message
    assert f"reads version {FORMAT_VERSION}" in message
    assert "Upgrade brownout" in message and "re-record" not in message.replace(
        "do not delete or re-record", ""
    )


def test_replay_of_a_file_that_is_not_a_cassette_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notacassette.json"
    notes.write_text('{"hello": "world"}')
    assert cli(["replay", str(notes), "--entry", "os:getcwd"]) == 2
    err = capsys.readouterr().err
    assert "notacassette.json: is not a brownout cassette" in err and "format None" in err
    assert "run.jsonl" not in err
    text = tmp_path / "plain.json"
    text.write_text("just words")
    assert cli(["replay", str(text), "--entry", "os:getcwd"]) == 2
    assert "is not a brownout cassette: not valid JSON" in capsys.readouterr().err
    log = _cut_log(tmp_path)
    assert cli(["replay", str(log), "--entry", "os:getcwd"]) == 2
    assert "is not a brownout cassette: it is a run log" in capsys.readouterr().err


@pytest.mark.parametrize("score", ["1e400", "-1e400", "NaN", "123456789012345678901234567890"])
def test_an_absurd_judge_score_is_malformed_not_a_crash(score: str) -> None:
    criterion = Criterion(name="correct", description="is it right", scale={0: "wrong", 1: "right"})
    rubric = Rubric(name="r", description="correctness", criteria=[criterion], pass_threshold=0.5)
    with pytest.raises(MalformedReply) as info:
        parse_reply('{"rationale": "x", "scores": {"correct": ' + score + "}}", rubric)
    message = str(info.value)
    assert "scores.correct=" in message and "scale 0-1" in message


def test_files_keep_the_umask_mode_and_stale_temps_go(tmp_path: Path) -> None:
    target = tmp_path / "c.json"
    stale = tmp_path / ".c.json.abc123.tmp"
    stale.write_bytes(b"half a cassette")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = tmp_path / ".c.json.def456.tmp"  # a writer at work right now: left alone
    fresh.write_bytes(b"")
    mask = os.umask(0o022)
    try:
        write_atomically(target, b"{}")
        log_path = RunLog("r").write(tmp_path / "run.jsonl")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o644
    assert not stale.exists() and fresh.exists()
