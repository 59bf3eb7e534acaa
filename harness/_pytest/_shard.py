"""``--chaos-shard i/n``: run the i-th of n disjoint shares of the chaos tests.

Chaos tests (those that use the ``chaos`` fixture) are sorted by node id and dealt out in
turn, so every machine that collects the same tests computes the same split without talking
to the others, and the shares differ in size by at most one. Tests that do not use ``chaos``
run on every shard. ``brownout report --merge`` joins the shards' reports into one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from harness._errors import ConfigError

__all__ = ["parse_shard", "split"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``.

    Raises:
        ConfigError: Unless the text is ``i/n`` with ``1 <= i <= n``.
    """
    match = _SHARD.match(text)
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise ConfigError(
            f"--chaos-shard={text}: expected i/n with 1 <= i <= n (e.g. --chaos-shard 2/4 for the second "
            "of four machines)."
        )
    return int(match[1]), int(match[2])


def split(items: Sequence[Any], shard: int, shards: int) -> tuple[list[Any], list[Any]]:
    """``(kept, deselected)``: the chaos tests of shard ``shard`` of ``shards``, and every other test."""
    chaos = sorted({item.nodeid for item in items if "chaos" in getattr(item, "fixturenames", ())})
    mine = {nodeid for position, nodeid in enumerate(chaos) if position % shards == shard - 1}
    kept, deselected = [], []
    for item in items:
        if "chaos" in getattr(item, "fixturenames", ()) and item.nodeid not in mine:
            deselected.append(item)
        else:
            kept.append(item)
    return kept, deselected
