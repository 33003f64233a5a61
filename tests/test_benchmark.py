"""A fast smoke test of the benchmark harness: tiny sizes, no timing assertions."""
import contextlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import fpkernels as fk
from fpkernels import benchmark
from fpkernels._core import ffi, lib

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

TINY_CASES = '''
import numpy as np
import fpkernels as fk

def cases(quick=False):
    a = np.ones((8, 8), np.float32)
    out = np.empty((8, 8), np.float32)
    return [{"name": "tiny matmul", "threads": t, "fpk": lambda: fk.matmul(a, a, out=out),
             "numpy": lambda: np.matmul(a, a), "torch": None, "bytes": 3 * 256, "flops": 1024}
            for t in (1, 2)] + [
            {"name": "no flops", "threads": 1, "fpk": lambda: None, "numpy": None,
             "torch": None, "bytes": None, "flops": None}]
'''


@pytest.fixture
def bench_folder(tmp_path):
    (tmp_path / "bench_tiny.py").write_text(TINY_CASES)
    (tmp_path / "helper.py").write_text("raise RuntimeError('not a benchmark file')")
    return tmp_path


def test_best_time_calls_the_function():
    calls = []
    seconds = benchmark.best_time(lambda: calls.append(1), min_time=0.001, repeat=3)
    assert seconds > 0 and len(calls) >= 5  # warm-up, calibration, three samples


def test_machine_limits_are_positive():
    limits = benchmark.machine_limits(1, copy_bytes=1 << 20, reps=2)
    assert limits["copy_bandwidth"] > 0 and limits["fma_peak"] > 0


def test_machine_functions_reject_bad_arguments():
    result = ffi.new("double *")
    assert lib.fpk_machine_copy_bandwidth(1 << 20, 0, 1, result) == lib.FPK_ERR_VALUE
    assert lib.fpk_machine_copy_bandwidth(1 << 20, 1, 0, result) == lib.FPK_ERR_VALUE
    assert lib.fpk_machine_copy_bandwidth(100, 1, 1, result) == lib.FPK_ERR_VALUE
    assert lib.fpk_machine_copy_bandwidth(1 << 20, 1, 1, ffi.NULL) == lib.FPK_ERR_NULL
    assert lib.fpk_machine_fma_peak(0, result) == lib.FPK_ERR_VALUE
    assert lib.fpk_machine_fma_peak(1, ffi.NULL) == lib.FPK_ERR_NULL
    with pytest.raises(ValueError):
        benchmark.machine_limits(1, copy_bytes=10)


def test_thread_limit_restores_the_count():
    before = fk.get_num_threads()
    with benchmark.thread_limit(1):
        assert fk.get_num_threads() == 1
    assert fk.get_num_threads() == before


def test_discover_filter_run_and_format(bench_folder):
    modules = benchmark.discover(bench_folder)
    assert len(modules) == 1  # only bench_*.py files
    assert len(benchmark.load_cases(modules)) == 3
    assert len(benchmark.load_cases(modules, only="tiny")) == 2
    cases = benchmark.load_cases(modules, threads=[2])
    assert [c["threads"] for c in cases] == [2]
    limits = {1: {"copy_bandwidth": 1e10, "fma_peak": 1e11},
              2: {"copy_bandwidth": 2e10, "fma_peak": 2e11}}
    rows = benchmark.run_cases(benchmark.load_cases(modules), min_time=0.001, limits=limits,
                               forced=False)
    assert [r["name"] for r in rows] == ["tiny matmul", "tiny matmul", "no flops"]
    assert rows[0]["x_numpy"] > 0 and 0 < rows[0]["peak_fraction"] and "x_torch" not in rows[0]
    assert "peak_fraction" not in rows[2]
    table = benchmark.format_table(rows)
    assert "tiny matmul" in table and "x NumPy" in table and "of FMA peak" in table
    assert len(table.splitlines()) == 2 + 3
    assert "x torch" not in benchmark.format_table(rows, skip=["x torch"])


