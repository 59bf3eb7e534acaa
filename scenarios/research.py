"""research: an orchestrator fans out to three sub-agents in parallel, then a synthesizer answers.

Sub-agents, spawned concurrently:

- ``vector_search`` asks the model for a search query, searches the local notes by embedding
  similarity and summarises the hits;
- ``web_search`` does the same against the web-search service (:class:`SearchService`, a real
  HTTP server on 127.0.0.1 over a small page corpus);
- ``prior_context`` distils what the earlier conversation says that matters.

Then ``synthesizer`` writes the answer from the notes.

**naive** gives each sub-agent a 120 s timeout and gathers with ``return_exceptions=True``,
keeping what came back: a sub-agent that times out is silently dropped and the answer is
synthesized from partial data, reported as complete.

**hardened** gives each sub-agent its own deadline inside an overall deadline, cancels the
children that are still running when the orchestrator gives up, and surfaces what is missing:
``missing``/``partial`` on the result and a caveat in the answer.

Usage::

    with SearchService() as web:
        result = asyncio.run(research.run(ResearchTask(question="..."), web=web, variant="hardened"))
"""

from __future__ import annotations

import asyncio
import math
import re
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import openai
from pydantic import BaseModel, Field

from harness import agent, spawn, tool
from scenarios._common import Variant, chat, check_variant, first_sentences, forced_tool_call, llm_client
from scenarios._corpus import LOCAL_DOCUMENTS, WEB_PAGES
from scenarios._http import JSONService, call_service, query_string

__all__ = [
    "DEFAULT_TASK",
    "OVERALL_DEADLINE",
    "SOURCE_DEADLINE",
    "Hit",
    "ResearchResult",
    "ResearchTask",
    "SearchService",
    "SourceNote",
    "VectorIndex",
    "run",
]

SOURCE_DEADLINE = 120.0  # virtual seconds each sub-agent gets (generous: live calls on a slow CPU count too)
OVERALL_DEADLINE = 300.0  # hardened: the orchestrator gives up on its children after this


class ResearchTask(BaseModel):
    """A question plus what the user said earlier in the conversation."""

    question: str
    prior_context: list[str] = Field(default_factory=list)


DEFAULT_TASK = ResearchTask(
    question="How well do heat pumps work in cold climates?",
    prior_context=[
        "The user lives in Minnesota and heats a 1960s house with a propane furnace.",
        "The user asked last week whether solar panels make sense on a north-facing roof.",
    ],
)


class Hit(BaseModel):
    """One search result."""

    id: str
    title: str = ""
    text: str
    score: float


class SourceNote(BaseModel):
    """What one sub-agent found."""

    source: str
    query: str = ""
    summary: str
    documents: list[str] = Field(default_factory=list)


class ResearchResult(BaseModel):
    """The answer, the notes it was built from, and what is missing (hardened only fills it)."""

    question: str
    answer: str
    sources: list[SourceNote]
    missing: list[str] = Field(default_factory=list)
    partial: bool = False


# -- retrieval -----------------------------------------------------------------------------
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "well",
        "what",
        "when",
        "which",
        "with",
        "work",
        "works",
    ]
)
_DIMENSIONS = 512


