"""Sample files come from a registry package with checksums; the project reads nothing outside its checkout."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import toolkit as tk
from toolkit import datasets

ROOT = Path(__file__).resolve().parent.parent


def test_every_sample_is_registered_with_a_checksum_and_an_official_address():
    for s in datasets.SAMPLES.values():
        assert len(s.sha256) == 64 and s.url.startswith("https://") and s.url.endswith(s.source)
        assert s.relpath.split("/")[0] in ("videos", "formats")


def test_sample_lookup_names_the_folder_and_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_SAMPLES", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"'single_face.mp4' not found in .*python -m toolkit.datasets fetch"):
        datasets.sample("single_face.mp4")
    with pytest.raises(KeyError, match="unknown sample 'nope.mp4'"):
        datasets.sample("nope.mp4")


def test_a_replaced_sample_fails_its_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_SAMPLES", str(tmp_path))
    bad = tmp_path / datasets.SAMPLES["Feat_Test.csv"].relpath
    bad.parent.mkdir(parents=True)
    bad.write_text("frame,AU01\n0,1\n")
    with pytest.raises(datasets.ChecksumError, match="Feat_Test.csv: sha256 is .* expected db550a4f"):
        datasets.sample("Feat_Test.csv")


def test_the_official_address_route_uses_pooch_with_the_checksum(tmp_path, monkeypatch):
    """The fallback route: pooch is given each file's address and sha256; corrupt files are refused."""
    pooch = pytest.importorskip("pooch")
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar):
        calls.append((url, known_hash))
        name = url.rsplit("/", 1)[1]
        s = next(s for s in datasets.SAMPLES.values() if s.source == name)
        shutil.copy(datasets.sample(s.name), Path(path) / fname)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    paths = datasets.fetch_samples(tmp_path / "s", routes=("url",))
    assert [p.name for p in paths] == [Path(s.relpath).name for s in datasets.SAMPLES.values()]
    assert {h for _, h in calls} == {f"sha256:{s.sha256}" for s in datasets.SAMPLES.values()}
    assert datasets.fetch_samples(tmp_path / "s", routes=()) == paths  # valid files are kept, nothing fetched

    def corrupt(url, known_hash, fname, path, progressbar):
        (Path(path) / fname).write_bytes(b"not the file")

    monkeypatch.setattr(pooch, "retrieve", corrupt)
    with pytest.raises(RuntimeError, match=r"could not obtain the sample file\(s\) .*url: .*sha256"):
        datasets.fetch_samples(tmp_path / "t", routes=("url",))
    assert not list((tmp_path / "t").rglob("*.mp4"))  # nothing half-written left behind


#: Ways code has reached beside the checkout (a design folder's data, the checkout's parent).
_BESIDE = re.compile(r"shared[/]data|parent\.parent\.parent|_REPO\.parent")


def test_no_source_file_reaches_for_a_folder_beside_the_checkout():
    tracked = subprocess.run(["git", "ls-files", "toolkit", "tests", "notebooks", "book", "benchmarks", "Makefile"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".yml", ".toml", "") or not path.is_file() or path == Path(__file__):
            continue
        text = path.read_text(errors="ignore")
        if _BESIDE.search(text):
            offenders.append(name)
    assert offenders == [], f"these files look outside the checkout: {offenders}"


_PROBE = textwrap.dedent("""
    import json, os, sys
    opened = []
    def hook(event, args):
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            opened.append(os.path.abspath(os.fsdecode(args[0])))
    sys.addaudithook(hook)
    import toolkit as tk
    paths = [str(tk.datasets.sample(name)) for name in tk.datasets.SAMPLES]
    model = str(tk.extract.model_path())
    frames = tk.importers.read_openface(tk.datasets.sample("OpenFace_Test.csv"))
    print(json.dumps({"opened": opened, "paths": paths, "model": model, "rows": len(frames)}))
""")


def test_the_sample_lookup_reads_only_the_checkout_the_data_folder_and_python(tmp_path):
    """Run the lookups with an audit hook: every file opened lies in an allowed place."""
    try:
        tk.extract.model_path()
    except FileNotFoundError:
        pytest.skip("the FaceLandmarker model is not fetched (make setup does)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    env["TOOLKIT_DATA"] = str(datasets.data_dir())
    done = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rows"] > 0
    allowed = [str(ROOT), str(datasets.data_dir().resolve()), sys.prefix, sys.base_prefix, sys.exec_prefix,
               "/dev", "/proc", "/sys", "/etc", "/usr/lib", "/usr/share", "/lib", str(tmp_path)]
    allowed += [p for p in sys.path if p and Path(p).is_dir()]
    outside = sorted({p for p in report["opened"] if not any(p == a or p.startswith(a.rstrip("/") + "/")
                                                               for a in allowed)})
    assert outside == [], f"files read outside the checkout and the data folder: {outside[:10]}"
    for p in report["paths"] + [report["model"]]:
        assert Path(p).resolve().is_relative_to(datasets.data_dir().resolve())
