"""The judge: ask an OpenAI-compatible model to score a candidate against a rubric.

One call of a :class:`Judge` is:

1. render the candidate (text as is; anything else as JSON) and the context;
2. if the candidate rests on substituted LLM content (a cassette miss answered by the
   ``nearest`` policy, in the given run or the active one), return an *indeterminate*
   verdict without asking the model;
3. ask the model through the official ``openai`` SDK: temperature 0 by default,
   ``response_format={"type": "json_object"}`` with the reply schema stated in the prompt
   (and, with ``constrain=True``, also attached to the response format, which llama.cpp
   turns into a grammar), ``max_tokens`` (llama.cpp ignores ``max_completion_tokens``);
4. parse the reply with pydantic; on a malformed reply ask once more, saying what was
   wrong; if that reply is malformed too the verdict is *unscored*, with both raw replies
   kept — never a silent pass or fail;
5. if the judge's own call was answered by substituted content, the verdict is
   *indeterminate*;
6. emit a ``verdict`` event into the active run, if there is one.

Judge calls are ordinary openai calls, so inside a run they are captured and go through
the run's cassette like every other LLM call; outside a run, give the judge a cassette
(``Judge(cassette=...)``, which the ``judge`` fixture does for you) to record and replay
its calls.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.events import jsonable
from harness.secrets import scrub
from judges._errors import JudgeCallError, JudgeConfigError, RubricError
from judges._prompt import PROMPT_STYLES, PromptStyle, build_messages, reply_schema, retry_message
from judges._rubric import Rubric
from judges._verdict import CriterionScore, JudgeSpec, Verdict

if TYPE_CHECKING:
    import openai

    from harness.cassettes import Cassette
    from judges._cache import VerdictCache

__all__ = [
    "Judge",
    "JudgeLike",
    "build_judge",
    "candidate_text",
    "judge",
    "publish",
    "register_judge",
    "substituted_steps",
]

VerdictCallback = Callable[[Verdict], None]
RecordMode = Literal["none", "once", "new_episodes", "all"]
MissPolicy = Literal["strict", "nearest", "live"]


class JudgeLike:
    """What every judge offers: call it on a candidate and a rubric, get a :class:`Verdict`."""

    on_verdict: list[VerdictCallback]

    @property
    def spec(self) -> JudgeSpec:
        raise NotImplementedError

    def __call__(
        self,
        candidate: Any,
        rubric: Rubric | Mapping[str, Any] | str | os.PathLike[str],
        *,
        context: Any = None,
        run: Any = None,
    ) -> Verdict:
        raise NotImplementedError

    def _verdict(self, text: str, rubric: Rubric, context: str | None, log: Any) -> Verdict:
        """The verdict on rendered text, without publishing it (ensembles call their members' here)."""
        raise NotImplementedError


_BUILDERS: dict[str, Callable[..., JudgeLike]] = {}


def register_judge(name: str, factory: Callable[..., JudgeLike]) -> None:
    """Register a judge factory under ``name`` so that ``JudgeSpec(name, args).build()`` works."""
    _BUILDERS[name] = factory


def build_judge(spec: JudgeSpec) -> Any:
    """Rebuild a judge from its spec."""
    if spec.name not in _BUILDERS:
        import judges._ensemble  # noqa: F401 - registers "ensemble"
    if spec.name not in _BUILDERS:
        raise JudgeConfigError(
            f"JudgeSpec(name={spec.name!r}): no judge registered under that name. Registered: "
            f"{', '.join(sorted(_BUILDERS))}. Register a factory with judges.register_judge(name, factory)."
        )
    return _BUILDERS[spec.name](**spec.args)


# -- candidates and provenance ----------------------------------------------------------------
def candidate_text(value: Any) -> str:
    """The text a judge sees for ``value``: strings as they are, anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(scrub(jsonable(value)), indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _log_of(run: Any) -> Any:
    """The RunLog of a Run, a RunLog itself, or None."""
    if run is None:
        return None
    from harness import RunLog

    if isinstance(run, RunLog):
        return run
    log = getattr(run, "log", None)
    if isinstance(log, RunLog):
        return log
    raise JudgeConfigError(
        f"run={type(run).__name__} is neither a harness Run nor a RunLog. Rule: pass the Run that "
        "produced the candidate (what chaos.run returns) or its .log, so that substituted LLM content can "
        "be detected. Fix: judge(run.output, rubric, run=run)."
    )


def substituted_steps(log: Any, start: int = 0) -> list[int]:
    """``seq`` of every LLM call from ``start`` on that was answered by substituted content."""
    if log is None:
        return []
    from harness.events import LLMCall

    return [e.seq for e in list(log)[start:] if isinstance(e, LLMCall) and e.source == "substituted"]


def _active_run() -> Any:
    from harness.hooks import current_run

    return current_run()


# -- the reply ---------------------------------------------------------------------------------
class _Reply(BaseModel):
    """The judge's reply as pydantic reads it; ranges are checked against the rubric after."""

    model_config = ConfigDict(extra="ignore")

    rationale: str = ""
    scores: dict[str, Any]


_FENCED = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_reply(text: str, rubric: Rubric) -> tuple[dict[str, int], str]:
    """Parse one reply into (scores, rationale); raise ValueError saying what is wrong."""
    if not text.strip():
        raise ValueError("the reply was empty")
    body = text.strip()
    fenced = _FENCED.match(body)
    if fenced:
        body = fenced.group(1)
    try:
        reply = _Reply.model_validate_json(body)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "the reply"
        raise ValueError(f"{where}: {problem['msg']}") from None
    scores: dict[str, int] = {}
    problems: list[str] = []
    for criterion in rubric.criteria:
        value = reply.scores.get(criterion.name)
        if value is None:
            problems.append(f"scores.{criterion.name} is missing")
            continue
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            problems.append(f"scores.{criterion.name}={value!r} is not an integer level")
            continue
        if int(value) not in criterion.scale:
            problems.append(
                f"scores.{criterion.name}={int(value)} is outside the scale {criterion.low}-{criterion.high}"
            )
            continue
        scores[criterion.name] = int(value)
    if problems:
        raise ValueError("; ".join(problems))
    return scores, reply.rationale.strip()


# -- configuration helpers -----------------------------------------------------------------------
def _public_url(url: str | None) -> str | None:
    """The URL without user:password (a spec is stored; credentials never are)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def _as_rubric(rubric: Any) -> Rubric:
    if isinstance(rubric, Rubric):
        return rubric
    if isinstance(rubric, Mapping):
        return Rubric.from_dict(rubric)
    if isinstance(rubric, str | os.PathLike):
        return Rubric.load(rubric)
    raise RubricError(
        f"rubric={type(rubric).__name__} is not a rubric. Rule: pass a judges.Rubric, a mapping "
        "(Rubric.from_dict) or the path of a YAML/JSON rubric file. Fix: "
        "judge(output, Rubric.load('r.yaml'))."
    )


def _context_text(context: Any) -> str | None:
    if context is None:
        return None
    return candidate_text(context)


def publish(owner: JudgeLike, verdict: Verdict) -> Verdict:
    """Emit a ``verdict`` event into the active run (if any) and tell ``owner``'s observers."""
    active = _active_run()
    if active is not None:
        from harness.events import Verdict as VerdictEvent

        active.emit(
            VerdictEvent,
            rubric=verdict.rubric.name,
            passed=verdict.passed,
            score=verdict.total,
            status=verdict.status,
            detail=scrub(verdict.detail()),
        )
    for callback in list(owner.on_verdict):
        callback(verdict)
    return verdict


class Judge(JudgeLike):
    """A rubric judge backed by any OpenAI-compatible chat-completions endpoint.

    Args:
        model: The model name the endpoint serves. Default: ``$BROWNOUT_JUDGE_MODEL``.
        base_url: The endpoint, e.g. ``http://127.0.0.1:8000/v1``. Default:
            ``$BROWNOUT_JUDGE_BASE_URL``, then ``$OPENAI_BASE_URL``, then the SDK's default.
        api_key: The key. Default: ``$BROWNOUT_JUDGE_API_KEY``, then ``$OPENAI_API_KEY``, then a
            placeholder (local servers need none). Never stored in a verdict or spec.
        prompt: ``"hardened"`` (default: fenced candidate, treated as data) or ``"naive"``
            (the unfenced baseline, for measuring what the hardening buys).
        temperature: Sampling temperature; 0 (the default) for reproducible verdicts.
        max_tokens: Reply budget (sent as ``max_tokens``, which llama.cpp honours).
        seed: Sampling seed sent to the endpoint (ensembles of samples use one per member).
        sample: Sample index; varies the delimiter so ensemble members see distinct prompts.
        constrain: Also attach the reply schema to ``response_format`` (llama.cpp compiles it to
            a grammar, so even a small model replies in shape). Set False for endpoints that
            reject extra ``response_format`` fields.
        timeout: Seconds per request.
        cache: A :class:`~judges.VerdictCache`: identical requests return the stored verdict.
        cassette: Record/replay the judge's calls in this cassette file when it is called
            outside a run (inside a run the run's cassette is used).
        record_mode: Cassette record mode (``none`` replays only; ``once``, ``new_episodes``, ``all``).
        miss: What a cassette miss does: ``strict``, ``nearest``, ``live``.
        client: An ``openai.OpenAI`` client to use instead of building one (tests plug an
            in-process transport in here).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        prompt: PromptStyle = "hardened",
        temperature: float = 0.0,
        max_tokens: int = 256,
        seed: int | None = None,
        sample: int = 0,
        constrain: bool = True,
        timeout: float = 120.0,
        cache: VerdictCache | None = None,
        cassette: str | os.PathLike[str] | Cassette | None = None,
        record_mode: RecordMode = "none",
        miss: MissPolicy = "strict",
        client: openai.OpenAI | None = None,
    ) -> None:
        model = model or os.environ.get("BROWNOUT_JUDGE_MODEL") or None
        if not model or not isinstance(model, str):
            raise JudgeConfigError(
                f"Judge(model={model!r}): no judge model. Rule: a judge names the model its endpoint serves. "
                "Fix: Judge(model='smollm2', base_url='http://127.0.0.1:8000/v1'), or set "
                "BROWNOUT_JUDGE_MODEL (and BROWNOUT_JUDGE_BASE_URL or OPENAI_BASE_URL)."
            )
        if prompt not in PROMPT_STYLES:
            raise JudgeConfigError(
                f"Judge(prompt={prompt!r}): unknown prompt style. Accepted: {', '.join(PROMPT_STYLES)}. "
                "'hardened' fences the candidate against prompt injection; 'naive' is the unfenced baseline."
            )
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not 0 <= temperature <= 2
        ):
            raise JudgeConfigError(
                f"Judge(temperature={temperature!r}): must be a number in [0, 2]. Use 0 for reproducible "
                "verdicts."
            )
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 16:
            raise JudgeConfigError(
                f"Judge(max_tokens={max_tokens!r}): must be an int >= 16; the reply is a JSON object with a "
                "rationale and one score per criterion (256 is plenty)."
            )
        if record_mode not in ("none", "once", "new_episodes", "all"):
            raise JudgeConfigError(
                f"Judge(record_mode={record_mode!r}): accepted: none, once, new_episodes, all."
            )
        if miss not in ("strict", "nearest", "live"):
            raise JudgeConfigError(f"Judge(miss={miss!r}): accepted: strict, nearest, live.")
        self.model = model
        self.base_url = (
            base_url or os.environ.get("BROWNOUT_JUDGE_BASE_URL") or os.environ.get("OPENAI_BASE_URL") or None
        )
        self._api_key = (
            api_key or os.environ.get("BROWNOUT_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        self.prompt: PromptStyle = prompt
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.seed = seed
        self.sample = sample
        self.constrain = constrain
        self.timeout = timeout
        self.cache = cache
        self._cassette: Cassette | None = None
        self._owns_cassette = False
        if cassette is None or isinstance(cassette, str | os.PathLike):
            self.cassette = None if cassette is None else Path(cassette)
        else:
            self._cassette = cassette
            self.cassette = Path(cassette.path)
        self.record_mode: RecordMode = record_mode
        self.miss: MissPolicy = miss
        self._client = client
        self._client_lock = threading.Lock()
        self.on_verdict: list[VerdictCallback] = []

    # -- identity ------------------------------------------------------------------------------
    @property
    def spec(self) -> JudgeSpec:
        """The judge's name and arguments (no credentials, no client, no cassette)."""
        return JudgeSpec(
            name="openai",
            args={
                "model": self.model,
                "base_url": _public_url(self.base_url),
                "prompt": self.prompt,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "seed": self.seed,
                "sample": self.sample,
                "constrain": self.constrain,
            },
        )

    def __repr__(self) -> str:
        return f"Judge(model={self.model!r}, base_url={_public_url(self.base_url)!r}, prompt={self.prompt!r})"

    def replace(self, **changes: Any) -> Judge:
        """A copy of this judge with some arguments changed (the client and callbacks are shared)."""
        args: dict[str, Any] = {
            **self.spec.args,
            "api_key": self._api_key,
            "timeout": self.timeout,
            "cache": self.cache,
            "cassette": self._cassette if self._cassette is not None else self.cassette,
            "record_mode": self.record_mode,
            "miss": self.miss,
            "client": self._client,
        }
        args.update(changes)
        other = Judge(**args)
        other.on_verdict = self.on_verdict
        return other

    # -- the cassette -----------------------------------------------------------------------------
    def open_cassette(self) -> Cassette:
        """The cassette the judge's calls go through outside a run (opened on first use)."""
        with self._client_lock:
            if self._cassette is None:
                if self.cassette is None:
                    raise JudgeConfigError(
                        "Judge.open_cassette(): this judge has no cassette (pass cassette=...)."
                    )
                from harness.cassettes import Cassette

                self._cassette = Cassette(
                    self.cassette,
                    record_mode=self.record_mode,
                    miss=self.miss,
                    record_command=f"the same judge call with Judge(cassette={str(self.cassette)!r}, "
                    "record_mode='new_episodes') against a live endpoint",
                )
                self._owns_cassette = True
                atexit.register(self.close)
            return self._cassette

    def close(self) -> None:
        """Save the judge's cassette if it recorded anything (a judge used ``with`` closes itself)."""
        if self._cassette is not None and self._owns_cassette:
            self._cassette.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the client -----------------------------------------------------------------------------
    def client(self) -> openai.OpenAI:
        """The openai client (built on first use)."""
        with self._client_lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self._api_key or "sk-no-key-needed",
                    timeout=self.timeout,
                    max_retries=0,
                )
            return self._client

    # -- judging -------------------------------------------------------------------------------
    def __call__(
        self,
        candidate: Any,
        rubric: Rubric | Mapping[str, Any] | str | os.PathLike[str],
        *,
        context: Any = None,
        run: Any = None,
    ) -> Verdict:
        """Score ``candidate`` against ``rubric``.

        Args:
            candidate: What the system produced (``run.output``); a harness ``Run`` is taken
                as its output *and* its provenance.
            rubric: A :class:`Rubric`, plain data, or the path of a YAML/JSON rubric.
            context: The task the system was given (text or data), shown to the judge.
            run: The ``Run`` (or ``RunLog``) that produced the candidate: if any of its LLM
                calls was answered by substituted content the verdict is indeterminate.

        Returns:
            The :class:`Verdict` (scored, unscored or indeterminate).
        """
        from harness import Run

        if isinstance(candidate, Run):
            run = candidate if run is None else run
            candidate = candidate.output
        the_rubric = _as_rubric(rubric)
        text = candidate_text(candidate)
        ctx_text = _context_text(context)
        verdict = self._verdict(text, the_rubric, ctx_text, _log_of(run))
        return publish(self, verdict)

    def _verdict(self, text: str, rubric: Rubric, context: str | None, log: Any) -> Verdict:
        steps = substituted_steps(log)
        active = _active_run()
        if active is not None and active.log is not log:
            steps += substituted_steps(active.log)
        if steps:
            return self._empty(
                rubric,
                text,
                context,
                "indeterminate",
                f"the candidate comes from a run whose LLM calls at steps {steps} were answered by "
                "substituted content (a cassette miss under the 'nearest' policy), so a score would judge "
                "recorded text from another path, not this run. Record the missing calls (record_mode "
                "'new_episodes') to get a real verdict.",
            )
        key = None
        if self.cache is not None:
            key = self.cache.key(self.spec, rubric, text, context)
            hit = self.cache.get(key)
            if hit is not None:
                return hit.model_copy(update={"cached": True})
        verdict = self._ask(rubric, text, context)
        if self.cache is not None and key is not None and verdict.status == "scored":
            self.cache.put(key, verdict)
        return verdict

    def _empty(
        self,
        rubric: Rubric,
        text: str,
        context: str | None,
        status: Literal["unscored", "indeterminate"],
        reason: str,
        raw: Sequence[str] = (),
        rationale: str = "",
    ) -> Verdict:
        return Verdict(
            rubric=rubric,
            status=status,
            passed=None,
            scores=tuple(
                CriterionScore(criterion=c.name, score=None, low=c.low, high=c.high, weight=c.weight)
                for c in rubric.criteria
            ),
            reason=reason,
            raw=tuple(raw),
            rationale=rationale,
            judge=self.spec,
            candidate=text,
            context=context,
        )

    def _ask(self, rubric: Rubric, text: str, context: str | None) -> Verdict:
        messages: list[dict[str, str]] = build_messages(self.prompt, rubric, text, context, self.sample)
        raw: list[str] = []
        substituted: list[int] = []
        problem = ""
        for attempt in range(2):
            reply, subs = self._complete(messages, rubric)
            raw.append(reply)
            substituted += subs
            try:
                scores, rationale = parse_reply(reply, rubric)
            except ValueError as exc:
                problem = str(exc)
                if attempt == 0:
                    messages = [
                        *messages,
                        {"role": "assistant", "content": reply},
                        retry_message(problem, rubric),
                    ]
                continue
            if substituted:
                return self._empty(
                    rubric,
                    text,
                    context,
                    "indeterminate",
                    f"the judge's own call was answered by substituted content (cassette miss under the "
                    f"'nearest' policy, step(s) {substituted}): the scores are another request's reply. "
                    "Record the judge's calls for this candidate (record_mode 'new_episodes').",
                    raw=raw,
                    rationale=rationale,
                )
            total = rubric.total(scores)
            return Verdict(
                rubric=rubric,
                status="scored",
                passed=rubric.passes(total),
                total=round(total, 6),
                scores=tuple(
                    CriterionScore(
                        criterion=c.name,
                        score=scores[c.name],
                        low=c.low,
                        high=c.high,
                        weight=c.weight,
                        anchor=c.scale[scores[c.name]],
                    )
                    for c in rubric.criteria
                ),
                rationale=rationale,
                raw=tuple(raw),
                judge=self.spec,
                candidate=text,
                context=context,
            )
        return self._empty(
            rubric,
            text,
            context,
            "unscored",
            f"the judge's reply was malformed twice (last problem: {problem}); the raw replies are kept. "
            "A small judge model or a low max_tokens often causes this: try a larger model, constrain=True "
            "or a higher max_tokens.",
            raw=raw,
        )

    def _request(self, messages: list[dict[str, str]], rubric: Rubric) -> dict[str, Any]:
        response_format: dict[str, Any] = {"type": "json_object"}
        if self.constrain:
            response_format["schema"] = reply_schema(rubric)
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "response_format": response_format,
        }
        if self.seed is not None:
            request["seed"] = self.seed
        return request

    def _complete(self, messages: list[dict[str, str]], rubric: Rubric) -> tuple[str, list[int]]:
        """One chat completion: (reply text, seq of substituted LLM calls it produced)."""
        active = _active_run()
        if active is None and self.cassette is not None:
            return _in_judge_run(self, messages, rubric)
        start = len(active.log) if active is not None else 0
        text = self._send(messages, rubric)
        return text, substituted_steps(active.log if active is not None else None, start)

    def _send(self, messages: list[dict[str, str]], rubric: Rubric) -> str:
        import openai

        request = self._request(messages, rubric)
        try:
            completion = self.client().chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise JudgeCallError(
                f"the judge endpoint {_public_url(self.base_url) or 'default'} answered HTTP "
                f"{exc.status_code} for model {self.model!r}: {str(scrub(str(exc)))[:300]}. Check that the "
                "endpoint serves that model and accepts response_format json_object (pass constrain=False "
                "if it rejects the schema field)."
            ) from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            from harness import HarnessError

            if isinstance(cause, HarnessError):
                raise cause from None
            raise JudgeCallError(
                f"cannot reach the judge endpoint {_public_url(self.base_url) or 'default'} ({exc}). "
                "Start the server (e.g. python -m llama_cpp.server ...) or set BROWNOUT_JUDGE_BASE_URL; "
                "offline, replay a cassette recorded earlier."
            ) from exc
        choices = completion.choices
        if not choices:
            return ""
        return choices[0].message.content or ""


