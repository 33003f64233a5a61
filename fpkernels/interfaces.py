"""The small interfaces every activation, loss, initializer and optimizer meets.

Built-ins and plugins subclass these. Subclassing is not required (any class with the
required methods works, duck typing), but it gives the free parts listed on each class.

Teaching metadata are class attributes, read by the registries (`info`) and by
`fpkernels explain`; the conformance kit (fpkernels.testing) checks that they are present:

    description      plain words; the first line is the one-line summary
    formula          the formula in Unicode, readable in a terminal
    formulaic        the plain-Python reference function (fpkernels.formulaic style:
                     explicit loops, one idea per line); for activations it computes the
                     forward pass of one list of numbers
    hyperparameters  {name: what it does}; defaults come from __init__'s signature
    aliases          extra registry names (plugins: declared here, known once loaded)
    when_to_use, pitfalls   short advice for learners
    plot_range       (low, high) of x for plots

Hyper-parameters are the keyword arguments of __init__ and, by convention, stored as
attributes of the same name (self.beta = beta): `config()`, `repr()` and the optimizers'
free state_dict() read them back from there. Declare one as a `Setting` to have it checked
whenever it is set, in __init__ or later (loss.reduction = "sum", as in PyTorch).

Required methods (checked when a plugin loads, and by fpkernels.testing):

    Activation   forward(x, out=None), derivative(x, out=None), backward(x, grad_out, out=None)*
    Loss         value(pred, target), gradient(pred, target)
    Initializer  __call__(shape, rng=None, dtype=numpy.float32)
    Optimizer    step(params, grads)** , state_dict()*, load_state_dict(state)*

    * free with the base class;  ** or just update(param, grad, state) with the base class.
"""
import inspect

import numpy as np


def as_float_array(x, name="x"):
    """`x` as a float32 or float64 array by the conventions (integers and bools -> float64,
    float16 -> float32; no copy when already right); TypeError naming the dtype for complex,
    object and str. For pure-Python plugins: the first line of every method."""
    from ._core import as_array, float_dtype
    array = as_array(x, name)
    return array.astype(float_dtype(array), copy=False)


def output_array(out, shape, dtype, name="out"):
    """A checked `out=` (right shape and dtype, writable, C-contiguous: TypeError/ValueError
    otherwise), or a new empty array when out is None."""
    from ._core import output
    return output(out, tuple(shape), np.dtype(dtype), name)


class Setting:
    """A hyper-parameter attribute checked whenever it is set, in __init__ or later:
    check(name, value) returns the value to keep or raises, so a changed setting is as valid
    as a constructed one and takes effect on the next call. (The built-in optimizers check
    their settings together instead, in FusedOptimizer: some depend on each other and on the
    state's buffers.)

    >>> class Scaled(Loss):
    ...     factor = Setting(lambda name, value: float(value))
    ...     def __init__(self, factor=2.0):
    ...         self.factor = factor
    >>> loss = Scaled(); loss.factor = "3"; loss.factor
    3.0
    >>> loss.reduction = "average"
    Traceback (most recent call last):
    ...
    ValueError: reduction must be 'mean', 'sum' or 'none', not 'average'
    """

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        if getattr(self, "name", name) != name:     # `a = b = Setting(...)` would share a value
            raise TypeError(f"a Setting serves one attribute name; give {name} its own")
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(f"{type(obj).__name__} has no {self.name} set") from None

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(self.name, value)


def _check_reduction(name, value):
    if not isinstance(value, str) or value not in ("mean", "sum", "none"):
        raise ValueError(f"{name} must be 'mean', 'sum' or 'none', not {value!r}")
    return value


class Building:
    """Metadata every building block carries, and its hyper-parameters as attributes."""

    description = ""
    formula = ""
    formulaic = None
    hyperparameters = {}
    aliases = ()
    when_to_use = ""
    pitfalls = ""
    plot_range = (-5.0, 5.0)

    @classmethod
    def hyperparameter_names(cls):
        """The keyword arguments of __init__ (its hyper-parameters), in order."""
        try:
            parameters = inspect.signature(cls).parameters.values()
        except (TypeError, ValueError):
            return ()
        return tuple(p.name for p in parameters
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))

    def config(self):
        """{hyper-parameter: current value}, read from the attributes of the same names."""
        return {name: getattr(self, name) for name in self.hyperparameter_names()
                if hasattr(self, name)}

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({settings})"


