"""``python -m judges.attacks``: the prompt-injection flip-rate table (see ``judges._attacks``)."""

from judges._attacks import ATTACKS, Attack, main

__all__ = ["ATTACKS", "Attack", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
