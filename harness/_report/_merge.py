"""``brownout report --merge``: the reports of several shards joined into one."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from harness._errors import ReportError
from harness._report._build import write_report
from harness._report._rows import ResultRow
from harness._report._store import read_results, resolve_report_dir

__all__ = ["merge_reports"]


def merge_reports(sources: Sequence[Path], out: Path) -> Path:
    """Write one report into ``out`` from the rows and run logs of the shard reports ``sources``.

    The merged rows are the shards' rows in the order a single process writes them (by test,
    then by run), so a report merged from ``--chaos-shard`` runs holds the same rows as one
    run of all the tests. Returns the path of the merged ``report.html``.

    Raises:
        ReportError: If a source cannot be read, or two sources hold runs of the same test (the
            shards overlap, or one report was passed twice).
    """
    if not sources:
        raise ReportError("--merge needs at least one report directory (the shards' --chaos-report DIRs).")
    rows: list[ResultRow] = []
    owner: dict[str, Path] = {}
    out = Path(out)
    for source in sources:
        directory = resolve_report_dir(Path(source))
        shard_rows = read_results(directory)
        for test in sorted({r.test for r in shard_rows}):
            if test in owner and owner[test] != directory:
                raise ReportError(
                    f"{test} has runs in both {owner[test]} and {directory}: the shards overlap. Merge the "
                    "reports of disjoint shards (--chaos-shard 1/n ... n/n of the same tests)."
                )
            owner[test] = directory
        for row in shard_rows:
            if row.log and (directory / row.log).is_file():
                target = out / row.log
                target.parent.mkdir(parents=True, exist_ok=True)
                if (directory / row.log).resolve() != target.resolve():
                    shutil.copyfile(directory / row.log, target)
        rows.extend(shard_rows)
    rows.sort(key=lambda r: (r.test, r.index))
    return write_report(out, rows)
