"""Run every benchmarks/bench_*.py and print one table: fpkernels against NumPy and PyTorch,
next to this machine's copy bandwidth and FMA peak (measured in the same run).

    flock /tmp/fpk-bench.lock python benchmarks/bench.py            # everything
    python benchmarks/bench.py --quick --only matmul --threads 1    # a fast look

Options: --quick, --only SUBSTRING, --threads 1,2, --min-time SECONDS, --no-forced, --json PATH.
See benchmarks/README.md for how to read the table.
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

try:
    from fpkernels.benchmark import main
except ImportError:  # running from a source tree where fpkernels is built in place
    sys.path.insert(0, str(HERE.parent))
    from fpkernels.benchmark import main

if __name__ == "__main__":
    sys.exit(main(folder=HERE))
