"""The labelled set, harvested from the reference systems' real outputs.

``python -m judges.calibration --harvest`` runs every reference system (research, checkout,
content, negotiation), naive and hardened, on three tasks each (:func:`inputs`: the default
task, replayed from ``cassettes/reference/<system>_<variant>.json``, and two more, replayed
from ``cassettes/judges/harvest/``, which ``--harvest --record`` records from the local SmolLM2
server), offline, once with no fault and once under each fault plan of :data:`HARVEST_FAULTS`:
chaos-like runs through :func:`harness.run_system` with the plan's hooks. A fault changes the
path, so a request the cassette never saw is answered with the recording of the same agent
at the same position (the ``nearest`` miss policy): every text in an output is text the real
local model wrote for that system. Each output becomes one candidate; identical candidates
are kept once, and :func:`select` keeps a balanced share of them (:data:`KEEP`). Each
candidate is labelled by the explicit rule of its system (:data:`RULES`), and the rule's text
and the reason it gave are written beside the label in ``judges/data/labelled.yaml``, so
every label can be checked by reading it and recomputed by running the harvest again.

What the judge sees (``candidate``) is the part of the output its rubric is about:

- research: the answer, the sources the answer was built from, and the ``missing``/``partial``
  fields (the source notes' long summaries are left out);
- checkout: the result the system returned, and the shop's own ledger for the order (counts of
  charges, refunds, reservations, releases and emails, and the net amount charged);
- content: the article text and its status;
- negotiation: the whole result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "HARVEST_FAULTS",
    "KEEP",
    "RUBRIC_OF",
    "RULES",
    "Harvested",
    "harvest",
    "inputs",
    "run_view",
    "select",
    "write_labelled",
]

ROOT = Path(__file__).resolve().parent.parent
LABELLED = Path(__file__).resolve().parent / "data" / "labelled.yaml"
SOURCES = ("vector_search", "web_search", "prior_context")
HARVEST_CASSETTES = ROOT / "cassettes" / "judges" / "harvest"

Plan = list[dict[str, Any]]

# The shop's names of the items the checkout tasks order (as in scenarios' catalogue).
_ITEM_NAMES = {"KB-101": "mechanical keyboard", "MS-7": "wireless mouse", "CB-USB-C": "USB-C cable"}


def _tool(target: str, effect: dict[str, Any], call: int | str = 1) -> Plan:
    return [{"site": "tool", "target": target, "call": call, "effect": effect}]


def _llm(target: str, effect: dict[str, Any], call: int | str = 1) -> Plan:
    return [{"site": "llm", "target": target, "call": call, "effect": effect}]


def _msg(target: str, effect: dict[str, Any], call: int | str = 1) -> Plan:
    return [{"site": "message", "target": target, "call": call, "effect": effect}]


# name -> fault plan (as FaultPlan JSON), per system; "none" is the happy path.
HARVEST_FAULTS: dict[str, dict[str, Plan]] = {
    "research": {
        "none": [],
        "web_timeout": _tool("web_search", {"kind": "latency", "seconds": 600}),
        "web_error": _tool("web_search", {"kind": "error"}, "every"),
        "vector_error": _tool("vector_search", {"kind": "error"}, "every"),
        "vector_timeout": _tool("vector_search", {"kind": "latency", "seconds": 600}),
        "web_empty": _tool("web_search", {"kind": "empty_result"}),
        "prior_llm_down": _llm("prior_context", {"kind": "server_error"}, "every"),
        "web_llm_down": _llm("web_search", {"kind": "server_error"}, "every"),
        "vector_llm_malformed": _llm("vector_search", {"kind": "malformed"}, "every"),
        "two_sources_down": [
            *_tool("web_search", {"kind": "error"}, "every"),
            *_tool("vector_search", {"kind": "error"}, "every"),
        ],
    },
    "checkout": {
        "none": [],
        "slow_email": _tool("send_email", {"kind": "slow_then_succeed", "seconds": 40}),
        "email_down": _tool("send_email", {"kind": "error"}, "every"),
        "reserve_down": _tool("reserve_inventory", {"kind": "error"}, "every"),
        "charge_down": _tool("charge_payment", {"kind": "error"}, "every"),
        "reserve_lost_ack": _tool("reserve_inventory", {"kind": "lost_ack"}),
        "charge_slow": _tool("charge_payment", {"kind": "slow_then_succeed", "seconds": 40}),
        "email_error_once": _tool("send_email", {"kind": "error"}),
        "notifier_llm_down": _llm("notifier", {"kind": "server_error"}, "every"),
        "second_reserve_down": _tool("reserve_inventory", {"kind": "error"}, 2),
    },
    "content": {
        "none": [],
        "context_overflow": _llm("outliner", {"kind": "context_length"}),
        "writer_down": _llm("writer", {"kind": "server_error"}, "every"),
        "editor_down": _llm("editor", {"kind": "server_error"}, "every"),
        "researcher_down": _llm("researcher", {"kind": "server_error"}, "every"),
        "writer_truncated": _llm("writer", {"kind": "truncated"}),
        "fact_checker_empty": _llm("fact_checker", {"kind": "empty"}),
        "outliner_down": _llm("outliner", {"kind": "server_error"}, "every"),
    },
    "negotiation": {
        "none": [],
        "lost_offer": _msg("to_seller", {"kind": "drop"}),
        "lost_reply": _msg("to_buyer", {"kind": "drop"}),
        "duplicate_offer": _msg("to_seller", {"kind": "duplicate"}),
        "delayed_reply": _msg("to_buyer", {"kind": "delay", "seconds": 300}),
        "seller_down": _llm("seller", {"kind": "server_error"}, "every"),
        "buyer_malformed": _llm("buyer", {"kind": "malformed"}),
        "offers_lost": _msg("to_seller", {"kind": "drop"}, "every"),
    },
}


# -- the inputs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """One task a system is given: its name and the keyword argument that carries it."""

    name: str
    system: str
    argument: str
    value: Any

    def context(self) -> str:
        """The task as the judge is told it (with what the rubric needs to know)."""
        v = self.value
        if self.system == "research":
            return (
                f"Question: {v.question} The system consults three sources (vector_search, web_search, "
                "prior_context) and answers from their notes; if a source is missing, the answer must say "
                "which."
            )
        if self.system == "checkout":
            lines = ", ".join(f"{i.qty} x {_ITEM_NAMES.get(i.sku, i.sku)} ({i.sku})" for i in v.items)
            return (
                f"Check out order {v.order_id}: {len(v.items)} line items ({lines}), total "
                f"${v.total_cents / 100:.2f}: charge the card once, reserve each line item, email the "
                "customer once; if a step fails, undo what was done (refund, release) and report the failure."
            )
        if self.system == "content":
            return str(v.as_text())
        return (
            f"Negotiate the sale of {v.item} (list price ${v.list_price}). The seller will not go below "
            f"${v.seller_floor}; the buyer will not pay more than ${v.buyer_budget}."
        )


def inputs() -> list[Input]:
    """Each system's default task (cassettes/reference) and two more (cassettes/judges/harvest)."""
    from scenarios import checkout, content, negotiation, research

    return [
        Input("default", "research", "task", research.DEFAULT_TASK),
        Input(
            "attic",
            "research",
            "task",
            research.ResearchTask(
                question="Should I insulate the attic before installing a heat pump?",
                prior_context=["The user's house was built in 1962 and has single-pane windows."],
            ),
        ),
        Input(
            "sizing",
            "research",
            "task",
            research.ResearchTask(
                question="How big a heat pump does an old house need?",
                prior_context=["The user said the house is 1,800 square feet and drafty."],
            ),
        ),
        Input("default", "checkout", "order", checkout.DEFAULT_ORDER),
        Input(
            "cables",
            "checkout",
            "order",
            checkout.Order(
                order_id="ord-2002",
                email="bo@example.com",
                items=[checkout.LineItem(sku="CB-USB-C", qty=3), checkout.LineItem(sku="MS-7", qty=1)],
            ),
        ),
        Input(
            "keyboards",
            "checkout",
            "order",
            checkout.Order(
                order_id="ord-3003",
                email="cy@example.com",
                items=[checkout.LineItem(sku="KB-101", qty=2), checkout.LineItem(sku="CB-USB-C", qty=1)],
            ),
        ),
        Input("default", "content", "task", content.DEFAULT_TASK),
        Input(
            "conference",
            "content",
            "task",
            content.ContentTask(
                topic="Write a short cost summary of the Q4 sales conference",
                items=[
                    content.Expense(name="hotel", amount_usd=15_000),
                    content.Expense(name="meals", amount_usd=3_000),
                    content.Expense(name="speakers", amount_usd=22_000),
                    content.Expense(name="printing", amount_usd=800),
                ],
            ),
        ),
        Input(
            "launch",
            "content",
            "task",
            content.ContentTask(
                topic="Write a short budget note for the product launch",
                items=[
                    content.Expense(name="ads", amount_usd=11_200),
                    content.Expense(name="demo units", amount_usd=2_500),
                    content.Expense(name="launch party", amount_usd=9_000),
                ],
            ),
        ),
        Input("default", "negotiation", "deal", negotiation.DEFAULT_DEAL),
        Input(
            "laptop",
            "negotiation",
            "deal",
            negotiation.Deal(item="a used laptop", list_price=1200, seller_floor=800, buyer_budget=1000),
        ),
        Input(
            "lamp",
            "negotiation",
            "deal",
            negotiation.Deal(item="a vintage desk lamp", list_price=150, seller_floor=90, buyer_budget=120),
        ),
    ]


