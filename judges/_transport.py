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

import atexit
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from harness.secrets import scrub
from judges._candidate import active_run, substituted_steps
from judges._errors import JudgeCallError, JudgeConfigError

if TYPE_CHECKING:
    import openai

    from harness.cassettes import Cassette

__all__ = ["MissPolicy", "RecordMode", "Transport", "public_url"]

RecordMode = Literal["none", "once", "new_episodes", "all"]
MissPolicy = Literal["strict", "nearest", "live"]
RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all")
MISS_POLICIES: tuple[str, ...] = ("strict", "nearest", "live")


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
        self._lock = threading.Lock()

    @property
    def shared_cassette(self) -> str | os.PathLike[str] | Cassette | None:
        """What a copy of this transport should be given to share the cassette."""
        return self._cassette if self._cassette is not None else self.cassette_path

    @property
    def given_client(self) -> openai.OpenAI | None:
        """The client this transport uses, if one was given or built already."""
        return self._client

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
    def complete(self, request: dict[str, Any]) -> tuple[str, list[int]]:
        """One chat completion: (reply text, ``seq`` of the substituted LLM calls it produced)."""
        active = active_run()
        if active is None and self.cassette_path is not None:
            return self._in_own_run(request)
        start = len(active.log) if active is not None else 0
        text = self.send(request)
        return text, substituted_steps(active.log if active is not None else None, start)

    def _in_own_run(self, request: dict[str, Any]) -> tuple[str, list[int]]:
        """Make one call as a small run of its own, under this transport's cassette."""
        from harness import run_system

        run = run_system(
            self.send,
            (request,),
            cassette=self.open_cassette(),
            entry="judges.judge",
            meta={"judge": True},
        )
        if self._owns_cassette and self.record_mode != "none":
            self.close()  # save as we go: a long recording that is interrupted keeps what it recorded
        if run.error is not None:
            raise run.error
        return str(run.output), substituted_steps(run.log)

    def send(self, request: dict[str, Any]) -> str:
        """Send ``request`` to the endpoint and return the reply text ("" when there is none)."""
        import openai

        endpoint = public_url(self.base_url) or "default"
        try:
            completion = self.client().chat.completions.create(**request)
        except openai.APIStatusError as exc:
            raise JudgeCallError(
                f"the judge endpoint {endpoint} answered HTTP {exc.status_code} for model "
                f"{request.get('model')!r}: {str(scrub(str(exc)))[:300]}. Check that the endpoint serves "
                "that model and accepts response_format json_object (pass constrain=False if it rejects the "
                "schema field)."
            ) from exc
        except openai.APIConnectionError as exc:
            from harness import HarnessError

            cause = exc.__cause__
            if isinstance(cause, HarnessError):
                raise cause from None
            raise JudgeCallError(
                f"cannot reach the judge endpoint {endpoint} ({exc}). Start the server (e.g. python -m "
                "llama_cpp.server ...) or set BROWNOUT_JUDGE_BASE_URL; offline, replay a cassette recorded "
                "earlier."
            ) from exc
        choices = completion.choices
        if not choices:
            return ""
        return choices[0].message.content or ""
