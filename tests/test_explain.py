"""`fpkernels explain`: metadata of every entry, the rendered explanation, text plots, PNGs.

Fake entries (plain NumPy, registered in private registries) test the renderer on every
family whatever the state of the built-ins; the real registries are then checked entry by
entry: complete metadata, and an explanation that renders for every registered name
(built-ins and installed plugins).
"""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from fpkernels import explain, textplot
from fpkernels.interfaces import Activation, Initializer, Loss, Optimizer
from fpkernels.registry import BUILTIN_ORIGIN, Registry


# ---------------------------------------------------------------------------- fakes

def fake_gelu(rows):
    """GELU of every element of a 2-D list."""
    result = []
    for row in rows:
        out_row = []
        for x in row:
            out_row.append(0.5 * x * (1 + math.erf(x / math.sqrt(2))))
        result.append(out_row)
    return result


def _fake_cdf(x):
    """Φ(x), the standard normal CDF; "erf(" in this docstring is not a call."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def fake_gelu_derivative(rows):
    result = []
    for row in rows:
        out_row = []
        for x in row:
            cdf = _fake_cdf(x)
            out_row.append(cdf + x * math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))
        result.append(out_row)
    return result


_erf = np.vectorize(math.erf)


class FakeGelu(Activation):
    description = """Fake GELU: x weighted by how likely a standard normal is below x.

    A smooth cousin of ReLU used in transformers."""
    formula = "gelu(x) = ½·x·(1 + erf(x/√2))"
    derivative_formula = "gelu'(x) = ½·(1 + erf(x/√2)) + x·e^(−x²/2)/√(2π)"
    formulaic = staticmethod(fake_gelu)
    formulaic_derivative = staticmethod(fake_gelu_derivative)
    when_to_use = "Hidden layers of transformers."
    pitfalls = "- slower than relu\n- slightly negative for negative x"
    plot_range = (-4.0, 4.0)

    def forward(self, x, out=None):
        x = np.asarray(x, dtype=np.float64)
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))

    def derivative(self, x, out=None):
        x = np.asarray(x, dtype=np.float64)
        return 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def fake_softmax(rows):
    result = []
    for row in rows:
        top = max(row)
        e = [math.exp(v - top) for v in row]
        result.append([v / sum(e) for v in e])
    return result


class FakeSoftmax(Activation):
    description = "Fake softmax: a row of scores becomes probabilities."
    formula = "softmax(x)ᵢ = e^(xᵢ − max x) / Σⱼ e^(xⱼ − max x)"
    derivative_formula = "backward(x, g) = s·(g − Σ g·s)"
    formulaic = staticmethod(fake_softmax)
    formulaic_derivative = staticmethod(fake_softmax)
    hyperparameters = {"axis": "the axis that sums to 1"}

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x, out=None):
        x = np.asarray(x, dtype=np.float64)
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def derivative(self, x, out=None):
        s = self.forward(x)
        return s * (1 - s)

    def backward(self, x, grad_out, out=None):
        s = self.forward(x)
        g = np.asarray(grad_out, dtype=np.float64)
        return s * (g - (g * s).sum(axis=-1, keepdims=True))


def fake_huber(pred, target, delta=1.0):
    total = 0.0
    for p, y in zip(pred, target):
        e = p - y
        total += 0.5 * e * e if abs(e) <= delta else delta * (abs(e) - 0.5 * delta)
    return total / len(pred)


class FakeHuber(Loss):
    description = "Fake Huber loss: squared near 0, linear far away."
    formula = "½e² if |e| ≤ δ else δ(|e| − ½δ)"
    formulaic = staticmethod(fake_huber)
    hyperparameters = {"delta": "where squared turns into linear"}
    plot_range = (-3.0, 3.0)

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction)
        self.delta = delta

    def value(self, pred, target):
        e = np.asarray(pred, float) - np.asarray(target, float)
        a = np.abs(e)
        return float(np.where(a <= self.delta, 0.5 * e * e, self.delta * (a - 0.5 * self.delta)).mean())

    def gradient(self, pred, target):
        e = np.asarray(pred, float) - np.asarray(target, float)
        return np.clip(e, -self.delta, self.delta) / e.size


class FakeBce(Loss):
    description = "Fake binary cross-entropy."
    formula = "−(y log p + (1 − y) log(1 − p))"
    formulaic = staticmethod(fake_huber)
    plot_range = (0.0, 1.0)

    def value(self, pred, target):
        p = np.clip(np.asarray(pred, float), 1e-7, 1 - 1e-7)
        y = np.asarray(target, float)
        return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))

    def gradient(self, pred, target):
        p = np.clip(np.asarray(pred, float), 1e-7, 1 - 1e-7)
        y = np.asarray(target, float)
        return (p - y) / (p * (1 - p)) / p.size


def fake_he_normal(fan_in, fan_out, random_normal):
    std = math.sqrt(2 / fan_in)
    return [[random_normal() * std for _ in range(fan_in)] for _ in range(fan_out)]


class FakeHeNormal(Initializer):
    description = "Fake He normal."
    formula = "W ~ N(0, 2 / fan_in)"
    formulaic = staticmethod(fake_he_normal)

    def __call__(self, shape, rng=None, dtype=np.float32):
        return np.random.default_rng(rng).normal(0, math.sqrt(2 / shape[1]), shape).astype(dtype)


class FakeZeros(Initializer):
    description = "Fake zeros."
    formula = "W = 0"
    formulaic = staticmethod(fake_he_normal)

    def __call__(self, shape, rng=None, dtype=np.float32):
        return np.zeros(shape, dtype)


def fake_sgd(params, grads, lr):
    for i in range(len(params)):
        params[i] = params[i] - lr * grads[i]


class FakeSgd(Optimizer):
    description = "Fake SGD: a step downhill."
    formula = "p ← p − lr·g"
    formulaic = staticmethod(fake_sgd)

    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * np.asarray(g)


class Incomplete(Activation):
    description = "Lacks almost everything."

    def forward(self, x, out=None):
        return np.asarray(x, float)

    def derivative(self, x, out=None):
        return np.ones_like(np.asarray(x, float))


def fake_registries():
    """Private registries holding the fakes (as if built in, but one from a "plugin")."""
    regs = {k: Registry(k) for k in explain.KINDS}
    builtin = {"origin": BUILTIN_ORIGIN}
    regs["activations"].register("fgelu", FakeGelu, aliases=("fake_gelu",), **builtin)
    regs["activations"].register("fsoftmax", FakeSoftmax, **builtin)
    regs["activations"].register("twin", FakeGelu, **builtin)
    regs["losses"].register("fhuber", FakeHuber, **builtin)
    regs["losses"].register("bce", FakeBce, **builtin)
    regs["initializers"].register("he_normal", FakeHeNormal, aliases=("fhe",), **builtin)
    regs["initializers"].register("fzeros", FakeZeros, **builtin)
    regs["optimizers"].register("fsgd", FakeSgd, origin="fake-plugins 1.0")
    regs["optimizers"].register("twin", FakeSgd, **builtin)
    return regs


@pytest.fixture
def fakes():
    return fake_registries()


FAKE_NAMES = [("activations", "fgelu"), ("activations", "fsoftmax"), ("losses", "fhuber"),
              ("losses", "bce"), ("initializers", "he_normal"), ("initializers", "fzeros"),
              ("optimizers", "fsgd")]


# ---------------------------------------------------------------------------- finding

def test_find_by_name_alias_and_any_case(fakes):
    assert explain.find("fgelu", registries_=fakes)[0] == "activations"
    kind, entry = explain.find("FAKE_GELU", registries_=fakes)
    assert (kind, entry.name) == ("activations", "fgelu")
    assert explain.find("fhe", "initializer", fakes)[1].name == "he_normal"


def test_unknown_name_suggests_close_matches(fakes):
    with pytest.raises(explain.NotFound, match=r"no activation named 'fgelo'; did you mean fgelu"):
        explain.find("fgelo", "activations", fakes)
    with pytest.raises(explain.NotFound, match=r"fhuber \(loss\)"):
        explain.find("fhubr", registries_=fakes)
    with pytest.raises(explain.NotFound, match="fpkernels list"):
        explain.find("zzz", registries_=fakes)


def test_a_name_in_two_families_asks_for_kind(fakes):
    with pytest.raises(explain.Ambiguous, match="--kind activations.*--kind optimizers"):
        explain.find("twin", registries_=fakes)
    assert explain.find("twin", "optimizers", fakes)[0] == "optimizers"


def test_kind_words():
    assert explain.normalise_kind("Activation") == "activations"
    assert explain.normalise_kind("loss") == "losses"
    assert explain.normalise_kind("opt") == "optimizers"
    with pytest.raises(ValueError, match="choose one of activations"):
        explain.normalise_kind("kernels")


# ---------------------------------------------------------------------------- metadata

def test_missing_metadata_is_reported():
    entry = Registry("activations").register("bare", Incomplete)
    missing = explain.missing_metadata("activations", entry)
    assert {"formula", "formulaic", "derivative_formula", "formulaic_derivative"} <= set(missing)
    assert explain.missing_metadata("activations", fake_registries()["activations"].entry("fgelu")) == []


def test_hyperparameters_pair_defaults_with_meanings(fakes):
    rows = explain.hyperparameters(fakes["losses"].entry("fhuber"))
    assert rows[0] == ("delta", 1.0, "where squared turns into linear")
    assert rows[1][0] == "reduction" and "mean" in rows[1][2]     # a shared meaning


def _registered():
    families = explain.registries()
    pairs = [(kind, name) for kind in explain.KINDS for name in families[kind].names()]
    return pairs or [pytest.param(None, None, marks=pytest.mark.skip("no entry registered yet"))]


def _builtins():
    families = explain.registries()
    pairs = [(kind, name) for kind in explain.KINDS for name in families[kind].names()
             if families[kind].entry(name).origin == BUILTIN_ORIGIN]
    return pairs or [pytest.param(None, None, marks=pytest.mark.skip("no built-in registered yet"))]


@pytest.mark.parametrize("kind, name", _builtins())
def test_every_builtin_has_complete_teaching_metadata(kind, name):
    entry = explain.registries()[kind].entry(name)
    assert explain.missing_metadata(kind, entry) == []
    assert explain.summary(entry), "the description needs a one-line summary"
    for hyperparameter, _, meaning in explain.hyperparameters(entry):
        assert meaning, f"{name}: say what hyper-parameter {hyperparameter!r} does"


@pytest.mark.parametrize("kind, name", _registered())
def test_explain_renders_every_registered_name(kind, name):
    entry = explain.registries()[kind].entry(name)
    text = explain.render(kind, entry, width=100)
    assert entry.name in text and "Formula" in text and "Picture" in text
    assert "(no plot:" not in text, text[text.index("Picture"):]
    assert "\x1b[" not in text


def test_explain_renders_the_example_plugins_when_installed():
    from importlib import metadata
    groups = [f"fpkernels.{kind}" for kind in explain.KINDS]
    try:
        points = [p for g in groups for p in metadata.entry_points(group=g)]
    except TypeError:   # pragma: no cover - Python < 3.10
        points = [p for g in groups for p in metadata.entry_points().get(g, [])]
    if not points:
        pytest.skip("no plugin package is installed")
    families = explain.registries()
    for point in points:
        kind = point.group.split(".", 1)[1]
        if point.name.lower() in families[kind]:
            text = explain.render(kind, families[kind].entry(point.name), width=90)
            assert "Picture" in text


# ---------------------------------------------------------------------------- rendering

@pytest.mark.parametrize("kind, name", FAKE_NAMES)
def test_render_has_every_section(fakes, kind, name):
    entry = fakes[kind].entry(name)
    text = explain.render(kind, entry, width=90)
    for section in ("Formula", "Hyper-parameters", "How it is computed", "Picture", "Try it"):
        assert section in text, section
    assert "def fake_" in text                           # the formulaic source itself
    assert "(no plot:" not in text
    assert max(len(line) for line in text.splitlines()) <= 130


def test_activation_explanation_shows_the_derivative(fakes):
    text = explain.render("activations", fakes["activations"].entry("fgelu"), width=100)
    assert "gelu'(x) = ½·(1 + erf(x/√2))" in text        # derivative formula
    assert "def fake_gelu_derivative" in text           # and its source
    assert "dips below 0" in text and "overshoots 1" in text and "saturated" in text
    assert ">>> act.forward(x)" in text
    assert "array([-0.0455, -0.1543,  0.    ,  1.3998])" in text     # live values in "Try it"
    assert "Hidden layers of transformers." in text and "slower than relu" in text
    words = " ".join(text.split())
    assert "barely changes during training" in words and "slightly amplified" in words


def test_explanation_reads_in_a_learners_order(fakes):
    text = explain.render("activations", fakes["activations"].entry("fgelu"), width=100)
    order = ["In words", "Formula", "Picture", "A few values", "Hyper-parameters",
             "How it is computed", "How its derivative is computed", "When to use it",
             "Pitfalls", "Try it"]
    assert [text.index(f"── {h} ") for h in order] == sorted(text.index(f"── {h} ") for h in order)
    assert text.count("tested against") == 1      # the reference's introduction is not repeated
    words = " ".join(text.split())
    assert "a list of rows" in words and "each number on its own" in words
    assert "would change if that number changed" in words       # "gradient" in plain words
    without = explain.render("activations", fakes["activations"].entry("fgelu"), plot=False)
    assert "── Picture" not in without and "── A few values" in without


def test_try_it_prints_what_a_user_gets(fakes):
    """The session sets NumPy's print options itself, and plain lists print in full."""
    import fpkernels as fk
    x = [-2.0, -0.5, 0.0, 1.5]
    text = explain.render("activations", fk.activations.registry.entry("gelu"), width=100)
    assert ">>> np.set_printoptions(precision=4, suppress=True)" in text
    assert ">>> fk.formulaic.gelu([x])" in text and "hence [x]" in text
    assert repr(fk.formulaic.gelu([x])) in text                     # every digit a user sees
    with np.printoptions(precision=4, suppress=True):
        assert repr(fk.activations.get("gelu").forward(x)) in text


