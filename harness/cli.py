"""The ``brownout`` command line, public: ``main(argv) -> exit code`` (what the console script runs).

``python -m harness.cli check run.jsonl`` is the same as ``brownout check run.jsonl``.
Each subcommand lives in its own module under the private ``_cli`` folder and is imported
only when it runs.
"""

from harness._cli._main import COMMANDS, main

__all__ = ["COMMANDS", "main"]

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
