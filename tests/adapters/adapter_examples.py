"""Helpers for the framework-adapter tests: the example apps in examples/, their cassettes."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(folder: str, module: str) -> ModuleType:
    """Import ``examples/<folder>/<module>.py`` as the example's own test run would."""
    path = str(EXAMPLES / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(module)


def cassette_of(folder: str, test_module: str, test_name: str) -> Path:
    return EXAMPLES / folder / "cassettes" / test_module / f"{test_name}.json"


def normalized(log: Any) -> list[dict[str, Any]]:
    """A run log without its run id: what must be identical between replays."""
    out = []
    for event in log:
        data = event.model_dump(mode="json")
        data.pop("run_id", None)
        out.append(data)
    return out


def copy_example(folder: str, dest: Path) -> Path:
    """Copy an example (app, test, ini, cassettes) into ``dest``, without reports or caches."""
    target = dest / folder
    shutil.copytree(
        EXAMPLES / folder,
        target,
        ignore=shutil.ignore_patterns("reports", ".hypothesis", ".pytest_cache", "__pycache__"),
    )
    return target


def fault_sites(results: Path) -> set[str]:
    """The sites of every fault that reached the system in an exploration (its results table)."""
    import pyarrow.parquet as pq  # pyarrow alone: pandas may not be imported twice in one process

    kinds = pq.read_table(results, columns=["fault_kinds"]).column("fault_kinds").to_pylist()
    return {kind.split(".")[0] for row in kinds for kind in (row or "").split(",") if kind}
