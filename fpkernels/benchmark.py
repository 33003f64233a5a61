"""Benchmark harness: time fpkernels against NumPy and PyTorch, next to the machine's limits.

A benchmark file `bench_<family>.py` defines `cases(quick=False)`, returning a list of dicts:

    {"name": "matmul f32 n=1024",     # what is measured
     "threads": 1,                     # threads for every library in this case
     "fpk": callable,                  # one fpkernels call on preallocated arrays, no arguments
     "numpy": callable or None,        # the same work with NumPy
     "torch": callable or None,        # the same work with PyTorch (None when not installed)
     "bytes": int or None,             # bytes one call must read + write (for bandwidth)
     "flops": int or None}             # floating-point operations of one call (for FMA peak)

Optional key: "numpy_forced": {"setup": code, "stmt": code}, Python source that the harness
runs in a fresh interpreter with OPENBLAS_CORETYPE=best_coretype() (SkylakeX on an AVX-512
CPU, else Haswell; see benchmarks/README.md), to time NumPy with OpenBLAS's fastest kernel for
this CPU whatever the environment says. Without threadpoolctl (which sets NumPy's BLAS threads
in this process), the same code also times NumPy's default kernels in a fresh interpreter on
the case's thread count, for the "x NumPy" column.

`main()` (used by benchmarks/bench.py and `fpkernels bench`) measures the machine's copy
bandwidth and peak FMA rate for each thread count, runs the cases, and prints one table:
ratios above 1 mean fpkernels is faster.
"""
import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import runtime
from ._core import check, ffi, lib

__all__ = ["best_coretype", "best_time", "thread_limit", "machine_limits", "machine_facts", "discover",
           "load_cases", "run_cases", "format_table", "main"]

CASE_KEYS = ("name", "threads", "fpk", "numpy", "torch", "bytes", "flops")


# ---- timing ---------------------------------------------------------------------------------

def best_time(function, min_time=0.2, repeat=5, warmup=1):
    """Seconds per call of function(): the best of `repeat` samples after `warmup` calls and
    at least min_time / 4 seconds of calls (a new thread count or fresh pages run slower for
    a while: measured 5.1 ms against 3.4 ms for the first calls of a 16M relu on 2 threads).

    Each sample runs the function enough times to last about min_time / repeat seconds, so
    fast functions are timed over many calls and the clock's resolution does not matter."""
    for _ in range(warmup):
        function()
    warm_until = time.perf_counter() + min_time / 4
    while time.perf_counter() < warm_until:
        function()
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-9)
    number = max(1, math.ceil(min_time / repeat / once))
    if once > min_time:  # slow calls: a few samples are enough
        repeat = min(repeat, 2)
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def _threadpoolctl():
    try:
        import threadpoolctl
        return threadpoolctl
    except ImportError:
        return None


@contextlib.contextmanager
def thread_limit(threads):
    """Run the block with `threads` threads in fpkernels, PyTorch (if imported) and NumPy's BLAS
    (through threadpoolctl, if installed; otherwise NumPy keeps its own thread count)."""
    torch = sys.modules.get("torch")
    previous_torch = torch.get_num_threads() if torch else None
    tpc = _threadpoolctl()
    with contextlib.ExitStack() as stack:
        stack.enter_context(runtime.num_threads(threads))
        if tpc is not None:
            stack.enter_context(tpc.threadpool_limits(limits=threads, user_api="blas"))
        if torch:
            torch.set_num_threads(threads)
            stack.callback(torch.set_num_threads, previous_torch)
        yield


def _settle(seconds=0.1):
    """Let the spinning worker threads of the previous library go to sleep (OpenBLAS threads
    busy-wait for a while after each call and would steal the cores from the next library)."""
    time.sleep(seconds)


# ---- machine limits and facts -----------------------------------------------------------------

def copy_bandwidth(threads, copy_bytes=256 << 20, reps=3):
    """Bytes read plus bytes written per second (STREAM's convention) while `threads` threads
    copy a `copy_bytes` buffer, measured now: the best of `reps` copies of each kind."""
    result = ffi.new("double *")
    check(lib.fpk_machine_copy_bandwidth(copy_bytes, threads, reps, result), "copy bandwidth")
    return result[0]