def test_a_dip_below_zero_gets_its_own_row_and_a_zero_tick():
    xs = [i / 10 for i in range(-40, 41)]
    ys = [0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in xs]        # GELU: min -0.17
    block = textplot.curve(xs, ys, width=30, height=10)
    labels = [line.split("┤")[0].strip() for line in block.lines if "┤" in line]
    assert labels == ["4", "0", "-0.169"]
    rows = {line.split("┤")[0].strip(): i for i, line in enumerate(block.lines) if "┤" in line}
    assert rows["-0.169"] == rows["0"] + 1


def test_optimizer_picture_names_its_learning_rate_and_first_step(fakes):
    data = explain.plot_data("optimizers", fakes["optimizers"].entry("fsgd"))
    assert "(lr = 0.1)" in data.title and "g = (x, 10·y)" in data.caption
    assert any(n.startswith("step 1: the gradient at S is g = (-4, 15)") for n in data.notes)
    assert any("it started at f = 19.25" in n for n in data.notes)


def test_symbols_of_a_formula_are_explained(fakes):
    words = explain.symbols_in("activations", "GELU(x) = x·Φ(x) = ½·x·(1 + erf(x / √2))")
    assert any(w.startswith("Φ(x)") for w in words) and any(w.startswith("erf") for w in words)
    assert not any(w.startswith("U(a, b)") for w in words)      # "GELU(" is not "U("
    assert explain.symbols_in("losses", "|e| ≤ δ")[-1] == "δ: the hyper-parameter delta"
    assert not any("delta" in w for w in explain.symbols_in("activations", "sᵢ·(δᵢⱼ − sⱼ)"))
    text = explain.render("activations", fakes["activations"].entry("fgelu"))
    assert "  where" in text and "√: the square root" in text


