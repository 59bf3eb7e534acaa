"""The transport: one chat completion at an OpenAI-compatible endpoint, through a cassette.

Judge calls are ordinary ``openai`` SDK calls, so inside a run they are captured and go
through the run's cassette like every other LLM call. Outside a run, a judge with a
cassette makes each call as a small run of its own under that cassette
(``entry="judges.judge"``), so it is recorded and replayed the same way; new recordings
are saved after each call. HTTP errors and unreachable endpoints become
:class:`JudgeCallError` naming the endpoint and what to do; a harness error (a cassette
miss) passes through unchanged.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from harness.secrets import scrub
from judges._candidate import active_run, substituted_steps
from judges._errors import JudgeCallError, JudgeConfigError

if TYPE_CHECKING:
    import openai

    from harness.cassettes import Cassette

__all__ = ["MissPolicy", "RecordMode", "Reply", "Transport", "public_url"]

RecordMode = Literal["none", "once", "new_episodes", "all"]
MissPolicy = Literal["strict", "nearest", "live"]
RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all")
MISS_POLICIES: tuple[str, ...] = ("strict", "nearest", "live")

# A judge call outside a run is a small run of its own; one at a time per process, so that two
# threads (or an ensemble's members awaited together) never share a cassette's run state.
_OWN_RUNS = threading.Lock()


class Reply(NamedTuple):
    """One judge reply: its text, what it cost (the reply's ``usage``), and what was substituted.

    Attributes:
        text: The reply's content ("" when there is none).
        prompt_tokens: Prompt tokens the endpoint reported (0 when it reported none).
        completion_tokens: Completion tokens the endpoint reported (0 when it reported none).
        substituted: ``seq`` of the LLM calls answered by substituted content (cassette miss,
            ``nearest`` policy) while making this call.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    substituted: tuple[int, ...] = ()


def public_url(url: str | None) -> str | None:
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


class Transport:
    """Sends a judge's chat-completion requests to its endpoint, under its cassette.

    Args:
        base_url: The endpoint (None: the SDK's default).
        api_key: The key (None: a placeholder; local servers need none). Never stored elsewhere.
        timeout: Seconds per request.
        cassette: A cassette file path, an open :class:`~harness.cassettes.Cassette`, or None.
        record_mode: The cassette's record mode when the transport opens it.
        miss: The cassette's miss policy when the transport opens it.
        client: An ``openai.OpenAI`` client to use instead of building one.
        async_client: An ``openai.AsyncOpenAI`` client for the async calls (default: one built
            per call from ``base_url``, ``api_key`` and ``timeout``).
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        cassette: str | os.PathLike[str] | Cassette | None,
        record_mode: RecordMode,
        miss: MissPolicy,
        client: openai.OpenAI | None,
        async_client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout
        self.record_mode: RecordMode = record_mode
        self.miss: MissPolicy = miss
        self._cassette: Cassette | None = None
        self._owns_cassette = False
        if cassette is None or isinstance(cassette, str | os.PathLike):
            self.cassette_path = None if cassette is None else Path(cassette)
        else:
            self._cassette = cassette
            self.cassette_path = Path(cassette.path)
        self._client = client
        self._async_client = async_client
        self._lock = threading.Lock()

    @property
    def shared_cassette(self) -> str | os.PathLike[str] | Cassette | None:
        """What a copy of this transport should be given to share the cassette."""
        return self._cassette if self._cassette is not None else self.cassette_path

    @property
    def given_client(self) -> openai.OpenAI | None:
        """The client this transport uses, if one was given or built already."""
        return self._client

    @property
    def given_async_client(self) -> openai.AsyncOpenAI | None:
        """The async client this transport was given, if any."""
        return self._async_client

    # -- the cassette -----------------------------------------------------------------------------
    def open_cassette(self) -> Cassette:
        """The cassette calls go through outside a run (opened on first use)."""
        with self._lock:
            if self._cassette is None:
                if self.cassette_path is None:
                    raise JudgeConfigError(
                        "Judge.open_cassette(): this judge has no cassette (cassette=None). Rule: a cassette "
                        "is opened only for a judge given one. Fix: Judge(..., cassette='cassettes/judges/"
                        "x.json')."
                    )
                from harness.cassettes import Cassette  # the cassette machinery loads on first use

                self._cassette = Cassette(
                    self.cassette_path,
                    record_mode=self.record_mode,
                    miss=self.miss,
                    record_command=f"the same judge call with Judge(cassette={str(self.cassette_path)!r}, "
                    "record_mode='new_episodes') against a live endpoint",
                )
                self._owns_cassette = True
                atexit.register(self.close)
            return self._cassette

    def close(self) -> None:
        """Save the cassette if this transport opened it and it recorded anything."""
        if self._cassette is not None and self._owns_cassette:
            self._cassette.close()

    # -- the client -------------------------------------------------------------------------------
    def async_client(self) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` client: the one given, else a new one (bound to no event loop).

        A built client is not kept: each event loop (a run's, the caller's) gets its own, so a
        connection pool never outlives the loop it was made in.
        """
        if self._async_client is not None:
            return self._async_client
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or "sk-no-key-needed",
            timeout=self.timeout,
            max_retries=0,
        )

    def client(self) -> openai.OpenAI:
        """The openai client (built on first use)."""
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    base_url=self.base_url,
                    api_key=self.api_key or "sk-no-key-needed",
                    timeout=self.timeout,
                    max_retries=0,
                )
            return self._client

    # -- calls ------------------------------------------------------------------------------------
    def complete(self, request: dict[str, Any]) -> Reply:
        """One chat completion, through the active run or (outside a run) a run of its own."""
        active = active_run()
        if active is None and self.cassette_path is not None:
            return self._in_own_run(self.send, request)
        start = len(active.log) if active is not None else 0
        reply = self.send(request)
        return reply._replace(substituted=tuple(substituted_steps(active.log if active else None, start)))

    async def acomplete(self, request: dict[str, Any]) -> Reply:
        """:meth:`complete` with the ``openai.AsyncOpenAI`` client, awaited.

        Inside a run the call is captured by the run like any async LLM call. Outside a run, a
        judge with a cassette makes it a run of its own in a worker thread (a run has its own
        virtual-clock event loop, which cannot nest in the caller's).
        """
        active = active_run()
        if active is None and self.cassette_path is not None:
            return await asyncio.to_thread(self._in_own_run, self.asend, request)
        start = len(active.log) if active is not None else 0
        reply = await self.asend(request)
        return reply._replace(substituted=tuple(substituted_steps(active.log if active else None, start)))

    def _in_own_run(self, send: Any, request: dict[str, Any]) -> Reply:
        """Make one call as a small run of its own, under this transport's cassette."""
        from harness import run_system

        with _OWN_RUNS:
            run = run_system(
                send,
                (request,),
                cassette=self.open_cassette(),
                entry="judges.judge",
                meta={"judge": True},
            )
            if self._owns_cassette and self.record_mode != "none":
                self.close()  # save as we go: a long recording that is interrupted keeps what it recorded
        if run.error is not None:
            raise run.error
        reply = run.output if isinstance(run.output, Reply) else Reply(str(run.output))
        return reply._replace(substituted=tuple(substituted_steps(run.log)))

    def send(self, request: dict[str, Any]) -> Reply:
        """Send ``request`` to the endpoint and return the reply (text "" when there is none)."""
        import openai

        try:
            completion = self.client().chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise self._status_error(exc, request) from exc
        except openai.APIConnectionError as exc:
            error = self._connection_error(exc)
            if error is exc.__cause__:
                raise error from None
            raise error from exc
        return _reply(completion)

    async def asend(self, request: dict[str, Any]) -> Reply:
        """:meth:`send` through an ``openai.AsyncOpenAI`` client."""
        import openai

        client = self.async_client()
        try:
            completion = await client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise self._status_error(exc, request) from exc
        except openai.APIConnectionError as exc:
            error = self._connection_error(exc)
            if error is exc.__cause__:
                raise error from None
            raise error from exc
        finally:
            if client is not self._async_client:
                await client.close()
        return _reply(completion)

    def _status_error(self, exc: openai.APIStatusError, request: dict[str, Any]) -> JudgeCallError:
        endpoint = public_url(self.base_url) or "default"
        return JudgeCallError(
            f"the judge endpoint {endpoint} answered HTTP {exc.status_code} for model "
            f"{request.get('model')!r}: {str(scrub(str(exc)))[:300]}. Check that the endpoint serves "
            "that model and accepts response_format json_object (pass constrain=False if it rejects the "
            "schema field)."
        )

    def _connection_error(self, exc: openai.APIConnectionError) -> BaseException:
        from harness import HarnessError

        cause = exc.__cause__
        if isinstance(cause, HarnessError):
            return cause  # a cassette miss, say: the harness's own error, unchanged
        endpoint = public_url(self.base_url) or "default"
        return JudgeCallError(
            f"cannot reach the judge endpoint {endpoint} ({exc}). Start the server (e.g. python -m "
            "llama_cpp.server ...) or set BROWNOUT_JUDGE_BASE_URL; offline, replay a cassette recorded "
            "earlier."
        )


def _reply(completion: Any) -> Reply:
    """A completion's text and token usage."""
    usage = getattr(completion, "usage", None)
    prompt = getattr(usage, "prompt_tokens", None) or 0
    done = getattr(usage, "completion_tokens", None) or 0
    choices = completion.choices
    text = (choices[0].message.content or "") if choices else ""
    return Reply(text, int(prompt), int(done))