def machine_limits(threads, copy_bytes=256 << 20, reps=3):
    """{"copy_bandwidth": bytes/s, "fma_peak": flops/s} measured now on `threads` threads.

    The FMA peak runs independent float32 FMA chains in registers."""
    result = ffi.new("double *")
    check(lib.fpk_machine_fma_peak(threads, result), "FMA peak")
    return {"copy_bandwidth": copy_bandwidth(threads, copy_bytes, reps), "fma_peak": result[0]}


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _openblas():
    """What threadpoolctl says about NumPy's OpenBLAS (core type, version, threads)."""
    tpc = _threadpoolctl()
    if tpc is None:
        return "unknown (pip install threadpoolctl to see the core type)"
    found = [f"{i.get('internal_api')} {i.get('version')} core={i.get('architecture')} "
             f"threads={i.get('num_threads')}"
             for i in tpc.threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(found) or "no BLAS library loaded"


def machine_facts():
    """The facts a reader needs to interpret the numbers: this build, the CPU, the libraries."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch_version = torch.__version__
    else:
        try:
            torch_version = importlib.metadata.version("torch") + " (not imported by any case)"
        except importlib.metadata.PackageNotFoundError:
            torch_version = "not installed"
    facts = {"fpkernels": runtime.info(), "cpu": _cpu_model(), "cores": os.cpu_count(),
             "python": platform.python_version(), "numpy": np.__version__,
             "numpy_blas": _openblas(),
             "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(not set)"),
             "torch": torch_version}
    if _threadpoolctl() is None:
        facts["note"] = ("threadpoolctl missing: NumPy's BLAS cases (matmul) are timed in a fresh "
                         "interpreter given the case's OPENBLAS_NUM_THREADS")
    return facts


# ---- NumPy with OpenBLAS's fastest kernels for this CPU, in a fresh interpreter -------------

def best_coretype():
    """The OpenBLAS core type with the widest vectors this CPU runs: SkylakeX (AVX-512) or
    Haswell (AVX2). Forcing SkylakeX on a CPU without AVX-512 dies of an illegal instruction."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    return "SkylakeX" if features.get("AVX512F") and features.get("AVX512DQ") else "Haswell"


_FORCED_CHILD = """
import json
{setup}
from fpkernels.benchmark import best_time
seconds = best_time(lambda: {stmt}, min_time={min_time})
try:
    from threadpoolctl import threadpool_info
    cores = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
except ImportError:
    cores = None
print(json.dumps({{"seconds": seconds, "cores": cores}}))
"""


def time_numpy_forced(forced, threads, min_time=0.2, coretype=None):
    """Seconds per call of forced["stmt"] in a new interpreter with OPENBLAS_CORETYPE=coretype
    and OPENBLAS_NUM_THREADS=threads (OPENBLAS_L2_SIZE unset), and the OpenBLAS core types
    threadpoolctl saw there (None if it is not installed); coretype defaults to best_coretype()."""
    return time_numpy_in_child(forced, threads, min_time, coretype or best_coretype())


def time_numpy_in_child(forced, threads, min_time=0.2, coretype=None):
    """time_numpy_forced with OPENBLAS_CORETYPE as this process has it when coretype is None:
    NumPy's own choice of kernels, on `threads` threads (without threadpoolctl, the only way to
    give NumPy's BLAS a thread count: in this process it keeps the one it started with)."""
    env = dict(os.environ)
    env.pop("OPENBLAS_L2_SIZE", None)
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    package_parent = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    code = _FORCED_CHILD.format(setup=forced["setup"], stmt=forced["stmt"], min_time=min_time)
    # cwd: from a source checkout, `python -c` would otherwise import the unbuilt ./fpkernels
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=600, cwd=package_parent)
    if done.returncode != 0:
        raise RuntimeError(f"NumPy timing with OPENBLAS_CORETYPE={coretype or 'as set'} failed:\n"
                           + done.stderr[-2000:])
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["seconds"], answer["cores"]


# ---- finding and running cases ----------------------------------------------------------------

