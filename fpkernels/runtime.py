"""Threads, build facts and the installed header: the library as a whole."""
import contextlib
import os
from pathlib import Path

from ._core import check, ffi, integer, lib

_MAX_THREADS = 2**31 - 1                    # the C API takes an int


def set_num_threads(n):
    """Let kernels use `n` OpenMP threads (process-wide; 1 <= n <= 2**31 - 1; Python or NumPy
    ints)."""
    n = integer("the thread count", n, 1, _MAX_THREADS)
    if n > 1 and _in_forked_child:
        raise RuntimeError("this process is a fork() child, and GNU libgomp cannot run parallel "
                           "regions after fork() once the parent has: kernels stay on one thread here. "
                           "Use multiprocessing's 'spawn' or 'forkserver' start method for "
                           "multi-threaded workers.")
    check(lib.fpk_set_num_threads(n), f"set_num_threads({n})")


def get_num_threads():
    """How many OpenMP threads kernels may use (OMP_NUM_THREADS or the core count by default)."""
    return lib.fpk_get_num_threads()


@contextlib.contextmanager
def num_threads(n):
    """`with num_threads(n):` runs the block's kernels on `n` threads, then restores the count."""
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)


_in_forked_child = False


def _after_fork_in_child():
    # GNU libgomp's thread pool does not survive fork(): a parallel region in the child would
    # wait forever for threads that were not copied. One thread keeps every kernel on its
    # serial path, which never enters a region. (Children started with "spawn" are unaffected.)
    global _in_forked_child
    _in_forked_child = True
    lib.fpk_set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_include():
    """The folder holding fpkernels.h, for C code (plugins) compiled against fpkernels."""
    installed = Path(__file__).resolve().parent / "include"
    return os.fspath(installed)


def info():
    """Version, compiler, flags, SIMD level and thread count of this build."""
    text = lambda s: ffi.string(s).decode()  # noqa: E731
    return {
        "version": text(lib.fpk_version()),
        "compiler": text(lib.fpk_compiler()),
        "flags": text(lib.fpk_build_flags()),
        "simd": text(lib.fpk_simd_level()),
        "threads": get_num_threads(),
    }
