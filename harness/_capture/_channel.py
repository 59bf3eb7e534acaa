"""Channel: an instrumented asynchronous message channel between agents.

Every send and receive becomes an event (``message_send`` / ``message_receive``), and a
receive that has to block is bracketed by ``wait`` begin/end events naming who waits
(``waiter``) on whom (``waits_for``), from which the liveness checker builds its wait-for
graph. Message faults are applied here, as the run's hooks decide (drop, duplicate, delay,
hold back behind the next message). Outside a run a channel is a plain in-memory queue.
"""

from __future__ import annotations

import asyncio
import itertools
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any

from harness._capture._context import _FRAME, _RUN, MessageSite, RunContext
from harness._capture._decisions import DelayMessage, DropMessage, DuplicateMessage, HoldMessage
from harness._errors import ChannelEmpty, ConfigError, WorkerKilled
from harness._log._events import MessageReceive, MessageSend, Wait
from harness._log._jsonable import jsonable
from harness._log._secrets import scrub

__all__ = ["Channel"]


@dataclass
class _Message:
    id: str
    payload: Any
    sender: str | None
    recipient: str | None
    available_at: float = 0.0
    order: int = 0


# Sends numbered per run and channel name, not per channel object: a channel opened again (by a
# restarted system) continues the numbering a fault plan selects by.
_SENDS: weakref.WeakKeyDictionary[RunContext, dict[str, int]] = weakref.WeakKeyDictionary()


def _agent() -> str | None:
    frame = _FRAME.get()
    return frame.name if frame else None


