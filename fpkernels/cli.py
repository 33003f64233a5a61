"""The `fpkernels` command line: list, explain, info, bench and demo.

    fpkernels list [--kind activations|losses|initializers|optimizers]
    fpkernels explain NAME [--kind KIND] [--provider DIST] [--png FILE] [--no-plot]
    fpkernels info
    fpkernels bench [--threads N] [--repeat N]
    fpkernels demo [DEMO OPTIONS...]
    (every command also takes --color auto|always|never and --width N)

Output adapts to where it goes: colour only on a terminal (never with NO_COLOR set, or
when piped to a file), width from the terminal (or COLUMNS), ASCII characters when the
output cannot encode Unicode. `--color always|never` and `--width N` override.

Exit codes: 0 success; 1 a command failed (e.g. a broken plugin); 2 a usage error: an
unknown subcommand or option, an unknown name, or a missing optional dependency
(matplotlib for --png).
"""
import argparse
import os
import shutil
import sys
import textwrap

from . import textplot

USAGE_ERROR = 2


class CommandError(Exception):
    """A message for the user and the exit code to leave with."""

    def __init__(self, message, code=USAGE_ERROR):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------- output

def wants_color(stream, choice="auto", environ=None):
    """Colour on a terminal only: not when piped, not with NO_COLOR set, not on TERM=dumb."""
    environ = os.environ if environ is None else environ
    if choice == "always":
        return True
    if choice == "never":
        return False
    if environ.get("NO_COLOR", "") != "" or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def can_encode_unicode(stream):
    """True when the stream's encoding can show braille, box-drawing and math symbols."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "⣿─┼•²√·αβ∑≤".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def terminal_width(override=None):
    """Columns to use: --width, else the terminal's (COLUMNS honoured), else 80."""
    if override:
        return max(40, int(override))
    return max(40, shutil.get_terminal_size((80, 24)).columns)


# Plain-ASCII spellings of the math symbols formulas use, for a stream without Unicode.
ASCII_MATH = str.maketrans({
    "′": "'", "·": "*", "×": "x", "−": "-", "–": "-", "—": "-", "√": "sqrt", "²": "^2",
    "³": "^3", "½": "1/2", "≤": "<=", "≥": ">=", "≈": "~", "≠": "!=", "←": "<-", "→": "->",
    "∈": " in ", "Σ": "sum", "∑": "sum", "∂": "d", "∇": "grad ", "∫": "integral", "π": "pi",
    "Φ": "Phi", "φ": "phi", "σ": "sigma", "β": "beta", "ε": "eps", "η": "lr", "λ": "lambda",
    "μ": "mu", "δ": "delta", "α": "alpha", "ᵢ": "_i", "ⱼ": "_j", "ᵣ": "_r", "ₖ": "_k",
    "ᵗ": "^t", "ˣ": "^x", "⁻": "^-", "₀": "0", "₁": "1", "₂": "2", "…": "...", "“": '"',
    "”": '"', "’": "'", "‘": "'", "•": "*", "─": "-", "│": "|", "┆": ":", "┄": "-",
})


class Output:
    """Where a command writes, with the style that suits it."""

    def __init__(self, stream, color="auto", width=None):
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.terminal = bool(isatty and isatty())
        self.fixed_width = bool(width) or self.terminal   # else lines may be long (a file)
        self.style = textplot.Style(color=wants_color(stream, color),
                                    unicode=can_encode_unicode(stream))
        self.width = terminal_width(width)

    def write(self, text=""):
        if not self.style.unicode:
            encoding = getattr(self.stream, "encoding", None) or "ascii"
            text = text.translate(ASCII_MATH)
            text = text.encode(encoding, errors="replace").decode(encoding)
        self.stream.write(text if text.endswith("\n") else text + "\n")


# ---------------------------------------------------------------------------- list

def _origin(entry):
    from .registry import BUILTIN_ORIGIN
    if entry.origin == BUILTIN_ORIGIN:
        return "built-in"
    if getattr(entry, "entry_point", None) is not None:
        version = getattr(entry, "version", None)
        return f"{entry.distribution} {version}" if version else str(entry.distribution)
    return str(entry.origin)


