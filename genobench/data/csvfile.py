"""Reading the CSV files users give: every cell as text, and one clear InputError for an empty
file or a missing column."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from genobench.data.errors import InputError


def read_csv_columns(
    path: Path,
    columns: Sequence[str],
    rows: str = "",
    fix: str = "Add them to the header row.",
    normalize_header: bool = False,
) -> pd.DataFrame:
    """`path` read as text (no NA parsing) -> its table, which has every one of `columns`.

    InputError names the file and the fix: an empty file (it needs a header row with
    `columns`, then `rows`, e.g. " and one row per fragment"), or missing columns (`fix`).
    `normalize_header` strips and lower-cases the header's names before the check.
    """
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: the file is empty. It needs a header row with columns "
            f"{', '.join(columns)}{rows}."
        ) from None
    if normalize_header:
        df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(df.columns)}). {fix}"
        )
    return df
