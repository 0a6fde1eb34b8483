"""The machine and date a benchmark ran on, for its results file."""
from __future__ import annotations

import datetime
import os
import platform
import sys


def describe() -> dict:
    """Processor, cores, memory, Python, torch and the date (UTC)."""
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    try:
        with open("/proc/meminfo") as f:
            info["memory_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def markdown(info: dict) -> str:
    """One line describing the machine."""
    gpu = f", GPU {info['gpu']}" if "gpu" in info else ""
    return (f"Machine: {info['processor']}, {info['cpu_count']} cores, {info.get('memory_gib', '?')} GiB"
            f"{gpu}; Python {info['python']}, torch {info.get('torch', '-')}; {info['date']}.")
