"""The judges' exceptions.

Every message says what happened, the offending value, the rule, and the fix.

::

    JudgeError                          root of everything brownout's judges raise
    ├── RubricError (ValueError)        a rubric (Python, YAML or JSON) breaks a rule
    │   └── UnknownCriterion (KeyError) a criterion asked for (or needed in scores) is not there
    ├── JudgeConfigError (ValueError)   an argument of a judges constructor is invalid (Judge,
    │                                   Ensemble, VerdictCache, JudgeSpec, Verdict, a registry call)
    ├── CalibrationError (ValueError)   labelled examples are unusable for calibration
    ├── JudgeCallError                  the judge endpoint failed (HTTP error, timeout, cassette miss)
    ├── JudgeModelError                 the judge model's weights assembled to the wrong bytes
    ├── MalformedReply                  internal: a judge reply is unusable; it never escapes, it is
    │                                   retried once and then becomes an *unscored* verdict
    ├── VerdictFailed (AssertionError)  ``Verdict.assert_passed()`` on a verdict that did not pass
    └── VerdictTruthError (TypeError)   ``bool(verdict)``: a verdict has three outcomes, no truth value

The builtin second bases keep ``except ValueError`` / ``KeyError`` / ``TypeError`` /
``AssertionError`` working where the Python idiom expects them.
"""

from __future__ import annotations

__all__ = [
    "CalibrationError",
    "JudgeCallError",
    "JudgeConfigError",
    "JudgeError",
    "JudgeModelError",
    "MalformedReply",
    "RubricError",
    "UnknownCriterion",
    "VerdictFailed",
    "VerdictTruthError",
]


class JudgeError(Exception):
    """Root of every error the judges raise."""


class RubricError(JudgeError, ValueError):
    """A rubric breaks a rule: the message names the field, the value, the rule and the fix."""


class UnknownCriterion(RubricError, KeyError):
    """A criterion is not there: a rubric or verdict lacks it, or scores omit it."""

    def __str__(self) -> str:
        # KeyError's str() quotes its argument; the message reads better as written.
        return Exception.__str__(self)


class JudgeConfigError(JudgeError, ValueError):
    """An argument of a judges constructor or registry call is invalid."""


class CalibrationError(JudgeError, ValueError):
    """The labelled examples given to ``calibrate`` cannot be used."""


class JudgeCallError(JudgeError):
    """The judge endpoint could not be asked (HTTP error, connection refused, cassette miss)."""


class MalformedReply(JudgeError):
    """A judge's reply cannot be used (not JSON, a score missing or off the scale).

    Internal: the judge retries once with this message, then returns an unscored verdict.
    """


class VerdictFailed(JudgeError, AssertionError):
    """Raised by ``Verdict.assert_passed()``; the message is the per-criterion table."""


class VerdictTruthError(JudgeError, TypeError):
    """Raised by ``bool(verdict)``: use ``verdict.passed`` or ``verdict.assert_passed()``."""


class JudgeModelError(JudgeError):
    """The judge model's slices assembled to bytes of the wrong size or hash (nothing is kept)."""
