"""Judge verdicts as the report shows them: outcome, score, variance (ensemble agreement and spread), cost.

Each test's final run lists its verdicts (the ``judges`` column); the variance of an
ensemble's verdict — the spread of its members' totals and the share on the majority side —
stands next to its score, so a verdict that another sample could flip reads as one. Token
costs are per verdict, per run (``judge_prompt_tokens``/``judge_completion_tokens``) and in
total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness._report._rows import ResultRow

__all__ = ["JudgeCost", "VerdictLine", "judge_cost", "verdict_lines"]


@dataclass(frozen=True)
class VerdictLine:
    """One verdict of one test's final run, formatted for a table."""

    test: str
    rubric: str
    outcome: str
    score: str
    agreement: str
    spread: str
    tokens: str
    ensemble: bool = False

    def inline(self) -> str:
        """``rubric: FAILED, score 0.00, tokens 447 + 48`` (with agreement and spread for an ensemble)."""
        parts = [self.outcome, f"score {self.score}"]
        if self.ensemble:
            parts += [f"agreement {self.agreement}", f"spread {self.spread}"]
        return f"{self.rubric}: " + ", ".join([*parts, f"tokens {self.tokens}"])


@dataclass(frozen=True)
class JudgeCost:
    """What all verdicts in the results cost."""

    verdicts: int
    prompt_tokens: int
    completion_tokens: int

    def line(self) -> str:
        return (
            f"{self.verdicts} judge verdict(s) cost {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion tokens"
        )


def _outcome(entry: Mapping[str, Any]) -> str:
    status = str(entry.get("status") or "scored")
    if status != "scored":
        return status.upper()
    return "PASSED" if entry.get("passed") else "FAILED"


def _number(value: Any, pattern: str = "{:.2f}") -> str:
    return pattern.format(value) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _spread(entry: Mapping[str, Any]) -> str:
    spread = entry.get("spread")
    if not isinstance(spread, Mapping):
        return "- (one judge)"
    return (
        f"{_number(spread.get('low'))}..{_number(spread.get('high'))}, sd {_number(spread.get('stdev'))}, "
        f"{_number(spread.get('majority'), '{:.0%}')} on the majority side (n={int(spread.get('n', 0))})"
    )


def _tokens(entry: Mapping[str, Any]) -> str:
    text = f"{int(entry.get('prompt_tokens') or 0)} + {int(entry.get('completion_tokens') or 0)}"
    return text + " (cached)" if entry.get("cached") else text


def verdict_lines(rows: Sequence[ResultRow]) -> list[VerdictLine]:
    """The verdicts of each test's final run (of every run when no run is marked final)."""
    chosen = [r for r in rows if r.final] or list(rows)
    out: list[VerdictLine] = []
    for row in chosen:
        for rubric, entry in row.judge_map().items():
            if not isinstance(entry, Mapping):
                continue
            out.append(
                VerdictLine(
                    test=row.test,
                    rubric=rubric,
                    outcome=_outcome(entry),
                    score=_number(entry.get("score")),
                    agreement=_number(entry.get("agreement"), "{:.0%}"),
                    spread=_spread(entry),
                    tokens=_tokens(entry),
                    ensemble=isinstance(entry.get("spread"), Mapping),
                )
            )
    return out


def judge_cost(rows: Sequence[ResultRow]) -> JudgeCost:
    """The verdicts and tokens over every run (cached verdicts cost none)."""
    return JudgeCost(
        verdicts=sum(len(r.judge_map()) for r in rows),
        prompt_tokens=sum(r.judge_prompt_tokens for r in rows),
        completion_tokens=sum(r.judge_completion_tokens for r in rows),
    )