class Activation(Building):
    """An element-wise (or row-wise) function of a layer's pre-activation x.

    Give forward(x) and derivative(x) (d output / d input, element-wise); backward(x, grad_out)
    = grad_out * derivative(x) and calling the object (= forward) come for free. Override
    backward with a fused kernel when you have one. Row-wise activations (softmax) set
    `elementwise = False` and must override backward (a Jacobian-vector product).

    Conventions (see SPEC "Conventions"): float32 and float64 in -> the same dtype out,
    integers/bools promote to float64, complex raises TypeError, the shape is preserved,
    out= is honoured and may alias x.
    """

    derivative_formula = ""
    formulaic_derivative = None
    elementwise = True

    def forward(self, x, out=None):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def derivative(self, x, out=None):
        raise NotImplementedError(f"{type(self).__name__} does not define derivative")

    def backward(self, x, grad_out, out=None):
        """grad_out * derivative(x): the gradient with respect to x."""
        derivative = np.asarray(self.derivative(x))
        grad_out = as_float_array(grad_out, "grad_out")
        if grad_out.shape != derivative.shape:
            raise ValueError(f"grad_out has shape {grad_out.shape}, x has shape {derivative.shape}")
        dtype = np.result_type(derivative.dtype, grad_out.dtype)
        out = output_array(out, derivative.shape, dtype)
        return np.multiply(grad_out, derivative, out=out)

    def __call__(self, x, out=None):
        return self.forward(x, out=out)


class Loss(Building):
    """value(pred, target) -> float (or a per-element array) and its gradient w.r.t. pred.

    reduction: 'mean' (default, over all elements; NaN for an empty input, as in PyTorch),
    'sum' or 'none' (per element). A loss written element by element can use reduce() and
    reduce_gradient() for the three reductions. Calling the object is value().
    """

    reduction = Setting(_check_reduction)

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def value(self, pred, target):
        raise NotImplementedError(f"{type(self).__name__} does not define value")

    def gradient(self, pred, target):
        raise NotImplementedError(f"{type(self).__name__} does not define gradient")

    def __call__(self, pred, target):
        return self.value(pred, target)

    def value_and_gradient(self, pred, target):
        """(value, gradient) together, as a training step needs them (fpkernels.nn calls this).
        This default calls value, then gradient; override it to compute both in one pass, as
        the built-in losses do (theirs also take out=, as their gradient does)."""
        return self.value(pred, target), self.gradient(pred, target)

    def reduce(self, per_element):
        """Per-element losses -> the value of this loss's reduction (float, or the array)."""
        reduction = getattr(self, "reduction", "mean")
        if reduction == "none":
            return per_element
        if reduction == "sum":
            return float(np.sum(per_element, dtype=np.float64))
        if per_element.size == 0:
            return float("nan")                  # as the built-ins and PyTorch
        return float(np.mean(per_element, dtype=np.float64))

    def reduce_gradient(self, per_element_gradient):
        """d(per-element loss)/d pred -> the gradient of this loss's reduction (in place)."""
        if getattr(self, "reduction", "mean") == "mean" and per_element_gradient.size:
            per_element_gradient /= per_element_gradient.size
        return per_element_gradient

    @staticmethod
    def check_inputs(pred, target):
        """pred and target as float arrays of one dtype and shape (NumPy promotion rules);
        TypeError for complex/object/str, ValueError naming both shapes."""
        pred, target = np.asarray(pred), np.asarray(target)
        for name, array in (("pred", pred), ("target", target)):
            if array.dtype.kind not in "fiub":
                raise TypeError(f"{name} has dtype {array.dtype}; expected real numbers")
        if pred.shape != target.shape:
            raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}")
        dtype = np.result_type(pred.dtype, target.dtype)
        dtype = np.float32 if dtype.kind == "f" and dtype.itemsize <= 4 else np.float64
        return pred.astype(dtype, copy=False), target.astype(dtype, copy=False)


class Initializer(Building):
    """Called as init(shape, rng=seed_or_generator, dtype=float32) -> a new array.

    rng: None (fresh entropy), an int seed, or a numpy.random.Generator; the same seed gives
    the same values. For a 2-D weight (out, in), fan_in = shape[1] and fan_out = shape[0]
    (see fans()).
    """

    def __call__(self, shape, rng=None, dtype=np.float32):
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    @staticmethod
    def fans(shape):
        """(fan_in, fan_out) of a weight: (shape[1], shape[0]) for (out, in); a 1-D shape
        gives (n, n); more dims multiply by the receptive field (shape[2:])."""
        shape = tuple(int(s) for s in np.atleast_1d(shape))
        if len(shape) == 1:
            return shape[0], shape[0]
        receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
        return shape[1] * receptive, shape[0] * receptive

    @staticmethod
    def generator(rng):
        """numpy.random.Generator from None, an int seed or a Generator."""
        return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)

    @staticmethod
    def check_dtype(dtype):
        """numpy dtype float32 or float64; TypeError otherwise."""
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"an initializer makes float32 or float64 arrays, not {dtype}")
        return dtype