def test_helpers_of_a_formulaic_reference_are_shown(fakes):
    helpers = explain.helpers_of(fake_gelu_derivative)
    assert [where.rsplit(".", 1)[1] for where, _ in helpers] == ["_fake_cdf"]
    text = explain.render("activations", fakes["activations"].entry("fgelu"))
    assert "with the helper it calls:" in text and "def _fake_cdf(x):" in text


def test_row_wise_activation_is_plotted_on_a_row(fakes):
    data = explain.plot_data("activations", fakes["activations"].entry("fsoftmax"))
    assert data.row_wise
    x, y = data.panels[0]["x"], data.panels[0]["y"]
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x)))          # softmax([x, 0])[0]
    np.testing.assert_allclose(data.panels[1]["y"], y * (1 - y), atol=1e-12)


def test_loss_plot_follows_the_error(fakes):
    data = explain.plot_data("losses", fakes["losses"].entry("fhuber"))
    x = data.panels[0]["x"]
    np.testing.assert_allclose(data.panels[1]["y"], np.clip(x, -1, 1))
    assert data.panels[0]["xlabel"].startswith("error")
    bce = explain.plot_data("losses", fakes["losses"].entry("bce"))
    assert 0 < bce.panels[0]["x"].min() and bce.panels[0]["x"].max() < 1


