"""Simulating the paper-scale corpus: wall time, CPU time, peak memory, size on disk.

Command: ``.venv/bin/python benchmarks/bench_simulate.py`` (from the repository root). Writes
``benchmarks/results/simulate.json`` and ``simulate.md``. The generation runs in a child process
(``python -m toolkit simulate OUT --preset paper``) so that its peak memory is measured alone.
"""
from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _measure(preset: str, out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "toolkit", "simulate", str(out), "--preset", preset, "--quiet"],
                   cwd=ROOT, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    manifest = (out / "manifest.csv").read_text().count("\n") - 1
    return {"preset": preset, "wall_s": round(wall, 1),
            "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
            "peak_rss_mb": round(after.ru_maxrss / 1024), "disk_mb": round(size / 2**20), "answers": manifest}


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ("book", "paper"):
            rows.append(_measure(preset, Path(tmp) / preset))
            shutil.rmtree(Path(tmp) / preset, ignore_errors=True)
    info = _machine.describe()
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "simulate.json").write_text(json.dumps({"results": rows, "machine": info,
                                                   "command": "python benchmarks/bench_simulate.py"}, indent=2) + "\n")
    lines = ["| preset | answers | wall (s) | CPU (s) | peak memory (MB) | on disk (MB) |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['preset']} | {r['answers']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_mb']} | {r['disk_mb']} |"
              for r in rows]
    lines += ["", "Peak memory is the largest resident set of a generating process (the paper preset streams "
              "part files, so it does not grow with the number of candidates). Command: "
              "`python benchmarks/bench_simulate.py`. " + _machine.markdown(info)]
    (out / "simulate.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
