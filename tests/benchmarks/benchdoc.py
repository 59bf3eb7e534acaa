"""Writes one benchmark's section of docs/benchmarks.md, keeping every other section as it is."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def write_section(heading: str, section: str) -> None:
    """Replace the section titled ``heading`` (e.g. ``"## Replay"``) with ``section``, or append it.

    ``section`` is the whole section, heading line included. A file lock keeps two
    benchmarks running at once from losing each other's section.
    """
    body = section.rstrip("\n").splitlines()
    if not body or body[0].strip() != heading:
        body = [heading, "", *body]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(DOC) + ".lock"):
        text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
        lines = text.splitlines()
        if heading in lines:
            begin = lines.index(heading)
            end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
            lines[begin:end] = [*body, ""] if end < len(lines) else body
        else:
            lines += ["", *body]
        DOC.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    Path(str(DOC) + ".lock").unlink(missing_ok=True)
