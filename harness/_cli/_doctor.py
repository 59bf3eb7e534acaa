"""``brownout doctor module:function``: run an entry point once and say what the harness saw.

The entry point runs once, as a run (virtual clock for async code, every step in a run
log). The doctor then lists what the harness can see — agents, tools (and which are
side-effecting), LLM calls and where their replies came from — and what it cannot,
each with its fix:

- network connections made outside any ``@tool`` and outside the openai SDK (an HTTP
  client the harness does not capture);
- LLM and tool calls made outside any ``agent()`` scope (no agent to attribute them to);
- LLM calls with no recording yet (live calls, or substituted on a cassette miss);
- tools that look side-effecting but are not declared so, side effects sent without an
  idempotency key, side effects with no compensation declared;
- a run that raised, or that never finished within its virtual deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import importlib
import importlib.util
import inspect
import json
import re
import socket
import sys
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness._capture._context import LLMSite, RunContext, RunHooks, ToolSite
from harness._errors import DoctorError, HarnessError
from harness._log._events import AgentStart, LLMCall, ToolCall
from harness._run._runner import Run

__all__ = ["Diagnosis", "Finding", "add_arguments", "diagnose", "main", "resolve_entry"]

T = TypeVar("T")

_ENTRY = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_][\w.]*)$")
_FILE_ENTRY = re.compile(r"^(?P<path>.+\.py):(?P<attr>[A-Za-z_][\w.]*)$")
# Tool names that usually change the world.
_EFFECT_WORDS = re.compile(
    r"(?:^|_)(send|email|mail|notify|charge|pay|refund|reserve|book|buy|order|create|insert|delete|remove|"
    r"update|write|save|post|put|publish|cancel|transfer|deploy|provision|release|commit)(?:_|$)"
)


@dataclass(frozen=True)
class Finding:
    """One thing the harness cannot see (or sees only partly), and how to fix it."""

    what: str
    fix: str


@dataclass
class Diagnosis:
    """What one run of an entry point showed the harness."""

    entry: str
    run: Run
    agents: dict[str, Counter[str]] = field(default_factory=dict)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    llm: Counter[str] = field(default_factory=Counter)
    llm_by_agent: Counter[str] = field(default_factory=Counter)
    unseen_connections: list[str] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def render(self) -> str:
        """The doctor's report as text."""
        run = self.run
        lines = [f"brownout doctor: ran {self.entry} once (run {run.run_id}, {len(run.log)} events)."]
        if run.error is not None:
            lines.append(f"The run raised {type(run.error).__name__}: {str(run.error)[:300]}")
        else:
            lines.append(f"The run finished: {run.status}.")
        lines += ["", "What the harness sees:"]
        adapters = ", ".join(self.adapters) if self.adapters else "none (no supported framework imported)"
        lines.append(f"  framework adapters active: {adapters}")
        if self.agents:
            lines.append(f"  agents ({len(self.agents)}):")
            for name, statuses in self.agents.items():
                runs = sum(statuses.values())
                how = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
                lines.append(
                    f"    - {name}: {runs} scope(s) ({how}), {self.llm_by_agent.get(name, 0)} LLM call(s)"
                )
        else:
            lines.append("  agents: none")
        if self.tools:
            lines.append(f"  tools ({len(self.tools)}):")
            for name, info in self.tools.items():
                kind = "side-effecting" if info["side_effect"] else "read-only"
                extra = []
                if info["side_effect"]:
                    extra.append(
                        f"compensated by {info['compensate']}" if info["compensate"] else "no compensation"
                    )
                    extra.append(
                        "idempotency key sent"
                        if info["keys"] == info["calls"]
                        else f"idempotency key on {info['keys']} of {info['calls']} call(s)"
                    )
                if info["errors"]:
                    extra.append(f"{info['errors']} failed")
                suffix = f"; {', '.join(extra)}" if extra else ""
                lines.append(f"    - {name}: {info['calls']} call(s), {kind}{suffix}")
        else:
            lines.append("  tools: none called")
        total = sum(self.llm.values())
        if total:
            sources = ", ".join(f"{n} {s}" for s, n in sorted(self.llm.items()))
            lines.append(f"  LLM calls: {total} ({sources})")
        else:
            lines.append("  LLM calls: none")
        lines += [
            "",
            "What it cannot see, and the fix:" if self.findings else "Nothing hidden: every step was seen.",
        ]
        for finding in self.findings:
            lines.append(f"  - {finding.what}")
            lines.append(f"    fix: {finding.fix}")
        return "\n".join(lines) + "\n"