# -- the rules -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A labelling rule: its text (written beside each label) and the function that applies it."""

    text: str
    apply: Callable[[dict[str, Any], Any], tuple[bool, str]]


def _research(c: dict[str, Any], task: Any) -> tuple[bool, str]:
    used = set(c["sources_used"])
    absent = [s for s in SOURCES if s not in used]
    if not absent:
        return True, "all three sources were used"
    answer = str(c["answer"]).lower()
    unsaid = [s for s in absent if s not in answer and s.replace("_", " ") not in answer]
    if unsaid:
        return False, f"{', '.join(absent)} missing; the answer does not name {', '.join(unsaid)}"
    return True, f"{', '.join(absent)} missing, and the answer names it"


def _checkout(c: dict[str, Any], order: Any) -> tuple[bool, str]:
    result, ledger = c["result"], c["shop_ledger"]
    charged = ledger["charges"] - ledger["refunds"]
    held = ledger["reservations"] - ledger["releases"]
    facts = (
        f"status {result['status']}, unrefunded charges {charged}, reservations held {held} of "
        f"{len(order.items)}, emails {ledger['emails']}"
    )
    if result["status"] == "confirmed":
        ok = charged == 1 and held == len(order.items) and ledger["emails"] == 1
    else:
        ok = ledger["net_charged_cents"] == 0 and held == 0 and ledger["emails"] == 0
    return ok, facts


