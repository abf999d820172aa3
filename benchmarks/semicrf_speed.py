"""Time semi-CRF log partition forward+backward across backends and write a CSV.

    python benchmarks/semicrf_speed.py out.csv [--shapes 1000x100,20000x100] [--batch 2] [--classes 3]

Backends: genobench reference, genobench Triton (CUDA, or TRITON_INTERPRET=1), and pytorch-crf
(only at K = 1, where a semi-CRF is a linear CRF). Each
timing is a warm-up run then the median of ``--repeats`` runs, synchronizing CUDA.
Peak memory is the process's peak RSS on CPU (cumulative over the run) and
torch.cuda.max_memory_allocated on GPU.
"""

from __future__ import annotations

import argparse
import csv
import resource
from typing import Callable

import torch

from genobench.profiling.timing import summarize_times, time_repeats
from genobench.semicrf import log_partition, triton_available
from genobench.semicrf.check import random_problem


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def genobench_runner(backend: str, problem) -> Callable[[], None]:
    leaves = [t.detach().clone().requires_grad_(True)
              for t in (problem.cum_scores, problem.transition, problem.duration_bias)]

    def run() -> None:
        log_partition(*leaves, problem.lengths, backend=backend).sum().backward()

    return run


def pytorch_crf_runner(problem) -> Callable[[], None]:
    import torchcrf

    emissions = problem.cum_scores.diff(dim=1)
    transition, lengths = problem.transition, problem.lengths
    crf = torchcrf.CRF(emissions.shape[-1], batch_first=True).to(emissions.device, emissions.dtype)
    with torch.no_grad():
        crf.start_transitions.zero_()
        crf.end_transitions.zero_()
        crf.transitions.copy_(transition)
    mask = (torch.arange(emissions.shape[1], device=emissions.device)[None, :] < lengths[:, None]).T
    leaf = emissions.detach().clone().requires_grad_(True)

    def run() -> None:
        crf._compute_normalizer(leaf.transpose(0, 1), mask).sum().backward()

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_path")
    parser.add_argument("--shapes", default="1000x1,1000x100,20000x100,100000x1000", help="TxK,TxK,...")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    rows = []
    for shape in args.shapes.split(","):
        max_len, max_duration = (int(v) for v in shape.split("x"))
        problem = random_problem(args.batch, max_len, max_duration, args.classes, seed=0,
                                 device=str(device), dtype=dtype, variable_lengths=False)
        runners: dict[str, Callable[[], None] | None] = {
            "reference": genobench_runner("reference", problem),
            "triton": genobench_runner("triton", problem) if triton_available(device)[0] else None,
            "pytorch-crf": pytorch_crf_runner(problem) if max_duration == 1 else None,
        }
        for name, runner in runners.items():
            if runner is None:
                continue
            seconds = summarize_times(time_repeats(runner, 1, args.repeats, str(device)))["median_s"]
            rows.append({"backend": name, "T": max_len, "K": max_duration, "B": args.batch, "C": args.classes,
                         "dtype": args.dtype, "device": device.type, "fwd_bwd_s": round(seconds, 5),
                         "peak_mem_mb": round(peak_memory_mb(device), 1)})
            print(rows[-1], flush=True)
    with open(args.csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
