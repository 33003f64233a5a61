"""The `fpkernels` command line: subcommands, exit codes, colour and width, PNG, new interpreter."""
import importlib.util
import io
import os
import sys
from pathlib import Path

import pytest

import fpkernels as fk
from fpkernels import cli
from fpkernels.__main__ import main as console_main

# The fake entries of test_explain.py (loaded by path, whatever pytest's import mode).
_spec = importlib.util.spec_from_file_location("_fpk_explain_fakes",
                                               Path(__file__).with_name("test_explain.py"))
_fakes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fakes)


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


@pytest.fixture
def fakes():
    return _fakes.fake_registries()


@pytest.fixture(autouse=True)
def no_color_env(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.setenv("COLUMNS", "100")


def run(argv, registries_=None, stream=None):
    """(exit code, stdout text, stderr text) of the command line called in-process."""
    out = stream if stream is not None else io.StringIO()
    err = io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err, registries_=registries_)
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------- list

def test_list_shows_names_aliases_origins_and_summaries(fakes):
    code, out, _ = run(["list"], fakes)
    assert code == 0
    for text in ("activations (3)", "fgelu", "fake_gelu", "from the plugin package fake-plugins 1.0",
                 "Fake GELU: x weighted", "optimizers (2)", "fpkernels explain NAME",
                 "losses (2): how wrong a prediction is"):     # a line on what each family is
        assert text in out, text
    assert "built-in" not in out            # origin only for what is not built in


def test_list_one_kind(fakes):
    code, out, _ = run(["list", "--kind", "loss"], fakes)
    assert code == 0 and "fhuber" in out and "fgelu" not in out


def test_list_fits_the_width(fakes):
    code, out, _ = run(["--width", "60", "list"], fakes)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 60     # summaries are wrapped...
    assert "…" not in out                                         # ...not cut
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.lstrip().startswith("fgelu"))
    column = lines[first].index("Fake GELU")
    assert lines[first + 1][:column].strip() == "" and lines[first + 1][column:].strip()


def test_piped_list_fits_80_columns(fakes, monkeypatch):
    monkeypatch.delenv("COLUMNS")
    code, out, _ = run(["list"])
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80


def test_explain_a_family_name_lists_the_family(fakes):
    code, out, err = run(["explain", "losses"], fakes)
    assert code == 0 and err == ""
    assert "A loss is one number" in out and "fhuber" in out and "fgelu" not in out
    code, out, _ = run(["explain", "Activation"], fakes)
    assert code == 0 and "fgelu" in out


def test_list_of_the_real_registries():
    code, out, _ = run(["list"])
    assert code == 0 and "activations (" in out


# ---------------------------------------------------------------------------- explain

def test_explain_prints_every_part(fakes):
    code, out, err = run(["explain", "fgelu"], fakes)
    assert code == 0 and err == ""
    for text in ("fgelu: Fake GELU", "In words", "Formula", "gelu(x) = ½·x·(1 + erf(x/√2))",
                 "Its derivative", "Hyper-parameters", "def fake_gelu(rows):",
                 "def fake_gelu_derivative(rows):", "When to use it", "Pitfalls", "Picture",
                 "A few values", "Try it", "⣀"):
        assert text in out, text


@pytest.mark.parametrize("kind, name", _fakes.FAKE_NAMES)
def test_explain_every_family(fakes, kind, name):
    code, out, _ = run(["explain", name, "--kind", kind], fakes)
    assert code == 0 and "Picture" in out and "(no plot" not in out


def test_explain_alias_in_any_case(fakes):
    code, out, _ = run(["explain", "FHE"], fakes)
    assert code == 0 and out.startswith("he_normal")


def test_unknown_name_exits_2_with_suggestions(fakes):
    code, out, err = run(["explain", "fgelo"], fakes)
    assert code == 2 and out == ""
    assert "no activation, loss, initializer or optimizer named 'fgelo'" in err
    assert "did you mean fgelu (activation)" in err
    code, _, err = run(["explain", "fgelo", "--kind", "activations"], fakes)
    assert code == 2 and "no activation named 'fgelo'; did you mean fgelu?" in err


def test_unknown_kind_exits_2(fakes):
    code, _, err = run(["explain", "fgelu", "--kind", "kernels"], fakes)
    assert code == 2 and "unknown kind 'kernels'" in err


def test_a_name_in_two_families_asks_for_kind(fakes):
    code, _, err = run(["explain", "twin"], fakes)
    assert code == 2 and "--kind activations" in err and "--kind optimizers" in err
    assert run(["explain", "twin", "--kind", "optimizer"], fakes)[0] == 0


def test_unknown_subcommand_is_a_usage_error(capsys):
    assert cli.main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == 0
    assert "explain" in capsys.readouterr().out


