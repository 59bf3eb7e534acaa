"""Cassette files, public: open one for a run, load one, write a file atomically.

A :class:`Cassette` holds the LLM HTTP interactions and ``@tool`` results of one test or
recorded run (docs/replay.md). Judges and tools that keep their own recordings use
:func:`write_atomically` so that a killed writer never leaves half a file.
"""

from harness._cassette._cassette import Cassette
from harness._cassette._file import load_cassette_file, write_atomically

__all__ = ["Cassette", "load_cassette_file", "write_atomically"]
