"""Where genobench keeps things it builds: the cache of local models and synthetic data."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_dir() -> Path:
    """The cache root: $GENOBENCH_CACHE, else ~/.cache/genobench."""
    root = os.environ.get("GENOBENCH_CACHE") or Path.home() / ".cache" / "genobench"
    return Path(root)


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock on `name` in the cache, so parallel runs build a thing once."""
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