def test_explain_png(fakes, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "gelu.png"
    code, out, _ = run(["explain", "fgelu", "--png", str(path)], fakes)
    assert code == 0 and f"figure saved to {path}" in out
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_explain_png_without_matplotlib(fakes, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, out, err = run(["explain", "fgelu", "--png", str(tmp_path / "g.png")], fakes)
    assert code == 2 and "fgelu: Fake GELU" in out and "Try it" in out    # the text still
    assert 'pip install "fpkernels[plot]"' in err and not (tmp_path / "g.png").exists()
    both = io.StringIO()                                 # stdout and stderr in one stream
    cli.main(["explain", "fgelu", "--png", str(tmp_path / "g.png")], stdout=both, stderr=both,
             registries_=fakes)
    assert both.getvalue().index("Try it") < both.getvalue().index("fpkernels explain: PNG")


# ---------------------------------------------------------------------------- colour, width

def test_plain_when_not_a_terminal(fakes):
    _, out, _ = run(["explain", "fgelu"], fakes, stream=io.StringIO())
    assert "\x1b[" not in out


def test_colour_on_a_terminal(fakes):
    _, out, _ = run(["explain", "fgelu"], fakes, stream=Terminal())
    assert "\x1b[" in out


def test_no_color_is_respected(fakes, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(["explain", "fgelu"], fakes, stream=Terminal())
    assert "\x1b[" not in out
    _, out, _ = run(["--color", "always", "explain", "fgelu"], fakes, stream=Terminal())
    assert "\x1b[" in out                                   # an explicit choice wins


def test_color_never(fakes):
    _, out, _ = run(["--color", "never", "list"], fakes, stream=Terminal())
    assert "\x1b[" not in out


@pytest.mark.parametrize("width", [60, 80, 140])
def test_output_fits_the_terminal_width(fakes, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    _, out, _ = run(["explain", "fgelu"], fakes)
    plot = out[out.index("Picture"):out.index("The slope is")]
    assert max(len(line) for line in plot.splitlines()) <= max(width, 60)


def test_ascii_only_output(fakes):
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    code = cli.main(["explain", "fgelu"], stdout=stream, stderr=io.StringIO(), registries_=fakes)
    stream.flush()
    text = stream.buffer.getvalue().decode("ascii")      # would raise on any non-ASCII byte
    assert code == 0 and "*" in text


# ---------------------------------------------------------------------------- info, bench, demo

def test_info_in_process(fakes):
    code, out, _ = run(["info"], fakes)
    assert code == 0
    for text in (f"fpkernels {fk.__version__}", "compiler", "build flags", "SIMD level",
                 "OpenMP threads", "fpkernels.activations", "fpkernels.optimizers"):
        assert text in out, text


def test_info_reports_plugins_that_failed(fakes, monkeypatch):
    from fpkernels import registry
    monkeypatch.setattr(registry, "plugin_errors", lambda: [
        {"group": "fpkernels.losses", "name": "bad", "distribution": "badpkg 0.1",
         "reason": "ImportError: no module named nothing"}], raising=False)
    code, out, _ = run(["info"], fakes)
    assert code == 0 and "failed to load (1)" in out
    assert "fpkernels.losses bad (from badpkg 0.1): ImportError: no module named nothing" in out


def test_python_m_fpkernels_info_in_a_new_interpreter(run_python):
    result = run_python("import runpy, sys; sys.argv = ['fpkernels', 'info']; "
                        "runpy.run_module('fpkernels', run_name='__main__')", check=False)
    assert result.returncode == 0, result.stderr
    assert f"fpkernels {fk.__version__}" in result.stdout and "SIMD level" in result.stdout
    assert "\x1b[" not in result.stdout                    # piped: plain text


def test_piped_list_in_a_new_interpreter_is_plain(run_python):
    env = dict(os.environ, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    result = run_python("import sys; from fpkernels.__main__ import main; "
                        "sys.exit(main(['list']))", env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout and "activations (" in result.stdout


def test_console_entry_point_returns_the_exit_code(capsys):
    assert console_main(["explain", "no-such-thing-at-all"]) == 2
    assert "no activation, loss, initializer or optimizer named" in capsys.readouterr().err


def test_quick_bench_cases_are_well_formed():
    for case in cli.quick_cases():
        assert set(case) == {"name", "threads", "fpk", "numpy", "torch", "bytes", "flops"}
        case["fpk"]()
        case["numpy"]()


def test_bench_runs(monkeypatch):
    monkeypatch.setattr(cli, "quick_cases", lambda: [
        {"name": "nothing 1k", "threads": 1, "fpk": lambda: None, "numpy": lambda: None,
         "torch": None, "bytes": 8000, "flops": None}])
    code, out, _ = run(["bench", "--repeat", "1", "--threads", "1"])
    assert code == 0 and "nothing 1k" in out and "a quick benchmark on 1 thread" in out


def test_demo_is_run_or_clearly_missing(monkeypatch):
    try:
        import fpkernels.demo  # noqa: F401
    except ModuleNotFoundError:
        code, _, err = run(["demo"])
        assert code == 1 and "fpkernels.demo is missing" in err
    else:
        calls = []
        monkeypatch.setattr(fpkernels.demo, "main", lambda argv: calls.append(argv) or 0)
        assert run(["demo", "--epochs", "1"])[0] == 0
        assert calls == [["--epochs", "1"]]


def _fake_distribution(root, good=True):
    """A plugin distribution on disk (a module and its .dist-info), importable with root on
    PYTHONPATH: one working activation 'cube' and, unless good, one 'broken' that fails."""
    (root / "fpk_fake_plugin.py").write_text(
        "import numpy as np\n"
        "from fpkernels.interfaces import Activation\n"
        "def cube_ref(rows):\n"
        "    return [[x * x * x for x in row] for row in rows]\n"
        "def cube_slope_ref(rows):\n"
        "    return [[3 * x * x for x in row] for row in rows]\n"
        "class Cube(Activation):\n"
        "    description = 'Cube: x times x times x.'\n"
        "    formula = 'f(x) = x³'\n"
        "    derivative_formula = \"f'(x) = 3x²\"\n"
        "    formulaic = staticmethod(cube_ref)\n"
        "    formulaic_derivative = staticmethod(cube_slope_ref)\n"
        "    plot_range = (-2.0, 2.0)\n"
        "    def forward(self, x, out=None):\n"
        "        return np.power(np.asarray(x, dtype=float), 3)\n"
        "    def derivative(self, x, out=None):\n"
        "        return 3 * np.square(np.asarray(x, dtype=float))\n")
    info = root / "fpk_fake_plugin-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fpk-fake-plugin\nVersion: 1.2\n")
    points = "[fpkernels.activations]\ncube = fpk_fake_plugin:Cube\n"
    if not good:
        points += "broken = fpk_fake_plugin_missing_module:Nothing\n"
    (info / "entry_points.txt").write_text(points)


def test_plugins_in_info_list_and_explain(run_python, tmp_path):
    from fpkernels import registry
    if not hasattr(registry, "load_plugins"):
        pytest.skip("this registry does not load entry points")
    _fake_distribution(tmp_path, good=False)
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    env.pop("FPKERNELS_DISABLE_PLUGIN_AUTOLOAD", None)
    code = ("import sys; from fpkernels.__main__ import main; "
            "sys.exit(main(sys.argv[1:]))")
    info = run_python(code.replace("sys.argv[1:]", "['info']"), env=env, check=False)
    assert info.returncode == 0, info.stderr
    assert "cube" in info.stdout and "fpk-fake-plugin 1.2" in info.stdout
    assert "failed to load (1)" in info.stdout and "fpk_fake_plugin_missing_module" in info.stdout
    listing = run_python(code.replace("sys.argv[1:]", "['list', '--kind', 'activations']"),
                         env=env, check=False)
    assert listing.returncode == 0, listing.stderr
    assert "cube" in listing.stdout and "fpk-fake-plugin 1.2" in listing.stdout
    explained = run_python(code.replace("sys.argv[1:]", "['explain', 'cube']"), env=env,
                           check=False)
    assert explained.returncode == 0, explained.stderr
    assert "from the plugin package fpk-fake-plugin 1.2" in explained.stdout
    assert "def cube_ref(rows):" in explained.stdout and "Picture" in explained.stdout


def test_a_broken_plugin_exits_1_and_the_rest_works(fakes):
    class Broken:
        def __contains__(self, name):
            return name == "broken"

        def entry(self, name):
            raise LookupError("activations 'broken' is unavailable: the plugin failed to load")

        def names(self):
            return ["broken"]
    families = dict(fakes, activations=Broken())
    code, _, err = run(["explain", "broken"], families)
    assert code == 1 and "failed to load" in err
    code, out, _ = run(["list"], families)
    assert code == 0 and "(unavailable: failed to load; see `fpkernels info`)" in out
    assert run(["explain", "fhuber"], families)[0] == 0


def test_no_arguments_prints_help():
    code, out, _ = run([])
    assert code == 0 and "explain" in out and "usage: fpkernels" in out


def test_list_unknown_kind_exits_2(fakes):
    code, _, err = run(["list", "--kind", "kernels"], fakes)
    assert code == 2 and "unknown kind 'kernels'" in err


def test_options_after_the_subcommand(fakes):
    _, out, _ = run(["explain", "fgelu", "--color", "always", "--width", "60"], fakes)
    assert "\x1b[" in out
    _, out, _ = run(["--color", "always", "list", "--color", "never"], fakes, stream=Terminal())
    assert "\x1b[" not in out


def test_unknown_option_is_a_usage_error(fakes, capsys):
    assert cli.main(["list", "--frob"], registries_=fakes) == 2
    assert "unrecognized arguments: --frob" in capsys.readouterr().err


def test_provider_picks_a_distribution(fakes):
    assert run(["explain", "fgelu", "--provider", "fpkernels"], fakes)[0] == 0
    code, _, err = run(["explain", "fgelu", "--provider", "somebody-else"], fakes)
    assert code in (1, 2) and "somebody-else" in err


def test_a_name_of_another_family_is_pointed_to(fakes):
    code, _, err = run(["explain", "fhuber", "--kind", "activations"], fakes)
    assert code == 2 and "'fhuber' is a loss: fpkernels explain fhuber --kind losses" in err
