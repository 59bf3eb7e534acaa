"""Explaining a miss: the request, the nearest recording, the diff, and the command that records it."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from harness._cassette._index import Decision
from harness._cassette._recording import Recording, ordinal, pretty
from harness._errors import CassetteMiss

if TYPE_CHECKING:
    from harness._cassette._cassette import Cassette


def explain_miss(cassette: Cassette, decision: Decision) -> CassetteMiss:
    """The :class:`CassetteMiss` for a request the cassette cannot answer."""
    key = decision.key
    vcr = cassette._vcr
    where = (
        f"agent {decision.agent!r}, its LLM call #{decision.call}"
        if decision.agent is not None
        else f"LLM call #{decision.call} outside any agent"
        if decision.call
        else "no agent"
    )
    lines = [
        f"cassette miss: {cassette.path} holds no recording for this request ({where}: {key.method} "
        f"{key.path}, model {key.model!r}, digest {key.digest[:16]}).",
    ]
    same = vcr.index.get(key.digest) or []
    nearest: Recording | None = None
    diff_text = ""
    if same:
        lines.append(
            f"The cassette holds this exact request {len(same)} time(s); this run sent it a "
            f"{ordinal(decision.occurrence)} time. Identical requests replay their recordings in order, "
            "one each."
        )
        nearest = same[-1]
    elif not vcr.interactions:
        lines.append(
            "The cassette is empty." if cassette.existed else "The cassette file does not exist yet."
        )
    else:
        nearest = vcr.closest(key, decision.agent, decision.call)
        if nearest is not None:
            data = nearest.data
            lines.append(
                f"Nearest recorded request: agent {data.get('agent')!r}, "
                f"its LLM call #{data.get('call')}, "
                f"digest {nearest.digest[:16]}."
            )
            diff = list(
                difflib.unified_diff(
                    pretty(nearest.canonical()).splitlines(),
                    pretty(key.canonical).splitlines(),
                    "recorded",
                    "requested",
                    lineterm="",
                    n=2,
                )
            )
            if len(diff) > 80:
                diff = [*diff[:80], f"... ({len(diff) - 80} more diff lines)"]
            diff_text = "\n".join(diff)
            lines.append("Diff of the canonical request (recorded -> requested):")
            lines.append(diff_text or "(no difference in the canonical request)")
    lines.append(
        "Replay never touches the network: a request must match a recording by method, path, model, "
        "messages, tools and sampling parameters."
    )
    lines.append(f"To record it: {cassette.record_command}")
    if cassette.nodeid:
        lines.append(
            "(or pass --chaos-miss=nearest to substitute the same agent's recording, marked as such)"
        )
    error = CassetteMiss("\n".join(lines))
    error.cassette = str(cassette.path)  # type: ignore[attr-defined]
    error.digest = key.digest  # type: ignore[attr-defined]
    error.nearest = nearest.data if nearest is not None else None  # type: ignore[attr-defined]
    error.diff = diff_text  # type: ignore[attr-defined]
    error.command = cassette.record_command  # type: ignore[attr-defined]
    return error
