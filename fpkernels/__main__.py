"""The `fpkernels` command line (also `python -m fpkernels`)."""
import sys


def main(argv=None):
    from . import info
    for key, value in info().items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
