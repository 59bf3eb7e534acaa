"""Pattern 10: a deadline on every receive of a Channel.

A planner sends a job to an executor over one channel and waits for the answer on
another. The careful planner receives with a timeout, re-sends once, and reports the
missing reply; the executor receives with a timeout too and stops when no more work comes;
the coordinator gives the executor a deadline. The buggy twin receives without a timeout:
when the job message is lost, the planner waits for the executor and the executor waits
for the planner, forever.
"""

import asyncio

from harness import Channel, WorkerKilled, agent, spawn


async def _executor_careful(jobs, answers):
    async with agent("executor"):
        done = 0
        while True:
            try:
                job = await jobs.receive(timeout=60)
            except TimeoutError:
                return done  # no more work: stop
            await answers.send({"id": job["id"], "answer": job["q"] * 2}, recipient="planner")
            done += 1


async def _planner_careful(jobs, answers):
    async with agent("planner"):
        for _ in range(2):
            await jobs.send({"id": "j-1", "q": 21}, recipient="executor")
            try:
                reply = await answers.receive(timeout=30)
            except TimeoutError:
                continue  # re-send once
            return {"status": "ok", "answer": reply["answer"]}
        return {"status": "failed", "missing": ["executor reply"]}


async def correct():
    jobs = Channel("jobs", producer="planner")
    answers = Channel("answers", producer="executor")
    async with agent("coordinator"):
        planner = spawn(_planner_careful(jobs, answers), name="planner")
        executor = spawn(_executor_careful(jobs, answers), name="executor")
        try:
            result = await asyncio.wait_for(planner, timeout=120)
        except (Exception, WorkerKilled) as exc:
            result = {"status": "failed", "error": repr(exc)}
        try:
            await asyncio.wait_for(executor, timeout=90)
        except (Exception, WorkerKilled) as exc:  # the executor hung or crashed: say so
            if result.get("status") == "ok":
                result = {**result, "warnings": [f"executor: {exc!r}"]}
        return result


async def _executor_naive(jobs, answers):
    async with agent("executor"):
        job = await jobs.receive()
        await answers.send({"id": job["id"], "answer": job["q"] * 2}, recipient="planner")


async def _planner_naive(jobs, answers):
    async with agent("planner"):
        await jobs.send({"id": "j-1", "q": 21}, recipient="executor")
        reply = await answers.receive()
        return {"status": "ok", "answer": reply["answer"]}


async def buggy():
    jobs = Channel("jobs", producer="planner")
    answers = Channel("answers", producer="executor")
    async with agent("coordinator"):
        planner = spawn(_planner_naive(jobs, answers), name="planner")
        executor = spawn(_executor_naive(jobs, answers), name="executor")
        result, _ = await asyncio.gather(planner, executor)
        return result