def _import_file(spec: str, path_text: str) -> Any:
    """Import a source file as a module, with its folder on ``sys.path`` (for its sibling imports)."""
    path = Path(path_text)
    if not path.is_file():
        raise DoctorError(
            f"{spec!r}: no file {path_text!r} (from {Path.cwd()}). Pass path/to/app.py:function relative to "
            "the project folder, or module:function."
        )
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise DoctorError(f"{spec!r}: {path_text!r} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise DoctorError(f"{spec!r}: importing {path_text!r} failed: {type(exc).__name__}: {exc}") from None
    return module


def resolve_entry(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` or ``path/to/file.py:function`` (``Class.method``-dotted allowed)."""
    by_file = _FILE_ENTRY.match(spec)
    match = _ENTRY.match(spec)
    if by_file is None and match is None:
        raise DoctorError(
            f"{spec!r}: expected module:function or path/to/file.py:function, e.g. `brownout doctor "
            "myapp.checkout:run` or `brownout doctor examples/langgraph/trip_app.py:plan_trip`. The module "
            "must be importable from the current directory (or installed)."
        )
    if by_file is not None:
        module_name, attr = Path(by_file["path"]).stem, by_file["attr"]
        module = _import_file(spec, by_file["path"])
    else:
        assert match is not None
        module_name, attr = match["module"], match["attr"]
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise DoctorError(
                f"{spec!r}: cannot import module {module_name!r} ({exc}). Run the doctor from your project "
                "folder or install the project (pip install -e .)."
            ) from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            names = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
            raise DoctorError(
                f"{spec!r}: module {module_name!r} has no {attr!r}. Callables it has: "
                f"{', '.join(names[:20]) or 'none'}."
            )
        target = getattr(target, part)
    if not callable(target):
        raise DoctorError(f"{spec!r}: {attr!r} is a {type(target).__name__}, not a function to call.")
    return target  # type: ignore[no-any-return]


# -- network I/O the harness does not capture -------------------------------------------------
# Set while a @tool call or a captured LLM request is in progress. Context variables follow
# the work into tasks it starts (connection attempts of an async HTTP client run in such tasks).
_CAPTURED: contextvars.ContextVar[bool] = contextvars.ContextVar("brownout_doctor_captured", default=False)


class _Attributing(RunHooks):
    """Marks the context of every tool call and LLM request, so their connections are not flagged."""

    def tool_call(self, ctx: RunContext, site: ToolSite, proceed: Callable[[], T]) -> T:
        token = _CAPTURED.set(True)
        try:
            return proceed()
        finally:
            _CAPTURED.reset(token)

    async def atool_call(self, ctx: RunContext, site: ToolSite, proceed: Callable[[], Awaitable[T]]) -> T:
        token = _CAPTURED.set(True)
        try:
            return await proceed()
        finally:
            _CAPTURED.reset(token)

    def llm_request(self, ctx: RunContext, site: LLMSite, proceed: Callable[[], Any]) -> Any:
        token = _CAPTURED.set(True)
        try:
            return proceed()
        finally:
            _CAPTURED.reset(token)

    async def allm_request(
        self, ctx: RunContext, site: LLMSite, proceed: Callable[[], Awaitable[Any]]
    ) -> Any:
        token = _CAPTURED.set(True)
        try:
            return await proceed()
        finally:
            _CAPTURED.reset(token)


@contextlib.contextmanager
def _watch_connections(found: list[str]) -> Iterator[None]:
    original = socket.socket.connect
    original_ex = socket.socket.connect_ex

    def note(address: Any) -> None:
        if not _CAPTURED.get():
            if isinstance(address, tuple) and len(address) >= 2:
                found.append(f"{address[0]}:{address[1]}")
            else:
                found.append(str(address))

    def connect(self: socket.socket, address: Any) -> None:
        note(address)
        return original(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        note(address)
        return original_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        socket.socket.connect = original  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = original_ex  # type: ignore[method-assign,assignment]


# -- the diagnosis ------------------------------------------------------------------------------
def diagnose(
    fn: Callable[..., Any],
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    cassette: str | Path | None = None,
    deadline: float = 600.0,
    entry: str | None = None,
) -> Diagnosis:
    """Run ``fn(*args, **kwargs)`` once as a run and say what the harness saw.

    Args:
        fn: The entry point.
        args: Positional arguments.
        kwargs: Keyword arguments.
        cassette: A cassette to replay LLM calls from (misses are answered with the
            nearest recording and reported); without one, LLM calls go to the live endpoint.
        deadline: Virtual seconds after which the run counts as hung.
        entry: How to name the entry point in the report.
    """
    from harness._cassette._cassette import Cassette
    from harness._run._runner import entry_name, run_system

    name = entry or entry_name(fn)
    tape = Cassette(cassette, record_mode="none", miss="nearest") if cassette is not None else None
    unseen: list[str] = []
    try:
        with _watch_connections(unseen):
            run = run_system(
                fn, args, kwargs or {}, hooks=_Attributing(), cassette=tape, deadline=deadline, entry=name
            )
    except HarnessError as exc:  # a harness error after the run: the run is on the exception
        failed: Run | None = getattr(exc, "run", None)
        if failed is None:
            raise
        failed.error = exc
        run = failed
    log = run.log
    from harness._adapters import activate

    found = Diagnosis(entry=name, run=run, unseen_connections=sorted(set(unseen)), adapters=activate())
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    starts = {e.seq: e for e in log.of(AgentStart)}
    for event in log:
        if event.kind == "agent_end" and event.start_seq in starts:  # type: ignore[union-attr]
            statuses[event.name][event.status] += 1  # type: ignore[union-attr]
    for start in starts.values():
        statuses.setdefault(start.name, Counter())
        if not any(e.kind == "agent_end" and getattr(e, "start_seq", None) == start.seq for e in log):
            statuses[start.name]["never ended"] += 1
    found.agents = dict(statuses)
    tools: dict[str, dict[str, Any]] = {}
    for call in log.of(ToolCall):
        info = tools.setdefault(
            call.name,
            {
                "calls": 0,
                "keys": 0,
                "errors": 0,
                "side_effect": call.side_effect,
                "compensate": call.compensate,
            },
        )
        info["calls"] += 1
        info["keys"] += int(call.idempotency_key is not None)
        info["errors"] += int(call.status != "ok")
    found.tools = tools
    llm_calls = log.of(LLMCall)
    found.llm = Counter(c.source for c in llm_calls)
    found.llm_by_agent = Counter(c.agent or "(no agent)" for c in llm_calls)
    found.findings = _findings(found, llm_calls, log.of(ToolCall), cassette, fn)
    return found


def _findings(
    found: Diagnosis,
    llm_calls: list[LLMCall],
    tool_calls: list[ToolCall],
    cassette: str | Path | None,
    fn: Callable[..., Any],
) -> list[Finding]:
    out: list[Finding] = []
    run = found.run
    asked = {
        str(call.get("function", {}).get("name") or call.get("name") or "")
        for llm in llm_calls
        for call in llm.tool_calls
        if isinstance(call, dict)
    } - {""}
    unrecorded = sorted(asked - {t.name for t in tool_calls})
    if unrecorded:
        out.append(
            Finding(
                f"the model asked for tool(s) {', '.join(unrecorded)}, but no tool site recorded a call of "
                "them: their calls, results and errors are not in the run log, and no tool fault can reach "
                "them.",
                "declare each with @tool (or use a framework brownout adapts: docs/adapters.md); check that "
                "the tool's name in the model's tool list is the @tool name.",
            )
        )
    if found.unseen_connections:
        out.append(
            Finding(
                f"network connections outside any @tool and outside the openai SDK: "
                f"{', '.join(found.unseen_connections)}. Their calls are not in the run log, not in "
                "cassettes, and "
                "faults cannot be injected into them.",
                "wrap the function that makes each call in @tool (side_effect=True if it changes "
                "anything); send LLM "
                "traffic through the official openai SDK (it is captured with no code).",
            )
        )
    if not found.agents:
        out.append(
            Finding(
                "no agent() scopes: every step is attributed to no agent, so checkers cannot tell which "
                "sub-agent "
                "failed and worker faults have no target.",
                'open `async with agent("name"):` (or decorate with @agent("name")) around each agent\'s '
                "work.",
            )
        )
    orphans_llm = [c for c in llm_calls if c.agent is None]
    orphans_tool = [c for c in tool_calls if c.agent is None]
    if found.agents and (orphans_llm or orphans_tool):
        out.append(
            Finding(
                f"{len(orphans_llm)} LLM call(s) and {len(orphans_tool)} tool call(s) ran outside any "
                "agent() scope "
                "(for example in a thread pool, which does not carry the agent context).",
                "open agent() inside the code that makes them, or submit work with "
                "contextvars.copy_context().run.",
            )
        )
    if not tool_calls:
        out.append(
            Finding(
                "no @tool calls: side effects (emails, payments, writes) are invisible, so duplicate and "
                "uncompensated side effects cannot be found.",
                "decorate each function that calls out or changes the world with @tool (side_effect=True "
                "if it does).",
            )
        )
    for name, info in found.tools.items():
        if not info["side_effect"] and _EFFECT_WORDS.search(name):
            out.append(
                Finding(
                    f"tool {name!r} looks side-effecting but is declared read-only, so a duplicated call "
                    "is not flagged.",
                    f"declare it @tool(side_effect=True) if {name} changes anything.",
                )
            )
        if info["side_effect"] and info["keys"] < info["calls"]:
            out.append(
                Finding(
                    f"side-effecting tool {name!r} was called without an idempotency key "
                    f"({info['calls'] - info['keys']} of {info['calls']} call(s)): a retry would apply it "
                    "twice.",
                    f"pass idempotency_key=... to {name} (and have the service deduplicate on it).",
                )
            )
        if info["side_effect"] and not info["compensate"]:
            out.append(
                Finding(
                    f"side-effecting tool {name!r} declares no compensation: a failed run leaves its "
                    "effect in place.",
                    f'declare @tool(side_effect=True, compensate="undo_{name}") and run the compensation '
                    "on failure "
                    "(saga), or accept the effect as final.",
                )
            )
    live = [c for c in llm_calls if c.source == "live"]
    substituted = [c for c in llm_calls if c.source == "substituted"]
    if live:
        out.append(
            Finding(
                f"{len(live)} LLM call(s) went to the live endpoint: no cassette holds them yet, so tests "
                "would not "
                "replay them offline.",
                "record them: run the test once with `pytest TEST --chaos-record-mode=once` (or wrap a "
                "production "
                "run in harness.record(path)).",
            )
        )
    if substituted:
        agents = sorted({c.agent or "(no agent)" for c in substituted})
        out.append(
            Finding(
                f"{len(substituted)} LLM call(s) had no recording in {cassette} (agents: "
                f"{', '.join(agents)}); they "
                "were answered with the nearest recording, so anything judged on them is indeterminate.",
                "re-record the cassette: `pytest TEST --chaos-record-mode=new_episodes`.",
            )
        )
    if run.error is not None:
        from harness._errors import CassetteMiss

        if isinstance(run.error, CassetteMiss):
            fix = "record the missing request (see the message above), or run without --cassette."
        elif isinstance(run.error, OSError | ConnectionError) or "connect" in str(run.error).lower():
            fix = (
                "the LLM endpoint or a service was not reachable: set OPENAI_BASE_URL to a running "
                "OpenAI-compatible server, or pass --cassette with a recording."
            )
        else:
            fix = "the run raised before it finished, so later steps were not seen; fix the error first."
        out.append(Finding(f"the run raised {type(run.error).__name__}: {str(run.error)[:200]}", fix))
    if run.deadline_passed:
        out.append(
            Finding(
                "the run passed its virtual deadline and was cancelled (a hang or a wait that never ends).",
                "look at the last steps in the run log; add timeouts around waits (the liveness checker "
                "reports cycles).",
            )
        )
    if not inspect.iscoroutinefunction(fn) and not inspect.iscoroutinefunction(type(fn).__call__):
        out.append(
            Finding(
                "the entry point is synchronous: it runs on a logical clock, so real blocking I/O takes "
                "real time and "
                "timeouts inside threads are not virtual.",
                "nothing to do for correctness; an async entry point gets the virtual clock (30 s timeouts "
                "cost no "
                "wall time).",
            )
        )
    unused = sorted(n for n in _tools_declared_near(fn) if n not in found.tools)
    if unused:
        out.append(
            Finding(
                f"tools declared but not called in this run: {', '.join(unused)} (their faults are not "
                "explored "
                "from this entry point).",
                "pass arguments that reach them, or test them from another entry point.",
            )
        )
    return out


def _tools_declared_near(fn: Callable[..., Any]) -> set[str]:
    """Names of the @tool functions of the entry point's module: defined in it (or its submodules)
    or imported into it by name."""
    module_name = getattr(fn, "__module__", "") or ""
    names: set[str] = set()
    if not module_name:
        return names
    for name, module in list(sys.modules.items()):
        if module is None or (name != module_name and not name.startswith(module_name + ".")):
            continue
        for value in list(vars(module).values()):
            spec = getattr(value, "__brownout_tool__", None)
            if spec is not None and (getattr(value, "__module__", None) == name or name == module_name):
                names.add(spec.name)
    return names


# -- CLI ------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout doctor``."""
    parser.add_argument(
        "entry", metavar="MODULE:FUNCTION", help="your system's entry point, e.g. myapp.checkout:run"
    )
    parser.add_argument("--args", default="[]", metavar="JSON", help="positional arguments as a JSON list")
    parser.add_argument("--kwargs", default="{}", metavar="JSON", help="keyword arguments as a JSON object")
    parser.add_argument(
        "--setup",
        default=None,
        metavar="MODULE:FUNCTION",
        help="a context manager function that starts what the entry point needs (services) and "
        "yields extra keyword arguments for it",
    )
    parser.add_argument(
        "--cassette",
        default=None,
        metavar="PATH",
        help="replay LLM calls from this cassette instead of calling the live endpoint",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="virtual seconds after which the run counts as hung (default 600)",
    )


def _json(option: str, text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DoctorError(f"{option} {text[:80]!r}: not valid JSON ({exc.msg} at char {exc.pos}).") from None
    if not isinstance(value, kind):
        example = "'[1, \"a\"]'" if kind is list else '\'{"user": "u1"}\''
        raise DoctorError(f"{option} {text[:80]!r}: must be a JSON {kind.__name__}, e.g. {option} {example}.")
    return value


def _reference_for(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """The shipped reference run (no fault) whose entry point is ``fn``, for the requested variant."""
    try:
        from scenarios import REFERENCE_RUNS
    except ImportError:
        return None
    variant = kwargs.get("variant", "naive")
    for ref in REFERENCE_RUNS:
        if ref.fault is None and ref.entry is fn and ref.variant == variant:
            return ref
    return None


def main(args: argparse.Namespace) -> int:
    """Run the entry point once and print what the harness saw."""
    try:
        fn = resolve_entry(args.entry)
        positional = _json("--args", args.args, list)
        keywords = _json("--kwargs", args.kwargs, dict)
        setup: Callable[[], Any] | None = resolve_entry(args.setup) if args.setup else None
        if args.cassette is not None and not Path(args.cassette).is_file():
            raise DoctorError(f"--cassette {args.cassette!r}: no such file.")
        cassette, deadline = args.cassette, args.deadline
        reference = None if setup is not None else _reference_for(fn, keywords)
        if reference is not None:
            # A shipped reference system: start its services and replay its recorded cassette.
            setup = reference.services
            if cassette is None and reference.cassette_path().is_file():
                cassette = str(reference.cassette_path())
            deadline = reference.deadline
            source = (
                f"LLM replies from {cassette}" if cassette else "no cassette recorded yet: LLM calls go live"
            )
            print(f"reference system {reference.name}: its services started; {source}.")
        with setup() if setup is not None else contextlib.nullcontext({}) as extra:
            if not isinstance(extra, dict):
                raise DoctorError(
                    f"--setup {args.setup!r} yielded a {type(extra).__name__}; it must yield a dict of "
                    "keyword arguments for the entry point (or an empty dict)."
                )
            found = diagnose(
                fn,
                tuple(positional),
                {**extra, **keywords},
                cassette=cassette,
                deadline=deadline,
                entry=args.entry,
            )
    except DoctorError as exc:
        print(f"brownout doctor: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(found.render())
    return 1 if found.run.error is not None else 0