def test_initializer_plot_has_the_target_density(fakes):
    data = explain.plot_data("initializers", fakes["initializers"].entry("he_normal"))
    assert data.density is not None and abs(data.sample.std() - math.sqrt(2 / 512)) < 1e-3
    assert "sqrt(2 / fan_in)" in data.caption
    zeros = explain.plot_data("initializers", fakes["initializers"].entry("fzeros"))
    assert zeros.density is None and "every value is 0" in zeros.notes


def test_optimizer_path_goes_downhill(fakes):
    data = explain.plot_data("optimizers", fakes["optimizers"].entry("fsgd"))
    assert data.points[0] == explain.START
    assert explain.bowl(*data.points[-1]) < 0.05 * explain.bowl(*explain.START)
    assert data.lr == pytest.approx(0.1)                          # default 0.01 is too slow
    assert any("too little" in note for note in data.notes)


def test_a_failing_plot_does_not_hide_the_text():
    class Broken(FakeGelu):
        def forward(self, x, out=None):
            raise RuntimeError("kernel exploded")
    entry = Registry("activations").register("broken", Broken)
    text = explain.render("activations", entry)
    assert "(no plot: RuntimeError: kernel exploded)" in text and "How it is computed" in text


# ---------------------------------------------------------------------------- text plots

