"""``brownout checkers``: list the registered checkers, one line each."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from harness._errors import HarnessError

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so that the checkers it registers are listed too (repeatable)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def main(args: argparse.Namespace) -> int:
    from harness._checkers._registry import get_checkers

    for module in args.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(
                f"brownout checkers: --import {module}: cannot import it ({exc}). "
                "Pass a module importable from here.",
                file=sys.stderr,
            )
            return 2
    try:
        specs = get_checkers("all")
    except HarnessError as exc:  # pragma: no cover - "all" is always valid
        print(f"brownout checkers: {exc}", file=sys.stderr)
        return 2
    if args.format == "json":
        rows = [{"name": s.name, "default": s.default, "summary": s.summary} for s in specs]
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(s.name) for s in specs), default=0)
    for spec in specs:
        marker = "default" if spec.default else "opt-in "
        print(f"{spec.name:<{width}}  {marker}  {spec.summary}")
    return 0
