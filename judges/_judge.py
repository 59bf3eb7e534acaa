"""The judge: ask an OpenAI-compatible model to score a candidate against a rubric.

One call of a :class:`Judge` is:

1. render the candidate (text as is; anything else as JSON) and the context
   (:class:`~judges._protocol.JudgeLike`);
2. if the candidate rests on substituted LLM content (a cassette miss answered by the
   ``nearest`` policy, in the given run or the active one), return an *indeterminate*
   verdict without asking the model;
3. ask the model (:mod:`judges._transport`): temperature 0 by default,
   ``response_format={"type": "json_object"}`` with the reply schema stated in the prompt
   (and, with ``constrain=True``, also attached to the response format, which llama.cpp
   turns into a grammar), ``max_tokens`` (llama.cpp ignores ``max_completion_tokens``);
4. read the reply (:mod:`judges._reply`); on a malformed reply ask once more, saying what
   was wrong; if that reply is malformed too the verdict is *unscored*, with both raw
   replies kept — never a silent pass or fail;
5. if the judge's own call was answered by substituted content, the verdict is
   *indeterminate*;
6. emit a ``verdict`` event into the active run, if there is one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judges._cache import VerdictCache
from judges._candidate import active_run, substituted_steps
from judges._errors import JudgeConfigError, MalformedReply
from judges._prompt import PROMPT_STYLES, PromptStyle, build_messages, reply_schema, retry_message
from judges._protocol import JudgeLike, JudgePrompt, VerdictCallback
from judges._registry import register_judge
from judges._reply import empty_verdict, parse_reply, scored_verdict
from judges._rubric import Rubric
from judges._transport import (
    MISS_POLICIES,
    RECORD_MODES,
    MissPolicy,
    RecordMode,
    Reply,
    Transport,
    public_url,
)
from judges._verdict import JudgeSpec, Verdict

if TYPE_CHECKING:
    import openai

    from harness.cassettes import Cassette

__all__ = ["Judge", "default_judge", "judge"]


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
        async_client: An ``openai.AsyncOpenAI`` client for :meth:`aevaluate` (default: one built
            per call from ``base_url``, ``api_key`` and ``timeout``).

    Raises:
        JudgeConfigError: An argument breaks its rule; the message names it, its value and the fix.
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
        async_client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.model = _check_model(model or os.environ.get("BROWNOUT_JUDGE_MODEL") or None)
        _check_arguments(
            base_url=base_url,
            api_key=api_key,
            prompt=prompt,
            temperature=temperature,
            max_tokens=max_tokens,
            seed=seed,
            sample=sample,
            constrain=constrain,
            timeout=timeout,
            cache=cache,
            cassette=cassette,
            record_mode=record_mode,
            miss=miss,
        )
        self.prompt: PromptStyle = prompt
        self.temperature = float(temperature)
        self.max_tokens = max_tokens
        self.seed = seed
        self.sample = sample
        self.constrain = constrain
        self.cache = cache
        self._transport = Transport(
            base_url=(
                base_url
                or os.environ.get("BROWNOUT_JUDGE_BASE_URL")
                or os.environ.get("OPENAI_BASE_URL")
                or None
            ),
            api_key=api_key or os.environ.get("BROWNOUT_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY"),
            timeout=timeout,
            cassette=cassette,
            record_mode=record_mode,
            miss=miss,
            client=client,
            async_client=async_client,
        )
        self.on_verdict: list[VerdictCallback] = []

    # -- identity ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str | None:
        """The endpoint (None: the SDK's default)."""
        return self._transport.base_url

    @property
    def timeout(self) -> float:
        """Seconds per request."""
        return self._transport.timeout

    @property
    def cassette(self) -> Path | None:
        """The path of the judge's cassette, if it has one."""
        return self._transport.cassette_path

    @property
    def record_mode(self) -> RecordMode:
        """The judge's cassette record mode."""
        return self._transport.record_mode

    @property
    def miss(self) -> MissPolicy:
        """The judge's cassette miss policy."""
        return self._transport.miss

    @property
    def spec(self) -> JudgeSpec:
        """The judge's name and arguments (no credentials, no client, no cassette)."""
        return JudgeSpec(
            name="openai",
            args={
                "model": self.model,
                "base_url": public_url(self.base_url),
                "prompt": self.prompt,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "seed": self.seed,
                "sample": self.sample,
                "constrain": self.constrain,
            },
        )

    def __repr__(self) -> str:
        return f"Judge(model={self.model!r}, base_url={public_url(self.base_url)!r}, prompt={self.prompt!r})"

    def replace(self, **changes: Any) -> Judge:
        """A copy of this judge with some arguments changed (the client and callbacks are shared)."""
        args: dict[str, Any] = {
            **self.spec.args,
            "base_url": self.base_url,
            "api_key": self._transport.api_key,
            "timeout": self.timeout,
            "cache": self.cache,
            "cassette": self._transport.shared_cassette,
            "record_mode": self.record_mode,
            "miss": self.miss,
            "client": self._transport.given_client,
            "async_client": self._transport.given_async_client,
        }
        args.update(changes)
        other = Judge(**args)
        other.on_verdict = self.on_verdict
        return other

    # -- the cassette and the client ---------------------------------------------------------------
    def open_cassette(self) -> Cassette:
        """The cassette the judge's calls go through outside a run (opened on first use)."""
        return self._transport.open_cassette()

    def close(self) -> None:
        """Save the judge's cassette if it recorded anything (a judge used ``with`` closes itself)."""
        self._transport.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self) -> openai.OpenAI:
        """The openai client (built on first use)."""
        return self._transport.client()

    # -- judging -------------------------------------------------------------------------------
    def _verdict(
        self, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None = None
    ) -> Verdict:
        early, key = self._before(text, rubric, context, log, prompt)
        if early is not None:
            return early
        asking = _Asking(self, rubric, text, context, prompt)
        while (request := asking.request()) is not None:
            asking.take(self._transport.complete(request))
        return self._after(asking.verdict(), key)

    async def _averdict(
        self, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None = None
    ) -> Verdict:
        early, key = self._before(text, rubric, context, log, prompt)
        if early is not None:
            return early
        asking = _Asking(self, rubric, text, context, prompt)
        while (request := asking.request()) is not None:
            asking.take(await self._transport.acomplete(request))
        return self._after(asking.verdict(), key)

    def _before(
        self, text: str, rubric: Rubric, context: str | None, log: Any, prompt: JudgePrompt | None
    ) -> tuple[Verdict | None, str | None]:
        """(a verdict that needs no call, the cache key): indeterminate on substituted content, or a hit."""
        steps = substituted_steps(log)
        active = active_run()
        if active is not None and active.log is not log:
            steps += substituted_steps(active.log)
        if steps:
            verdict = empty_verdict(
                rubric,
                "indeterminate",
                f"the candidate comes from a run whose LLM calls at steps {steps} were answered by "
                "substituted content (a cassette miss under the 'nearest' policy), so a score would judge "
                "recorded text from another path, not this run. Record the missing calls (record_mode "
                "'new_episodes') to get a real verdict.",
                judge=self.spec,
                candidate=text,
                context=context,
            )
            return verdict, None
        if self.cache is None:
            return None, None
        # A custom prompt asks something else of the same candidate: it gets its own cache entries.
        keyed = context if prompt is None else f"{context}\x00prompt={prompt.name}"
        key = self.cache.key(self.spec, rubric, text, keyed)
        hit = self.cache.get(key)
        if hit is not None:
            return hit.model_copy(update={"cached": True}), key
        return None, key

    def _after(self, verdict: Verdict, key: str | None) -> Verdict:
        if self.cache is not None and key is not None and verdict.status == "scored":
            self.cache.put(key, verdict)
        return verdict

    def _request(
        self, messages: list[dict[str, str]], rubric: Rubric, prompt: JudgePrompt | None = None
    ) -> dict[str, Any]:
        response_format: dict[str, Any] = {"type": "json_object"}
        if self.constrain:
            response_format["schema"] = (prompt or _StylePrompt(self.prompt)).schema(rubric)
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