def _visible(line):
    return len(textplot._strip_ansi(line))


@pytest.mark.parametrize("unicode", [True, False], ids=["unicode", "ascii"])
@pytest.mark.parametrize("color", [True, False], ids=["color", "plain"])
def test_text_plots_render(unicode, color):
    style = textplot.Style(color=color, unicode=unicode)
    xs = [i / 10 for i in range(-40, 41)]
    c = textplot.curve(xs, [math.tanh(x) for x in xs], width=30, height=8, title="tanh",
                       style=style)
    h = textplot.histogram(np.random.default_rng(0).normal(size=5000), lambda x: math.exp(-x * x / 2) / 2.5066,
                           width=40, height=8, style=style)
    p = textplot.path([(-4, 1.5), (-2, 0.5), (1.5, 0.8)], explain.bowl, (-5, 5, -2, 2),
                      width=40, height=12, style=style, minimum=(0, 0))
    for block in (c, h, p, textplot.beside([c, c]), textplot.stack([c, h])):
        text = str(block)
        assert all(_visible(line) <= block.width for line in block.lines)
        assert ("\x1b[" in text) == color
        if not unicode:
            text.encode("ascii")
    assert "S" in str(p) and "E" in str(p) and "+" in textplot._strip_ansi(str(p)).split("\n")[6]


