"""What `fpkernels explain NAME` shows: one building block in words, formula, code and a picture.

An explanation is built from the entry's teaching metadata (see fpkernels.interfaces), the
defaults of its hyper-parameters (from the registry), the source code of its plain-Python
"formulaic" reference (read with inspect.getsource), and numbers computed by running the
entry itself: a few values, and the data of a plot.

    >>> from fpkernels import explain
    >>> kind, entry = explain.find("relu")                        # doctest: +SKIP
    >>> print(explain.render(kind, entry))                        # doctest: +SKIP

The plot data (`plot_data`) feed both the terminal plot (fpkernels.textplot) and the PNG
figure (fpkernels.figures), so the two always show the same thing:

- activations: f(x) and its derivative f'(x) over the entry's plot_range;
- losses: the loss of one prediction and its gradient, against the error (prediction - target)
  or, for probability losses, against the predicted probability;
- initializers: a histogram of a sampled weight matrix against the target density;
- optimizers: the points visited in a few dozen steps on a 2-D bowl.
"""
import difflib
import inspect
import math
import textwrap

import numpy as np

from . import textplot

KINDS = ("activations", "losses", "initializers", "optimizers")
SINGULAR = {"activations": "activation", "losses": "loss", "initializers": "initializer",
            "optimizers": "optimizer"}

# One line per family for `fpkernels list`: what the family is.
FAMILY_SHORT = {
    "activations": "the non-linear function a layer applies to each number",
    "losses": "how wrong a prediction is; training lowers it",
    "initializers": "the random starting values of a layer's weights",
    "optimizers": "how each training step turns gradients into weight changes",
}


# What the hyper-parameters every family shares do, when an entry does not say it itself.
COMMON_HYPERPARAMETERS = {
    "reduction": "how the per-element losses are combined: 'mean' (default), 'sum', or "
                 "'none' (one loss per element)",
    "lr": "learning rate: the size of each step",
    "weight_decay": "pulls every weight towards 0 a little at each step",
    "eps": "a tiny number added to a denominator so it is never 0",
}


# One sentence on what each family is, for a reader who has never met the word.
FAMILY_INTROS = {
    "activations": "An activation is the non-linear function a neural-network layer applies to "
                   "each number it computes (its pre-activation x). Training also needs its "
                   "derivative (its slope). A number's gradient says how much the final error "
                   "would change if that number changed; backpropagation passes gradients "
                   "backwards through the network, layer by layer, and at an activation it "
                   "multiplies the incoming gradient by this slope.",
    "losses": "A loss is one number measuring how far a model's predictions are from the "
              "targets; training moves the weights along its gradient to make it smaller.",
    "initializers": "An initializer chooses the random starting values of a layer's weights; "
                    "their spread decides whether signals and gradients keep a healthy size "
                    "through many layers.",
    "optimizers": "An optimizer turns gradients into weight updates, step after step; it "
                  "decides how far and in which direction each weight moves.",
}


def origin_words(entry):
    """'built into fpkernels' or 'from the plugin package <dist>'."""
    from .registry import BUILTIN_ORIGIN
    if entry.origin == BUILTIN_ORIGIN:
        return "built into fpkernels"
    if getattr(entry, "entry_point", None) is not None:
        version = getattr(entry, "version", None)
        return f"from the plugin package {entry.distribution}" + (f" {version}" if version else "")
    return f"from {entry.origin}"


# The symbols a formula may use, in words: shown under a formula for those it contains.
# (regular expression, kinds it applies to or None for all, explanation)
SYMBOLS = (
    (r"(?<![A-Za-z])[py](?![a-z(])", ("losses",), "p: a prediction; y: its target (label)"),
    (r"←", ("optimizers",), "a ← b: a becomes b (an update, in place)"),
    (r"(?<![A-Za-z])p(?![a-z(])", ("optimizers",), "p: a weight (parameter) being trained"),
    (r"(?<![A-Za-z])g(?![a-z(])", ("optimizers",), "g: the gradient of the loss with "
                                                  "respect to p"),
    (r"(?<![A-Za-z])[mv] ←", ("optimizers",), "m, v: for each weight, running means of g and "
                                              "of g²; both start at 0"),
    (r"[mv]̂", ("optimizers",), "m̂, v̂: m and v corrected for having started at 0"),
    (r"ᵗ", ("optimizers",), "t: the step number, counting from 1; β₁ᵗ is β₁ to the power t, "
                            "so 1 − β₁ᵗ grows towards 1 and the correction fades as t grows"),
    (r"λ", None, "λ: the weight decay (the hyper-parameter weight_decay)"),
    (r"∇", None, "∇L: the gradient of the loss L (its slope for every weight)"),
    (r"(?<![A-Za-z])b(?![a-z(])", ("optimizers",), "b: the momentum buffer, a running blend "
                                                  "of past steps"),
    (r"μ", ("optimizers",), "μ: the momentum, the fraction of the last step kept"),
    (r" ~ ", None, "w ~ D: w is drawn at random from the distribution D"),
    (r"Φ", None, "Φ(x): the chance that a random bell-curve number (mean 0, spread 1; the "
                 "standard normal) is below x; it rises from 0 to 1"),
    (r"φ", None, "φ(x) = e^(−x²/2) / √(2π): the height of that bell curve at x; it is the "
                 "slope of Φ"),
    (r"\berf\b", None, "erf: the error function, an S-shaped curve from −1 to 1; "
                       "½·(1 + erf(x/√2)) is exactly Φ(x) (for the curious: erf(z) is "
                       "2/√π times the area under e^(−t²) for t from 0 to z)"),
    (r"σ", ("activations", "losses"), "σ(x): the sigmoid, 1 / (1 + e^(−x)), between 0 and 1"),
    (r"σ", ("initializers",), "σ: a standard deviation (the spread of the values)"),
    (r"\btanh\b", None, "tanh: the hyperbolic tangent, (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ), between −1 "
                        "and 1"),
    (r"Σ", None, "Σ: the sum over the index written after it"),
    (r"[ᵢⱼᵣₖ]", None, "xᵢ: element number i of x (a small letter below is an index)"),
    (r"δᵢⱼ", None, "δᵢⱼ: 1 when i = j, else 0"),
    (r"∂", None, "∂a/∂b: how much a changes per unit change of b (a partial derivative)"),
    (r"\bg[ᵢⱼ]|\bg\b", ("activations",), "g: the gradient arriving from the next layer "
                                           "(grad_out of backward)"),
    (r"\be\^|\beˣ|\be⁻", None, "e^a: the exponential, e = 2.71828… raised to the power a"),
    (r"\blog\b", None, "log: the natural logarithm (the inverse of e^a)"),
    (r"√", None, "√: the square root"),
    (r"\bmax\(", None, "max(a, b): the larger of a and b"),
    (r"\bmax [a-z]", None, "max x: the largest element of x"),
    (r"\|", None, "|a|: the absolute value of a (a without its sign)"),
    (r"′", None, "f′: the derivative of f, its slope"),
    (r"·", None, "·: multiplication"),
    (r"∈", None, "∈: is one of"),
    (r"≈", None, "≈: approximately equal"),
    (r"(?<![A-Za-z])U\(", None, "U(a, b): the uniform distribution, every value between a "
                                "and b equally likely"),
    (r"(?<![A-Za-z])N\(", None, "N(μ, σ²): the normal (bell-curve) distribution with mean μ "
                                "and variance σ²"),
    (r"fan_in", None, "fan_in: the inputs of each neuron, shape[1] of a (out, in) weight"),
    (r"fan_out", None, "fan_out: the outputs of the layer, shape[0] of a (out, in) weight"),
    (r"ε", None, "ε: a tiny constant keeping a denominator away from 0"),
    (r"β", ("optimizers",), "β₁, β₂: how slowly the running averages forget (near 1: slowly)"),
    (r"η", None, "η: the learning rate (lr)"),
    (r"δ(?!ᵢⱼ)", ("losses",), "δ: the hyper-parameter delta"),
)