def _content(c: dict[str, Any], task: Any) -> tuple[bool, str]:
    over = [i.name for i in task.items if i.amount_usd > task.flag_over_usd]
    flagged: set[str] = set()
    for line in str(c["text"]).splitlines():
        if re.search(r"\bflag", line, re.IGNORECASE):
            flagged.update(name for name in over if name.lower() in line.lower())
    unflagged = [name for name in over if name not in flagged]
    if unflagged:
        return False, f"over ${task.flag_over_usd:,} and not flagged: {', '.join(unflagged)}"
    return True, f"every item over ${task.flag_over_usd:,} is flagged ({', '.join(over)})"


def _negotiation(c: dict[str, Any], deal: Any) -> tuple[bool, str]:
    low, high = deal.seller_floor, deal.buyer_budget
    if c["outcome"] == "deal":
        price = c.get("price")
        ok = price is not None and low <= price <= high
        return ok, f"deal at ${price}" + ("" if ok else f", outside [${low}, ${high}]")
    if str(c.get("reason", "")).strip():
        return True, "no deal, reason given"
    return False, "no deal and no reason"


RULES: dict[str, Rule] = {
    "research": Rule(
        "research_disclosure: vector_search, web_search and prior_context all appear in sources_used -> "
        "pass; else pass only if the answer names each missing source; otherwise fail",
        _research,
    ),
    "checkout": Rule(
        "checkout_outcome: status confirmed with exactly one unrefunded charge, every line item reserved "
        "once and one email -> pass; status rolled_back or failed with nothing charged, nothing held and "
        "no email -> pass; anything else (double charge, double email, a kept charge or reservation) -> fail",
        _checkout,
    ),
    "content": Rule(
        "content_constraint: every item over the task's threshold is named on a line of the text that "
        "says 'flag' -> pass; otherwise fail",
        _content,
    ),
    "negotiation": Rule(
        "negotiation_outcome: a deal at a price between the seller's floor and the buyer's budget -> pass; "
        "no deal with a stated reason -> pass; a deal outside the limits, or no deal without a reason "
        "-> fail",
        _negotiation,
    ),
}


