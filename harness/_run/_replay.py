"""``brownout replay``: re-execute a recorded run locally and report its first divergence.

The recording (``harness.record`` or ``BROWNOUT_RECORD``) holds the run's LLM traffic,
its ``@tool`` results and its run log. Replay runs the entry point again with

- every LLM request answered from the cassette (strict: nothing reaches the network),
- every ``@tool`` call answered with its recorded result (a side-effecting tool whose call
  is not recorded is refused, never executed),

then compares the new run's steps with the recorded ones. Like a workflow engine's
nondeterminism check, it stops at the *first* step where the code now does something
else: a different LLM request (shown as a diff), a different tool call, an agent that is
no longer started, a different outcome.

Steps are compared by identity (kind, agent, request digest or tool and arguments, and
how many times the same step happened before) and outcome (status, result), not by
position, so concurrent steps that complete in another order do not count as a
divergence. Timestamps and latencies are not compared.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness._errors import HarnessError
from harness._log._events import AnyEvent, RunStart
from harness._log._runlog import RunLog

__all__ = ["Divergence", "ReplayResult", "add_arguments", "first_divergence", "main", "replay"]

_COMPARED = ("agent_start", "agent_end", "llm_call", "tool_call", "handoff", "compensation", "run_end")


# -- step identity -----------------------------------------------------------------------
def _identity(event: AnyEvent) -> tuple[Any, ...]:
    kind = event.kind
    if kind == "agent_start":
        return (kind, getattr(event, "name", None), getattr(event, "spawned_by", None))
    if kind == "agent_end":
        return (kind, getattr(event, "name", None))
    if kind == "llm_call":
        return (kind, event.agent, getattr(event, "request_digest", None))
    if kind == "tool_call":
        return (kind, event.agent, getattr(event, "name", None), getattr(event, "args_digest", None))
    if kind == "handoff":
        return (kind, getattr(event, "source", None), getattr(event, "target", None))
    if kind == "compensation":
        return (kind, getattr(event, "tool", None), getattr(event, "for_tool", None))
    return (kind,)


def _outcome(event: AnyEvent, *, with_output: bool) -> dict[str, Any]:
    kind = event.kind
    if kind == "agent_end":
        return {"status": getattr(event, "status", None)}
    if kind == "llm_call":
        return {
            "status_code": getattr(event, "status_code", None),
            "response_text": getattr(event, "response_text", None),
            "tool_calls": getattr(event, "tool_calls", None),
            "error_type": getattr(event, "error_type", None),
        }
    if kind == "tool_call":
        return {
            "status": getattr(event, "status", None),
            "result": getattr(event, "result", None),
            "error_type": getattr(event, "error_type", None),
        }
    if kind == "handoff":
        return {"valid": getattr(event, "valid", None), "payload": getattr(event, "payload", None)}
    if kind == "run_end":
        out: dict[str, Any] = {"status": getattr(event, "status", None)}
        if with_output:
            out["output"] = getattr(event, "output", None)
        return out
    return {}


def _steps(log: RunLog) -> list[tuple[tuple[Any, ...], AnyEvent]]:
    seen: dict[tuple[Any, ...], int] = defaultdict(int)
    out = []
    for event in log:
        if event.kind not in _COMPARED:
            continue
        ident = _identity(event)
        seen[ident] += 1
        out.append(((*ident, seen[ident]), event))
    return out


def _describe(event: AnyEvent) -> str:
    kind = event.kind
    if kind == "llm_call":
        return (
            f"LLM request {getattr(event, 'method', 'POST')} {getattr(event, 'path', '')} "
            f"(model {getattr(event, 'model', None)!r}, "
            f"digest {str(getattr(event, 'request_digest', ''))[:16]})"
        )
    if kind == "tool_call":
        args = json.dumps(getattr(event, "args", {}), sort_keys=True)
        return f"tool call {getattr(event, 'name', '')}({args})"
    if kind in ("agent_start", "agent_end"):
        what = "starts" if kind == "agent_start" else f"ends ({getattr(event, 'status', '')})"
        return f"agent {getattr(event, 'name', '')!r} {what}"
    if kind == "run_end":
        return f"run ends ({getattr(event, 'status', '')})"
    return kind


def _comparable(event: AnyEvent) -> dict[str, Any]:
    """What a diff shows: the request of an LLM call, the arguments of a tool call, ..."""
    kind = event.kind
    if kind == "llm_call":
        return {
            "path": getattr(event, "path", None),
            "model": getattr(event, "model", None),
            "messages": getattr(event, "messages", None),
            "tools": getattr(event, "tools", None),
            "stream": getattr(event, "stream", None),
        }
    if kind == "tool_call":
        return {"name": getattr(event, "name", None), "args": getattr(event, "args", None)}
    return event.model_dump(
        mode="json", exclude={"run_id", "seq", "t", "step_id", "parent_step_id", "latency"}
    )


def _diff(expected: Any, actual: Any) -> str:
    a = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False, default=repr).splitlines()
    b = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False, default=repr).splitlines()
    lines = list(difflib.unified_diff(a, b, "recorded", "replayed", lineterm="", n=2))
    if len(lines) > 80:
        lines = [*lines[:80], f"... ({len(lines) - 80} more diff lines)"]
    return "\n".join(lines)


@dataclass
class Divergence:
    """Where a replay first did something else than the recorded run.

    Attributes:
        seq: The recorded step's ``seq`` (or the replayed one's, for an extra step).
        agent: The agent the step ran in.
        expected: The recorded event (``None`` if the replay made an extra step).
        actual: The replayed event at that point (``None`` if the replay never made it).
        reason: One line saying what differs.
        diff: A unified diff, recorded -> replayed.
    """

    seq: int
    agent: str | None
    expected: AnyEvent | None
    actual: AnyEvent | None
    reason: str
    diff: str

    def message(self) -> str:
        lines = [f"replay diverged at step {self.seq} (agent {self.agent!r}): {self.reason}"]
        lines.append(f"  recorded: {_describe(self.expected) if self.expected is not None else '(nothing)'}")
        lines.append(f"  replayed: {_describe(self.actual) if self.actual is not None else '(nothing)'}")
        if self.diff:
            lines.append("Diff (recorded -> replayed):")
            lines.append(self.diff)
        return "\n".join(lines)


def first_divergence(recorded: RunLog, replayed: RunLog) -> Divergence | None:
    """The first step where ``replayed`` departs from ``recorded``, or ``None`` if it does not."""
    end = recorded.kinds("run_end")
    with_output = bool(end) and getattr(end[-1], "output", None) is not None
    rec_steps, rep_steps = _steps(recorded), _steps(replayed)
    rec_keys = {key for key, _ in rec_steps}
    rep_map = dict(rep_steps)
    unmatched_replay = [(key, e) for key, e in rep_steps if key not in rec_keys]

    candidates: list[Divergence] = []
    for key, event in rec_steps:
        other = rep_map.get(key)
        if other is None:
            # What the replay did instead: its first unmatched step of the same agent, else any.
            same_agent = [e for k, e in unmatched_replay if e.agent == event.agent and e.kind == event.kind]
            actual = same_agent[0] if same_agent else (unmatched_replay[0][1] if unmatched_replay else None)
            what = event.kind.replace("_", " ")
            reason = (
                f"the replay made a different {what}" if actual is not None else f"the replay made no {what}"
            )
            diff = _diff(_comparable(event), _comparable(actual)) if actual is not None else ""
            candidates.append(Divergence(event.seq, event.agent, event, actual, reason, diff))
            break
        a, b = _outcome(event, with_output=with_output), _outcome(other, with_output=with_output)
        if a != b:
            candidates.append(
                Divergence(
                    event.seq,
                    event.agent,
                    event,
                    other,
                    f"same step, different outcome ({_describe(other)})",
                    _diff(a, b),
                )
            )
            break
    if unmatched_replay:
        extra = unmatched_replay[0][1]
        if not candidates or (candidates[0].actual is not extra and extra.seq < candidates[0].seq):
            candidates.append(
                Divergence(
                    extra.seq,
                    extra.agent,
                    None,
                    extra,
                    f"the replay made a step the recorded run did not ({_describe(extra)})",
                    "",
                )
            )
    if not candidates:
        return None
    return min(candidates, key=lambda d: d.seq)


# -- running a replay ------------------------------------------------------------------------
@dataclass
class ReplayResult:
    """The outcome of :func:`replay`.

    Attributes:
        recorded: The recorded run log.
        run: The replay's :class:`~harness.Run` (``None`` if it could not start).
        divergence: The first divergence, ``None`` for an exact replay.
        error: A harness error the replay raised (a cassette miss, a refused tool), if any.
    """

    recorded: RunLog
    run: Any
    divergence: Divergence | None
    error: BaseException | None = None

    @property
    def exact(self) -> bool:
        return self.divergence is None and self.error is None


def resolve_recording(path: str | Path, log: str | Path | None = None) -> tuple[Path, Path]:
    """``(cassette, run log)`` of a recording directory or cassette file."""
    from harness._run._record import CASSETTE_FILE, LOG_FILE

    target = Path(path)
    if target.is_dir():
        cassette, run_log = target / CASSETTE_FILE, target / LOG_FILE
    else:
        cassette, run_log = target, target.with_name(LOG_FILE)
    if log is not None:
        run_log = Path(log)
    if not cassette.is_file():
        raise HarnessError(
            f"brownout replay: {cassette} does not exist. Pass a recording directory (holding "
            f"{CASSETTE_FILE} and {LOG_FILE}, as written by harness.record or BROWNOUT_RECORD) "
            "or its cassette file."
        )
    if not target.is_dir():
        from harness._cassette._file import load_cassette_file

        load_cassette_file(cassette)  # a file that is not a cassette says so before a missing log does
    if not run_log.is_file():
        raise HarnessError(
            f"brownout replay: the run log {run_log} does not exist; replay compares against it. Pass it "
            "with --log PATH."
        )
    return cassette, run_log


def import_entry(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` (``function`` may be dotted: ``module:Class.method``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise HarnessError(
            f"--entry={spec!r}: expected module:function, e.g. --entry myapp.checkout:run_checkout."
        )
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise HarnessError(
            f"--entry={spec!r}: cannot import module {module_name!r} ({exc}). Run brownout replay from the "
            "directory your code imports from, or install your package."
        ) from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise HarnessError(
                f"--entry={spec!r}: module {module_name!r} has no attribute {attr!r}."
            ) from None
    if not callable(target):
        raise HarnessError(f"--entry={spec!r}: {attr} is a {type(target).__name__}, not a callable.")
    return target  # type: ignore[no-any-return]


def replay(
    path: str | Path,
    entry: str | Callable[..., Any] | None = None,
    args: Sequence[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    *,
    log: str | Path | None = None,
) -> ReplayResult:
    """Re-execute a recorded run with recorded LLM replies and tool results; find the first divergence.

    Args:
        path: The recording directory (or its cassette file).
        entry: ``module:function`` or a callable; default: the entry stored in the recording.
        args: Positional arguments; default: the recorded ones.
        kwargs: Keyword arguments; default: the recorded ones.
        log: The recorded run log, if it is not ``run.jsonl`` beside the cassette.
    """
    from harness._cassette._cassette import Cassette
    from harness._run._runner import run_system

    cassette_path, log_path = resolve_recording(path, log)
    recorded = RunLog.read(log_path)
    starts = recorded.of(RunStart)
    start = starts[0] if starts else None
    if entry is None:
        stored = start.entry if start is not None else ""
        if ":" not in stored or stored.startswith("agent:"):
            raise HarnessError(
                f"brownout replay: the recording {cassette_path.parent} does not say which function to run "
                f"(its entry is {stored!r}). Pass --entry module:function."
            )
        entry = stored
    fn = import_entry(entry) if isinstance(entry, str) else entry
    recorded_args = start.args if start is not None and isinstance(start.args, dict) else {}
    if args is None:
        args = list(recorded_args.get("args") or [])
    if kwargs is None:
        kwargs = dict(recorded_args.get("kwargs") or {})
    cassette = Cassette(
        cassette_path,
        record_mode="none",
        miss="strict",
        tool_miss="refuse",
        record_command="a new recording of the run (harness.record(path) or BROWNOUT_RECORD=<dir>)",
    )
    error: BaseException | None = None
    run: Any
    try:
        run = run_system(
            fn,
            tuple(args),
            kwargs,
            cassette=cassette,
            replay_tools=True,
            entry=entry if isinstance(entry, str) else None,
            meta={"replay_of": recorded.run_id},
        )
    except HarnessError as exc:  # a miss or a refused tool: the run is kept on the error
        error = exc
        run = getattr(exc, "run", None)
    if run is None:
        raise error if error is not None else HarnessError("brownout replay: the run did not start")
    divergence = first_divergence(recorded, run.log)
    if divergence is None and error is not None:
        divergence = Divergence(len(run.log) - 1, None, None, None, str(error).splitlines()[0], "")
    return ReplayResult(recorded=recorded, run=run, divergence=divergence, error=error)


# -- the command line ------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "recording",
        metavar="RECORDING",
        help="a recording directory (cassette.json + run.jsonl) or a cassette file",
    )
    parser.add_argument(
        "--entry",
        metavar="MODULE:FUNCTION",
        default=None,
        help="the function to re-execute (default: the one stored in the recording)",
    )
    parser.add_argument(
        "args",
        nargs="*",
        metavar="ARG",
        help="positional arguments, each JSON if it parses, else a string (default: the recorded ones)",
    )
    parser.add_argument("--kwargs", default=None, metavar="JSON", help="keyword arguments as a JSON object")
    parser.add_argument(
        "--log",
        default=None,
        metavar="PATH",
        help="the recorded run log (default: run.jsonl beside the cassette)",
    )
    parser.add_argument(
        "--write-log", default=None, metavar="PATH", help="also write the replay's run log here"
    )
    # Arguments may follow options (`RECORDING --entry m:f ARG ...`): parse them intermixed.
    parser.parse_args = parser.parse_intermixed_args  # type: ignore[method-assign,assignment]


def main(args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] | None = None
    if args.kwargs is not None:
        value = _parse_value(args.kwargs)
        if not isinstance(value, dict):
            print(
                f"brownout replay: --kwargs={args.kwargs!r} must be a JSON object, "
                "e.g. '{\"order_id\": 7}'.",
                file=sys.stderr,
            )
            return 2
        kwargs = value
    positional = [_parse_value(a) for a in args.args] if args.args else None
    try:
        result = replay(args.recording, args.entry, positional, kwargs, log=args.log)
    except HarnessError as exc:
        print(f"brownout replay: {exc}" if not str(exc).startswith("brownout") else str(exc), file=sys.stderr)
        return 2
    if args.write_log:
        result.run.log.write(args.write_log)
    steps = len(_steps(result.recorded))
    if result.divergence is None:
        llm = len(result.run.log.kinds("llm_call"))
        tools = len(result.run.log.kinds("tool_call"))
        print(
            f"replay of {args.recording}: exact ({steps} steps compared; {llm} LLM calls and {tools} tool "
            "calls answered from the recording)"
        )
        return 0
    print(result.divergence.message())
    if result.error is not None:
        print(f"\n{result.error}")
    return 1
