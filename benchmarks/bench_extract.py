"""Benchmark of video -> facial features extraction (DESIGN section 8).

Measures, on the sample ``single_face.mp4`` (2.4 s, 640x360, 30 fps) and on a longer video made by
looping its frames (written with OpenCV's VideoWriter to a temporary file):

* video-seconds processed per CPU-second (real-time factor per core) and analysed frames per
  second per core, at 10 analysed frames per second;
* the bare landmark model's CPU time on the same frames (``detect_for_video`` only: no decoding,
  no conversion, no feature mapping), decode-only speed, and our overhead over the bare model;
* peak memory (RSS) of one extraction at 1x, 4x and 16x the video length (a subprocess each);
* the wall-time speed-up of :func:`toolkit.extract.extract` with 2 worker processes.

Targets: at least 10x real time per CPU core at 10 analysed frames/s, overhead over the bare model at
most 25 %, memory flat in video length. Results: ``benchmarks/results/extract.json`` and ``.md``.

Run: ``python benchmarks/bench_extract.py`` (about 2 minutes on 2 cores).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import toolkit as tk
from toolkit import _io
from toolkit import extract as ex

RATE = 10.0
LOOPS = 5  # the "long" video: single_face.mp4 looped 5 times (12 s); memory at 1x, 4x, 16x of it
RESULTS = Path(__file__).resolve().parent / "results"


def loop_video(source: Path, loops: int, dest: Path) -> Path:
    """Write ``source``'s frames ``loops`` times into ``dest`` (mp4v), streaming frame by frame."""
    import cv2

    writer = None
    for _ in range(loops):
        cap = cv2.VideoCapture(str(source))
        fps = cap.get(cv2.CAP_PROP_FPS)
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            writer.write(frame)
        cap.release()
    writer.release()
    return dest


def duration_s(path: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return float(n / fps)


def decode_only(path: Path) -> dict:
    """Grab every frame and convert the picked ones, as the extraction does, without the model."""
    import cv2

    start = time.process_time()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    picked = sum(1 for _ in _picked(cap, path))
    cap.release()
    cpu = time.process_time() - start
    return {"cpu_s": cpu, "frames_picked": picked}


def _picked(cap, path):
    return ex._iter_picked_frames(cap, RATE, path)


def bare_model(path: Path, model: str) -> dict:
    """CPU time of FaceLandmarker.detect_for_video alone, on the frames the extraction analyses."""
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    images = [(int(round(ts)), mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
              for ts, rgb in _picked(cap, path)]
    cap.release()
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=model), running_mode=vision.RunningMode.VIDEO, num_faces=2,
        output_face_blendshapes=True, output_facial_transformation_matrixes=True)
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        start = time.process_time()
        for ms, image in images:
            landmarker.detect_for_video(image, ms)
        cpu = time.process_time() - start
    return {"cpu_s": cpu, "frames": len(images)}


def ours(path: Path) -> dict:
    ex.extract_video(path, rate=RATE)  # warm-up (imports, first model load)
    start, wall = time.process_time(), time.perf_counter()
    frames = ex.extract_video(path, rate=RATE)
    return {"cpu_s": time.process_time() - start, "wall_s": time.perf_counter() - wall, "frames": len(frames),
            "face_found_rate": float(frames["success"].mean())}


def peak_rss_mb(path: Path) -> float:
    """Peak RSS of a fresh process that extracts ``path`` (MB)."""
    code = ("import resource, toolkit.extract as e; e.extract_video(%r, rate=%r); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)" % (str(path), RATE))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0


def speedup(path: Path, folder: Path, copies: int = 4) -> dict:
    (folder / "v").mkdir(exist_ok=True)
    rows = []
    for i in range(copies):
        link = folder / "v" / f"answer{i}.mp4"
        link.symlink_to(path)
        rows.append({"answer_id": f"a{i}", "candidate_id": f"c{i}", "position_id": "p", "question": 1,
                     "label": i % 2, "video": f"v/{link.name}"})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    walls = {}
    for workers in (1, 2):
        start = time.perf_counter()
        ex.extract(folder / "manifest.csv", folder / f"out{workers}", rate=RATE, workers=workers, progress=False)
        walls[workers] = time.perf_counter() - start
    return {"answers": copies, "wall_1_worker_s": walls[1], "wall_2_workers_s": walls[2],
            "speedup": walls[1] / walls[2]}


