"""The stored results table: ``results.parquet`` (pyarrow) or ``results.csv`` (pandas only)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._errors import ReportError
from harness._log._files import write_with
from harness._report._rows import ResultRow

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ReportError",
    "has_parquet",
    "read_results",
    "resolve_report_dir",
    "results_frame",
    "write_results",
]

PARQUET = "results.parquet"
CSV = "results.csv"


def has_parquet() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


_ADDED_LATER = frozenset({"judge_prompt_tokens", "judge_completion_tokens"})


def _columns() -> list[str]:
    return list(ResultRow.model_fields)


def results_frame(rows: Sequence[ResultRow]) -> pd.DataFrame:
    """The rows as a pandas DataFrame, one column per :class:`ResultRow` field."""
    import pandas as pd

    return pd.DataFrame([r.model_dump() for r in rows], columns=_columns())


def _atomic(path: Path, write: Any) -> None:
    write_with(path, write)


def write_results(directory: Path, rows: Sequence[ResultRow], *, fmt: str | None = None) -> Path:
    """Write the results table into ``directory`` and return its path.

    ``fmt`` is ``"parquet"`` or ``"csv"``; by default parquet when pyarrow is installed.
    The other format's stale file, if any, is removed so a directory holds one table.
    """
    fmt = fmt or ("parquet" if has_parquet() else "csv")
    if fmt not in ("parquet", "csv"):
        raise ReportError(f"results format {fmt!r} is not supported; use 'parquet' or 'csv'.")
    if fmt == "parquet":
        if not has_parquet():
            raise ReportError(
                "results format 'parquet' needs pyarrow, which is not installed. Install it with "
                "`pip install brownout[parquet]`, or use the CSV format."
            )
        target, other = directory / PARQUET, directory / CSV
        _atomic(target, lambda tmp: _write_parquet(tmp, rows))
    else:
        frame = results_frame(rows)
        target, other = directory / CSV, directory / PARQUET
        _atomic(target, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
    other.unlink(missing_ok=True)
    return target


def _schema() -> Any:
    import pyarrow as pa

    types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema(
        [
            (name, types.get(getattr(f.annotation, "__name__", ""), pa.string()))
            for name, f in ResultRow.model_fields.items()
        ]
    )


# pyarrow directly rather than pandas' parquet engine: the same bytes for the same rows, and no
# pandas extension types registered (pytester's in-process runs unload and reload modules).
def _write_parquet(path: str, rows: Sequence[ResultRow]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([r.model_dump() for r in rows], schema=_schema())
    pq.write_table(table, path)


def _read_parquet(path: Path) -> list[ResultRow]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise ReportError(
            f"{path}: not a readable parquet file ({exc}). Re-run pytest to regenerate it."
        ) from None
    return _rows_from_records(path, table.column_names, table.to_pylist())


def _rows_from_records(
    source: Path, columns: Sequence[str], records: Sequence[dict[str, Any]]
) -> list[ResultRow]:
    # Columns added since the first format default to 0 when an older table lacks them.
    missing = [c for c in _columns() if c not in columns and c not in _ADDED_LATER]
    if missing:
        raise ReportError(
            f"{source}: columns {', '.join(missing)} are missing; the table was written by another version "
            "of brownout. Re-run pytest to regenerate it."
        )
    rows = []
    for number, record in enumerate(records, start=1):
        try:
            clean = {
                k: (v.item() if hasattr(v, "item") else v)
                for k, v in record.items()
                if k in ResultRow.model_fields
            }
            rows.append(ResultRow(**clean))
        except Exception as exc:
            raise ReportError(f"{source}: row {number} is not a valid result row: {exc}") from None
    return rows


def resolve_report_dir(path: Path) -> Path:
    """The report directory ``path`` names: itself, or where a pointer file (``reports/latest``
    where symlinks are unavailable) says, relative to the pointer's folder."""
    if path.is_file() and not (path / PARQUET).exists():
        target = Path(path.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else path.parent / target
    return path


def read_results(directory: Path) -> list[ResultRow]:
    """Read the results table stored in ``directory`` (parquet preferred, else CSV)."""
    import pandas as pd

    parquet, csv = directory / PARQUET, directory / CSV
    if parquet.is_file():
        if not has_parquet():
            raise ReportError(
                f"{parquet}: reading parquet needs pyarrow, which is not installed. Install it with "
                "`pip install brownout[parquet]`."
            )
        return _read_parquet(parquet)
    elif csv.is_file():
        kinds = {"int": "int64", "float": "float64", "bool": "bool"}
        dtypes = {
            name: kinds.get(getattr(field.annotation, "__name__", ""), "string")
            for name, field in ResultRow.model_fields.items()
        }
        frame = pd.read_csv(csv, dtype=dtypes, keep_default_na=False, na_values=[])  # type: ignore[arg-type]
        source = csv
    else:
        where = directory if directory.is_dir() else f"{directory} (no such directory)"
        raise ReportError(
            f"{where}: no {PARQUET} or {CSV} here. Point at a directory written by "
            "`pytest --chaos-report DIR` (default reports/latest)."
        )
    return _rows_from_records(source, list(frame.columns), frame.to_dict("records"))
