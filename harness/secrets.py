"""The scrubber, public: what brownout removes before anything is written to disk.

:func:`scrub` removes values under secret-like names from nested data; :func:`scrub_text`
removes credential-shaped values from a string; :func:`scrub_sse` does both for a streamed
reply, also for a secret split across chunks; :func:`is_secret_name` tells whether a field
name holds a credential. Every file brownout writes passes through these.

Add your own rules with :func:`add_pattern` (a regex), :func:`add_secret` (a literal value),
:func:`add_secret_name` (a field name); opt a field out with :func:`keep_field`. The ini
option ``chaos_scrub`` does the same from configuration (docs/replay.md).
"""

from harness._log._secrets import (
    REDACTED,
    ScrubConfigError,
    add_pattern,
    add_secret,
    add_secret_name,
    configure,
    is_secret_name,
    keep_field,
    reset,
    scrub,
    scrub_json_text,
    scrub_query,
    scrub_sse,
    scrub_text,
    scrub_values,
)

__all__ = [
    "REDACTED",
    "ScrubConfigError",
    "add_pattern",
    "add_secret",
    "add_secret_name",
    "configure",
    "is_secret_name",
    "keep_field",
    "reset",
    "scrub",
    "scrub_json_text",
    "scrub_query",
    "scrub_sse",
    "scrub_text",
    "scrub_values",
]
