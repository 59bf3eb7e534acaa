"""``brownout demo``: ``pytest --chaos`` over the shipped reference systems, offline, with a report.

Each reference system (research, checkout, content, negotiation, tracking, briefing,
invoicing) comes in a naive and a hardened variant and a cassette recorded from a real local
model, and is explored with the fault kinds and checkers of its failure mode
(``scenarios.ReferenceRun.chaos``). The demo copies its
test module (``harness/_cli/_demo_suite``) into a scratch folder, runs ``pytest --chaos`` on it
with a fixed seed (replaying every LLM call from the cassettes, so it needs no network
and no model), then prints what the checkers found — each naive variant's failure with
its smallest fault plan, each hardened variant passing — and where the report is.

Exit status: 0 when every naive variant failed and every hardened variant passed (the
demo shows what it should), 1 when not, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "available_systems", "main"]

SUITE_FILES = ("conftest.py", "test_reference_demo.py")
PYTEST_INI = "[pytest]\naddopts = -p no:cacheprovider\n"


def available_systems() -> list[Any]:
    """The reference runs (no fault, both variants) whose cassette is present."""
    from scenarios import REFERENCE_RUNS

    return [ref for ref in REFERENCE_RUNS if ref.fault is None and ref.cassette_path().is_file()]


def _stage(workdir: Path) -> None:
    suite = resources.files("harness._cli._demo_suite")
    for name in SUITE_FILES:
        (workdir / name).write_text(suite.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    (workdir / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")


def _workers(requested: int | None) -> int:
    if requested is not None:
        return max(requested, 1)
    return min(os.cpu_count() or 1, 4)


def _command(args: argparse.Namespace, report: Path, workers: int) -> list[str]:
    cmd = [
        sys.executable, "-m", "pytest", "test_reference_demo.py", "-q", "--chaos",
        f"--chaos-seed={args.seed}", f"--chaos-examples={args.examples}", f"--chaos-report={report}",
        "--junitxml=junit.xml",
    ]  # fmt: skip
    if workers > 1:
        cmd += ["-n", str(workers)]
    if args.only:
        cmd += ["-k", " or ".join(args.only)]
    return cmd


def _errors_without_runs(output: str, tested: set[str], junit: Path | None = None) -> dict[str, str]:
    """Tests that failed or errored without producing a run (e.g. a cassette miss), with the reason.

    Read from pytest's JUnit XML when there is one (it keeps each message whole), else from
    the short test summary lines of its output.
    """
    found: dict[str, str] = {}
    if junit is not None and junit.is_file():
        import xml.etree.ElementTree as ET

        for case in ET.parse(junit).getroot().iter("testcase"):
            module = (case.get("classname") or "").replace(".", "/")
            nodeid = f"{module}.py::{case.get('name')}"
            for tag in ("failure", "error"):
                problem = case.find(tag)
                if problem is not None and nodeid not in tested:
                    found[nodeid] = (problem.get("message") or tag).strip().splitlines()[0]
        return found
    for line in output.splitlines():
        for prefix in ("FAILED ", "ERROR "):
            if line.startswith(prefix):
                nodeid, _, reason = line[len(prefix) :].partition(" - ")
                if nodeid not in tested:
                    found[nodeid] = reason.strip() or "error"
    return found


def _describe(rows: list[Any], output: str = "", junit: Path | None = None) -> tuple[list[str], list[str]]:
    """Lines per reference test, and the ways the demo did not show what it should."""
    from harness._report import summarize_tests
    from harness._report._markdown import plan_oneline

    lines, surprises = [], []
    for nodeid, reason in sorted(_errors_without_runs(output, {r.test for r in rows}, junit).items()):
        name = nodeid.rsplit("[", 1)[-1].rstrip("]")
        system, _, variant = name.partition("_")
        lines.append(f"  {system:<12} {variant:<9} ERROR   {reason[:160]}")
        surprises.append(f"{name} could not run: {reason[:160]}")
    for summary in sorted(summarize_tests(rows), key=lambda s: s.test):
        name = summary.test.rsplit("[", 1)[-1].rstrip("]")
        system, _, variant = name.partition("_")
        counts = ", ".join(f"{n} {o}" for o, n in summary.counts.items() if n)
        if summary.failed:
            final = summary.final
            what = final.checkers_violated.replace(",", ", ") or final.error_type or "assertion"
            lines.append(f"  {system:<12} {variant:<9} FAILS   {what}  ({summary.runs} runs: {counts})")
            lines.append(f"  {'':<12} {'':<9}         smallest plan: {plan_oneline(final.fault_plan)}")
            lines.append(f"  {'':<12} {'':<9}         reproduce: {final.reproduce}")
            if variant == "hardened":
                surprises.append(f"{name} failed ({what}); a hardened variant should pass")
        else:
            lines.append(f"  {system:<12} {variant:<9} passes  ({summary.runs} runs: {counts})")
            if variant == "naive":
                surprises.append(f"{name} passed; its bug was not found in {summary.runs} runs")
    return lines, surprises


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``brownout demo``."""
    parser.add_argument(
        "--report", default="reports/demo", metavar="DIR", help="where the report goes (default reports/demo)"
    )
    parser.add_argument(
        "--examples", type=int, default=25, metavar="N", help="fault plans per test (default 25)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for fault-plan generation (default 1)")
    parser.add_argument(
        "-n",
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="pytest-xdist workers (default: one per core, at most 4)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only reference tests whose name contains NAME (e.g. research, naive); repeatable",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder with the demo's tests")


def main(args: argparse.Namespace) -> int:
    """Run the demo and print its summary."""
    if args.examples < 1:
        print(f"brownout demo: --examples {args.examples} must be at least 1.", file=sys.stderr)
        return 2
    try:
        systems = available_systems()
    except ImportError as exc:
        print(f"brownout demo: the reference systems cannot be imported ({exc}).", file=sys.stderr)
        return 2
    if not systems:
        from scenarios import cassette_dir

        print(
            f"brownout demo: no reference cassettes in {cassette_dir()}. They ship with the source "
            "repository (not the wheel): run the demo from a clone, or record them with "
            "`brownout record-reference` (needs the `llm` extra).",
            file=sys.stderr,
        )
        return 2
    report = Path(args.report).resolve()
    workers = _workers(args.workers)
    workdir = Path(tempfile.mkdtemp(prefix="brownout-demo-"))
    names = sorted({ref.system for ref in systems})
    print(
        f"brownout demo: {len(systems)} reference runs ({', '.join(names)}; naive and hardened) under "
        f"pytest --chaos, {args.examples} fault plans each, seed {args.seed}, {workers} worker(s), "
        "replayed offline from cassettes…",
        flush=True,
    )
    started = time.monotonic()
    for stale in ("results.parquet", "results.csv"):  # never summarize an earlier demo's results
        (report / stale).unlink(missing_ok=True)
    junit: Path | None = None
    try:
        _stage(workdir)
        # A wide terminal, so pytest's short summary keeps each failure's reason whole.
        env = {**os.environ, "COLUMNS": "1000"}
        done = subprocess.run(
            _command(args, report, workers), cwd=workdir, capture_output=True, text=True, check=False, env=env
        )
        if (workdir / "junit.xml").is_file():
            report.mkdir(parents=True, exist_ok=True)
            junit = report / "junit.xml"
            shutil.copyfile(workdir / "junit.xml", junit)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    report.mkdir(parents=True, exist_ok=True)
    (report / "pytest-output.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    from harness._report import ReportError, read_results

    try:
        rows = read_results(report)
    except ReportError:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        print(
            f"brownout demo: pytest wrote no results (exit {done.returncode}). Its last lines:\n{tail}",
            file=sys.stderr,
        )
        return 2
    lines, surprises = _describe(rows, done.stdout, junit)
    print(f"\nfinished in {elapsed:.0f} s: {len(rows)} runs\n")
    print("\n".join(lines))
    print(f"\nreport:  {report / 'report.html'}")
    print(f"summary: {report / 'summary.md'}")
    if args.keep:
        print(f"tests:   {workdir}")
    if surprises:
        print("\nThe demo did not show what it should:\n" + "\n".join(f"  - {s}" for s in surprises))
        return 1
    return 0
