"""Benchmarks: run with `make bench` (pytest -o python_files='bench_*.py'), never in `make test`.

Each benchmark prints its measurements and appends them to benchmarks/results.jsonl so the
numbers quoted in notes and READMEs can be traced to a run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import pytest


@pytest.fixture
def record():
    out = Path(os.environ.get("BLOX_BENCH_OUT", "benchmarks/results.jsonl"))
    out.parent.mkdir(parents=True, exist_ok=True)

    def _record(name: str, **values):
        row = {
            "benchmark": name,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            **values,
        }
        print(json.dumps(row))
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")

    return _record