def _in_judge_run(judge: Judge, messages: list[dict[str, str]], rubric: Rubric) -> tuple[str, list[int]]:
    """Make one judge call as a small run of its own, under the judge's cassette."""
    from harness import run_system

    run = run_system(
        judge._send,
        (messages, rubric),
        cassette=judge.open_cassette(),
        entry="judges.judge",
        meta={"judge": True},
    )
    if judge._owns_cassette and judge.record_mode != "none":
        judge.close()  # save as we go: a long recording that is interrupted keeps what it recorded
    if run.error is not None:
        raise run.error
    return str(run.output), substituted_steps(run.log)


_DEFAULT: Judge | None = None


def judge(
    candidate: Any,
    rubric: Rubric | Mapping[str, Any] | str | os.PathLike[str],
    *,
    context: Any = None,
    run: Any = None,
    using: JudgeLike | None = None,
) -> Verdict:
    """Score ``candidate`` against ``rubric`` with the default judge (or ``using``).

    The default judge is ``Judge()`` configured from the environment
    (``BROWNOUT_JUDGE_MODEL``, ``BROWNOUT_JUDGE_BASE_URL``/``OPENAI_BASE_URL``); see
    :class:`Judge`. ``verdict = judge(run.output, rubric, context=task)``.
    """
    global _DEFAULT
    chosen = using
    if chosen is None:
        if _DEFAULT is None:
            _DEFAULT = Judge()
        chosen = _DEFAULT
    return chosen(candidate, rubric, context=context, run=run)


register_judge("openai", Judge)