def test_libraries_take_turns_and_keep_their_best(monkeypatch):
    """With rounds=3 the libraries of a case alternate (fpk, numpy, fpk, numpy, ...), and
    each row keeps the best of its library's turns."""
    turns = []
    times = {"fpk": iter([3.0, 1.0, 2.0]), "numpy": iter([5.0, 6.0, 4.0])}

    def fake_best_time(function, min_time):
        library = function()
        turns.append(library)
        return next(times[library])

    monkeypatch.setattr(benchmark, "best_time", fake_best_time)
    monkeypatch.setattr(benchmark, "_settle", lambda: None)
    case = {"name": "turns", "threads": 1, "fpk": lambda: "fpk", "numpy": lambda: "numpy",
            "torch": None, "bytes": None, "flops": None}
    limits = {1: {"copy_bandwidth": 1e10, "fma_peak": 1e11}}
    [row] = benchmark.run_cases([case], limits=limits, forced=False, rounds=3)
    assert turns == ["fpk", "numpy"] * 3
    assert (row["fpk"], row["numpy"], row["x_numpy"]) == (1.0, 4.0, 4.0)
    assert row["torch"] is None and "x_torch" not in row
    with pytest.raises(ValueError, match="rounds"):
        benchmark.run_cases([case], limits=limits, forced=False, rounds=0)


def test_copy_takes_a_turn_and_the_best_bandwidth_counts(monkeypatch):
    """A case that moves bytes is measured against the best copy bandwidth seen: before the
    run (limits) or in its own rounds, one copy per round."""
    copies = iter([3e10, 5e10, 4e10])
    monkeypatch.setattr(benchmark, "best_time", lambda function, min_time: 1.0)
    monkeypatch.setattr(benchmark, "_settle", lambda: None)
    monkeypatch.setattr(benchmark, "copy_bandwidth", lambda *args, **kwargs: next(copies))
    case = {"name": "bytes", "threads": 1, "fpk": lambda: None, "numpy": None,
            "torch": None, "bytes": 1e10, "flops": None}
    limits = {1: {"copy_bandwidth": 2e10, "fma_peak": 1e11}}
    [row] = benchmark.run_cases([case], limits=limits, forced=False, rounds=3)
    assert row["copy_bandwidth"] == 5e10 and row["copy_fraction"] == 0.2
    limits = {1: {"copy_bandwidth": 1e11, "fma_peak": 1e11}}
    copies = iter([3e10])
    [row] = benchmark.run_cases([case], limits=limits, forced=False, rounds=1)
    assert row["copy_fraction"] == 0.1
    copies = iter([4e10])                          # limits without a copy figure: the turn's
    [row] = benchmark.run_cases([case], limits={1: {"fma_peak": 1e11}}, forced=False, rounds=1)
    assert row["copy_fraction"] == 0.25


def test_case_without_a_key_is_reported(tmp_path):
    (tmp_path / "bench_bad.py").write_text(
        "def cases(quick=False):\n    return [{'name': 'x', 'threads': 1}]\n")
    with pytest.raises(ValueError, match="lacks"):
        benchmark.load_cases(benchmark.discover(tmp_path))


def test_main_prints_one_table(bench_folder, tmp_path, capsys):
    report = tmp_path / "out.json"
    code = benchmark.main(["--quick", "--min-time", "0.001", "--copy-mib", "4", "--threads", "1",
                           "--json", str(report)], folder=bench_folder)
    assert code == 0
    printed = capsys.readouterr().out
    assert "limits measured now" in printed and "tiny matmul" in printed
    assert "cpu" in printed and "numpy" in printed
    saved = json.loads(report.read_text())
    assert [r["threads"] for r in saved["rows"]] == [1, 1]


def test_main_with_nothing_to_run(bench_folder, capsys):
    assert benchmark.main(["--only", "nothing-matches"], folder=bench_folder) == 1


def test_best_coretype_matches_the_cpu():
    from numpy._core._multiarray_umath import __cpu_features__ as features
    assert benchmark.best_coretype() == ("SkylakeX" if features["AVX512F"] else "Haswell")


def test_numpy_forced_runs_in_a_child():
    seconds, cores = benchmark.time_numpy_forced(
        {"setup": "import numpy as np\na = np.ones((16, 16), np.float32)",
         "stmt": "np.matmul(a, a)"}, threads=1, min_time=0.001)
    assert seconds > 0
    assert cores is None or isinstance(cores, list)


