"""Benchmark of video -> voice descriptors (openSMILE eGeMAPSv02 low-level descriptors; DESIGN section 8).

Speed, as seconds of sound per CPU-second (real time per core), best of 3, in this one process
(PyAV's audio decoding and openSMILE both run on one thread):

* on the sample ``WolfgangLanger_Pexels.mp4`` (19.7 s; AAC, 48 kHz stereo): decoding and
  resampling to 16 kHz mono (:func:`toolkit.audio.read_sound`), the descriptors of the decoded
  signal (:func:`toolkit.audio.descriptors`), and both streamed (:func:`toolkit.audio.extract_audio`).
  That clip's sound track is digital silence, and openSMILE's pitch search costs more on sound, so
* the descriptors of a sound with voiced stretches too: the soundtrack of ``no_face.mp4`` (4 s of
  cartoon sound, about a third of its frames voiced) repeated 5 times (19.8 s).

Peak memory (the peak resident set, ``VmHWM``, of a fresh process per case, so native memory counts;
not ``getrusage``'s ``ru_maxrss``, which on Linux inherits the peak of the process that starts it) at
1x, 4x and 16x a 60 s sound made of that soundtrack, written as a WAV file:
:func:`toolkit.audio.extract_audio` (streamed: decoded and described chunk by chunk);
:func:`toolkit.audio.read_sound` (the whole signal in memory) then :func:`toolkit.audio.descriptors`
(chunked); for contrast, the whole signal then openSMILE run once on it (no chunks). The floor is
a process that imported everything and ran the descriptors of 1 s.

Target: at least 50x real time per CPU core. Run: ``python benchmarks/bench_audio.py`` (about a
minute). Writes ``benchmarks/results/audio.md``.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import toolkit as tk  # noqa: E402
from toolkit import _io  # noqa: E402
from toolkit import audio as au  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
REPEATS = 3
BASE_S = 60.0  # the memory cases: 1x, 4x, 16x this length
FACTORS = (1, 4, 16)


def best_cpu(function, repeats: int = REPEATS) -> tuple[float, float]:
    """(best CPU seconds, best wall seconds) of ``repeats`` calls."""
    cpu, wall = [], []
    for _ in range(repeats):
        c, w = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu), min(wall)


def write_wav(signal: np.ndarray, rate: int, path: Path) -> Path:
    """Write a mono 16-bit WAV file with PyAV (what a long answer's sound track would decode to)."""
    import av

    pcm = (np.clip(signal, -1, 32767 / 32768) * 32768).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for i in range(0, pcm.size, 4096):
            frame = av.AudioFrame.from_ndarray(pcm[None, i:i + 4096], format="s16", layout="mono")
            frame.rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


# VmHWM, not getrusage's ru_maxrss: Linux carries a parent's peak RSS into ru_maxrss of a child it
# starts (through vfork and exec), so ru_maxrss here would report this benchmark's own peak.
_PEAK = ("import sys, numpy as np, toolkit.audio as au\n"
         "au.descriptors(np.zeros(au.SAMPLE_RATE, np.float32))\n"
         "{body}\n"
         "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')][0])\n")
_BODIES = {
    "floor": "pass",
    "extract_audio (streamed)": "au.extract_audio(sys.argv[1])",
    "read_sound, then descriptors (chunked)": "x, r = au.read_sound(sys.argv[1]); au.descriptors(x, r)",
    "read_sound, then openSMILE once on the whole signal":
        "x, r = au.read_sound(sys.argv[1]); au._smile().process_signal(x, r)",
}


def peak_rss_mb(body: str, path: Path) -> float:
    """Peak resident memory (MB) of a fresh process that runs ``body`` on ``path``."""
    done = subprocess.run([sys.executable, "-c", _PEAK.format(body=body), str(path)], capture_output=True,
                          text=True, check=True, env=dict(os.environ))
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> dict:
    video = tk.datasets.sample("WolfgangLanger_Pexels.mp4")
    au.descriptors(np.zeros(au.SAMPLE_RATE, np.float32))  # warm-up: imports, the Smile object
    signal, rate = au.read_sound(video)
    seconds = signal.size / rate
    decode = best_cpu(lambda: au.read_sound(video))
    described = best_cpu(lambda: au.descriptors(signal, rate))
    streamed = best_cpu(lambda: au.extract_audio(video))
    sound, _ = au.read_sound(tk.datasets.sample("no_face.mp4"))
    voiced_signal = np.tile(sound, 5)
    voiced = best_cpu(lambda: au.descriptors(voiced_signal, rate))
    voiced_rate = float(au.descriptors(voiced_signal, rate)["voiced"].mean())
    speed = {
        "WolfgangLanger_Pexels.mp4: decode + resample (read_sound)": (seconds, *decode),
        "WolfgangLanger_Pexels.mp4: descriptors (silent track)": (seconds, *described),
        "WolfgangLanger_Pexels.mp4: extract_audio (both, streamed)": (seconds, *streamed),
        f"no_face.mp4 soundtrack x5: descriptors ({voiced_rate:.0%} voiced)": (voiced_signal.size / rate, *voiced),
    }
    memory = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = np.tile(sound, int(np.ceil(BASE_S * rate / sound.size)))[:int(BASE_S * rate)]
        for factor in FACTORS:
            path = write_wav(np.tile(base, factor), rate, Path(tmp) / f"sound{factor}.wav")
            memory[f"{factor}x"] = {"sound_s": BASE_S * factor,
                                    **{name: peak_rss_mb(body, path) for name, body in _BODIES.items()}}
    result = {"machine": _machine.describe(), "speed": speed, "memory": memory,
              "versions": {"opensmile": au.extractor_info()["opensmile_version"], "av": _version("av"),
                           "toolkit": tk.__version__}}
    _io.write_text(HERE / "results" / "audio.md", markdown(result))
    return result


def _version(module: str) -> str:
    return str(__import__(module).__version__)


def markdown(r: dict) -> str:
    v = r["versions"]
    lines = ["# Voice descriptors: speed and memory", "", "`python benchmarks/bench_audio.py`", "",
             _machine.markdown(r["machine"]), "",
             f"openSMILE {v['opensmile']} (eGeMAPSv02 low-level descriptors, 100 frames per second), PyAV {v['av']}; "
             f"sound decoded to 16 kHz mono. Real time per core: seconds of sound per CPU-second (process time), "
             f"best of {REPEATS}; one thread.", "",
             "| what | sound (s) | CPU (s) | wall (s) | real time per core |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, (seconds, cpu, wall) in r["speed"].items():
        lines.append(f"| {name} | {seconds:.1f} | {cpu:.3f} | {wall:.3f} | {seconds / cpu:.0f}x |")
    names = list(_BODIES)
    lines += ["", "Peak resident memory (MB: `VmHWM` of a fresh process per cell; `getrusage`'s `ru_maxrss` would "
                  "include the benchmark's own peak, which Linux passes on to the processes it starts) on a WAV "
                  "file of the no_face.mp4 soundtrack repeated to the length shown:", "",
              "| sound | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for factor, m in r["memory"].items():
        lines.append(f"| {factor} ({m['sound_s'] / 60:.0f} min) | " + " | ".join(f"{m[n]:.0f}" for n in names) + " |")
    lines += ["", "Target (DESIGN section 8): eGeMAPS low-level descriptors at least 50x real time per CPU core; "
                  "memory flat in video length (extraction).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(main()))
