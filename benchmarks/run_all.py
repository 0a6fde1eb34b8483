"""Run every benchmark of this folder (``make benchmarks``); each writes into ``results/``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["bench_permutation.py", "bench_extract.py", "bench_training.py", "bench_replicate.py", "bench_simulate.py",
         "calibration.py", "null_controls.py", "verdict_study.py", "cross_fitting.py", "bench_moments.py",
         "bench_book.py"]


def main() -> int:
    failed = []
    scripts = [HERE / name for name in ORDER if (HERE / name).exists()]
    scripts += sorted(p for p in HERE.glob("bench_*.py") if p.name not in ORDER)
    for script in scripts:
        print(f"=== {script.name}", flush=True)
        if subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