def embed(text: str) -> dict[int, float]:
    """A hashed bag-of-words embedding (sparse, L2-normalised): deterministic, no model download."""
    counts: dict[int, float] = {}
    for word in _WORD.findall(text.lower()):
        if word in _STOP or len(word) < 2:
            continue
        stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
        bucket = zlib.crc32(stem.encode()) % _DIMENSIONS
        counts[bucket] = counts.get(bucket, 0.0) + 1.0
    vector = {k: 1.0 + math.log(v) for k, v in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {k: v / norm for k, v in vector.items()}


def _cosine(a: dict[int, float], b: dict[int, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


class VectorIndex:
    """An in-memory vector index over ``{id: (title, text)}``."""

    def __init__(self, documents: dict[str, tuple[str, str]]) -> None:
        self._docs = documents
        self._vectors = {doc_id: embed(f"{title} {text}") for doc_id, (title, text) in documents.items()}

    def search(self, query: str, k: int = 3) -> list[Hit]:
        q = embed(query)
        scored = sorted(
            ((round(_cosine(q, vec), 6), doc_id) for doc_id, vec in self._vectors.items()),
            key=lambda pair: (-pair[0], pair[1]),
        )
        return [
            Hit(id=doc_id, title=self._docs[doc_id][0], text=self._docs[doc_id][1], score=score)
            for score, doc_id in scored[:k]
            if score > 0
        ]


_LOCAL_INDEX = VectorIndex({doc_id: ("", text) for doc_id, text in LOCAL_DOCUMENTS.items()})


class SearchService(JSONService):
    """The local web-search service: ``GET /search?q=...&k=3`` over a small page corpus."""

    name = "web-search"

    def __init__(self, port: int = 0, pages: dict[str, tuple[str, str]] | None = None) -> None:
        super().__init__(port)
        self.index = VectorIndex(pages or WEB_PAGES)
        self.queries: list[str] = []

    def routes(self) -> dict[tuple[str, str], Any]:
        return {("GET", "/search"): self._search}

    def _search(self, request: dict[str, Any]) -> tuple[int, Any]:
        query = str(request.get("q", "")).strip()
        if not query:
            return 400, {"error": "the query parameter q is empty"}
        self.queries.append(query)
        hits = self.index.search(query, int(request.get("k", 3)))
        return 200, {"results": [hit.model_dump() for hit in hits]}

    def __repr__(self) -> str:  # no port: run logs of two replays must be identical
        return "SearchService()"


@tool("vector_search")
async def vector_search(query: str, k: int = 3) -> list[dict[str, Any]]:
    """Search the local notes by embedding similarity."""
    return [hit.model_dump() for hit in _LOCAL_INDEX.search(query, k)]


class WebSearch:
    """The web-search tool, bound to a :class:`SearchService`."""

    def __init__(self, service: SearchService) -> None:
        self.service = service

    @tool("web_search")
    async def search(self, query: str, k: int = 3) -> list[dict[str, Any]]:
        """Search the web (the local web-search service) for ``query``."""
        url = f"{self.service.base_url}/search?{query_string({'q': query, 'k': k})}"
        reply = call_service("GET", url)
        results = reply.get("results", []) if isinstance(reply, dict) else []
        return [r for r in results if isinstance(r, dict)]


# -- agents --------------------------------------------------------------------------------
_QUERY_TOOL = forced_tool_call(
    "search", "Search for documents that answer the question.", {"query": {"type": "string"}}
)


_SEARCH_TARGETS = {
    "vector_search": "a search over the team's own research notes",
    "web_search": "a web search engine",
}


def _query_from(arguments: dict[str, Any] | None, question: str) -> str:
    """The model's query if it is a usable string, else the question itself."""
    query = arguments.get("query") if arguments else None
    if isinstance(query, str) and 3 <= len(query.strip()) <= 200:
        return query.strip()
    return question


def _usable(text: str) -> bool:
    return len(text) >= 20 and not text.lower().startswith(("i'm sorry", "i cannot", "as an ai"))


async def _search_branch(
    client: openai.AsyncOpenAI,
    source: str,
    question: str,
    search: Callable[[str], Awaitable[list[dict[str, Any]]]],
) -> SourceNote:
    async with agent(source):
        _, arguments = await chat(
            client,
            [
                {"role": "system", "content": f"You write a short query for {_SEARCH_TARGETS[source]}."},
                {"role": "user", "content": question},
            ],
            max_tokens=40,
            tools=[_QUERY_TOOL],
            tool_choice="search",
        )
        query = _query_from(arguments, question)
        hits = [Hit.model_validate(h) for h in await search(query)]
        if not hits:
            return SourceNote(source=source, query=query, summary="No results.", documents=[])
        listing = "\n".join(f"- {h.title + ': ' if h.title else ''}{h.text}" for h in hits)
        text, _ = await chat(
            client,
            [
                {
                    "role": "system",
                    "content": "Summarize in two sentences what the sources say about the question.",
                },
                {"role": "user", "content": f"Question: {question}\nSources:\n{listing}"},
            ],
            max_tokens=80,
        )
        summary = text if _usable(text) else first_sentences(hits[0].text, 2)
        return SourceNote(source=source, query=query, summary=summary, documents=[h.id for h in hits])


async def _prior_context_branch(client: openai.AsyncOpenAI, task: ResearchTask) -> SourceNote:
    async with agent("prior_context"):
        if not task.prior_context:
            return SourceNote(source="prior_context", summary="No earlier conversation.")
        history = "\n".join(f"- {line}" for line in task.prior_context)
        text, _ = await chat(
            client,
            [
                {
                    "role": "system",
                    "content": "From the earlier conversation, state in one sentence what matters for the "
                    "new question.",
                },
                {
                    "role": "user",
                    "content": f"Earlier conversation:\n{history}\nNew question: {task.question}",
                },
            ],
            max_tokens=60,
        )
        summary = text if _usable(text) else task.prior_context[0]
        return SourceNote(source="prior_context", summary=summary)


async def _synthesize(
    client: openai.AsyncOpenAI, question: str, notes: list[SourceNote], missing: list[str]
) -> str:
    async with agent("synthesizer"):
        listing = "\n".join(f"- ({note.source}) {note.summary}" for note in notes) or "- (no notes)"
        user = f"Question: {question}\nNotes:\n{listing}"
        if missing:
            user += f"\nThese sources did not answer in time: {', '.join(missing)}. Say so."
        text, _ = await chat(
            client,
            [
                {"role": "system", "content": "Answer the question in three sentences using only the notes."},
                {"role": "user", "content": user},
            ],
            max_tokens=120,
        )
        return text if _usable(text) else " ".join(note.summary for note in notes)


def _branches(
    client: openai.AsyncOpenAI, task: ResearchTask, web: SearchService
) -> dict[str, Callable[[], Awaitable[SourceNote]]]:
    web_search = WebSearch(web)
    return {
        "vector_search": lambda: _search_branch(client, "vector_search", task.question, vector_search),
        "web_search": lambda: _search_branch(client, "web_search", task.question, web_search.search),
        "prior_context": lambda: _prior_context_branch(client, task),
    }


async def _bounded(make: Callable[[], Awaitable[SourceNote]], deadline: float) -> SourceNote:
    async with asyncio.timeout(deadline):
        return await make()


async def run(
    task: ResearchTask = DEFAULT_TASK,
    *,
    web: SearchService,
    variant: Variant = "naive",
    client: openai.AsyncOpenAI | None = None,
) -> ResearchResult:
    """Answer ``task.question`` from three sources searched in parallel.

    Args:
        task: The question and the earlier conversation.
        web: A running :class:`SearchService` (the web-search tool calls it over HTTP).
        variant: ``"naive"`` (drops a sub-agent that times out, silently) or ``"hardened"``.
        client: The LLM client; defaults to :func:`scenarios._common.default_client`.
    """
    check_variant(variant)
    async with llm_client(client) as llm:
        return await _orchestrate(llm, task, web, variant)


async def _orchestrate(
    client: openai.AsyncOpenAI, task: ResearchTask, web: SearchService, variant: Variant
) -> ResearchResult:
    branches = _branches(client, task, web)
    async with agent("orchestrator"):
        if variant == "naive":
            # Each sub-agent gets a timeout; whatever fails is filtered out and never mentioned.
            tasks = [
                spawn(asyncio.wait_for(make(), SOURCE_DEADLINE), name=name) for name, make in branches.items()
            ]
            results = await asyncio.gather(*tasks, return_exceptions=True)
            notes = [r for r in results if isinstance(r, SourceNote)]
            answer = await _synthesize(client, task.question, notes, [])
            return ResearchResult(question=task.question, answer=answer, sources=notes)

        running = {name: spawn(_bounded(make, SOURCE_DEADLINE), name=name) for name, make in branches.items()}
        _, pending = await asyncio.wait(running.values(), timeout=OVERALL_DEADLINE)
        for child in pending:  # the orchestrator gives up: its children stop too
            child.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)
        notes, missing = [], []
        for name, child in running.items():
            if not child.cancelled() and child.exception() is None:
                notes.append(child.result())
            else:
                missing.append(name)
        answer = await _synthesize(client, task.question, notes, missing)
        if missing:
            answer = (
                f"Partial answer: {', '.join(missing)} did not answer within {SOURCE_DEADLINE:g} s, "
                f"so this is based on {', '.join(n.source for n in notes) or 'nothing'} only. {answer}"
            )
        return ResearchResult(
            question=task.question, answer=answer, sources=notes, missing=missing, partial=bool(missing)
        )