def symbols_in(kind, *formulas):
    """The explanations of the symbols the formulas use, in the order of SYMBOLS."""
    import re
    text = " ".join(formulas)
    lines = []
    for pattern, kinds, words in SYMBOLS:
        if re.search(pattern, text) and (kinds is None or kind in kinds) and words not in lines:
            lines.append(words)
    return lines


class NotFound(LookupError):
    """No registered building block has this name."""


class Ambiguous(LookupError):
    """The name exists in several families; the caller must choose one with --kind."""


# ---------------------------------------------------------------------------- finding names

def registries():
    """The four registries of fpkernels, by family name."""
    from . import activations, initializers, losses, optimizers
    return {"activations": activations.registry, "losses": losses.registry,
            "initializers": initializers.registry, "optimizers": optimizers.registry}


def normalise_kind(kind):
    """'activation', 'Activations' or 'act' -> 'activations'; ValueError for other words."""
    if kind is None:
        return None
    word = str(kind).lower()
    for name in KINDS:
        if word in (name, SINGULAR[name]) or (len(word) >= 3 and name.startswith(word)):
            return name
    raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")


def aliases_of(entry):
    """The aliases of an entry (a plugin's are declared on its class, known once loaded)."""
    return tuple(entry.aliases or getattr(entry, "declared_aliases", ()) or ())


def all_names(registry):
    """Every name and alias a registry answers to (entries that fail to load are skipped)."""
    names = []
    for name in registry.names():
        names.append(name)
        try:
            names.extend(aliases_of(registry.entry(name)))
        except LookupError:
            pass
    return names


class Unavailable(LookupError):
    """The name exists but cannot be used (its plugin failed, or several provide it)."""


def find(name, kind=None, registries_=None, provider=None):
    """(kind, Entry) for `name`.

    NotFound (with close matches) when nobody has the name; Ambiguous when it is in several
    families (choose one with `kind`); Unavailable when its plugin failed to load or several
    distributions provide it (choose one with `provider`).
    """
    families = registries_ or registries()
    kind = normalise_kind(kind)
    searched = [kind] if kind else [k for k in KINDS if k in families]
    hits = [(k, families[k]) for k in searched if name in families[k]]
    if len(hits) == 1:
        k, registry = hits[0]
        try:
            if provider is not None:
                return k, registry.entry(name, provider)
            return k, registry.entry(name)
        except KeyError as error:
            raise NotFound(str(error.args[0] if error.args else error)) from None
        except LookupError as error:    # fpkernels.registry.PluginError, PluginConflictError
            raise Unavailable(str(error)) from None
        except TypeError:               # a registry without providers
            raise Unavailable(f"{SINGULAR[k]} {name!r} has one provider only; "
                              "leave out --provider") from None
    if len(hits) > 1:
        choices = ", ".join(f"--kind {k}" for k, _ in hits)
        raise Ambiguous(f"{name!r} is the name of several building blocks "
                        f"({', '.join(SINGULAR[k] for k, _ in hits)}); choose one with {choices}")
    close = []
    for k in searched:
        for match in difflib.get_close_matches(str(name).lower(), all_names(families[k]), n=3,
                                               cutoff=0.6):
            close.append(match if kind else f"{match} ({SINGULAR[k]})")
    what = f"{SINGULAR[kind]}" if kind else "activation, loss, initializer or optimizer"
    hint = f"; did you mean {', '.join(close[:4])}?" if close else ""
    elsewhere = [k for k in KINDS if kind and k != kind and k in families and name in families[k]]
    if elsewhere:
        hint += "".join(f"\n({name!r} is {'an' if SINGULAR[k][0] in 'aeiou' else 'a'} "
                        f"{SINGULAR[k]}: fpkernels explain {name} --kind {k})" for k in elsewhere)
    listing = f"fpkernels list --kind {kind}" if kind else "fpkernels list"
    raise NotFound(f"no {what} named {name!r}{hint}\n(`{listing}` shows every name)")


# ---------------------------------------------------------------------------- metadata

def _clean(text):
    return inspect.cleandoc(text or "")


def summary(entry):
    """The one-line summary of an entry: the first line of its description."""
    text = _clean(getattr(entry.factory, "description", ""))
    return text.splitlines()[0] if text else ""


