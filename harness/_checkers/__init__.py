"""Built-in checkers; each module registers its checkers with ``harness._checks.checker``."""
