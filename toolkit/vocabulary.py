"""The feature vocabulary: OpenFace 2.0's 17 intensity action units (DESIGN section 4).

Every feature source (simulated, MediaPipe, OpenFace, py-feat) is mapped to these names,
so every analysis speaks one language.
"""
from __future__ import annotations

#: The canonical action units, in OpenFace order.
AUS: tuple[str, ...] = (
    "AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12",
    "AU14", "AU15", "AU17", "AU20", "AU23", "AU25", "AU26", "AU45",
)

#: Plain-English name of each action unit.
AU_NAMES: dict[str, str] = {
    "AU01": "inner brow raiser",
    "AU02": "outer brow raiser",
    "AU04": "brow lowerer",
    "AU05": "upper lid raiser",
    "AU06": "cheek raiser",
    "AU07": "lid tightener",
    "AU09": "nose wrinkler",
    "AU10": "upper lip raiser",
    "AU12": "lip corner puller",
    "AU14": "dimpler",
    "AU15": "lip corner depressor",
    "AU17": "chin raiser",
    "AU20": "lip stretcher",
    "AU23": "lip tightener",
    "AU25": "lips part",
    "AU26": "jaw drop",
    "AU45": "blink / eyes closed",
}

#: OpenFace 2 intensity column -> canonical name (``AU01_r`` -> ``AU01``).
OPENFACE: dict[str, str] = {f"{au}_r": au for au in AUS}

#: py-feat column -> canonical name (AU43, eyes closed, stands in for AU45 when AU45 is absent).
PYFEAT: dict[str, str] = {**{au: au for au in AUS}, "AU43": "AU45"}

#: MediaPipe FaceLandmarker blendshape stems -> AU proxies (left/right averaged).
#: AU25 (lips part) is computed from the lip gap, not from a blendshape.
MEDIAPIPE: dict[str, str] = {
    "eyeBlink": "AU45",
    "eyeWide": "AU05",
    "eyeSquint": "AU07",
    "browInnerUp": "AU01",
    "browOuterUp": "AU02",
    "browDown": "AU04",
    "cheekSquint": "AU06",
    "noseSneer": "AU09",
    "mouthUpperUp": "AU10",
    "mouthSmile": "AU12",
    "mouthDimple": "AU14",
    "mouthFrown": "AU15",
    "mouthShrugLower": "AU17",
    "mouthStretch": "AU20",
    "mouthPress": "AU23",
    "jawOpen": "AU26",
}


def describe(feature: str) -> str:
    """Return a readable label such as ``'AU45 blink / eyes closed'`` for a feature name.

    Names built on an AU (``'AU45_mean'``) keep their suffix; other names are returned as is.
    """
    au, _, rest = feature.partition("_")
    if au in AU_NAMES:
        return f"{au} {AU_NAMES[au]}" + (f" ({rest})" if rest else "")
    return feature
