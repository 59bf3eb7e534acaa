"""The HTTP client library the installed openai SDK sends through: ``httpx2`` (3.x) or ``httpx`` (2.x).

The suite runs in two environments (scripts/test.sh): openai 3.x over httpx2, and openai 2.x
over httpx with CrewAI. A test that names the transport's classes takes them from here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import openai

OPENAI_MAJOR = int(openai.__version__.split(".")[0])

# The library whose exceptions the SDK raises and catches (its Response, ReadTimeout, ...).
http: ModuleType = importlib.import_module("httpx2" if OPENAI_MAJOR >= 3 else "httpx")

# openai 2.x turns any exception raised while sending (a CassetteMiss too) into APIConnectionError;
# 3.x passes exceptions that are not the transport's own through unchanged.
SEND_ERRORS_WRAPPED = OPENAI_MAJOR < 3

# openai 3.x wraps a transport error raised while a stream is read in APIConnectionError; 2.x lets the
# transport's own error (RemoteProtocolError) escape from the iteration.
STREAM_ERRORS_WRAPPED = OPENAI_MAJOR >= 3