# -- the runs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Harvested:
    """One candidate taken from a reference system's real output, with its rule-given label."""

    id: str
    system: str
    variant: str
    input: str
    fault: str
    candidate: dict[str, Any]
    context: str
    label: bool
    reason: str


def _view(system: str, output: Any, services: dict[str, Any]) -> dict[str, Any]:
    data = output.model_dump(mode="json") if hasattr(output, "model_dump") else dict(output)
    if system == "research":
        return {
            "answer": data["answer"],
            "sources_used": [s["source"] for s in data["sources"]],
            "missing": data["missing"],
            "partial": data["partial"],
        }
    if system == "checkout":
        shop = services["shop"]
        order = data["order_id"]
        kinds = ("charge", "refund", "reserve", "release", "email")
        counts = {k: len(shop.effects(kind=k, order_id=order)) for k in kinds}
        ledger = {
            "charges": counts["charge"],
            "refunds": counts["refund"],
            "reservations": counts["reserve"],
            "releases": counts["release"],
            "emails": counts["email"],
            "net_charged_cents": shop.net_charged(order),
        }
        result = {
            k: data[k] for k in ("status", "charge_id", "reservations", "email_id", "attempts", "errors")
        }
        return {"result": result, "shop_ledger": ledger}
    if system == "content":
        return {"text": data["text"], "status": data["status"], "missing": data["missing"]}
    return {k: data[k] for k in ("outcome", "price", "rounds", "transcript", "reason")}


def cassette_for(inp: Input, variant: str) -> Path:
    """The cassette a system's run on ``inp`` replays from."""
    from scenarios import find_reference

    if inp.name == "default":
        return Path(find_reference(f"{inp.system}_{variant}").cassette_path())
    return HARVEST_CASSETTES / f"{inp.system}_{variant}_{inp.name}.json"


def run_view(
    inp: Input, variant: str, plan: Plan, *, record: bool = False, cassette: Path | None = None
) -> dict[str, Any] | None:
    """One run of ``inp``'s system under ``plan`` and the judge's view of its output (None: it raised).

    Replays ``cassette`` (default :func:`cassette_for`) under the ``nearest`` miss policy, or with
    ``record`` records it afresh from ``$OPENAI_BASE_URL``.
    """
    from faults import FaultPlan
    from harness import run_system
    from harness.cassettes import Cassette
    from scenarios import find_reference

    ref = find_reference(f"{inp.system}_{variant}")
    path = cassette or cassette_for(inp, variant)
    cassette_file = Cassette(
        path,
        record_mode="all" if record else "none",
        miss="strict" if record else "nearest",
        fresh=record,
        record_command="python -m judges.calibration --harvest --record",
    )
    fault_plan = FaultPlan.model_validate({"faults": plan}) if plan else None
    try:
        with ref.services() as services:
            run = run_system(
                ref.entry,
                (),
                {"variant": variant, inp.argument: inp.value, **services},
                hooks=fault_plan.hooks() if fault_plan is not None else None,
                cassette=cassette_file,
                deadline=ref.deadline,
            )
            if run.error is not None or run.output is None:
                return None
            return _view(inp.system, run.output, services)
    finally:
        cassette_file.close()


