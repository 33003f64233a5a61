"""The `fpkernels` command (also `python -m fpkernels`): see fpkernels.cli."""
import os
import sys


def main(argv=None):
    """Entry point of the `fpkernels` console script; returns the exit code."""
    from .cli import main as run
    try:
        code = run(argv)
        sys.stdout.flush()
    except BrokenPipeError:      # `fpkernels explain gelu | head`: the reader left, no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    return code


if __name__ == "__main__":
    sys.exit(main())
