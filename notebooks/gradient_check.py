# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Gradient check: do the Triton semi-CRF kernels agree with the PyTorch reference?
#
# The semi-CRF's log partition log Z and its gradients with respect to the cumulative
# label scores, the transition matrix and the duration bias are computed by two
# backends: the streaming reference (`backend="reference"`, a checkpointed
# hand-written backward) and the Triton kernels. For each sequence length T this
# notebook draws random scores (seeded, variable lengths in the batch), runs both, and
# checks the criteria below. Where Triton cannot run (no CUDA GPU), it says so and
# checks the reference against the textbook dynamic program differentiated by autograd
# instead, so the reference itself is still verified.
#
# | criterion | pass when |
# | --- | --- |
# | log Z, max relative error | < 1e-4 |
# | grad transition, max relative error | < 1e-2 |
# | grad duration bias, max relative error | < 1e-2 |
# | grad cum_scores, mean absolute error | < 1e-3 |

# %% tags=["parameters"]
seq_lengths = [100, 300, 1000]  # T values to check
max_duration = 32  # K, the longest segment
num_classes = 3  # C
batch_size = 2  # B (sequences after the first get random lengths in [T/2, T])
checkpoint_interval = None  # steps between saved forward states, None for about sqrt(T K)
seed = 0
device = "cpu"  # "cuda" checks the Triton kernels
output_dir = "reports/interactive/gradient_check"

# %%

from genobench.benchmarks.gradient_check import (
    CRITERIA,
    check_table,
    choose_candidate,
    overall_verdict,
)
from genobench.plots import use_notebook_renderer
from genobench.plots.gradient_check import gradient_check_figure
from genobench.report.results import RunOutputs

use_notebook_renderer()
out = RunOutputs(output_dir)

# %% [markdown]
# ## Which backends run here

# %%
candidate, why = choose_candidate(device)
print(why)

# %% [markdown]
# ## The check
# A first small call compiles the kernels (numba on CPU, Triton on GPU), so the timings
# below exclude compilation.

# %%
table = check_table(
    seq_lengths, max_duration, num_classes, batch_size, seed, candidate, device,
    checkpoint_interval,
)  # fmt: skip
out.table(table, "gradient_check.csv")
verdict = overall_verdict(table)
out.headline(f"gradient check ({candidate} vs reference)", verdict)
table.set_index("T")[[*CRITERIA, *(f"{c}_pass" for c in CRITERIA)]]

# %% [markdown]
# The mean absolute error of the cum_scores gradient is the pass criterion. Its maximum
# *elementwise relative* error is shown for completeness but is not a criterion: many
# entries of that gradient are marginal differences close to zero, where a tiny absolute
# difference divides into a large relative one.

# %%
table.set_index("T")[
    [
        "grad_cum_scores_mae",
        "grad_cum_scores_max_abs_err",
        "grad_cum_scores_max_elem_rel_err",
        "reference_s",
        "candidate_s",
        "reference_peak_mem_mb",
        "candidate_peak_mem_mb",
    ]
]

# %%
fig = gradient_check_figure(table, CRITERIA)
out.figure(fig, "gradient_check")
fig.show()

# %%
print(
    f"OVERALL: {verdict} ({candidate} vs reference, "
    f"T = {', '.join(map(str, seq_lengths))}, K = {max_duration}, C = {num_classes})"
)