def _list_rows(registry, explain):
    """(name, aliases, origin, summary) of every name of a registry."""
    rows = []
    for name in registry.names():
        try:
            entry = registry.entry(name)
        except LookupError as error:      # a plugin that fails, or a name offered twice
            why = ("offered by several packages; see `fpkernels explain NAME`"
                   if "provided" in str(error) else "failed to load; see `fpkernels info`")
            rows.append((name, "", "?", f"(unavailable: {why})"))
            continue
        rows.append((name, ", ".join(explain.aliases_of(entry)), _origin(entry),
                     explain.summary(entry)))
    return rows


def cmd_list(args, out, registries_=None):
    """Every registered name per family, with a one-line summary, aliases and origin.

    Under each family's heading (with a line on what the family is), one name per row: the
    name, then its summary wrapped under its own column to the output's width (80 columns
    when piped, unless --width or COLUMNS says otherwise); below it, its aliases and, for a
    name that does not come with fpkernels, where it comes from."""
    from . import explain
    families = registries_ or explain.registries()
    try:
        kinds = [explain.normalise_kind(args.kind)] if args.kind else list(explain.KINDS)
    except ValueError as error:
        raise CommandError(str(error)) from None
    style = out.style
    tables = {kind: _list_rows(families[kind], explain) for kind in kinds}
    everything = [row for rows in tables.values() for row in rows]
    w_name = max([len(r[0]) for r in everything] + [len("name")])
    indent = " " * (2 + w_name + 2)
    room = max(30, out.width - len(indent))
    for number, kind in enumerate(kinds):
        rows = tables[kind]
        if number:
            out.write("")
        what = explain.FAMILY_SHORT.get(kind, "")
        heading = f"{kind} ({len(rows)})" + (f": {what}" if what else "")
        for line in textwrap.wrap(heading, width=max(40, out.width), subsequent_indent="  "):
            out.write(style.paint(line, "heading"))
        if not rows:
            out.write("  (none registered)")
            continue
        for name, aliases, origin, text in rows:
            lines = textwrap.wrap(text, width=room, break_on_hyphens=False) or [""]
            out.write(f"  {style.paint(name.ljust(w_name), 'title')}  {lines[0]}")
            for line in lines[1:]:
                out.write(indent + line)
            if aliases:
                out.write(style.paint(f"{indent}also called: {aliases}", "dim"))
            if origin not in ("built-in", "?"):
                out.write(style.paint(f"{indent}from the plugin package {origin}", "dim"))
    out.write("")
    for note in ("All are built into fpkernels unless a line says which plugin package it "
                 "comes from.",
                 "`fpkernels explain NAME` shows one of them: words, formula, code and a plot."):
        for line in textwrap.wrap(note, width=max(40, out.width)):
            out.write(style.paint(line, "dim"))
    return 0


# ---------------------------------------------------------------------------- explain

def cmd_explain(args, out, registries_=None):
    """Words, formula, hyper-parameters, formulaic source and a plot of one building block."""
    from . import explain
    try:
        kind, entry = explain.find(args.name, args.kind, registries_, provider=args.provider)
    except explain.NotFound as error:
        family = _family_word(args.name, explain)
        if family is None:
            raise CommandError(str(error).strip("'\"")) from None
        # `fpkernels explain losses`: a family's name lists the family.
        for line in textwrap.wrap(explain.FAMILY_INTROS[family], width=max(40, out.width)):
            out.write(out.style.paint(line, "dim"))
        out.write("")
        args.kind = family
        return cmd_list(args, out, registries_)
    except explain.Unavailable as error:        # a broken plugin, or a name offered twice
        raise CommandError(str(error), code=1) from None
    except (LookupError, ValueError) as error:
        raise CommandError(str(error).strip("'\"")) from None
    # The text first: without matplotlib a learner still gets the explanation, then the hint.
    out.write(explain.render(kind, entry, out.style, out.width, plot=not args.no_plot))
    if args.png:
        from . import figures
        try:
            figures.save(kind, entry, args.png)
        except figures.MissingMatplotlib as error:
            raise CommandError(str(error)) from None
        out.write(out.style.paint(f"figure saved to {args.png}", "good"))
    return 0


