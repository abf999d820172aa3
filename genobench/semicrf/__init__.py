"""Semi-Markov CRF: streaming log partition (reference + Triton), Viterbi, posteriors, module API.

Conventions: cum_scores (B, T+1, C) prefix sums of per-position label scores
(cum_scores[:, 0] = 0); transition[c_prev, c_next] (C, C); duration_bias[d-1, c] (K, C)
scores a segment of duration d; lengths (B,) with 1 <= length <= T.
"""

from genobench.semicrf.api import (
    compare_backends,
    log_partition,
    log_partition_with_grads,
    posteriors,
    triton_available,
    viterbi,
)
from genobench.semicrf.module import SemiCRF, cumulative_scores
from genobench.semicrf.segments import (
    labels_from_segments,
    score_segmentation,
    segments_from_labels,
)

__all__ = [
    "SemiCRF",
    "compare_backends",
    "cumulative_scores",
    "labels_from_segments",
    "log_partition",
    "log_partition_with_grads",
    "posteriors",
    "score_segmentation",
    "segments_from_labels",
    "triton_available",
    "viterbi",
]
