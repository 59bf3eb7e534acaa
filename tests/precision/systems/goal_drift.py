"""Extra pattern: constraints carried as data through every handoff.

The task has a hard constraint, a budget of 10,000 USD (``harness.constraint``). A planner
asks for venues and hands the shortlist to a booker. The careful planner keeps the budget
in every handoff and the output, retries the lookup with the same arguments, and reports
failure when there is no shortlist; the buggy twin, when the lookup fails, falls back to a
"broader" handoff that drops the budget, and books whatever comes first.
"""

import asyncio

from harness import agent, constraint, handoff, tool

BUDGET = 10000
DEFAULT_VENUES = [{"name": "Castle", "price": 25000}, {"name": "Barn", "price": 4000}]


@tool("find_venues")
async def find_venues(city, max_budget_usd):
    return [{"name": "Barn", "price": 4000}, {"name": "Loft", "price": 9000}]


async def _venues(city, budget):
    try:
        venues = await asyncio.wait_for(find_venues(city, budget), timeout=10)
    except Exception:
        return None
    if isinstance(venues, list) and venues and all(isinstance(v, dict) and "price" in v for v in venues):
        return venues
    return None


async def _book(brief):
    async with agent("booker"):
        budget = brief.get("max_budget_usd")
        fitting = [v for v in brief["venues"] if budget is None or v["price"] <= budget]
        return fitting[0] if fitting else None


async def _supervised(coro, timeout):
    """Run a sub-agent as its own task with a deadline: its crash or timeout comes back as a value."""
    [result] = await asyncio.gather(asyncio.wait_for(coro, timeout), return_exceptions=True)
    return result


async def correct(city):
    async with agent("planner"):
        budget = constraint("max_budget_usd", BUDGET)
        venues = await _venues(city, budget) or await _venues(city, budget)
        if venues is None:
            return {"status": "failed", "missing": ["venues"], "max_budget_usd": budget}
        brief = handoff("booker", {"city": city, "venues": venues, "max_budget_usd": budget})
        venue = await _supervised(_book(brief), timeout=60)
        if isinstance(venue, BaseException):
            return {
                "status": "failed",
                "missing": ["booking"],
                "error": repr(venue),
                "max_budget_usd": budget,
            }
        if venue is None:
            return {"status": "failed", "missing": ["venue within budget"], "max_budget_usd": budget}
        return {"status": "booked", "venue": venue["name"], "price": venue["price"], "max_budget_usd": budget}


async def buggy(city):
    async with agent("planner"):
        budget = constraint("max_budget_usd", BUDGET)
        venues = await _venues(city, budget) or await _venues(city, budget)
        if venues is None:
            brief = handoff("booker", {"city": city, "venues": DEFAULT_VENUES})  # the budget is gone
        else:
            brief = handoff("booker", {"city": city, "venues": venues, "max_budget_usd": budget})
        venue = await _supervised(_book(brief), timeout=60)
        if isinstance(venue, BaseException):
            return {"status": "failed", "missing": ["booking"], "error": repr(venue)}
        return {
            "status": "booked",
            "venue": venue["name"],
            "price": venue["price"],
            "max_budget_usd": brief.get("max_budget_usd"),
        }
