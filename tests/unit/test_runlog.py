"""RunLog: append-only, JSONL round trip, clear errors on damaged files, pandas frame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness import RunLog, RunLogError
from harness.events import AgentStart, FaultInjected, RunEnd, RunStart, ToolCall, event_adapter


def _log() -> RunLog:
    log = RunLog("r1", meta={"test": "t"})
    log.append(RunStart(run_id="r1", seq=0, t=0.0, step_id="s0", entry="m:f"))
    log.append(AgentStart(run_id="r1", seq=1, t=0.0, step_id="s1", agent="a", name="a"))
    log.append(
        ToolCall(
            run_id="r1",
            seq=2,
            t=1.5,
            step_id="s2",
            parent_step_id="s1",
            agent="a",
            name="send",
            args={"to": "x"},
            args_digest="d",
            side_effect=True,
            result={"ok": True},
        )
    )
    log.append(RunEnd(run_id="r1", seq=3, t=2.0, step_id="s3", status="ok", output={"x": 1}))
    return log


def test_round_trip_through_file(tmp_path: Path) -> None:
    log = _log()
    path = log.write(tmp_path / "run.jsonl")
    again = RunLog.read(path)
    assert again.run_id == "r1"
    assert again.meta == {"test": "t"}
    assert [e.model_dump() for e in again] == [e.model_dump() for e in log]
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "brownout-runlog" and header["version"] == 1


def test_append_only_and_dense() -> None:
    log = _log()
    with pytest.raises(RunLogError, match="seq=7"):
        log.append(RunEnd(run_id="r1", seq=7, t=0, step_id="s7", status="ok"))
    with pytest.raises(ValidationError, match="frozen"):  # events cannot be rewritten
        log[0].t = 5.0  # type: ignore[misc]


def test_truncated_last_line_names_file_and_line(tmp_path: Path) -> None:
    path = _log().write(tmp_path / "run.jsonl")
    text = path.read_text()
    path.write_text(text[: len(text) - 25])
    with pytest.raises(RunLogError) as info:
        RunLog.read(path)
    message = str(info.value)
    assert str(path) in message and "line 5" in message and "truncated" in message


def test_corrupt_header_and_wrong_version(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(RunLogError, match="line 1: header is not JSON"):
        RunLog.read(bad)
    bad.write_text(json.dumps({"format": "brownout-runlog", "version": 99}) + "\n")
    with pytest.raises(RunLogError, match="version 99"):
        RunLog.read(bad)
    bad.write_text("")
    with pytest.raises(RunLogError, match="empty file"):
        RunLog.read(bad)
    with pytest.raises(RunLogError, match="no such run log"):
        RunLog.read(tmp_path / "missing.jsonl")


def test_out_of_order_seq_is_rejected(tmp_path: Path) -> None:
    lines = _log().dumps().splitlines()
    lines[2], lines[3] = lines[3], lines[2]
    path = tmp_path / "swapped.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunLogError, match="line 3: event seq=2, expected 1"):
        RunLog.read(path)


def test_unknown_kind_is_a_clear_error(tmp_path: Path) -> None:
    lines = _log().dumps().splitlines()
    lines.append(json.dumps({"kind": "teleport", "run_id": "r1", "seq": 4, "t": 0, "step_id": "s4"}))
    path = tmp_path / "kind.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunLogError, match="line 6: not a valid event"):
        RunLog.read(path)


def test_frame_has_one_row_per_event_and_common_columns_first() -> None:
    frame = _log().frame()
    assert list(frame.columns[:7]) == ["run_id", "seq", "t", "kind", "step_id", "parent_step_id", "agent"]
    assert frame.shape[0] == 4
    assert frame.loc[frame.kind == "tool_call", "name"].item() == "send"
    assert RunLog("empty").frame().empty


def test_of_filters_by_class() -> None:
    log = _log()
    assert [e.name for e in log.of(ToolCall)] == ["send"]
    assert [e.kind for e in log.kinds("run_start", "run_end")] == ["run_start", "run_end"]


def test_every_event_kind_round_trips_through_the_discriminated_union() -> None:
    event = FaultInjected(run_id="r", seq=0, t=0, step_id="s0", site="tool", effect="error", fault={"a": 1})
    again = event_adapter.validate_json(event.model_dump_json())
    assert again == event and type(again) is FaultInjected
