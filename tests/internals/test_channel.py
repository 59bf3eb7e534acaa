"""harness.Channel: recorded sends, receives and waits; message faults."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from faults import Delay, Drop, Duplicate, Fault, FaultPlan, Reorder
from harness import Channel, ChannelEmpty, ConfigError, agent, run_system
from harness._log._events import FaultInjected, MessageReceive, MessageSend, Wait


def pipeline(n: int = 3, gap: float = 2.0, timeout: float = 5.0) -> Any:
    async def system() -> list[Any]:
        ch = Channel("tasks", producer="producer")

        async def producer() -> None:
            async with agent("producer"):
                for i in range(n):
                    await ch.send(i, recipient="consumer")
                    await asyncio.sleep(gap)

        async def consumer() -> list[Any]:
            got: list[Any] = []
            async with agent("consumer"):
                for _ in range(n):
                    try:
                        got.append(await ch.receive(timeout=timeout))
                    except TimeoutError:
                        got.append("timeout")
            return got

        return (await asyncio.gather(producer(), consumer()))[1]

    return system


def hooks(effect: Any, call: int | str = 1) -> Any:
    return FaultPlan(faults=(Fault(site="message", target="tasks", call=call, effect=effect),)).hooks()  # type: ignore[arg-type]


def test_sends_receives_and_waits_are_recorded() -> None:
    run = run_system(pipeline())
    assert run.output == [0, 1, 2]
    sends, receives = run.log.of(MessageSend), run.log.of(MessageReceive)
    assert [s.message_id for s in sends] == ["tasks#1", "tasks#2", "tasks#3"]
    assert [r.message_id for r in receives] == ["tasks#1", "tasks#2", "tasks#3"]
    assert all(s.sender == "producer" and s.recipient == "consumer" and s.delivered for s in sends)
    assert all(r.receiver == "consumer" for r in receives)
    waits = run.log.of(Wait)
    begins = [w for w in waits if w.phase == "begin"]
    ends = [w for w in waits if w.phase == "end"]
    assert begins and len(begins) == len(ends)
    assert all(
        w.waiter == "consumer" and w.waits_for == "producer" and w.resource == "channel:tasks" for w in begins
    )
    assert all(e.outcome == "ok" for e in ends)
    assert {e.step_id for e in ends} == {b.step_id for b in begins}  # an end closes its begin's step
    assert all(b.deadline == pytest.approx(b.t + 5.0) for b in begins)


def test_drop_loses_the_message_and_the_receiver_times_out() -> None:
    run = run_system(pipeline(), hooks=hooks(Drop()))
    assert run.output == [1, 2, "timeout"]
    first = run.log.of(MessageSend)[0]
    assert first.delivered is False
    assert run.log.of(FaultInjected)[0].seq < first.seq
    assert [w.outcome for w in run.log.of(Wait) if w.phase == "end"][-1] == "timeout"


def test_duplicate_delivers_the_same_message_id_twice() -> None:
    run = run_system(pipeline(), hooks=hooks(Duplicate(), call=2))
    assert run.output == [0, 1, 1]
    assert [r.message_id for r in run.log.of(MessageReceive)] == ["tasks#1", "tasks#2", "tasks#2"]


def test_delay_holds_the_message_for_virtual_seconds() -> None:
    run = run_system(pipeline(), hooks=hooks(Delay(seconds=3.5)))
    assert run.output == [1, 0, 2]  # message 0 became receivable at t=3.5, after message 1 (t=2)
    assert [r.t for r in run.log.of(MessageReceive)] == pytest.approx([2.0, 3.5, 4.0])


def test_reorder_delivers_after_the_next_message() -> None:
    run = run_system(pipeline(), hooks=hooks(Reorder()))
    assert run.output == [1, 0, 2]


def test_reorder_of_the_last_message_is_delivered_after_the_hold() -> None:
    run = run_system(pipeline(timeout=20), hooks=hooks(Reorder(hold=10), call=3))
    assert run.output == [0, 1, 2]
    assert run.log.of(MessageReceive)[-1].t == pytest.approx(4.0 + 10.0)


def test_a_deadlock_is_visible_as_a_wait_for_cycle() -> None:
    async def system() -> None:
        a_to_b, b_to_a = Channel("a_to_b", producer="a"), Channel("b_to_a", producer="b")

        async def a() -> None:
            async with agent("a"):
                await b_to_a.receive()
                await a_to_b.send("go")

        async def b() -> None:
            async with agent("b"):
                await a_to_b.receive()
                await b_to_a.send("go")

        await asyncio.gather(a(), b())

    run = run_system(system, deadline=60)
    assert run.deadline_passed
    edges = {(w.waiter, w.waits_for) for w in run.log.of(Wait) if w.phase == "begin"}
    assert edges == {("a", "b"), ("b", "a")}
    assert {w.outcome for w in run.log.of(Wait) if w.phase == "end"} == {"cancelled"}


def test_waits_for_defaults_to_the_single_sender_seen() -> None:
    async def system() -> Any:
        ch = Channel("replies")
        async with agent("client"):
            await ch.send("ping", sender="server")
            await ch.receive()
            return await asyncio.wait_for(ch.receive(), 1)

    run = run_system(system)
    assert isinstance(run.error, TimeoutError)
    (begin,) = [w for w in run.log.of(Wait) if w.phase == "begin"]
    assert begin.waiter == "client" and begin.waits_for == "server"


def test_addressed_messages_wait_for_their_recipient() -> None:
    async def system() -> Any:
        ch = Channel("mail")
        await ch.send("for-b", recipient="b")
        await ch.send("for-anyone")
        first = await ch.receive(receiver="a")
        second = await ch.receive(receiver="b")
        return first, second

    assert run_system(system).output == ("for-anyone", "for-b")


def test_outside_a_run_it_is_a_plain_queue() -> None:
    ch = Channel("plain")
    ch.send_nowait({"x": 1})
    assert len(ch) == 1
    assert ch.receive_nowait() == {"x": 1}
    with pytest.raises(ChannelEmpty, match="no message ready"):
        ch.receive_nowait()

    async def roundtrip() -> Any:
        task = asyncio.ensure_future(ch.receive(timeout=1))
        await asyncio.sleep(0)
        await ch.send("later")
        return await task

    assert asyncio.run(roundtrip()) == "later"


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="non-empty string"):
        Channel("")

    async def negative() -> None:
        await Channel("x").receive(timeout=-1)

    with pytest.raises(ConfigError, match="timeout must be >= 0"):
        asyncio.run(negative())
