"""What a web process keeps between requests: figures computed once per version of what they were computed from.

Each kept value sits under a key that names that version (a rollup token, a stored result's version, a tree's
shape), so a write that changes the source changes the key and the next request computes it again: nothing is kept
past the data it shows, and no process needs to hear of another's writes. The dictionaries are bounded: the oldest
entry goes first.
"""

from __future__ import annotations

from contextlib import suppress


def keep[K, V](kept: dict[K, V], key: K, value: V, limit: int) -> None:
    """Keep ``value`` under ``key`` in a process's ``kept``, the oldest dropped first beyond ``limit`` entries (another
    thread may have dropped it already)."""
    if len(kept) >= limit:
        with suppress(StopIteration, KeyError, RuntimeError):
            del kept[next(iter(kept))]
    kept[key] = value
