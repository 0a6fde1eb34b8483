"""Command line: ``python -m toolkit COMMAND [options]`` (``--help`` on each command).

The commands live in :mod:`toolkit.cli` and call the stages of :mod:`toolkit.stages`.
A failure prints one line, ``error: <reason>``, and exits non-zero (set ``TOOLKIT_TRACEBACK=1``
for the full traceback).
"""
from __future__ import annotations

import os
import sys

def _usage() -> str:
    lines = ["usage: python -m toolkit COMMAND [options]", "", "commands:"]
    from .cli import COMMANDS

    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'python -m toolkit COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    from .cli import COMMANDS

    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return run_command(COMMANDS[command][0], rest)


def run_command(cli, argv: list[str]) -> int:
    """Run a command's ``cli(argv)``; a failure prints one line, ``error: <reason>``, and returns non-zero."""
    try:
        return int(cli(argv) or 0)
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
