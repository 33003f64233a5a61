"""The `fpkernels` command (also `python -m fpkernels`): see fpkernels.cli."""
import sys


def main(argv=None):
    """Entry point of the `fpkernels` console script; returns the exit code."""
    from .cli import main as run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
