"""Build the fpkernels extension: every C file in csrc/, compiled with OpenMP through cffi.

The cffi declarations are read from the public header (between FPK_CDEF_BEGIN and
FPK_CDEF_END), so they are written once, for C users and Python alike.

Environment switches (see README "Building"):
  FPKERNELS_PORTABLE=1     build for the generic CPU of the platform (no -march=native)
  FPKERNELS_MARCH=NAME     build for -march=NAME (e.g. x86-64-v3) instead of the building machine
  FPKERNELS_SANITIZE=1     add AddressSanitizer and UndefinedBehaviorSanitizer (see docs/hardening.md)
"""
import os
import shutil
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
CSRC = HERE / "csrc"
HEADER = CSRC / "fpkernels.h"


def cdef_from_header(text):
    """The part of the header between the FPK_CDEF_BEGIN and FPK_CDEF_END lines."""
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if line.startswith("/* FPK_CDEF_BEGIN"))
    end = next(i for i, line in enumerate(lines) if line.startswith("/* FPK_CDEF_END"))
    return "\n".join(lines[begin + 1:end])


def switched_on(name):
    return os.environ.get(name, "") not in ("", "0")


SANITIZERS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
              "-fno-omit-frame-pointer", "-g"]


def compile_flags():
    """-O3 for the building machine unless asked otherwise; never -ffast-math (it breaks NaN/inf)."""
    flags = ["-std=c99", "-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=fast"]
    if not switched_on("FPKERNELS_PORTABLE"):
        flags.append("-march=" + os.environ.get("FPKERNELS_MARCH", "native"))
    if switched_on("FPKERNELS_SANITIZE"):
        flags += SANITIZERS
    return flags


def relative(path):
    """setuptools wants source paths relative to the project folder."""
    return os.path.relpath(path, os.getcwd())


# Ship the header inside the package, for fpkernels.get_include() and plugins' C builds.
(HERE / "fpkernels" / "include").mkdir(exist_ok=True)
shutil.copyfile(HEADER, HERE / "fpkernels" / "include" / "fpkernels.h")

flags = compile_flags()
ffibuilder = FFI()
ffibuilder.cdef(cdef_from_header(HEADER.read_text()))
ffibuilder.set_source(
    "fpkernels._fpkernels",
    # The flags in the generated C file as well: setuptools rebuilds an extension only when a
    # source is newer than it, so a build with other switches in a folder built before would
    # otherwise reuse the old objects (an AVX-512 "portable" wheel).
    '#include "fpkernels.h"\n/* built with: %s */' % " ".join(flags),
    sources=sorted(relative(p) for p in CSRC.glob("*.c")),
    include_dirs=[relative(CSRC)],
    extra_compile_args=flags + ['-DFPK_CFLAGS="%s"' % " ".join(flags)],
    extra_link_args=["-fopenmp"] + (SANITIZERS if switched_on("FPKERNELS_SANITIZE") else []),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose="-v" in sys.argv)
