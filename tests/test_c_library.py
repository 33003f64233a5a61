"""The C library on its own: `make -C csrc` builds libfpkernels.a/.so, and a C program using only
the public header (tests/c/test_capi.c) links the static library and passes its checks."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "csrc"
PROGRAM = ROOT / "tests" / "c" / "test_capi.c"

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("cc") is None or not CSRC.is_dir(),
    reason="needs make, cc and the csrc/ folder of a source checkout")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A copy of csrc/ built with its Makefile (nothing is written into the source tree)."""
    build = tmp_path_factory.mktemp("csrc")
    for source in list(CSRC.glob("*.c")) + list(CSRC.glob("*.h")) + [CSRC / "Makefile"]:
        shutil.copy(source, build)
    result = subprocess.run(["make", "-C", str(build)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return build


def test_make_builds_static_and_shared_libraries(library):
    assert (library / "libfpkernels.a").stat().st_size > 0
    assert (library / "libfpkernels.so").stat().st_size > 0


def test_c_program_links_static_library_and_passes(library, tmp_path):
    executable = tmp_path / "test_capi"
    subprocess.run(["cc", "-std=c99", "-O2", f"-I{library}", str(PROGRAM),
                    str(library / "libfpkernels.a"), "-fopenmp", "-lm", "-o", str(executable)],
                   check=True, capture_output=True, text=True, timeout=300)
    result = subprocess.run([str(executable)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout
    assert "FAIL" not in result.stdout


def test_vector_vocabulary_means_the_same_on_this_cpu(tmp_path):
    """csrc/fpk_simd.h, the operations the float32 kernels are written in, lane by lane against
    plain C (tests/c/test_simd.c), for the back end this CPU compiles (AVX-512 or AVX2)."""
    executable = tmp_path / "test_simd"
    subprocess.run(["cc", "-std=c99", "-O2", "-march=native", f"-I{CSRC}",
                    str(ROOT / "tests" / "c" / "test_simd.c"), "-lm", "-o", str(executable)],
                   check=True, capture_output=True, text=True, timeout=300)
    result = subprocess.run([str(executable)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout and "FAIL" not in result.stdout