def discover(folder):
    """The modules benchmarks/bench_*.py in `folder`, imported by file path, sorted by name."""
    modules = []
    for path in sorted(Path(folder).glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(f"fpk_bench_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def load_cases(modules, quick=False, only=None, threads=None):
    """All cases of the modules, checked for the fixed keys, filtered by a name substring and
    a list of thread counts."""
    cases = []
    for module in modules:
        for case in module.cases(quick=quick):
            missing = [key for key in CASE_KEYS if key not in case]
            if missing:
                raise ValueError(f"{module.__file__}: case {case.get('name')!r} lacks {missing}")
            if only and only not in case["name"]:
                continue
            if threads and case["threads"] not in threads:
                continue
            cases.append(case)
    return cases


def run_cases(cases, min_time=0.2, limits=None, forced=True, log=None, rounds=3,
              copy_bytes=256 << 20):
    """Time every case; returns one row (dict) per case with times, ratios and fractions.

    `limits` maps a thread count to machine_limits(); missing counts are measured here. The
    libraries of a case take turns, `rounds` times (min_time / rounds each), and each keeps its
    best: on a shared machine whose speed drifts for seconds at a time, a slow stretch then
    costs every library a turn rather than falling on one of them (measured here: the same
    sigmoid forward took 10.9 and 19.6 ms a minute apart). A case that moves bytes also gives
    the copy of a `copy_bytes` buffer a turn each round, and is measured against the best copy
    bandwidth seen, then or in `limits` (the memory bandwidth of a shared machine drifts too:
    here between 38 and 65 GB/s a minute apart). NumPy forced to another OpenBLAS core runs
    once, in its own interpreter."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    limits = {} if limits is None else limits
    name_width = max((len(case["name"]) for case in cases), default=0)
    skip = _empty_columns(cases, forced)
    rows = []
    for case in cases:
        threads = case["threads"]
        if threads not in limits:
            limits[threads] = machine_limits(threads, copy_bytes)
        row = {"name": case["name"], "threads": threads, "bytes": case["bytes"],
               "flops": case["flops"], "fpk": None, "numpy": None, "torch": None,
               "numpy_forced": None, "numpy_forced_cores": None}
        # without threadpoolctl, NumPy's BLAS keeps its own thread count (all cores) in this
        # process: cases with code for a child (matmul) time NumPy there, given the case's
        # (matmul, n >= 1024, 1 thread: 0.94-0.95x "NumPy" in this process, 1.87-1.94x so)
        numpy_in_child = bool(case.get("numpy_forced")) and _threadpoolctl() is None
        libraries = [library for library in ("fpk", "numpy", "torch")
                     if case[library] is not None and not (library == "numpy" and numpy_in_child)]
        bandwidth = limits[threads].get("copy_bandwidth", 0.0)
        with thread_limit(threads):
            for _ in range(rounds):
                for library in libraries:
                    _settle()
                    seconds = best_time(case[library], min_time=min_time / rounds)
                    if row[library] is None or seconds < row[library]:
                        row[library] = seconds
                if case["bytes"]:
                    bandwidth = max(bandwidth, copy_bandwidth(threads, copy_bytes, reps=1))
        if numpy_in_child and case["numpy"] is not None:
            row["numpy"], _ = time_numpy_in_child(case["numpy_forced"], threads, min_time)
        if forced and case.get("numpy_forced"):
            row["numpy_forced"], row["numpy_forced_cores"] = time_numpy_forced(
                case["numpy_forced"], threads, min_time=min_time)
        seconds = row["fpk"]
        if case["bytes"]:
            row["copy_bandwidth"] = bandwidth
            row["copy_fraction"] = case["bytes"] / seconds / bandwidth
        if case["flops"]:
            row["peak_fraction"] = case["flops"] / seconds / limits[threads]["fma_peak"]
        for library in ("numpy", "torch", "numpy_forced"):
            if row[library] is not None:
                row["x_" + library] = row[library] / seconds
        rows.append(row)
        if log:
            log(format_table([row], header=len(rows) == 1, name_width=name_width, skip=skip))
    return rows


# ---- the table -------------------------------------------------------------------------------

def _duration(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _rate(row):
    if row.get("flops"):
        return f"{row['flops'] / row['fpk'] / 1e9:.1f} GFLOP/s"
    if row.get("bytes"):
        return f"{row['bytes'] / row['fpk'] / 1e9:.1f} GB/s"
    return "-"


COLUMNS = [  # header, width, how to show a row
    ("case", 28, lambda r: r["name"]),
    ("thr", 3, lambda r: str(r["threads"])),
    ("fpk time", 9, lambda r: _duration(r["fpk"])),
    ("fpk rate", 15, _rate),
    ("x NumPy", 7, lambda r: f"{r['x_numpy']:.2f}" if "x_numpy" in r else "-"),
    ("x NumPy forced", 14, lambda r: f"{r['x_numpy_forced']:.2f}" if "x_numpy_forced" in r else "-"),
    ("x torch", 7, lambda r: f"{r['x_torch']:.2f}" if "x_torch" in r else "-"),
    ("of copy BW", 10, lambda r: f"{r['copy_fraction']:.0%}" if "copy_fraction" in r else "-"),
    ("of FMA peak", 11, lambda r: f"{r['peak_fraction']:.0%}" if "peak_fraction" in r else "-"),
]


def format_table(rows, header=True, name_width=None, skip=()):
    """The rows as a fixed-width text table (x columns: other time / fpkernels time), without
    the columns whose titles are in `skip`."""
    lines = []
    columns = [column for column in COLUMNS if column[0] not in skip]
    widths = [max(width, len(title)) for title, width, _ in columns]
    widths[0] = max([widths[0], name_width or 0] + [len(r["name"]) for r in rows])
    if header:
        lines.append(" | ".join(t.ljust(w) for (t, _, _), w in zip(columns, widths)).rstrip())
        lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        lines.append(" | ".join(show(row).ljust(w)
                                for (_, _, show), w in zip(columns, widths)).rstrip())
    return "\n".join(lines)


def _empty_columns(cases, forced):
    """Titles of the columns no case can fill (no torch anywhere, no forced NumPy runs)."""
    skip = []
    if not any(case["torch"] for case in cases):
        skip.append("x torch")
    if not (forced and any(case.get("numpy_forced") for case in cases)):
        skip.append("x NumPy forced")
    if not any(case["numpy"] for case in cases):
        skip.append("x NumPy")
    return skip


def format_limits(limits):
    return "\n".join(f"  {t} thread{'s' if t > 1 else ''}: copy {v['copy_bandwidth'] / 1e9:.1f} GB/s"
                     f" (read + write), FMA peak {v['fma_peak'] / 1e9:.0f} GFLOP/s (float32)"
                     for t, v in sorted(limits.items()))


# ---- command line --------------------------------------------------------------------------

def _default_folder():
    for folder in (Path.cwd() / "benchmarks", Path(__file__).resolve().parents[1] / "benchmarks"):
        if any(folder.glob("bench_*.py")):
            return folder
    return None


def main(argv=None, folder=None):
    """Run the benchmarks of `folder` (default: ./benchmarks) and print the table."""
    parser = argparse.ArgumentParser(
        prog="bench", description="Time fpkernels against NumPy and PyTorch, next to this "
        "machine's copy bandwidth and FMA peak. Ratios above 1: fpkernels is faster.")
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--only", metavar="SUBSTRING", help="only cases whose name contains it")
    parser.add_argument("--threads", metavar="LIST", help="only these thread counts, e.g. 1,2")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds spent timing each library per case (default 0.2, quick 0.05)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="turns the libraries of a case take, each keeping its best "
                        "(default 3, quick 1)")
    parser.add_argument("--no-forced", action="store_true",
                        help="skip the NumPy runs with OPENBLAS_CORETYPE forced to the best core type")
    parser.add_argument("--folder", default=None, help="where the bench_*.py files are")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--copy-mib", type=int, default=256,
                        help="buffer size for the copy-bandwidth measurement (default 256 MiB)")
    args = parser.parse_args(argv)

    folder = args.folder or folder or _default_folder()
    if folder is None:
        print("no benchmarks found: run from the source tree or pass --folder", file=sys.stderr)
        return 2
    threads = [int(t) for t in args.threads.split(",")] if args.threads else None
    min_time = args.min_time or (0.05 if args.quick else 0.2)
    cases = load_cases(discover(folder), quick=args.quick, only=args.only, threads=threads)
    if not cases:
        print("no case matches", file=sys.stderr)
        return 1

    facts = machine_facts()
    print("machine:")
    for key, value in facts.items():
        print(f"  {key}: {value}")
    limits = {t: machine_limits(t, copy_bytes=args.copy_mib << 20)
              for t in sorted({c["threads"] for c in cases})}
    print("limits measured now:")
    print(format_limits(limits))
    print()
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    rows = run_cases(cases, min_time=min_time, limits=limits, forced=not args.no_forced,
                     log=lambda text: print(text, flush=True), rounds=rounds,
                     copy_bytes=args.copy_mib << 20)
    cores = sorted({c for r in rows for c in (r["numpy_forced_cores"] or [])})
    if any(r["numpy_forced"] is not None for r in rows):
        print(f"\nx NumPy forced: NumPy in a new interpreter with OPENBLAS_CORETYPE={best_coretype()}; "
              f"OpenBLAS core there: {', '.join(map(str, cores)) or 'unknown (no threadpoolctl)'}")
    print("x columns: their time / fpkernels time (above 1: fpkernels is faster). "
          "Shared machines are noisy: compare runs, not single numbers.")
    if args.json:
        keep = [{k: v for k, v in r.items()} for r in rows]
        Path(args.json).write_text(json.dumps({"facts": facts, "limits": limits, "rows": keep},
                                              indent=1, default=str))
    return 0