def _family_word(name, explain):
    """'activations' for 'activations' or 'activation' (any case), else None."""
    word = str(name).lower()
    for kind in explain.KINDS:
        if word in (kind, explain.SINGULAR[kind]):
            return kind
    return None


# ---------------------------------------------------------------------------- info

PLUGIN_GROUPS = tuple(f"fpkernels.{kind}" for kind in
                      ("activations", "losses", "initializers", "optimizers"))


def _entry_points(group):
    from importlib import metadata
    try:
        return list(metadata.entry_points(group=group))
    except TypeError:   # Python < 3.10
        return list(metadata.entry_points().get(group, []))


def _plugin_rows(families):
    """Entry points found by importlib.metadata, for a registry without plugins()."""
    rows = []
    for group in PLUGIN_GROUPS:
        kind = group.split(".", 1)[1]
        registered = families[kind].names() if kind in families else []
        for point in _entry_points(group):
            dist = getattr(point, "dist", None)
            rows.append({"kind": kind, "name": point.name,
                         "distribution": dist.name if dist is not None else "?",
                         "version": dist.version if dist is not None else "",
                         "entry_point": point.value,
                         "status": "loaded" if point.name.lower() in registered else "not loaded"})
    return rows


def _plugin_errors():
    """[(group or kind, name, distribution, reason)] of plugins that failed to load.

    Uses the registry's own report (fpkernels.registry.plugin_errors) when it has one.
    """
    from . import registry
    report = getattr(registry, "plugin_errors", None)
    if report is None:
        return []
    errors = report() if callable(report) else report
    rows = []
    for error in errors or []:
        if isinstance(error, dict):
            dist = " ".join(str(v) for v in (error.get("distribution", error.get("dist", "")),
                                             error.get("version", "")) if v)
            rows.append((error.get("group") or error.get("kind", ""), error.get("name", ""),
                         dist, error.get("reason", error.get("error", ""))))
        elif isinstance(error, (tuple, list)):
            rows.append(tuple(str(v) for v in error) + ("",) * (4 - len(error)))
        else:
            rows.append(("", "", "", str(error)))
    return rows


def cmd_info(args, out, registries_=None):
    """Version, compiler, flags, SIMD level, threads and plugins."""
    import fpkernels
    from . import explain
    style = out.style
    facts = fpkernels.info()
    out.write(style.paint(f"fpkernels {facts.get('version', fpkernels.__version__)}", "title"))
    labels = {"compiler": "compiler", "flags": "build flags", "simd": "SIMD level",
              "threads": "OpenMP threads"}
    rows = [(labels.get(k, k), str(v)) for k, v in facts.items() if k != "version"]
    rows.append(("Python", sys.version.split()[0]))
    import numpy
    rows.append(("NumPy", numpy.__version__))
    rows.append(("installed at", os.path.dirname(os.path.abspath(fpkernels.__file__))))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.write(f"  {key.ljust(width)}  {value}")
    out.write("")
    out.write(style.paint("plugins (entry points)", "heading"))
    if os.environ.get("FPKERNELS_DISABLE_PLUGIN_AUTOLOAD"):
        out.write("  FPKERNELS_DISABLE_PLUGIN_AUTOLOAD is set: entry points are not loaded")
    from . import registry
    if hasattr(registry, "load_plugins") and hasattr(registry, "plugins"):
        registry.load_plugins()          # import each plugin once, to report any that fails
        rows = registry.plugins()
    else:
        rows = _plugin_rows(registries_ or explain.registries())
    for group in PLUGIN_GROUPS:
        kind = group.split(".", 1)[1]
        found = [r for r in rows if r.get("kind") == kind]
        if not found:
            out.write(f"  {group}: none")
            continue
        out.write(f"  {group}:")
        for row in found:
            where = " ".join(str(v) for v in (row.get("distribution"), row.get("version")) if v)
            status = row.get("status", "")
            paint = "error" if status == "failed" else ""
            out.write(f"    {row['name']:<16} {where:<28} {row.get('entry_point', '')}  "
                      + style.paint(f"[{status}]", paint))
    errors = _plugin_errors()
    out.write("")
    if errors:
        out.write(style.paint(f"plugins that failed to load ({len(errors)})", "error"))
        for group, name, dist, reason in errors:
            label = " ".join(p for p in (group, name) if p)
            out.write(f"  {label}" + (f" (from {dist})" if dist else "") + f": {reason}")
    else:
        out.write("  no plugin failed to load")
    return 0