class Optimizer(Building):
    """Updates a list of parameter arrays in place from a list of gradient arrays.

    Conventions, which give state_dict()/load_state_dict() for free:
      - hyper-parameters are attributes named like __init__'s keywords (self.lr = lr);
      - self.t counts the steps taken (0 before the first; the first step sees t = 1);
      - self.state is a list with one dict per parameter, {state name: array}, holding
        every array the update keeps between steps (e.g. {"m": ..., "v": ...}).

    A pure-Python optimizer declares `state_names` (created zero-filled like each parameter
    on the first step) and writes update(param, grad, state): change `param` in place. The
    base step() validates, creates the state, increments t, and calls update per parameter.
    Built-ins with a fused C kernel override step() and keep the same attributes.

    state_dict() is flat (a dict of str -> array or number), so it round-trips through
    numpy.savez / numpy.load (no pickle needed) and pickle, bit for bit:
        {"t": 3, "hyperparameters.lr": 0.001, ..., "state.0.m": array, "state.0.v": array, ...}
    """

    state_names = ()

    def __init__(self):
        self.t = 0
        self.state = []

    # the free parts --------------------------------------------------------------------

    def step(self, params, grads):
        """One update of every parameter (in place) from its gradient: lists (or tuples) of
        arrays, or one array and its gradient, as the built-ins take them."""
        from ._core import check_disjoint
        if isinstance(params, np.ndarray):
            params, grads = [params], [grads]
        elif not isinstance(grads, (list, tuple)):   # a 2-D array would pass as a list of rows
            raise TypeError("with a list of parameters, grads must be a list or tuple of "
                            f"gradients (one per parameter), not a {type(grads).__name__}")
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
        checked = []
        for i, (param, grad) in enumerate(zip(params, grads)):
            if not isinstance(param, np.ndarray) or param.dtype.kind != "f":
                raise TypeError(f"parameter {i} must be a float numpy.ndarray, "
                                f"not {type(param).__name__} of {getattr(param, 'dtype', '?')}")
            if not param.flags.writeable:
                raise ValueError(f"parameter {i} is read-only")
            grad = np.asarray(grad)
            if grad.dtype.kind not in "fiub":
                raise TypeError(f"gradient {i} has dtype {grad.dtype}; expected real numbers")
            if grad.shape != param.shape:
                raise ValueError(f"gradient {i} has shape {grad.shape}, its parameter has "
                                 f"shape {param.shape}")
            checked.append(grad.astype(param.dtype, copy=False))
        check_disjoint(params)
        state = self._state_list()
        if not state:
            state[:] = [self.init_state(p) for p in params]
        elif len(state) != len(params):
            raise ValueError(f"this optimizer holds state for {len(state)} parameters, "
                             f"got {len(params)}")
        self.t = getattr(self, "t", 0) + 1
        for param, grad, param_state in zip(params, checked, state):
            self.update(param, grad, param_state)

    def update(self, param, grad, state):
        """Change `param` in place from `grad`; `state` is this parameter's dict of arrays."""
        raise NotImplementedError(f"{type(self).__name__} defines neither step nor update")

    def init_state(self, param):
        """The state of a new parameter: a zero array like it for each name in state_names."""
        return {name: np.zeros_like(param) for name in self.state_names}

    def _state_list(self):
        state = getattr(self, "state", None)
        if state is None:
            state = self.state = []
        if not isinstance(state, list):
            raise TypeError(f"{type(self).__name__}.state is a {type(state).__name__}; the base "
                            "Optimizer keeps a list with one dict of arrays per parameter "
                            "(override step/state_dict/load_state_dict to keep another layout)")
        return state

    def state_dict(self):
        """Step count, hyper-parameters and per-parameter state arrays (copies), flat."""
        out = {"t": int(getattr(self, "t", 0))}
        for name, value in self.config().items():
            out[f"hyperparameters.{name}"] = value
        for i, param_state in enumerate(self._state_list()):
            for name, array in param_state.items():
                out[f"state.{i}.{name}"] = np.array(array, copy=True)
        return out

    def load_state_dict(self, state):
        """Restore what state_dict() returned (also after numpy.savez/numpy.load or pickle)."""
        state = dict(state)
        if "t" not in state:
            raise ValueError("not an optimizer state: no 't' (step count) entry")
        names = set(self.hyperparameter_names())
        per_param = {}
        for key, value in state.items():
            if key.startswith("hyperparameters."):
                name = key.split(".", 1)[1]
                if name in names:
                    setattr(self, name, _python_value(value))
            elif key.startswith("state."):
                _, index, name = key.split(".", 2)
                per_param.setdefault(int(index), {})[name] = np.array(value, copy=True)
        if sorted(per_param) != list(range(len(per_param))):
            raise ValueError(f"state entries for parameters {sorted(per_param)} are not 0..n-1")
        self.t = int(_python_value(state["t"]))
        self.state = [per_param[i] for i in range(len(per_param))]


def _python_value(value):
    """A number or string back from a 0-d array (what numpy.savez makes of it)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


# Used by the registries' load-time checks: the base of each family and its abstract methods.
BASES = {"activations": Activation, "losses": Loss, "initializers": Initializer,
         "optimizers": Optimizer}
ABSTRACT_METHODS = {"activations": ("forward", "derivative"), "losses": ("value", "gradient"),
                    "initializers": ("__call__",), "optimizers": ()}
