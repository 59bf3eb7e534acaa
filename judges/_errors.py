"""The judges' exceptions.

Every message says what happened, the offending value, the rule, and the fix.

::

    JudgeError                        root of everything brownout's judges raise
    ├── RubricError (ValueError)      a rubric (Python, YAML or JSON) breaks a rule
    ├── JudgeConfigError (ValueError) a Judge, Ensemble or cache argument is invalid
    ├── CalibrationError (ValueError) labelled examples are unusable for calibration
    └── JudgeCallError                the judge endpoint failed (HTTP error, timeout, cassette miss)

    VerdictFailed (AssertionError)    ``Verdict.assert_passed()`` on a verdict that did not pass
"""

from __future__ import annotations

__all__ = [
    "CalibrationError",
    "JudgeCallError",
    "JudgeConfigError",
    "JudgeError",
    "RubricError",
    "VerdictFailed",
]


class JudgeError(Exception):
    """Root of every error the judges raise."""


class RubricError(JudgeError, ValueError):
    """A rubric breaks a rule: the message names the field, the value, the rule and the fix."""


class JudgeConfigError(JudgeError, ValueError):
    """A Judge, Ensemble or cache argument is invalid."""


class CalibrationError(JudgeError, ValueError):
    """The labelled examples given to ``calibrate`` cannot be used."""


class JudgeCallError(JudgeError):
    """The judge endpoint could not be asked (HTTP error, connection refused, cassette miss)."""


class VerdictFailed(AssertionError):
    """Raised by ``Verdict.assert_passed()``; the message is the per-criterion table."""