# ---------------------------------------------------------------------------- bench

def quick_cases():
    """The few cases of `fpkernels bench`, in the format of benchmarks/bench_*.py.

    Each is {"name", "threads", "fpk", "numpy", "torch", "bytes", "flops"}; a case whose
    fpkernels function is not available in this installation is left out.
    """
    import numpy as np

    import fpkernels as fk
    rng = np.random.default_rng(0)
    n = 4_000_000
    a = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)
    out = np.empty_like(a)
    cases = []

    def case(name, fpk, numpy_fn, bytes_=None, flops=None):
        cases.append({"name": name, "threads": fk.get_num_threads(), "fpk": fpk,
                      "numpy": numpy_fn, "torch": None, "bytes": bytes_, "flops": flops})

    if hasattr(fk, "add"):
        case("add f32 4M", lambda: fk.add(a, b, out=out), lambda: np.add(a, b, out=out),
             bytes_=3 * a.nbytes)
    if hasattr(fk, "sum"):
        case("sum f32 4M", lambda: fk.sum(a), lambda: np.sum(a), bytes_=a.nbytes)
    if "sigmoid" in fk.activations.registry:
        sigmoid = fk.activations.get("sigmoid")

        def numpy_sigmoid():
            np.negative(a, out=out)
            np.exp(out, out=out)
            np.add(out, 1.0, out=out)
            np.reciprocal(out, out=out)
        case("sigmoid f32 4M", lambda: sigmoid.forward(a, out=out), numpy_sigmoid,
             bytes_=2 * a.nbytes)
    if hasattr(fk, "matmul"):
        m = rng.standard_normal((512, 512), dtype=np.float32)
        c = np.empty_like(m)
        case("matmul f32 512", lambda: fk.matmul(m, m, out=c) if _accepts_out(fk.matmul)
             else fk.matmul(m, m), lambda: np.matmul(m, m, out=c), flops=2 * 512 ** 3)
    if "adam" in fk.optimizers.registry:
        p = rng.standard_normal(1_000_000, dtype=np.float32)
        g = rng.standard_normal(1_000_000, dtype=np.float32) * 1e-3
        adam = fk.optimizers.get("adam")
        m1, v1, p1 = np.zeros_like(p), np.zeros_like(p), p.copy()
        tmp = np.empty_like(p)

        def numpy_adam():
            m1[...] = 0.9 * m1 + 0.1 * g
            np.multiply(g, g, out=tmp)
            v1[...] = 0.999 * v1 + 0.001 * tmp
            np.sqrt(v1 / (1 - 0.999), out=tmp)
            np.add(tmp, 1e-8, out=tmp)
            p1[...] -= 1e-3 * (m1 / (1 - 0.9)) / tmp
        case("adam step f32 1M", lambda: adam.step([p], [g]), numpy_adam,
             bytes_=p.nbytes * 7)      # read p, g, m, v; write p, m, v
    return cases


def _accepts_out(function):
    import inspect
    try:
        return "out" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _seconds(function, repeat):
    """The best of `repeat` timings of function(), each long enough to be measurable."""
    import time
    function()                                           # warm up
    start = time.perf_counter()
    function()
    once = max(time.perf_counter() - start, 1e-7)
    inner = max(1, min(1000, int(0.02 / once)))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            function()
        best = min(best, (time.perf_counter() - start) / inner)
    return best


