"""The one status vocabulary of every table, run record and the site.

A run, or one row of a run (a model, a mode), ends `ok`, `partial` (a run some of whose
rows failed), `failed` or `skipped` (only where a library says the device cannot run it).
A check against a threshold gives a verdict: `PASS`, `FAIL`, `WITHIN NOISE` (a speed ratio
whose timed repeats overlap: the two cannot be told apart), `NOT MEASURED` (nothing to
judge) or `NO BASELINE` (nothing to judge against).
"""

from __future__ import annotations

OK, PARTIAL, FAILED, SKIPPED = "ok", "partial", "failed", "skipped"
PASS, FAIL, WITHIN_NOISE = "PASS", "FAIL", "WITHIN NOISE"
NOT_MEASURED, NO_BASELINE = "NOT MEASURED", "NO BASELINE"
VERDICTS = (PASS, FAIL, WITHIN_NOISE, NOT_MEASURED, NO_BASELINE)