class Channel:
    """An asynchronous, recorded message channel.

    ``await ch.send(payload, sender=..., recipient=...)`` puts a message on the channel;
    ``await ch.receive(timeout=..., receiver=...)`` takes the oldest message that is ready
    and addressed to the receiver (or to nobody in particular), waiting for one if needed.
    ``send_nowait`` / ``receive_nowait`` are the synchronous forms.

    Create channels inside the system's entry point (or the test body) so that each run
    starts with an empty channel.

    Args:
        name: The channel's name (fault plans select it as ``message[<name>]``).
        producer: The agent expected to send on this channel. A blocked receiver is recorded
            as waiting for it; when not given, the single agent that has sent on the channel
            so far is used.
    """

    def __init__(self, name: str, *, producer: str | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"Channel(name={name!r}): the name must be a non-empty string, e.g. Channel('tasks')."
            )
        self.name = name
        self.producer = producer
        self._ready: deque[_Message] = deque()
        self._held: _Message | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._senders: list[str] = []
        self._order = itertools.count()
        self._free_sends = 0

    def __repr__(self) -> str:
        return f"Channel({self.name!r}, pending={len(self._ready)})"

    def __len__(self) -> int:
        """Messages on the channel (ready, delayed or held back), not yet received."""
        return len(self._ready)

    # -- sending ----------------------------------------------------------------------------
    async def send(self, payload: Any, *, sender: str | None = None, recipient: str | None = None) -> str:
        """Put ``payload`` on the channel and return its message id.

        Args:
            payload: The message (any value; recorded in the run log as JSON).
            sender: Who sends it (default: the current agent).
            recipient: Who it is for (``None``: any receiver).
        """
        return self.send_nowait(payload, sender=sender, recipient=recipient)

    def send_nowait(self, payload: Any, *, sender: str | None = None, recipient: str | None = None) -> str:
        """Synchronous :meth:`send` (a send never blocks)."""
        ctx = _RUN.get()
        if ctx is None:
            self._free_sends += 1
            message = _Message(
                f"{self.name}#{self._free_sends}", payload, sender, recipient, order=next(self._order)
            )
            self._deliver(message)
            return message.id
        sender = sender or _agent()
        ctx.refuse_if_dead()
        with ctx._lock:
            sends = _SENDS.get(ctx)
            if sends is None:
                sends = _SENDS[ctx] = {}
            call = sends[self.name] = sends.get(self.name, 0) + 1
        message = _Message(f"{self.name}#{call}", payload, sender, recipient, order=next(self._order))
        decision = ctx.hooks.message_send(ctx, MessageSite(self.name, _agent(), call, sender, recipient))
        ctx.emit(
            MessageSend,
            channel=self.name,
            message_id=message.id,
            sender=sender,
            recipient=recipient,
            payload=scrub(jsonable(payload)),
            delivered=not isinstance(decision, DropMessage),
        )
        if sender and sender not in self._senders:
            self._senders.append(sender)
        if isinstance(decision, DropMessage):
            return message.id
        if isinstance(decision, DelayMessage):
            message.available_at = ctx.now() + float(decision.seconds)
        if isinstance(decision, HoldMessage):
            # Held back: it goes right behind the next message, or after `hold` seconds.
            self._deliver(message)
            message.available_at = ctx.now() + float(decision.hold)
            self._held = message
            return message.id
        self._deliver(message)
        if isinstance(decision, DuplicateMessage):
            twin = _Message(message.id, payload, sender, recipient, message.available_at, next(self._order))
            self._deliver(twin)
        return message.id

    def _deliver(self, message: _Message) -> None:
        held, self._held = self._held, None
        self._ready.append(message)
        if held is not None and held in self._ready:
            # A reordered message goes right after the next one.
            self._ready.remove(held)
            held.available_at = min(held.available_at, message.available_at)
            self._ready.append(held)
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- receiving --------------------------------------------------------------------------
    def _take(self, receiver: str | None, now: float) -> _Message | None:
        for message in self._ready:
            if message.available_at > now:
                continue
            if receiver is None or message.recipient is None or message.recipient == receiver:
                self._ready.remove(message)
                return message
        return None

    def _next_ready_at(self, now: float) -> float | None:
        later = [m.available_at for m in self._ready if m.available_at > now]
        return min(later) if later else None

    def _waits_for(self, sender: str | None) -> str | None:
        if sender is not None:
            return sender
        if self.producer is not None:
            return self.producer
        return self._senders[0] if len(self._senders) == 1 else None

    def receive_nowait(self, *, receiver: str | None = None) -> Any:
        """Take a ready message without waiting.

        Raises:
            ChannelEmpty: no message is ready for ``receiver``.
        """
        ctx = _RUN.get()
        now = ctx.now() if ctx is not None else float("inf")
        message = self._take(receiver, now)
        if message is None:
            raise ChannelEmpty(
                f"channel {self.name!r}: no message ready for receiver {receiver!r} "
                f"({len(self)} pending). Use `await channel.receive(timeout=...)` to wait for one."
            )
        if ctx is not None:
            self._record_receive(ctx, message, receiver or _agent())
        return message.payload

    async def receive(
        self, *, timeout: float | None = None, receiver: str | None = None, sender: str | None = None
    ) -> Any:
        """Take the oldest ready message for ``receiver``, waiting up to ``timeout`` seconds.

        Args:
            timeout: Seconds to wait (virtual time in a run); ``None`` waits forever.
            receiver: Who receives (default: the current agent); messages addressed to
                someone else are left for them.
            sender: Whom the receiver waits for, when the channel's ``producer`` is not it.

        Raises:
            TimeoutError: no message arrived within ``timeout``.
        """
        if timeout is not None and timeout < 0:
            raise ConfigError(
                f"Channel.receive(timeout={timeout!r}): the timeout must be >= 0 seconds or None."
            )
        ctx = _RUN.get()
        loop = asyncio.get_running_loop()
        who = receiver if receiver is not None else (_agent() if ctx is not None else None)
        message = self._take(receiver, loop.time() if ctx is None else ctx.now())
        if message is not None:
            if ctx is not None:
                self._record_receive(ctx, message, who)
            return message.payload
        wait_step: str | None = None
        if ctx is not None:
            deadline = ctx.now() + timeout if timeout is not None else None
            begin = ctx.emit(
                Wait,
                phase="begin",
                waiter=who,
                waits_for=self._waits_for(sender),
                resource=f"channel:{self.name}",
                deadline=deadline,
            )
            wait_step = begin.step_id
        ends_at = loop.time() + timeout if timeout is not None else None
        outcome = "ok"
        try:
            while True:
                now = ctx.now() if ctx is not None else loop.time()
                message = self._take(receiver, now)
                if message is not None:
                    break
                wake_at = self._next_ready_at(now)
                if ends_at is not None:
                    wake_at = ends_at if wake_at is None else min(wake_at, ends_at)
                if ends_at is not None and loop.time() >= ends_at:
                    outcome = "timeout"
                    raise TimeoutError(
                        f"channel {self.name!r}: no message for {who or 'the receiver'} within {timeout:g} s"
                    )
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
                try:
                    if wake_at is None:
                        await waiter
                    else:
                        await asyncio.wait([waiter], timeout=max(0.0, wake_at - loop.time()))
                finally:
                    if not waiter.done():
                        waiter.cancel()
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except WorkerKilled:
            outcome = "killed"
            raise
        finally:
            if ctx is not None and wait_step is not None:
                ctx.emit(
                    Wait,
                    step_id=wait_step,
                    phase="end",
                    waiter=who,
                    waits_for=self._waits_for(sender),
                    resource=f"channel:{self.name}",
                    outcome=outcome,  # type: ignore[arg-type]
                )
        if ctx is not None:
            self._record_receive(ctx, message, who)
        return message.payload

    def _record_receive(self, ctx: RunContext, message: _Message, receiver: str | None) -> None:
        ctx.emit(
            MessageReceive,
            channel=self.name,
            message_id=message.id,
            receiver=receiver,
            payload=scrub(jsonable(message.payload)),
        )