def source_of(function):
    """(qualified name, source code) of a Python function, as learners should read it."""
    if function is None:
        return None, None
    function = inspect.unwrap(getattr(function, "__func__", function))
    where = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
    try:
        from . import formulaic
        short = getattr(function, "__name__", "")
        if getattr(formulaic, short, None) is function:
            where = f"fpkernels.formulaic.{short}"
    except ImportError:   # pragma: no cover - formulaic is part of the package
        pass
    try:
        code = textwrap.dedent(inspect.getsource(function)).rstrip()
    except (OSError, TypeError):
        code = None
    return where, code


def helpers_of(function, depth=2):
    """[(qualified name, source)] of the functions of the same module that `function` calls
    (such as a formulaic reference's `_gaussian_cdf`), in the order they first appear."""
    import ast
    function = inspect.unwrap(getattr(function, "__func__", function))
    module_name = getattr(function, "__module__", None)
    namespace = getattr(function, "__globals__", {})
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return []
    called = [node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    found = []
    for name in dict.fromkeys(called):
        helper = namespace.get(name)
        if (inspect.isfunction(helper) and helper is not function
                and helper.__module__ == module_name):
            where, source = source_of(helper)
            if source:
                found.append((where, source))
                if depth > 1:
                    found += [h for h in helpers_of(helper, depth - 1) if h not in found]
    return [h for i, h in enumerate(found) if h not in found[:i]]


def hyperparameters(entry):
    """[(name, default, what it does)] for the entry's keyword arguments."""
    meanings = dict(getattr(entry.factory, "hyperparameters", {}) or {})
    rows = []
    for name, default in entry.defaults().items():
        meaning = meanings.get(name) or COMMON_HYPERPARAMETERS.get(name, "")
        rows.append((name, None if default is inspect.Parameter.empty else default, meaning))
    return rows


REQUIRED = ("description", "formula", "formulaic", "plot_range")
REQUIRED_ACTIVATION = ("derivative_formula", "formulaic_derivative")


def missing_metadata(kind, entry):
    """The names of teaching metadata an entry lacks (empty list: complete)."""
    factory = entry.factory
    wanted = REQUIRED + (REQUIRED_ACTIVATION if kind == "activations" else ())
    missing = [name for name in wanted if not getattr(factory, name, None)]
    for name in ("formulaic", "formulaic_derivative"):
        if name in wanted and name not in missing:
            if source_of(getattr(factory, name))[1] is None:
                missing.append(f"{name} (source not readable)")
    low_high = getattr(factory, "plot_range", None)
    if low_high and not (len(low_high) == 2 and float(low_high[0]) < float(low_high[1])):
        missing.append("plot_range (need low < high)")
    return missing


# ---------------------------------------------------------------------------- plot data

class PlotData:
    """What a plot shows, independent of how it is drawn (text or PNG).

    kind 'curves': `panels` is a list of dicts {title, x, y, xlabel}; kind 'histogram':
    `sample`, `density` (function or None), `x_range`; kind 'path': `points`, `surface`,
    `extent`, `minimum`. `caption` says in words what is drawn; `notes` are extra lines.
    """

    def __init__(self, kind, caption, **fields):
        self.kind = kind
        self.caption = caption
        self.notes = []
        self.__dict__.update(fields)


def _plot_range(entry, default=(-5.0, 5.0)):
    low, high = getattr(entry.factory, "plot_range", None) or default
    return float(low), float(high)


def activation_plot(entry, points=241, hyper=None):
    """f(x) and f'(x) of an activation over its plot_range.

    Each x is fed as the row [x, 0] and the first output is plotted, so a row-wise
    activation such as softmax shows softmax([x, 0])[0]; for an element-wise one this is
    simply f(x). The derivative is backward(rows, [1, 0]), the same as f'(x) element-wise
    and d softmax([x, 0])[0] / dx for softmax.
    """
    act = entry.create(hyper or {})
    low, high = _plot_range(entry)
    x = np.linspace(low, high, points)
    rows = np.stack([x, np.zeros_like(x)], axis=1)
    seed = np.stack([np.ones_like(x), np.zeros_like(x)], axis=1)
    y = np.asarray(act.forward(rows), dtype=np.float64)[:, 0]
    dy = np.asarray(act.backward(rows, seed), dtype=np.float64)[:, 0]
    row_wise = not np.allclose(np.asarray(act.forward(x), dtype=np.float64), y, equal_nan=True)
    name = entry.name
    if row_wise:
        caption = (f"{name} works on whole rows, so the plot feeds it the row [x, 0] and draws "
                   f"the first output {name}([x, 0])[0] and its slope with respect to x")
        titles = (f"{name}([x, 0])[0]", "its slope d/dx")
    else:
        caption = f"left: {name}(x); right: its derivative, the slope of the left curve at each x"
        titles = (f"{name}(x)", f"derivative {name}'(x)")
    data = PlotData("curves", caption, panels=[
        {"title": titles[0], "x": x, "y": y, "xlabel": "x (input)"},
        {"title": titles[1], "x": x, "y": dy, "xlabel": "x (input)"}], row_wise=row_wise)
    data.notes += describe_slope(x, dy)
    return data


def _about(value, tolerance=0.005):
    """'about 0', 'about 1', or the value, in words."""
    for target in (0.0, 1.0, -1.0):
        if abs(value - target) <= tolerance:
            return f"about {target:g}"
    return _fmt(value)


def describe_slope(x, dy):
    """How an activation's derivative behaves over the plotted range, in a few sentences."""
    good = np.isfinite(dy)
    if not good.any():
        return []
    x, dy = np.asarray(x)[good], np.asarray(dy)[good]
    left, right = _about(dy[0]), _about(dy[-1])
    top, bottom = int(np.argmax(dy)), int(np.argmin(dy))
    span = float(dy.max() - dy.min())
    sentences = []
    if left == right:
        sentences.append(f"The slope is {left} at both ends (x = {_fmt(x[0])} and "
                         f"x = {_fmt(x[-1])}).")
    else:
        sentences.append(f"The slope is {left} far to the left (x = {_fmt(x[0])}) and "
                         f"{right} far to the right (x = {_fmt(x[-1])}).")
    jumps = np.abs(np.diff(dy))
    if span > 0 and jumps.max() > 0.25 * span:
        where = int(np.argmax(jumps))
        at = x[where] if abs(x[where]) <= abs(x[where + 1]) else x[where + 1]
        sentences.append(f"It jumps from {_fmt(dy[where])} to {_fmt(dy[where + 1])} at "
                         f"x = {_fmt(at)}, where the function has a corner.")
    elif span > 1e-9:
        sentences.append("It changes smoothly in between.")
    else:
        sentences.append(f"It is the same everywhere: {_fmt(dy[0])}.")
    if dy[bottom] < -0.01:
        sentences.append(f"It dips below 0 (down to {_fmt(dy[bottom])} at x = "
                         f"{_fmt(x[bottom])}): there the output falls as x grows.")
    overshoot = dy[top] > 1.01 and not (top == len(dy) - 1 or top == 0)
    if overshoot:
        sentences.append(f"It overshoots 1 (up to {_fmt(dy[top])} at x = {_fmt(x[top])}).")
    elif dy[top] - max(dy[0], dy[-1]) > 0.02 * span and span > 1e-9:   # a peak inside
        sentences.append(f"It is largest, {_fmt(dy[top])}, at x = {_fmt(x[top])}.")
    meaning = ("Why it matters: training multiplies the gradient coming back from the next "
               "layer by this slope. Where it is near 0 (the unit is \"saturated\"), almost "
               "nothing flows back and the neuron barely changes during training; where it is "
               "1, the gradient passes unchanged")
    if overshoot:
        meaning += (f"; where it is above 1 (up to {_fmt(dy[top], 3)} here), the gradient is "
                    "slightly amplified")
    meaning += "."
    return [" ".join(sentences), meaning]


def _loss_setup(entry):
    """How one loss is probed: (x values, make(x) -> (pred, target), x label, short label)."""
    names = {entry.name, *aliases_of(entry)}
    low, high = _plot_range(entry)
    if names & {"bce", "binary_cross_entropy"}:
        low, high = max(low, 0.05), min(high, 0.99)
        if high <= low:
            low, high = 0.05, 0.99
        return (np.linspace(low, high, 241), lambda p: ([[p]], [[1.0]]),
                "prediction p (target y = 1)", "p")
    if names & {"cce", "categorical_cross_entropy"}:
        low, high = max(low, 0.05), min(high, 0.99)
        if high <= low:
            low, high = 0.05, 0.99
        return (np.linspace(low, high, 241), lambda p: ([[p, 1.0 - p]], [[1.0, 0.0]]),
                "p given to the true class", "p")
    if names & {"softmax_cross_entropy", "cross_entropy"}:
        return (np.linspace(low, high, 241), lambda z: ([[z, 0.0]], [[1.0, 0.0]]),
                "true-class logit z (other: 0)", "z")
    if names & {"hinge"}:
        return (np.linspace(low, high, 241), lambda p: ([[p]], [[1.0]]),
                "prediction p (label y = +1)", "p")
    return (np.linspace(low, high, 241), lambda e: ([[e]], [[0.0]]),
            "error e = prediction - target", "e")


def loss_plot(entry, hyper=None):
    """The loss of a single prediction and its gradient d loss / d prediction."""
    loss = entry.create(hyper or {})
    x, make, xlabel, short = _loss_setup(entry)
    values, grads = [], []
    for v in x:
        pred, target = (np.asarray(a, dtype=np.float64) for a in make(float(v)))
        values.append(float(loss.value(pred, target)))
        grads.append(float(np.asarray(loss.gradient(pred, target), dtype=np.float64).reshape(-1)[0]))
    caption = (f"left: the loss of one prediction; right: its gradient d loss / d prediction, "
               f"which is what training follows downhill")
    data = PlotData("curves", caption, panels=[
        {"title": f"{entry.name} loss", "x": x, "y": np.array(values), "xlabel": xlabel},
        {"title": "gradient", "x": x, "y": np.array(grads), "xlabel": xlabel}], short=short)
    data.notes += describe_gradient(x, np.array(values), np.array(grads), short)
    return data


def describe_gradient(x, loss, grad, short="e"):
    """How a loss's gradient behaves over the plotted range, in a few sentences."""
    good = np.isfinite(loss) & np.isfinite(grad)
    if good.sum() < 8:
        return []
    x, loss, grad = x[good], loss[good], grad[good]
    best = int(np.argmin(loss))
    tiny = 1e-9 * max(1.0, float(np.abs(grad).max()))
    sentences = []
    if grad.min() < -tiny and grad.max() > tiny:
        sentences.append(f"The gradient is negative where {short} is below {_fmt(x[best])} and "
                         f"positive above it. Training moves against the gradient, so it always "
                         f"pushes {short} towards {_fmt(x[best])}, where the loss is smallest.")
    elif grad.max() <= tiny:
        sentences.append(f"The gradient is negative (or 0) everywhere here: training always "
                         f"raises {short}.")
    else:
        sentences.append(f"The gradient is positive (or 0) everywhere here: training always "
                         f"lowers {short}.")
    flat = np.abs(grad) <= tiny
    if flat.mean() > 0.1 and not flat.all():
        edge = x[flat]
        sentences.append(f"It is 0 for {short} from {_fmt(edge.min())} to {_fmt(edge.max())}: "
                         "there the loss is already at its lowest and nothing changes.")
    for end in (0, len(x) - 1):
        if abs(end - best) < len(x) // 4:
            continue
        halfway = (end + best) // 2
        far, mid = abs(grad[end]), abs(grad[halfway])
        if mid > tiny and far / mid > 1.5:
            sentences.append(f"Its size grows with the distance from the best {short} "
                             f"({_fmt(mid)} at {short} = {_fmt(x[halfway])}, {_fmt(far)} at "
                             f"{_fmt(x[end])}): big mistakes get big pushes.")
        elif mid > tiny and abs(far / mid - 1) < 0.1:
            sentences.append(f"Its size stops growing ({_fmt(mid)} at {short} = "
                             f"{_fmt(x[halfway])} and {_fmt(far)} at {_fmt(x[end])}): a big "
                             "mistake gets no bigger push than a moderate one, so outliers "
                             "cannot dominate training.")
        break
    return [" ".join(sentences)]


INIT_SHAPE = (256, 512)   # (out, in): fan_out = 256, fan_in = 512


def _normal(std):
    return lambda x: math.exp(-0.5 * (x / std) ** 2) / (std * math.sqrt(2 * math.pi))


def _uniform(low, high):
    return lambda x: 1.0 / (high - low) if low <= x <= high else 0.0


def density_std(density, half_width=2.0, points=40001):
    """The standard deviation of a zero-mean density, by summing over [-half_width, half_width]."""
    xs = np.linspace(-half_width, half_width, points)
    weights = np.array([density(v) for v in xs])
    return math.sqrt(float((weights * xs * xs).sum() / weights.sum()))


def target_density(entry, hyper, shape=INIT_SHAPE):
    """(density function, words) of the distribution an initializer should sample from."""
    names = {entry.name, *aliases_of(entry)}
    fan_out, fan_in = shape
    gain = float(hyper.get("gain", 1.0) or 1.0)
    scaled = "gain · " if gain != 1.0 else ""
    if names & {"xavier_uniform", "glorot_uniform"}:
        b = gain * math.sqrt(6.0 / (fan_in + fan_out))
        return _uniform(-b, b), f"U(-{b:.3g}, {b:.3g}), b = {scaled}sqrt(6 / (fan_in + fan_out))"
    if names & {"xavier_normal", "glorot_normal"}:
        s = gain * math.sqrt(2.0 / (fan_in + fan_out))
        return _normal(s), f"N(0, std {s:.3g}), std = {scaled}sqrt(2 / (fan_in + fan_out))"
    if names & {"he_normal", "kaiming_normal"}:
        s = gain * math.sqrt(2.0 / fan_in)
        return _normal(s), f"N(0, std {s:.3g}), std = {scaled}sqrt(2 / fan_in)"
    if names & {"he_uniform", "kaiming_uniform"}:
        b = gain * math.sqrt(6.0 / fan_in)
        return _uniform(-b, b), f"U(-{b:.3g}, {b:.3g}), b = {scaled}sqrt(6 / fan_in)"
    if "uniform" in names:
        low, high = hyper.get("low", -0.5), hyper.get("high", 0.5)
        return _uniform(low, high), f"U({low:g}, {high:g})"
    return None, None


def initializer_plot(entry, hyper=None):
    """A histogram of one sampled (256, 512) weight matrix against the target density."""
    hyper = {**{k: d for k, d, _ in hyperparameters(entry)}, **(hyper or {})}
    init = entry.create(hyper or {})
    sample = np.asarray(init(INIT_SHAPE, rng=0), dtype=np.float64).reshape(-1)
    density, words = target_density(entry, hyper)
    fan_out, fan_in = INIT_SHAPE
    caption = (f"bars: the values of one {INIT_SHAPE} weight matrix (fan_in = {fan_in}, "
               f"fan_out = {fan_out}), drawn with rng=0")
    low, high = float(sample.min()), float(sample.max())
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    margin = 0.1 * (high - low)
    data = PlotData("histogram", caption, sample=sample, density=density,
                    x_range=(low - margin, high + margin), title=f"{entry.name}: sampled weights")
    if density:
        data.caption += f"; dots: the target density {words}"
    note = f"sample mean {sample.mean():.3g}, standard deviation {sample.std():.3g}"
    if density is not None:
        note += (f" (the target's: mean 0, standard deviation {density_std(density):.3g}); a good "
                 "sample's bars follow the dots")
    data.notes.append(note)
    if float(sample.max()) == float(sample.min()):
        data.notes.append(f"every value is {sample[0]:g}")
    return data


def bowl(x, y):
    """The 2-D surface optimizers are shown on: a long, narrow bowl with its minimum at 0."""
    return 0.5 * (x * x + 10.0 * y * y)


def bowl_gradient(x, y):
    return np.array([x, 10.0 * y])


START = (-4.0, 1.5)
STEPS = 40


def optimizer_path(entry, lr=None, steps=STEPS, hyper=None):
    """The points an optimizer visits from START on the bowl, as a list of (x, y)."""
    hyper = dict(hyper or {})
    if lr is not None:
        hyper["lr"] = lr
    opt = entry.create(hyper)
    p = np.array(START, dtype=np.float64)
    points = [tuple(p)]
    for _ in range(steps):
        g = bowl_gradient(*p)
        opt.step([p], [g])
        points.append((float(p[0]), float(p[1])))
        if not all(math.isfinite(c) for c in points[-1]) or abs(p).max() > 1e6:
            break
    return points


def optimizer_plot(entry, hyper=None):
    """The path of STEPS steps on the bowl, with a learning rate large enough to be seen.

    The entry's default learning rate is tried first, then 10, 100 and 1000 times larger;
    the smallest that ends near the bottom (below 5% of the starting height) is drawn, else
    the one ending lowest, and a note says which it is.
    """
    defaults = entry.defaults()
    default_lr = defaults.get("lr")
    candidates = [None]
    if isinstance(default_lr, (int, float)) and default_lr > 0:
        candidates = [default_lr * 10 ** k for k in range(4)]
    best = None
    for lr in candidates:
        try:
            points = optimizer_path(entry, lr=lr, hyper=hyper)
        except (ValueError, TypeError, ArithmeticError):
            continue
        end = bowl(*points[-1]) if all(math.isfinite(c) for c in points[-1]) else math.inf
        if best is None or end < best[0] - 1e-12:
            best = (end, lr, points)
        if end < 0.05 * bowl(*START):     # the smallest rate that gets near the bottom
            best = (end, lr, points)
            break
    end, lr, points = best
    caption = (f"the points {entry.name} visits in {len(points) - 1} steps on the bowl "
               f"f(x, y) = (x² + 10·y²) / 2, whose gradient is g = (x, 10·y), starting at "
               f"S = {START}; + is the minimum")
    title = f"{entry.name} on a bowl" + (f" (lr = {lr:g})" if lr is not None else "")
    data = PlotData("path", caption, points=points, surface=bowl, extent=(-5.0, 5.0, -2.0, 2.0),
                    minimum=(0.0, 0.0), lr=lr, title=title)
    if lr is not None:
        if lr == default_lr:
            data.notes.append(f"learning rate lr = {lr:g} (the default)")
        else:
            data.notes.append(f"learning rate lr = {lr:g}: the default {default_lr:g} moves too "
                              f"little to see in {STEPS} steps")
    if len(points) > 1:
        g = bowl_gradient(*START)
        moved = (points[1][0] - START[0], points[1][1] - START[1])
        data.notes.append(f"step 1: the gradient at S is g = ({_fmt(g[0])}, {_fmt(g[1])}), "
                          f"{_fmt(abs(g[1] / g[0]), 2) if g[0] else 'inf'} times larger in y "
                          f"than in x; x moved by {_fmt(moved[0], 3)} and y by "
                          f"{_fmt(moved[1], 3)}")
    data.notes.append(f"after {len(points) - 1} steps: (x, y) = ({_fmt(points[-1][0], 3)}, "
                      f"{_fmt(points[-1][1], 3)}), f = {_fmt(end)} (it started at "
                      f"f = {_fmt(bowl(*START))})")
    return data


def plot_data(kind, entry):
    """The PlotData of an entry of the given family."""
    return {"activations": activation_plot, "losses": loss_plot,
            "initializers": initializer_plot, "optimizers": optimizer_plot}[kind](entry)


def draw(data, style=textplot.PLAIN, width=80):
    """A PlotData as a text Block that fits in `width` columns."""
    if data.kind == "curves":
        panel_width = max(20, min(40, (width - 4) // 2 - 9))
        panels = []
        for role, panel in zip(("curve", "curve2"), data.panels):
            panels.append(textplot.curve(list(panel["x"]), list(panel["y"]), width=panel_width,
                                         height=10, title=panel["title"], xlabel=panel["xlabel"],
                                         style=style, role=role))
        if sum(p.width for p in panels) + 4 <= width:
            return textplot.beside(panels)
        return textplot.stack(panels)
    if data.kind == "histogram":
        return textplot.histogram(list(data.sample), data.density, width=max(30, min(64, width - 12)),
                                  height=10, title=data.title, xlabel="weight value",
                                  style=style, x_range=data.x_range)
    if data.kind == "path":
        block = textplot.path(data.points, data.surface, data.extent,
                              width=max(30, min(60, width - 8)), height=15, title=data.title,
                              style=style, minimum=data.minimum)
        block.lines.append(style.paint("   S start   o a step   E last point   + minimum   "
                                       f"{style.char('·', ':')} contour rings", "label"))
        return block
    raise ValueError(f"unknown plot kind {data.kind!r}")


# ---------------------------------------------------------------------------- a few values

def _fmt(value, digits=4):
    value = float(value)
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def value_table(kind, entry, data):
    """A few numbers a learner can check by hand: list of rows of strings (header first)."""
    if kind == "activations":
        act = entry.create({})
        low, high = _plot_range(entry)
        xs = sorted({round(v, 3) for v in (low, low / 2, -1.0, 0.0, 1.0, high / 2, high)
                     if low <= v <= high})
        rows = np.stack([np.array(xs), np.zeros(len(xs))], axis=1)
        seed = np.stack([np.ones(len(xs)), np.zeros(len(xs))], axis=1)
        f = np.asarray(act.forward(rows), dtype=np.float64)[:, 0]
        d = np.asarray(act.backward(rows, seed), dtype=np.float64)[:, 0]
        name = entry.name
        header = (["x", f"{name}([x, 0])[0]", "slope"] if data.row_wise
                  else ["x", f"{name}(x)", f"{name}'(x)"])
        return [header] + [[_fmt(a), _fmt(b), _fmt(c)] for a, b, c in zip(xs, f, d)]
    if kind == "losses":
        x = data.panels[0]["x"]
        picks = np.linspace(0, len(x) - 1, 5).round().astype(int)
        header = [data.short, "loss", "gradient"]
        return [header] + [[_fmt(x[i]), _fmt(data.panels[0]["y"][i]), _fmt(data.panels[1]["y"][i])]
                           for i in picks]
    if kind == "optimizers":
        header = ["step", "x", "y", "f(x, y)"]
        steps = [0, 1, 2, 3, 10, 20, len(data.points) - 1]
        clean = lambda v: 0.0 if abs(v) < 1e-9 else v  # noqa: E731 - 1e-17 is noise here
        return [header] + [[str(s), _fmt(clean(data.points[s][0])), _fmt(clean(data.points[s][1])),
                            _fmt(bowl(*data.points[s]))]
                           for s in sorted(set(steps)) if s < len(data.points)]
    return []


def _table(rows, style, indent="  "):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        text = indent + "   ".join(cell.rjust(w) for cell, w in zip(row, widths))
        lines.append(style.paint(text, "label") if n == 0 else text)
    return lines


# ---------------------------------------------------------------------------- rendering

def _wrap(text, width, indent="  "):
    """Wrap paragraphs and bullet lists of a metadata text to `width` columns."""
    lines = []
    for paragraph in _clean(text).split("\n\n"):
        items, current = [], []
        for line in paragraph.splitlines():
            if line.lstrip().startswith(("- ", "* ", "• ")) and current:
                items.append(" ".join(current))
                current = []
            current.append(line.strip())
        if current:
            items.append(" ".join(current))
        for item in items:
            bullet = item.startswith(("- ", "* ", "• "))
            lines.extend(textwrap.wrap(item, width=max(20, width - len(indent)),
                                       initial_indent=indent,
                                       subsequent_indent=indent + ("  " if bullet else ""))
                         or [""])
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _heading(text, style, width):
    rule = style.char("─", "-")
    title = f"{rule * 2} {text} "
    return style.paint(title + rule * max(0, width - len(title)), "heading")


def _code(code, style):
    return [style.paint("    " + line, "code") if line else "" for line in code.splitlines()]


def _short(array):
    """A short printout of a small array or number: [-0.159, 0, 1.95]."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0:
        return _fmt(array)
    if array.ndim == 1:
        return "[" + ", ".join(_fmt(v) for v in array) + "]"
    return "[" + ", ".join(_short(row) for row in array) + "]"


def _loss_example(entry):
    """(pred, target) of a tiny example batch suited to the loss."""
    names = {entry.name, *aliases_of(entry)}
    if names & {"bce", "binary_cross_entropy"}:
        return [0.9, 0.2, 0.6], [1.0, 0.0, 1.0]
    if names & {"cce", "categorical_cross_entropy"}:
        return [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]], [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    if names & {"softmax_cross_entropy", "cross_entropy"}:
        return [[2.0, 0.5, -1.0], [0.0, 0.0, 3.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    if names & {"hinge"}:
        return [0.5, -2.0, 1.5], [1.0, -1.0, 1.0]
    return [0.5, 2.0, -1.0], [0.0, 2.5, -1.0]


def _row_wise(act, x):
    """True when act.forward mixes the elements of a row (softmax), measured on x."""
    try:
        whole = np.asarray(act.forward(x), dtype=np.float64)
        alone = np.array([np.asarray(act.forward([v]), dtype=np.float64)[0] for v in x])
        return not np.allclose(whole, alone, equal_nan=True)
    except Exception:  # noqa: BLE001 - a refusal is no evidence either way
        return False


class _Shown:
    """A value whose repr is given (for rounded lists in "Try it")."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _rounded(value):
    """Nested lists of floats rounded to 4 decimals, shown as Python shows lists."""
    def walk(v):
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(walk(i) for i in v) + "]"
        return repr(round(float(v), 4))
    return _Shown(walk(value))


def _repr(value):
    """What the Python prompt prints for a result, with NumPy at 4 significant digits."""
    with np.printoptions(precision=4, suppress=True):
        return repr(value)


def _try_it(kind, entry, width=80):
    """A short Python session using the entry, with the results it really gives."""
    name = entry.name
    session = []            # (code, comment, result or None)

    def call(code, comment, function):
        try:
            session.append((code, comment, _repr(function())))
        except Exception as error:  # a plugin may refuse the toy input; show the call anyway
            session.append((code, comment, f"{type(error).__name__}: {error}"))

    session.append(("import fpkernels as fk", "", None))
    session.append(("import numpy as np", "", None))
    session.append(("np.set_printoptions(precision=4, suppress=True)",
                    "4 decimals", None))
    if kind == "activations":
        act = entry.create({})
        x = [-2.0, -0.5, 0.0, 1.5]
        session.append((f'act = fk.activations.get("{name}")', "", None))
        session.append((f"x = {x}", "", None))
        call("act.forward(x)", "f(x)", lambda: act.forward(x))
        call("act.derivative(x)", "f'(x), the slope at each x", lambda: act.derivative(x))
        row_wise = getattr(entry.factory, "elementwise", True) is False or _row_wise(act, x)
        call("act.backward(x, [1.0, 1.0, 1.0, 2.0])",
             "the gradient for x given the incoming gradient, row by row (a "
             "Jacobian-vector product)" if row_wise else
             "incoming gradient × slope, what backpropagation passes back",
             lambda: act.backward(x, [1.0, 1.0, 1.0, 2.0]))
        where, _ = source_of(getattr(entry.factory, "formulaic", None))
        if where and where.startswith("fpkernels.formulaic."):
            reference = getattr(entry.factory, "formulaic")
            call(f"{where.replace('fpkernels.', 'fk.', 1)}([x])",
                 "the same by the plain-Python loops; they take a list of rows, hence [x] "
                 "(plain Python floats print in full)",
                 lambda: reference([x]))
    elif kind == "losses":
        loss = entry.create({})
        pred, target = _loss_example(entry)
        session.append((f'loss = fk.losses.get("{name}")', "", None))
        session.append((f"pred = {pred}", "what the model predicted", None))
        session.append((f"target = {target}", "what it should have predicted", None))
        call("loss.value(pred, target)", "one number: the mean loss", lambda: loss.value(pred, target))
        call("loss.gradient(pred, target)", "d loss / d pred: how to change each prediction",
             lambda: loss.gradient(pred, target))
    elif kind == "initializers":
        session.append((f'init = fk.initializers.get("{name}")', "", None))
        session.append(("W = init((128, 784), rng=0)",
                        "a (out, in) weight matrix: fan_out 128, fan_in 784", None))
        defaults = {k: d for k, d, _ in hyperparameters(entry)}
        density, _ = target_density(entry, defaults, shape=(128, 784))
        target = f" (the formula's: {density_std(density):.4f})" if density else ""
        call("W.std()", f"the spread of the values{target}",
             lambda: entry.create({})((128, 784), rng=0).std())
    else:
        def one_step():
            p = np.array([1.0, -2.0])
            entry.create({}).step([p], [np.array([0.5, -0.5])])
            return p
        session.append((f'opt = fk.optimizers.get("{name}")', "", None))
        session.append(("p = np.array([1.0, -2.0])", "a parameter", None))
        session.append(("opt.step([p], [np.array([0.5, -0.5])])",
                        "one step with gradient [0.5, -0.5]: p changes in place", None))
        call("p", "", one_step)
    lines = []
    for code, comment, result in session:
        line = f"  >>> {code}" + (f"   # {comment}" if comment else "")
        if len(line) > width and comment:           # a long comment goes above its line
            lines += textwrap.wrap(comment, width=width - 2, initial_indent="  # ",
                                   subsequent_indent="  # ")
            lines.append(f"  >>> {code}")
        else:
            lines.append(line)
        if result is not None:
            lines += ["  " + line for line in result.splitlines()]
    return lines


def _formula_lines(formula, width):
    """A formula indented by 2, long lines broken at spaces (continuations indented by 4)."""
    lines = []
    for line in formula.splitlines():
        if len(line) > width - 4 and ";" in line:       # one equation per line
            lines += _formula_lines("\n".join(p.strip() for p in line.split(";")), width)
            continue
        lines += textwrap.wrap(line, width=width - 2, initial_indent="  ",
                               subsequent_indent="      ", break_long_words=False,
                               break_on_hyphens=False) or [""]
    return lines


def _title(kind, entry, style, width):
    title = f"{entry.name}: {summary(entry)}" if summary(entry) else entry.name
    lines = [style.paint(line, "title")
             for line in textwrap.wrap(title, width=width, subsequent_indent="  ")]
    article = "an" if SINGULAR[kind][0] in "aeiou" else "a"
    facts = [f"{article} {SINGULAR[kind]}", origin_words(entry)]
    if aliases_of(entry):
        facts.append("also called " + ", ".join(aliases_of(entry)))
    lines.append(style.paint("(" + "; ".join(facts) + ")", "dim"))
    return lines + [""] + [style.paint(line, "dim") for line in _wrap(FAMILY_INTROS[kind], width, "")]


def _in_words(kind, entry, style, width):
    description = _clean(getattr(entry.factory, "description", ""))
    rest = "\n".join(description.splitlines()[1:]).strip()    # the first line is the title
    return ([_heading("In words", style, width)] + _wrap(rest, width)) if rest else []


def _formula(kind, entry, style, width):
    formula = _clean(getattr(entry.factory, "formula", ""))
    derivative = _clean(getattr(entry.factory, "derivative_formula", ""))
    if not formula:
        return []
    lines = [_heading("Formula", style, width)] + _formula_lines(formula, width)
    if derivative:
        lines += ["", style.paint("  Its derivative (how much the output changes per unit of "
                                  "input):", "label")]
        lines += _formula_lines(derivative, width)
    symbols = symbols_in(kind, formula, derivative)
    if symbols:
        lines += ["", style.paint("  where", "label")]
        for words in symbols:
            lines += [style.paint(line, "dim") for line in
                      textwrap.wrap(words, width=width - 4, initial_indent="    ",
                                    subsequent_indent="      ")]
    return lines


def _hyperparameters(kind, entry, style, width):
    rows = hyperparameters(entry)
    lines = [_heading("Hyper-parameters", style, width)]
    if not rows:
        return lines + ["  none"]
    for name, default, meaning in rows:
        lines.append(style.paint(f"  {name} = {default!r}", "code"))
        lines += textwrap.wrap(meaning, width=width - 6, initial_indent="      ",
                               subsequent_indent="      ")
    lines.append(style.paint(f"  (set them as keywords: fk.{kind}.get(\"{entry.name}\", "
                             f"{rows[0][0]}=...))", "dim"))
    return lines


def _takes_rows(kind, entry):
    """A sentence on the input of an activation's reference: a table, by number or by row."""
    if kind != "activations":
        return ""
    row_wise = getattr(entry.factory, "elementwise", True) is False
    if not row_wise:
        try:
            row_wise = _row_wise(entry.create({}), [-2.0, -0.5, 0.0, 1.5])
        except Exception:  # noqa: BLE001 - a plugin that cannot be created
            pass
    return (" Its input `rows` is a table of numbers (a list of rows, each a list); it " +
            ("works on each row as a whole." if row_wise else
             "applies the function to each number on its own."))


def _source(kind, entry, style, width, attribute, label, shown=None, first=True):
    """The heading, an introduction and the source of one formulaic function, with the
    helpers it calls (those already in `shown`, a set of names, are only named). The
    first function shown gets the full introduction, a later one a single line."""
    shown = set() if shown is None else shown
    function = getattr(entry.factory, attribute, None)
    where, code = source_of(function)
    if where is None:
        return []
    if first:
        intro = (f"The plain-Python reference {where}, written with explicit loops, one idea "
                 "per line. The fast C kernel computes the same numbers and is tested against "
                 "it." + _takes_rows(kind, entry))
    else:
        intro = f"The same way, by {where}:"
    lines = [_heading(label, style, width)] + [style.paint(line, "dim") for line in _wrap(intro, width)]
    lines += [""] + (_code(code, style) if code else ["    (source not available)"])
    helpers = helpers_of(function) if code else []
    new = [(w, c) for w, c in helpers if w not in shown]
    old = [w.rsplit(".", 1)[-1] for w, _ in helpers if w in shown]
    if new:
        lines += ["", style.paint("  with the helper" + ("s" if len(new) > 1 else "")
                                  + " it calls:", "dim")]
        for _, helper_code in new:
            lines += [""] + _code(helper_code, style)
    if old:
        lines += ["", style.paint(f"  ({', '.join(old)}: shown above)", "dim")]
    shown.update(w for w, _ in helpers)
    return lines


def _how_computed(kind, entry, style, width):
    shown = set()
    lines = _source(kind, entry, style, width, "formulaic", "How it is computed", shown)
    if kind == "activations":
        derivative = _source(kind, entry, style, width, "formulaic_derivative",
                             "How its derivative is computed", shown, first=not lines)
        lines += ([""] + derivative) if lines and derivative else derivative
    return lines


def _advice(kind, entry, style, width):
    lines = []
    for attribute, label in (("when_to_use", "When to use it"), ("pitfalls", "Pitfalls")):
        text = getattr(entry.factory, attribute, "")
        if text:
            lines += ([""] if lines else []) + [_heading(label, style, width)] + _wrap(text, width)
    return lines


def _picture(kind, entry, style, width, plot=True):
    """The picture (unless plot is False) and a table of a few values."""
    lines = [_heading("Picture", style, width)] if plot else []
    try:
        data = plot_data(kind, entry)
    except Exception as error:  # noqa: BLE001 - a broken plugin must not hide the rest
        return lines + [f"  (no plot: {type(error).__name__}: {error})"] if plot else []
    if plot:
        lines += _wrap(data.caption, width) + [""] + draw(data, style, width).lines + [""]
        for note in data.notes:
            lines += _wrap(note, width)
    table = value_table(kind, entry, data)
    if table:
        lines += ([""] if lines else []) + [_heading("A few values", style, width)]
        lines += _table(table, style)
    return lines


def _try_it_section(kind, entry, style, width):
    lines = [_heading("Try it", style, width)]
    try:
        return lines + _try_it(kind, entry, width)
    except Exception as error:  # noqa: BLE001 - e.g. a plugin that cannot be created
        return lines + [f"  (cannot run it: {type(error).__name__}: {error})"]


def render(kind, entry, style=textplot.PLAIN, width=80, plot=True):
    """The whole explanation of one entry as text (what `fpkernels explain` prints).

    In a learner's order: words, formula, a picture and a few values to see it, the
    hyper-parameters, the formulaic code, advice, and a short session to try it (the end of
    the output, which a terminal shows first)."""
    width = max(50, min(int(width), 110))

    def picture(kind, entry, style, width):
        return _picture(kind, entry, style, width, plot=plot)
    sections = [_title, _in_words, _formula, picture, _hyperparameters, _how_computed, _advice,
                _try_it_section]
    out = []
    for section in sections:
        lines = section(kind, entry, style, width)
        if lines:
            out += ([""] if out else []) + lines
    return "\n".join(line.rstrip() for line in out) + "\n"
