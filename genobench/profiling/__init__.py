"""Synchronized timing, NVML power sampling and memory peaks."""
