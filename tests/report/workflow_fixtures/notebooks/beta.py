# %% [markdown]
# # Beta: a tiny notebook for the workflow tests
# It records `value` as its headline metric, or fails when `fail` is set, or
# kills the process running it (as a cluster would, out of time) when `die` is set,
# cancels the SLURM job running it when `scancel` is set, or waits `sleep_s` seconds first.

# %% tags=["parameters"]
value = 1
scale = 1.0
fail = False
die = False
scancel = False  # scancel the SLURM job running this notebook (then wait sleep_s)
sleep_s = 0  # seconds to wait before finishing (a long job)
output_dir = "reports/interactive/beta"

# %%
import os
import signal
import subprocess
import time

from genobench.report.results import RunOutputs

out = RunOutputs(output_dir)
if fail:
    raise RuntimeError("deliberate failure of the beta notebook")
if die:  # the kernel's parent is the job (papermill runs in the job's process)
    os.kill(os.getppid(), signal.SIGKILL)
if scancel:
    subprocess.run(["scancel", os.environ["SLURM_JOB_ID"]], check=True)
time.sleep(sleep_s)
out.headline("value", float(value) * scale)
print(f"beta: value = {value}")
