"""The scrubber, public: what brownout removes before anything is written to disk.

:func:`scrub` removes values under secret-like names from nested data; :func:`scrub_text`
removes credential-shaped values from a string; :func:`is_secret_name` tells whether a
field name holds a credential. Every file brownout writes passes through these.
"""

from harness._log._secrets import REDACTED, is_secret_name, scrub, scrub_text

__all__ = ["REDACTED", "is_secret_name", "scrub", "scrub_text"]