class _Asking:
    """One verdict being asked for: the request to send next, the replies so far, the verdict.

    Shared by the sync and the async call, which differ only in how they send a request:
    ``while (request := asking.request()) is not None: asking.take(send(request))``.
    A malformed reply is asked again once, saying what was wrong; a second malformed reply
    makes the verdict *unscored*; a reply that was substituted content makes it *indeterminate*.
    """

    def __init__(
        self, judge: Judge, rubric: Rubric, text: str, context: str | None, prompt: JudgePrompt | None
    ) -> None:
        self.judge = judge
        self.rubric = rubric
        self.text = text
        self.context = context
        self.prompt: JudgePrompt = prompt if prompt is not None else _StylePrompt(judge.prompt)
        self.messages: list[dict[str, str]] = self.prompt.messages(rubric, text, context, judge.sample)
        self.raw: list[str] = []
        self.substituted: list[int] = []
        self.tokens = [0, 0]
        self.problem = ""
        self.result: tuple[dict[str, int], str] | None = None

    def request(self) -> dict[str, Any] | None:
        """The next request to send, or None when the verdict is decided."""
        if self.result is not None or len(self.raw) >= 2:
            return None
        return self.judge._request(self.messages, self.rubric, self.prompt)

    def take(self, reply: Reply) -> None:
        self.raw.append(reply.text)
        self.substituted += reply.substituted
        self.tokens[0] += reply.prompt_tokens
        self.tokens[1] += reply.completion_tokens
        try:
            self.result = parse_reply(reply.text, self.rubric)
        except MalformedReply as exc:
            self.problem = str(exc)
            self.messages = [
                *self.messages,
                {"role": "assistant", "content": reply.text},
                self.prompt.retry(self.problem, self.rubric),
            ]

    def verdict(self) -> Verdict:
        judge, rubric = self.judge, self.rubric
        common: dict[str, Any] = {
            "judge": judge.spec,
            "candidate": self.text,
            "context": self.context,
            "raw": self.raw,
        }
        if self.result is None:
            verdict = empty_verdict(
                rubric,
                "unscored",
                f"the judge's reply was malformed twice (last problem: {self.problem}); the raw replies are "
                "kept. A small judge model or a low max_tokens often causes this: try a larger model, "
                "constrain=True or a higher max_tokens.",
                **common,
            )
        elif self.substituted:
            verdict = empty_verdict(
                rubric,
                "indeterminate",
                f"the judge's own call was answered by substituted content (cassette miss under the "
                f"'nearest' policy, step(s) {self.substituted}): the scores are another request's reply. "
                "Record the judge's calls for this candidate (record_mode 'new_episodes').",
                rationale=self.result[1],
                **common,
            )
        else:
            verdict = scored_verdict(rubric, self.result[0], rationale=self.result[1], **common)
        return verdict.model_copy(
            update={"prompt_tokens": self.tokens[0], "completion_tokens": self.tokens[1]}
        )