def main() -> dict:
    model = str(ex.model_path(download=True))
    single = tk.datasets.sample("single_face.mp4")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = {"single_face.mp4": single,
                  f"looped x{LOOPS}": loop_video(single, LOOPS, tmp / "long1.mp4")}
        speed = {}
        for name, path in videos.items():
            seconds = duration_s(path)
            mine, bare, dec = ours(path), bare_model(path, model), decode_only(path)
            speed[name] = {
                "video_s": seconds, "analysed_frames": mine["frames"],
                "ours_cpu_s": mine["cpu_s"], "bare_model_cpu_s": bare["cpu_s"], "decode_cpu_s": dec["cpu_s"],
                "realtime_per_core": seconds / mine["cpu_s"],
                "analysed_fps_per_core": mine["frames"] / mine["cpu_s"],
                "bare_model_fps_per_core": bare["frames"] / bare["cpu_s"],
                "decode_realtime_per_core": seconds / dec["cpu_s"],
                "overhead_over_bare_model": mine["cpu_s"] / bare["cpu_s"] - 1.0,
                "overhead_without_decoding": (mine["cpu_s"] - dec["cpu_s"]) / bare["cpu_s"] - 1.0,
                "face_found_rate": mine["face_found_rate"],
            }
        memory = {}
        for factor in (1, 4, 16):
            path = loop_video(single, LOOPS * factor, tmp / f"long{factor}.mp4")
            memory[f"{factor}x"] = {"video_s": duration_s(path), "peak_rss_mb": peak_rss_mb(path)}
        parallel = speedup(videos[f"looped x{LOOPS}"], tmp)
    result = {
        "command": "python benchmarks/bench_extract.py",
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
        "versions": {"mediapipe": ex._version("mediapipe"), "opencv": ex._version("cv2"), "toolkit": tk.__version__},
        "rate": RATE, "speed": speed, "memory": memory, "parallel": parallel,
        "targets": {"realtime_per_core": ">= 10", "overhead_over_bare_model": "<= 0.25",
                    "memory": "flat in video length"},
    }
    _io.write_json(RESULTS / "extract.json", result)
    _io.write_text(RESULTS / "extract.md", markdown(result))
    return result


def markdown(r: dict) -> str:
    lines = [f"# Extraction benchmark ({r['date']})", "",
             f"`{r['command']}` on {r['machine']['platform']}, {r['machine']['cpu_count']} CPUs "
             f"(load average before/after: {r['machine']['load_average_before']} / "
             f"{r['machine']['load_average_after']}); mediapipe {r['versions']['mediapipe']}, "
             f"OpenCV {r['versions']['opencv']}; {r['rate']:g} analysed frames per second of video.", "",
             "| video | video s | real time per core | analysed frames/s per core | bare model frames/s per core "
             "| decode-only real time per core | overhead over bare model | same, decoding excluded |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, s in r["speed"].items():
        lines.append(f"| {name} | {s['video_s']:.1f} | {s['realtime_per_core']:.1f}x | {s['analysed_fps_per_core']:.0f} "
                     f"| {s['bare_model_fps_per_core']:.0f} | {s['decode_realtime_per_core']:.0f}x "
                     f"| {s['overhead_over_bare_model']:+.0%} | {s['overhead_without_decoding']:+.0%} |")
    lines += ["", "| video length | video s | peak RSS (MB) |", "| --- | ---: | ---: |"]
    for factor, m in r["memory"].items():
        lines.append(f"| {factor} | {m['video_s']:.0f} | {m['peak_rss_mb']:.0f} |")
    p = r["parallel"]
    lines += ["", f"Speed-up with 2 worker processes on {p['answers']} answers: {p['speedup']:.2f}x "
                  f"({p['wall_1_worker_s']:.1f} s -> {p['wall_2_workers_s']:.1f} s wall).", "",
              "Targets (DESIGN section 8): at least 10x real time per CPU core at 10 analysed frames/s; overhead "
              "over the bare landmark model at most 25 %; memory flat in video length.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    out = main()
    print(markdown(out))
