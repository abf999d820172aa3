"""Where a run's real data came from: one table row per packaged dataset it used."""

from __future__ import annotations

import pandas as pd

from genobench.data.packaged import describe

PROVENANCE_COLUMNS = (
    "role",
    "dataset",
    "package",
    "version",
    "organism",
    "accession",
    "kind",
    "records",
    "size",
    "labels",
)


def dataset_table(uses: list[tuple[str, str, str]]) -> pd.DataFrame:
    """A table of the packaged datasets a run used: `uses` holds (role, dataset name, how
    its labels were made); package, version, organism, accession, records and size come
    from `genobench.data.packaged.describe`."""
    rows = []
    for role, name, labels in uses:
        d = describe(name)
        rows.append(
            {
                "role": role,
                "dataset": name,
                "package": d["package"],
                "version": d["version"],
                "organism": d["organism"],
                "accession": d["accession"],
                "kind": d["kind"],
                "records": d["n_records"],
                "size": f"{d['size']:,} {d['size_unit']}",
                "labels": labels,
            }
        )
    return pd.DataFrame(rows, columns=list(PROVENANCE_COLUMNS))
