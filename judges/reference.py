"""``python -m judges.reference``: verdicts on the reference systems' outputs (``judges._reference``)."""

from judges._reference import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