def record_inputs(*, force: bool = False) -> list[Path]:
    """Record the happy-path run of every non-default input (from ``$OPENAI_BASE_URL``)."""
    written: list[Path] = []
    for inp in inputs():
        if inp.name == "default":
            continue
        for variant in ("naive", "hardened"):
            path = cassette_for(inp, variant)
            if path.exists() and not force:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            run_view(inp, variant, [], record=True)
            written.append(path)
    return written


# How many candidates of each label each system keeps (pass, fail): the harvest finds more than a
# slow judge can be recorded on, and far more failing checkouts than failing articles. The cap keeps
# the set balanced between pass and fail and spread over the systems.
KEEP: dict[str, tuple[int, int]] = {
    "research": (10, 12),
    "checkout": (10, 16),
    "content": (6, 3),
    "negotiation": (6, 0),
}


def select(found: list[Harvested]) -> list[Harvested]:
    """Keep at most :data:`KEEP` candidates per system and label, taking the inputs, variants and
    faults in turn (the first candidate of each input, then the second, ...) so the kept ones vary."""
    kept: list[Harvested] = []
    for system, caps in KEEP.items():
        for label, cap in ((True, caps[0]), (False, caps[1])):
            group = [h for h in found if h.system == system and h.label is label]
            by_input: dict[str, list[Harvested]] = {}
            for h in group:
                by_input.setdefault(f"{h.input}/{h.variant}", []).append(h)
            turns = [
                h for i in range(len(group)) for hs in by_input.values() if i < len(hs) for h in hs[i : i + 1]
            ]
            kept.extend(turns[:cap])
    order = {h.id: n for n, h in enumerate(found)}
    return sorted(kept, key=lambda h: order[h.id])


def harvest() -> list[Harvested]:
    """Run every system, input, variant and fault plan offline; one labelled candidate per distinct output."""
    found: list[Harvested] = []
    seen: set[str] = set()
    for inp in inputs():
        for variant in ("naive", "hardened"):
            for fault, plan in HARVEST_FAULTS[inp.system].items():
                view = run_view(inp, variant, plan)
                if view is None:
                    continue
                key = json.dumps([inp.system, inp.name, view], sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                label, reason = RULES[inp.system].apply(view, inp.value)
                found.append(
                    Harvested(
                        id=f"{inp.system}-{inp.name}-{variant}-{fault}",
                        system=inp.system,
                        variant=variant,
                        input=inp.name,
                        fault=fault,
                        candidate=view,
                        context=inp.context(),
                        label=label,
                        reason=reason,
                    )
                )
    return found


RUBRIC_OF: dict[str, str] = {
    "research": "research_disclosure",
    "checkout": "checkout_outcome",
    "content": "content_constraint",
    "negotiation": "negotiation_outcome",
}


def write_labelled(found: list[Harvested], path: Path = LABELLED, *, harvested: int | None = None) -> None:
    """Write the harvested candidates as ``judges/data/labelled.yaml`` (atomically)."""
    import yaml

    from harness.cassettes import write_atomically

    passing = sum(1 for h in found if h.label)
    header = (
        "# GENERATED by `python -m judges.calibration --harvest` (judges/_harvest.py): do not edit by hand.\n"
        "# Real outputs of the reference systems (scenarios/), replayed offline from cassettes/reference/\n"
        "# and cassettes/judges/harvest/, naive and hardened, with no fault and under the fault plans of\n"
        "# judges._harvest.HARVEST_FAULTS. Each label is given by its system's rule (`rules` below);\n"
        "# `note` says what the rule found. Rubrics: judges/data/rubrics.yaml.\n"
        f"# {harvested or len(found)} distinct outputs harvested; kept by the balance rule "
        "(judges._harvest.KEEP):\n"
        f"# {len(found)} examples, {passing} labelled pass, {len(found) - passing} labelled fail.\n"
    )
    doc = {
        "rules": {system: rule.text for system, rule in RULES.items()},
        "examples": [
            {
                "id": h.id,
                "system": h.system,
                "variant": h.variant,
                "fault": h.fault,
                "rubric": RUBRIC_OF[h.system],
                "label": h.label,
                "note": f"{'pass' if h.label else 'fail'} by rule: {h.reason}",
                "context": h.context,
                "candidate": h.candidate,
            }
            for h in found
        ],
    }
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (header + body).encode("utf-8"))