def test_curve_survives_nan_inf_and_constants():
    xs = [0.0, 1.0, 2.0, 3.0]
    textplot.curve(xs, [1.0, float("nan"), float("inf"), 2.0])
    textplot.curve(xs, [5.0] * 4)
    textplot.curve(xs, [float("nan")] * 4)


def test_braille_dots():
    canvas = textplot.Canvas(1, 1)
    canvas.dot(0, 0)
    canvas.dot(1, 3)
    assert canvas.cell(0, 0) == chr(0x2800 + 0x01 + 0x80)


# ---------------------------------------------------------------------------- PNG figures

@pytest.mark.parametrize("kind, name", FAKE_NAMES)
def test_png_figures(fakes, kind, name, tmp_path):
    pytest.importorskip("matplotlib")
    from fpkernels import figures
    path = tmp_path / f"{name}.png"
    figures.save(kind, fakes[kind].entry(name), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_title_names_the_learning_rate_once(fakes, monkeypatch):
    """The figure's title is the plot's own; no matplotlib needed: a stand-in Figure records it."""
    from unittest import mock
    from fpkernels import figures
    data = explain.plot_data("optimizers", fakes["optimizers"].entry("fsgd"))
    Figure = mock.MagicMock()
    monkeypatch.setattr(figures, "_figure_class", lambda: Figure)
    figures.figure(data)
    (title,), _ = Figure.return_value.subplots.return_value.set_title.call_args
    assert title == "fsgd on a bowl (lr = 0.1)"


def test_png_without_matplotlib_says_how_to_install(fakes, monkeypatch, tmp_path):
    from fpkernels import figures
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(figures.MissingMatplotlib, match=r'pip install "fpkernels\[plot\]"'):
        figures.save("activations", fakes["activations"].entry("fgelu"), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------------------- docs/make_docs.py

def _make_docs():
    path = Path(__file__).resolve().parents[1] / "docs" / "make_docs.py"
    if not path.exists():
        pytest.skip("docs/make_docs.py is not in this tree")
    spec = importlib.util.spec_from_file_location("_fpk_make_docs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


C_SAMPLE = '''/* sample.c */
#include "fpkernels.h"

/* one number */
static inline double cube_d(double x) { return x * x * x; }

/* a comment over three lines
   whose inner lines do not
   start with a star */
static inline double fourth_d(double x) { return x * x * x * x; }

#define UNARY(NAME, F)                                        \\
    int fpk_##NAME##_f32(const float *x, float *out, size_t n) \\
    {                                                          \\
        for (size_t i = 0; i < n; i++) out[i] = (float)F(x[i]); \\
        return FPK_OK;                                         \\
    }

UNARY(cube, cube_d)
UNARY(cube64, cube_d)

/* the square of each x, written out */
int
fpk_square_f32(const float *x, float *out, size_t n)
{
    const char *brace = "{";
    for (size_t i = 0; i < n; i++) out[i] = x[i] * x[i];
    return FPK_OK;
}
'''


def test_committed_pages_are_what_make_docs_writes(monkeypatch):
    """docs/*.md are generated from the built-in entries and csrc/*.c: after editing either, run
    `python docs/make_docs.py --no-figures`. This names the page that was left stale."""
    make_docs = _make_docs()
    # load_fpkernels puts the source tree first on sys.path: undo that after the test, or
    # processes spawned by later tests would import the tree (unbuilt in CI) over the install
    monkeypatch.setattr(sys, "path", list(sys.path))
    fk, explain = make_docs.load_fpkernels()
    figures = make_docs.existing_figures(explain, explain.KINDS)
    pages = {f"{kind}.md": make_docs.family_page(fk, explain, kind, figures)
             for kind in explain.KINDS}
    pages["from-loop-to-kernel.md"] = make_docs.loop_to_kernel_page(fk, explain,
                                                                    make_docs.read_c_sources())
    stale = [name for name, text in pages.items() if (make_docs.DOCS / name).read_text() != text]
    assert not stale, f"regenerate with python docs/make_docs.py --no-figures: {stale}"


def test_make_docs_reads_c_functions_and_macros():
    make_docs = _make_docs()
    definitions = make_docs.c_definitions(C_SAMPLE)
    assert definitions["fpk_square_f32"].startswith("/* the square of each x, written out */\nint\n")
    assert definitions["fpk_square_f32"].endswith("return FPK_OK;\n}")
    assert definitions["cube_d"].startswith("/* one number */")
    assert definitions["fourth_d"].startswith("/* a comment over three lines\n   whose")
    assert definitions["UNARY"].startswith("#define UNARY(NAME, F)")
    entry = Registry("activations").register("cube", FakeGelu, origin=BUILTIN_ORIGIN)
    found = make_docs.c_kernels(entry, {"sample.c": (C_SAMPLE, definitions)})["sample.c"]
    assert found["math"] == ["cube_d"] and found["lines"] == ["UNARY(cube, cube_d)"]
    assert found["shared"] == ["UNARY"]
    square = Registry("activations").register("square", FakeGelu, origin=BUILTIN_ORIGIN)
    found = make_docs.c_kernels(square, {"sample.c": (C_SAMPLE, definitions)})["sample.c"]
    assert found["kernels"] == ["fpk_square_f32"]


def test_every_builtin_activation_and_loss_has_c_code_in_the_docs():
    make_docs = _make_docs()
    if not make_docs.CSRC.exists():
        pytest.skip("csrc/ is not in this tree")
    sources = make_docs.read_c_sources()
    families = explain.registries()
    names = [(kind, name) for kind in ("activations", "losses")
             for name in families[kind].names()
             if families[kind].entry(name).origin == BUILTIN_ORIGIN]
    if not names:
        pytest.skip("no built-in registered yet")
    missing = [name for kind, name in names
               if not make_docs.c_kernels(families[kind].entry(name), sources)]
    assert missing == []


def test_describe_slope_in_words():
    x = np.linspace(-3, 3, 241)
    relu = " ".join(explain.describe_slope(x, (x > 0).astype(float)))
    assert "about 0 far to the left" in relu and "jumps from 0 to 1 at x = 0" in relu
    sigmoid = 1 / (1 + np.exp(-3 * x))
    words = " ".join(explain.describe_slope(x, 3 * sigmoid * (1 - sigmoid)))
    assert "at both ends" in words and "largest, 0.75, at x = 0" in words
    assert "the same everywhere: 2" in " ".join(explain.describe_slope(x, np.full_like(x, 2.0)))


def test_describe_gradient_in_words():
    e = np.linspace(-5, 5, 241)
    mse = " ".join(explain.describe_gradient(e, e * e, 2 * e))
    assert "pushes e towards 0" in mse and "big mistakes get big pushes" in mse
    mae = " ".join(explain.describe_gradient(e, np.abs(e), np.sign(e)))
    assert "outliers cannot dominate" in mae
    p = e
    hinge = " ".join(explain.describe_gradient(p, np.maximum(0, 1 - p), -(p < 1.0).astype(float), "p"))
    assert "always raises p" in hinge and "It is 0 for p from" in hinge