def copy_bandwidth(repeat=5, nbytes=64 * 2 ** 20):
    """This machine's memory copy bandwidth in GB/s (bytes read + written per second)."""
    import numpy as np
    src = np.ones(nbytes // 8)
    dst = np.empty_like(src)
    return 2 * src.nbytes / _seconds(lambda: np.copyto(dst, src), repeat) / 1e9


def cmd_bench(args, out, registries_=None):
    """A one-minute benchmark: fpkernels against NumPy and this machine's copy bandwidth.

    Uses the harness fpkernels.benchmark (timing, machine limits, the table) on the few
    cases of quick_cases(); without it, a plain timing loop gives a shorter table."""
    import fpkernels as fk
    threads = args.threads or fk.get_num_threads()
    style = out.style
    with fk.num_threads(threads):
        cases = quick_cases()
    for case in cases:
        case["threads"] = threads
    if not cases:
        out.write("no kernels to time in this installation")
        return 0
    try:
        from . import benchmark
    except ImportError:
        benchmark = None
    out.write(style.paint(f"fpkernels {fk.__version__}: a quick benchmark on {threads} "
                          f"thread{'s' if threads > 1 else ''}", "title"))
    if benchmark is not None and hasattr(benchmark, "run_cases"):
        limits = {threads: benchmark.machine_limits(threads, copy_bytes=64 << 20)}
        out.write("this machine now:\n" + benchmark.format_limits(limits))
        out.write("")
        benchmark.run_cases(cases, min_time=0.02 * max(1, args.repeat), limits=limits,
                            forced=False, log=out.write, copy_bytes=64 << 20)
    else:
        copy = copy_bandwidth(args.repeat)
        out.write(f"memory copy bandwidth {copy:.1f} GB/s (read + write)")
        header = f"  {'case':<20} {'fpkernels':>11} {'NumPy':>11} {'x NumPy':>8} {'of copy BW':>10}"
        out.write(style.paint(header, "label"))
        for case in cases:
            t = _seconds(case["fpk"], args.repeat)
            t_np = _seconds(case["numpy"], args.repeat) if case["numpy"] else None
            share = f"{case['bytes'] / t / 1e9 / copy:.0%}" if case["bytes"] else "-"
            ratio = f"{t_np / t:.2f}" if t_np else "-"
            out.write(f"  {case['name']:<20} {_duration(t):>11} "
                      f"{_duration(t_np) if t_np else '-':>11} {ratio:>8} {share:>10}")
    note = ("x NumPy = NumPy's time / fpkernels' time: above 1, fpkernels is faster. 'of copy "
            "BW' compares the bytes moved per second with a plain memory copy, the ceiling "
            "for element-wise kernels. The machine may be shared: compare runs, not single "
            "numbers. The full table: python benchmarks/bench.py (in the source tree).")
    out.write("")
    for line in textwrap.wrap(note, width=out.width - 2):
        out.write(style.paint(line, "dim"))
    return 0


def _duration(seconds):
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


# ---------------------------------------------------------------------------- demo

def cmd_demo(args, out, registries_=None):
    """Train the paper's image network end to end (fpkernels.demo)."""
    import importlib
    try:
        demo = importlib.import_module("fpkernels.demo")
    except ModuleNotFoundError as error:
        if error.name != "fpkernels.demo":
            raise
        raise CommandError("the demo is not part of this installation of fpkernels "
                           "(the module fpkernels.demo is missing)", code=1) from None
    result = demo.main(list(args.demo_args))
    return result if isinstance(result, int) else 0


# ---------------------------------------------------------------------------- parser

def build_parser():
    parser = argparse.ArgumentParser(
        prog="fpkernels",
        description="Fast C machine-learning kernels for NumPy, each with a plain-Python "
                    "reference that reads like the math. Start with `fpkernels list`, then "
                    "`fpkernels explain NAME`.")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the output: auto (only on a terminal, never with NO_COLOR "
                             "set), always or never")
    parser.add_argument("--width", type=int, default=None,
                        help="columns to fit the output in (default: the terminal's)")
    # The same two options after the subcommand too (`fpkernels explain gelu --color never`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--color", choices=("auto", "always", "never"), default=argparse.SUPPRESS,
                        help="colour: auto (a terminal without NO_COLOR), always or never")
    common.add_argument("--width", type=int, default=argparse.SUPPRESS,
                        help="columns to fit the output in (default: the terminal's)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    p = commands.add_parser("list", parents=[common], help="every activation, loss, initializer and optimizer",
                            description="List every registered name with its aliases, where it "
                                        "comes from and a one-line summary.")
    p.add_argument("--kind", help="only this family: activations, losses, initializers or "
                                  "optimizers")
    p.set_defaults(run=cmd_list)

    p = commands.add_parser("explain", parents=[common], help="what one building block does: words, formula, "
                                            "code and a plot",
                            description="Explain a building block: what it does in words, its "
                                        "formula, its hyper-parameters, the plain-Python code "
                                        "that computes it, when to use it, and a plot.")
    p.add_argument("name", metavar="NAME", help="a name or alias, e.g. gelu, huber, he, adam")
    p.add_argument("--kind", help="the family to look in, when a name is in several")
    p.add_argument("--provider", help="the distribution to take NAME from, when several "
                                      "installed packages provide it")
    p.add_argument("--png", metavar="FILE", help='also save the plot as a PNG figure (needs '
                                                 'matplotlib: pip install "fpkernels[plot]")')
    p.add_argument("--no-plot", action="store_true", help="leave the plot out of the text")
    p.set_defaults(run=cmd_explain)

    p = commands.add_parser("info", parents=[common], help="version, compiler, flags, SIMD level, threads, plugins",
                            description="Show how this fpkernels was built and which plugins "
                                        "it found.")
    p.set_defaults(run=cmd_info)

    p = commands.add_parser("bench", parents=[common], help="a one-minute speed check against NumPy",
                            description="Time a few kernels against NumPy and this machine's "
                                        "memory copy bandwidth (about a minute).")
    p.add_argument("--threads", type=int, default=None,
                   help="OpenMP threads for fpkernels (default: all)")
    p.add_argument("--repeat", type=int, default=5, help="timing repeats per case (default 5)")
    p.set_defaults(run=cmd_bench)

    p = commands.add_parser("demo", help="train the paper's image network end to end",
                            description="Train the paper's example network on the images "
                                        "shipped with fpkernels; options go to the demo "
                                        "(try `fpkernels demo --help`).",
                            add_help=False)
    p.add_argument("demo_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(run=cmd_demo)
    return parser


def main(argv=None, stdout=None, stderr=None, registries_=None):
    """Run the command line with `argv` (default sys.argv[1:]); returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:                         # `fpkernels` alone: what can I do?
        stdout.write(parser.format_help())
        return 0
    try:
        # The demo's own options (`fpkernels demo --epochs 5`) pass through untouched.
        args, unknown = parser.parse_known_args(argv)
        if unknown and args.command != "demo":
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit_:          # argparse's usage errors and --help
        return exit_.code if isinstance(exit_.code, int) else USAGE_ERROR
    if args.command == "demo":
        rest = argv[argv.index("demo") + 1:]
        args.demo_args = rest
    out = Output(stdout, args.color, args.width)
    import warnings
    try:
        with warnings.catch_warnings():
            # Plugins that fail to load are reported by the commands themselves.
            from . import registry
            warning = getattr(registry, "PluginWarning", None)
            if warning is not None:
                warnings.simplefilter("ignore", warning)
            return args.run(args, out, registries_)
    except CommandError as error:
        stdout.flush()                   # what the command printed comes before the error
        err = Output(stderr, args.color, args.width)
        err.write(f"{err.style.paint('fpkernels ' + args.command + ':', 'error')} {error}")
        return error.code
