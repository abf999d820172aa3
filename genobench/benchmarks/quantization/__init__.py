"""Quantization benchmark: one model in every quantization mode, profiled, compared with
`standard` and binned.

`measure` runs one mode (load, timed passes, analysis pass); `tables` turns the modes'
results into the run's tables (fidelity, summary, best performers); `steps` holds the
notebook's steps (check the modes, draw fragments, tokenize once, run every mode, bin).
"""

from genobench.benchmarks.quantization.measure import (
    ModeResult,
    TokenBatch,
    analyse_batch,
    embed_batch,
    encode_batches,
    failure_rows,
    fidelity_subset,
    run_mode,
    timing_columns,
)
from genobench.benchmarks.quantization.tables import (
    PERFORMANCE_COLUMNS,
    QUALITY_COLUMNS,
    best_performers,
    distribution_rows,
    layer_rows,
    pareto_front,
    quality_row,
    speed_rows,
    summary_table,
)

__all__ = [
    "PERFORMANCE_COLUMNS",
    "QUALITY_COLUMNS",
    "ModeResult",
    "TokenBatch",
    "analyse_batch",
    "best_performers",
    "distribution_rows",
    "embed_batch",
    "encode_batches",
    "failure_rows",
    "fidelity_subset",
    "layer_rows",
    "pareto_front",
    "quality_row",
    "run_mode",
    "speed_rows",
    "summary_table",
    "timing_columns",
]
