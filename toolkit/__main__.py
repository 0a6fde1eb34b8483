"""Command line: ``python -m toolkit COMMAND [options]`` (``--help`` on each command).

Each command lives in the module that does the work, as a ``cli(argv) -> int`` function.
A failure prints one line, ``error: <reason>``, and exits non-zero (set ``TOOLKIT_TRACEBACK=1``
for the full traceback).
"""
from __future__ import annotations

import importlib
import os
import sys

COMMANDS = {
    "simulate": ("toolkit.simulate", "simulate an interview corpus with known key moments"),
    "extract": ("toolkit.extract", "answer videos -> per-frame facial features (MediaPipe)"),
    "import": ("toolkit.importers", "OpenFace or py-feat CSV files + a manifest -> a corpus"),
    "train": ("toolkit.hirenet", "train HireNet with grouped cross-validation -> a run folder"),
    "slices": ("toolkit.slices", "attention slices and random slices of a run"),
    "analyze": ("toolkit.analysis", "attention-vs-random classification, importances, hirability, tests"),
    "run": ("toolkit.pipeline", "the whole pipeline: train, slices, analyze (and null controls)"),
    "report": ("toolkit.report", "an HTML or Markdown summary of a run"),
}


def _usage() -> str:
    lines = ["usage: python -m toolkit COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'python -m toolkit COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    try:
        return int(module.cli(rest) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - one line for the user, not a traceback
        if os.environ.get("TOOLKIT_TRACEBACK"):
            raise
        print("error: " + " ".join(str(err).split()), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
