"""The ``brownout`` command line.

Each subcommand lives in its own module and is imported only when it runs; a
module provides ``add_arguments(parser)`` and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "harness._cli._demo",
        "run pytest --chaos over the shipped reference systems and print the report path",
    ),
    "replay": (
        "harness._run._replay",
        "re-execute a recorded production run locally and report the first divergence",
    ),
    "check": ("harness._cli._check", "run the checkers on a stored run log"),
    "checkers": ("harness._cli._checkers", "list the registered checkers"),
    "compare": (
        "harness._cli._compare",
        "compare two stored reports' pass rates: pass, regressed, improved or inconclusive",
    ),
    "report": (
        "harness._cli._report",
        "re-render the reliability report from stored results, or merge shard reports",
    ),
    "init": ("harness._cli._init", "scaffold a conftest, an example chaos test and a CI workflow"),
    "doctor": ("harness._cli._doctor", "run an entry point once and say what the harness can and cannot see"),
    "record-reference": (
        "harness._cli._record_reference",
        "start the local LLM server, re-record the reference cassettes, stop it",
    ),
    "export-otel": (
        "harness._report._otel",
        "export run logs as OpenTelemetry spans (GenAI semantic conventions)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brownout",
        description="brownout: the test harness for LLM multi-agent systems.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        build_parser().print_help()
        return 0 if argv else 2
    name = argv[0]
    if name not in COMMANDS:
        print(
            f"brownout: unknown command {name!r}. Commands: {', '.join(COMMANDS)}. "
            "Run `brownout --help` for what each does.",
            file=sys.stderr,
        )
        return 2
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"brownout {name}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    return int(module.main(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
