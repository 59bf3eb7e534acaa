"""The demo's summary of reference test results (what behaved, what did not)."""

from __future__ import annotations

from pathlib import Path

from _support.report_logs import checkout_log

from harness._cli import _demo
from harness._report import row_from_log


def test_demo_summary_flags_what_did_not_behave(tmp_path: Path) -> None:
    rows = [
        row_from_log(checkout_log("a"), test="t.py::test_reference[checkout_naive]", final=True),
        row_from_log(
            checkout_log("b", crash=True), test="t.py::test_reference[checkout_hardened]", final=True
        ),
    ]
    output = "FAILED t.py::test_reference[research_hardened] - harness._errors.CassetteMiss: cassette miss\n"
    lines, surprises = _demo._describe(rows, output)
    text = "\n".join(lines)
    assert "checkout     naive     passes" in text
    assert "checkout     hardened  FAILS   RuntimeError" in text
    assert "research     hardened  ERROR   harness._errors.CassetteMiss: cassette miss" in text
    assert surprises == [
        "research_hardened could not run: harness._errors.CassetteMiss: cassette miss",
        "checkout_hardened failed (RuntimeError); a hardened variant should pass",
        "checkout_naive passed; its bug was not found in 1 runs",
    ]