class _StylePrompt:
    """A :class:`~judges._protocol.JudgePrompt` from a prompt style of :mod:`judges._prompt`."""

    def __init__(self, style: PromptStyle) -> None:
        self.style: PromptStyle = style
        self.name: str = style

    def messages(
        self, rubric: Rubric, candidate: str, context: str | None, sample: int
    ) -> list[dict[str, str]]:
        return build_messages(self.style, rubric, candidate, context, sample)

    def schema(self, rubric: Rubric) -> dict[str, Any]:
        return reply_schema(rubric)

    def retry(self, problem: str, rubric: Rubric) -> dict[str, str]:
        return retry_message(problem, rubric)


def _bad(argument: str, value: Any, rule: str, fix: str) -> JudgeConfigError:
    """``Judge(argument=value): <what happened>. Rule: ... Fix: ...``"""
    what = f"invalid value (of type {type(value).__name__}). " if rule.startswith("Rule:") else ""
    return JudgeConfigError(f"Judge({argument}={value!r}): {what}{rule} Fix: {fix}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_model(model: Any) -> str:
    if not model or not isinstance(model, str):
        raise JudgeConfigError(
            f"Judge(model={model!r}): no judge model. Rule: a judge names the model its endpoint serves. "
            "Fix: Judge(model='smollm2', base_url='http://127.0.0.1:8000/v1'), or set "
            "BROWNOUT_JUDGE_MODEL (and BROWNOUT_JUDGE_BASE_URL or OPENAI_BASE_URL)."
        )
    return model


def _check_arguments(**args: Any) -> None:
    """Raise JudgeConfigError for the first argument of ``Judge(...)`` that breaks its rule."""
    for name in ("base_url", "api_key"):
        if args[name] is not None and not isinstance(args[name], str):
            raise _bad(
                name,
                args[name] if name == "base_url" else type(args[name]).__name__,
                f"Rule: {name} is a str or None.",
                "Judge('smollm2', base_url='http://127.0.0.1:8000/v1').",
            )
    if args["prompt"] not in PROMPT_STYLES:
        raise _bad(
            "prompt",
            args["prompt"],
            f"unknown prompt style. Rule: accepted: {', '.join(PROMPT_STYLES)}; 'hardened' fences the "
            "candidate against prompt injection, 'naive' is the unfenced baseline.",
            "prompt='hardened'.",
        )
    temperature = args["temperature"]
    if not _is_number(temperature) or not 0 <= temperature <= 2:
        raise _bad(
            "temperature", temperature, "Rule: a number in [0, 2].", "use 0 for reproducible verdicts."
        )
    max_tokens = args["max_tokens"]
    if not _is_int(max_tokens) or max_tokens < 16:
        raise _bad(
            "max_tokens",
            max_tokens,
            "Rule: an int >= 16; the reply is a JSON object with a rationale and one score per criterion.",
            "max_tokens=256 (plenty).",
        )
    if args["seed"] is not None and not _is_int(args["seed"]):
        raise _bad("seed", args["seed"], "Rule: an int or None.", "seed=0, or leave it out.")
    if not _is_int(args["sample"]) or args["sample"] < 0:
        raise _bad("sample", args["sample"], "Rule: an int >= 0 (the sample index).", "sample=0.")
    if not isinstance(args["constrain"], bool):
        raise _bad("constrain", args["constrain"], "Rule: True or False.", "constrain=True.")
    timeout = args["timeout"]
    if not _is_number(timeout) or timeout <= 0:
        raise _bad("timeout", timeout, "Rule: seconds per request, a number > 0.", "timeout=120.")
    if args["cache"] is not None and not isinstance(args["cache"], VerdictCache):
        raise _bad(
            "cache",
            args["cache"],
            "Rule: a judges.VerdictCache or None.",
            "cache=VerdictCache('.brownout/verdicts').",
        )
    cassette = args["cassette"]
    if cassette is not None and not isinstance(cassette, str | os.PathLike) and not hasattr(cassette, "path"):
        raise _bad(
            "cassette",
            cassette,
            "Rule: the path of a cassette file, an open harness.cassettes.Cassette, or None.",
            "cassette='cassettes/judges/x.json'.",
        )
    if args["record_mode"] not in RECORD_MODES:
        raise _bad(
            "record_mode",
            args["record_mode"],
            f"unknown record mode. Rule: accepted: {', '.join(RECORD_MODES)}.",
            "record_mode='none' to replay, 'new_episodes' to record what is missing.",
        )
    if args["miss"] not in MISS_POLICIES:
        raise _bad(
            "miss",
            args["miss"],
            f"unknown miss policy. Rule: accepted: {', '.join(MISS_POLICIES)}.",
            "miss='strict'.",
        )


_DEFAULT: Judge | None = None


def default_judge() -> Judge:
    """The environment's judge, ``Judge()`` (built on first use; see :func:`judge`)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Judge()
    return _DEFAULT


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
    chosen = using
    if chosen is None:
        chosen = default_judge()
    elif not isinstance(chosen, JudgeLike):
        raise JudgeConfigError(
            f"judge(..., using={chosen!r}): a {type(chosen).__name__} is not a judge. Rule: using is a "
            "judges.Judge, an Ensemble or another JudgeLike. Fix: "
            "judge(output, rubric, using=Judge('smollm2'))."
        )
    return chosen(candidate, rubric, context=context, run=run)


register_judge("openai", Judge)
