"""What every judge is: called on a candidate and a rubric, it returns a :class:`Verdict`.

A judge (``Judge``, ``Ensemble``, your own) subclasses :class:`JudgeLike` and provides
``spec`` (its registered name and arguments, see :func:`judges.register_judge`) and
``_verdict`` (the verdict on rendered text). The call itself is the same for all of them:
take a ``Run`` as output plus provenance, read the rubric, render candidate and context,
ask ``_verdict``, then :func:`publish` the verdict (a ``verdict`` event in the active run,
and the judge's ``on_verdict`` observers).

``await judge.aevaluate(...)`` is the same call awaited: it asks ``_averdict``, which a
judge overrides to send through an async client (``Judge`` uses ``openai.AsyncOpenAI``,
so the call is captured and replayed like any other); the default runs ``_verdict`` in a
worker thread.
"""

from __future__ import annotations

import abc
import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from harness.events import Verdict as VerdictEvent
from harness.secrets import scrub
from judges._candidate import active_run, candidate_text, context_text, log_of, split_run
from judges._rubric import Rubric, as_rubric
from judges._verdict import JudgeSpec, Verdict

__all__ = ["JudgeLike", "JudgePrompt", "VerdictCallback", "publish"]

VerdictCallback = Callable[[Verdict], None]


class JudgePrompt(Protocol):
    """How a judge asks: its messages, the reply schema it attaches, the message after a bad reply.

    ``Judge`` uses its prompt style's (``judges._prompt``); a judge-backed check that asks
    something else (the handoff assertions) brings its own, so its recorded calls do not
    depend on the general prompts. ``name`` keys the verdict cache.
    """

    name: str

    def messages(
        self, rubric: Rubric, candidate: str, context: str | None, sample: int
    ) -> list[dict[str, str]]: ...

    def schema(self, rubric: Rubric) -> dict[str, Any]: ...

    def retry(self, problem: str, rubric: Rubric) -> dict[str, str]: ...


class JudgeLike(abc.ABC):
    """What every judge offers: call it on a candidate and a rubric, get a :class:`Verdict`."""

    on_verdict: list[VerdictCallback]

    @property
    @abc.abstractmethod
    def spec(self) -> JudgeSpec:
        """The judge's registered name and arguments (never a credential)."""

    @abc.abstractmethod
    def _verdict(self, text: str, rubric: Rubric, context: str | None, log: Any) -> Verdict:
        """The verdict on rendered text, without publishing it (ensembles call their members' here)."""

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
        candidate, run = split_run(candidate, run)
        the_rubric = as_rubric(rubric)
        verdict = self._verdict(candidate_text(candidate), the_rubric, context_text(context), log_of(run))
        return publish(self, verdict)

    async def _averdict(self, text: str, rubric: Rubric, context: str | None, log: Any) -> Verdict:
        """:meth:`_verdict`, awaited (default: in a worker thread; ``Judge`` sends asynchronously)."""
        return await asyncio.to_thread(self._verdict, text, rubric, context, log)

    async def aevaluate(
        self,
        candidate: Any,
        rubric: Rubric | Mapping[str, Any] | str | os.PathLike[str],
        *,
        context: Any = None,
        run: Any = None,
    ) -> Verdict:
        """``judge(candidate, rubric, ...)``, awaited: the same verdict, asked without blocking the loop.

        ``Judge`` sends through ``openai.AsyncOpenAI``; an :class:`~judges.Ensemble` asks its
        members concurrently. Calls go through the same cassettes as the sync call, so a
        recording made by one replays for the other. Arguments as for ``__call__``.
        """
        candidate, run = split_run(candidate, run)
        the_rubric = as_rubric(rubric)
        verdict = await self._averdict(
            candidate_text(candidate), the_rubric, context_text(context), log_of(run)
        )
        return publish(self, verdict)


def publish(owner: JudgeLike, verdict: Verdict) -> Verdict:
    """Emit a ``verdict`` event into the active run (if any) and tell ``owner``'s observers."""
    active = active_run()
    if active is not None:
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
