"""Where genobench keeps things it builds: the cache of local models and synthetic data."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root: $GENOBENCH_CACHE, else ~/.cache/genobench."""
    root = os.environ.get("GENOBENCH_CACHE") or Path.home() / ".cache" / "genobench"
    return Path(root)