def test_numpy_blas_cases_get_their_threads_without_threadpoolctl(monkeypatch):
    """Without threadpoolctl, NumPy's BLAS keeps the thread count it started with (all cores),
    so a case with NumPy code for a child (matmul) times NumPy's default kernels again in a
    child given the case's OPENBLAS_NUM_THREADS; with threadpoolctl, in this process."""
    children = []
    monkeypatch.setattr(benchmark, "time_numpy_in_child",
                        lambda code, threads, min_time=0.2, coretype=None:
                        children.append((threads, coretype)) or (7.0, None))
    case = {"name": "tiny matmul", "threads": 1, "fpk": lambda: None, "numpy": lambda: None,
            "torch": None, "bytes": None, "flops": None,
            "numpy_forced": {"setup": "", "stmt": "None"}}
    limits = {1: {"copy_bandwidth": 1e10, "fma_peak": 1e11}}
    monkeypatch.setattr(benchmark, "_threadpoolctl", lambda: None)
    [row] = benchmark.run_cases([case], limits=limits, forced=False, rounds=1, min_time=0.001)
    assert row["numpy"] == 7.0 and children == [(1, None)]
    monkeypatch.setattr(benchmark, "_threadpoolctl", lambda: object())
    monkeypatch.setattr(benchmark, "thread_limit", lambda threads: contextlib.nullcontext())
    [row] = benchmark.run_cases([case], limits=limits, forced=False, rounds=1, min_time=0.001)
    assert row["numpy"] < 7.0 and len(children) == 1


@pytest.mark.skipif(not (BENCHMARKS / "bench_matmul.py").exists(), reason="no source tree")
def test_matmul_cases_run_and_agree():
    spec = importlib.util.spec_from_file_location("bench_matmul", BENCHMARKS / "bench_matmul.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = module.cases(quick=True)
    assert cases and all(set(benchmark.CASE_KEYS) <= set(c) for c in cases)
    case = cases[0]
    fpk_result, numpy_result = case["fpk"](), case["numpy"]()
    np.testing.assert_allclose(fpk_result, numpy_result, rtol=1e-4, atol=1e-3)


def ab_builds_and_installed_build():
    """benchmarks/ab_builds.py as a module, and the directory holding the installed package."""
    spec = importlib.util.spec_from_file_location("ab_builds", BENCHMARKS / "ab_builds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, str(Path(fk.__file__).resolve().parents[1])


@pytest.mark.skipif(not (BENCHMARKS / "ab_builds.py").exists(), reason="no source tree")
def test_ab_builds_times_a_build_against_itself(capsys):
    """benchmarks/ab_builds.py loads each build's compiled module under a name of its own and
    calls its C function in turn: here the installed build twice, 2 calls each."""
    module, build = ab_builds_and_installed_build()
    module.main("swish_backward", [build, build], calls=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("swish_backward" in line and " ms" in line for line in lines)


@pytest.mark.skipif(not (BENCHMARKS / "ab_builds.py").exists(), reason="no source tree")
def test_ab_builds_takes_turns_with_torch(capsys):
    """`torch` in place of a build runs PyTorch's own kernel for the case, beside the build's."""
    pytest.importorskip("torch")
    module, build = ab_builds_and_installed_build()
    cases = [name for name, (_, _, call_torch) in module.CASES.items() if call_torch]
    for case in cases:
        module.main(case, [build, "torch"], calls=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * len(cases) and all(" ms" in line for line in lines)
    assert sum(line.split()[1] == "torch" for line in lines) == len(cases)


@pytest.mark.skipif(not BENCHMARKS.is_dir(), reason="no source tree")
@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda p: p.stem)
def test_every_quick_case_runs(path):
    """Each case of the repository's benchmarks runs once, in its quick size, after all the
    cases are built (as the harness runs them: a lambda bound late to a name the file reuses
    would call the wrong array)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for case in module.cases(quick=True):
        for library in ("fpk", "numpy", "torch"):
            if callable(case.get(library)):
                case[library]()
