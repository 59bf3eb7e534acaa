"""``brownout check RUNLOG...``: run the checkers on stored run logs.

Exit status: 0 when no checker found anything, 1 when one did, 2 when a log cannot be
read, is incomplete (no ``run_end``: the run was interrupted or the file cut) or the
selection is invalid (the message says which and how to fix it). ``--partial`` checks an
incomplete log anyway; its result is marked partial.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from harness._errors import HarnessError

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runlogs",
        nargs="+",
        metavar="RUNLOG",
        help="run log files (.jsonl), or directories whose *.jsonl files are checked",
    )
    parser.add_argument(
        "--checks",
        default="default",
        help="'default', 'all', or comma-separated checker names (see `brownout checkers`); default: default",
    )
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so that the checkers it registers can run (repeatable)",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="check run logs without run_end too (an interrupted run); results are marked partial",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def _paths(arguments: list[str]) -> list[Path]:
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            logs = sorted(path.rglob("*.jsonl"))
            if not logs:
                raise HarnessError(f"{path}: a directory with no *.jsonl run logs in it.")
            found.extend(logs)
        elif path.exists():
            found.append(path)
        else:
            raise HarnessError(f"{path}: no such run log file or directory.")
    return found


def _selection(text: str) -> str | list[str]:
    if text in ("default", "all"):
        return text
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise HarnessError(f"--checks={text!r}: name at least one checker, or use 'default' or 'all'.")
    return names


def main(args: argparse.Namespace) -> int:
    from harness._checkers._common import run_end
    from harness._checkers._registry import get_checkers, run_checks
    from harness._log._runlog import RunLog

    try:
        for module in args.imports:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise HarnessError(
                    f"--import {module}: cannot import it ({exc}). Pass a module importable from here "
                    "(check PYTHONPATH and the current directory)."
                ) from None
        selection = _selection(args.checks)
        specs = get_checkers(selection)
        paths = _paths(args.runlogs)
        results: list[dict[str, Any]] = []
        for path in paths:
            log = RunLog.read(path)
            end = run_end(log)
            if end is None and not getattr(args, "partial", False):
                raise HarnessError(
                    f"{path}: incomplete run log: {len(log)} event(s) and no run_end (the run was "
                    "interrupted or the file was cut). Checkers judge a whole run; on part of one they "
                    "would report 'no violations' about steps that never ran. Re-run to regenerate the "
                    "log, or pass --partial to check what it holds (the result is marked partial)."
                )
            violations = run_checks(log, selection, output=end.output if end is not None else None)
            results.append(
                {"path": str(path), "run_id": log.run_id, "violations": violations, "partial": end is None}
            )
    except HarnessError as exc:
        print(f"brownout check: {exc}", file=sys.stderr)
        return 2
    total = sum(len(r["violations"]) for r in results)
    if args.format == "json":
        payload = [
            {
                "path": r["path"],
                "run_id": r["run_id"],
                "partial": r["partial"],
                "violations": [v.model_dump(mode="json") for v in r["violations"]],
            }
            for r in results
        ]
        print(json.dumps(payload, indent=2))
    else:
        for r in results:
            found = r["violations"]
            mark = " [partial log: no run_end, only the steps it holds were checked]" if r["partial"] else ""
            if not found:
                print(f"{r['path']}: ok ({len(specs)} checkers, no violations){mark}")
                continue
            print(f"{r['path']}: {len(found)} violation(s) in run {r['run_id']}{mark}")
            for violation in found:
                print(f"  - {violation}")
        if len(results) > 1:
            bad = sum(1 for r in results if r["violations"])
            print(f"{len(results)} run logs checked, {bad} with violations ({total} in all).")
    return 1 if total else 0
