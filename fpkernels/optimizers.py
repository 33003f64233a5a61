"""The optimizers of fpkernels and their registry (`get`, `names`, `info`, `register`)."""
from .registry import Registry

registry = Registry("optimizers")
get, names, info, register = registry.get, registry.names, registry.info, registry.register

# ---- built-in optimizers: fused C steps (csrc/optimizers.c) ----
#
# Every optimizer updates a list of parameter arrays in place from a list of gradients:
#
#     opt = fpkernels.optimizers.get("adam", lr=1e-3)
#     opt.step(params, grads)          # or opt.step(w, dw) for a single array
#
# Parameters must be float32/float64, C-contiguous, writable numpy.ndarrays (they are updated
# in place); gradients may be anything numpy.asarray takes with the parameter's shape. All
# arguments are checked before anything is touched, so a bad list leaves every parameter as it
# was. With a list of parameters, grads must be a list or tuple too, and no two parameters may
# share memory (the same array twice, or overlapping views), as each would be updated twice.
# State (moment buffers) is made on the first step, one entry per position in the list.
# Each dtype group of the list is one C call: one parallel region over all its elements.
import math as _math
from numbers import Real as _Real

import numpy as _np

from . import interfaces as _interfaces
from . import schedules  # noqa: F401  (also makes fpkernels.schedules available)
from ._core import (FLOAT32 as _F32, FLOAT64 as _F64, check as _check,
                    check_disjoint as _check_disjoint, ffi as _ffi, flag as _bool, lib as _lib,
                    real_number as _real_number)
from .formulaic import training as _reference

_POINTERS = {_F32: "float *[]", _F64: "double *[]"}
_ARRAY = {_F32: "float[]", _F64: "double[]"}
_SUFFIX = {_F32: "f32", _F64: "f64"}


def _number(name, value, low_open=False, below=None):
    """A hyper-parameter as a float >= 0 (> 0 when low_open; < below): ValueError/TypeError
    otherwise."""
    return _real_number(name, value, 0.0, low_open, below)


def _learning_rate(value):
    """A learning rate: a number >= 0, or a schedule (callable step -> number)."""
    if callable(value) and not isinstance(value, _Real):
        return value
    return _number("lr", value)


def _betas(pair):
    """torch's betas=(beta1, beta2), unpacked (each is checked as beta1 and beta2 are)."""
    try:
        beta1, beta2 = pair
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), not {pair!r}") from None
    return beta1, beta2


def _item(value):
    """A plain Python value from a state entry (0-d arrays come back from numpy.load)."""
    if isinstance(value, _np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, _np.generic):
        return value.item()
    return value


class FusedOptimizer(_interfaces.Optimizer):
    """Shared machinery of the built-in optimizers: checks, lazy state, state_dict, C calls.

    Subclasses set `name`, `_hyper` (hyper-parameter names, in signature order), and define
    `_validate(values) -> values`, `_buffers_for(values) -> buffer names` and `_call(dtype,
    count, params, grads, buffers, sizes, lr)`.

    A hyper-parameter set after construction (`opt.momentum = 0.9`, `opt.betas = (b1, b2)`)
    is checked with the others by `_validate`, as the constructor checks it (a bad value
    raises the constructor's error and the old value stays), and the next step uses it, as in
    PyTorch. Switching on a setting that keeps state (SGD's momentum, Adam's amsgrad) once
    state exists adds zero buffers: the velocity starts again from the next gradient, the
    running maximum of v from the next v. Switching it off discards those buffers.
    """

    name = ""
    _hyper = ()

    def __init__(self, **hyperparameters):
        self.__dict__.update(self._validate(hyperparameters))
        self.t = 0                  # updates made so far (the first step sees t = 1)
        self._fresh = False         # True until the first update after the state is made
        self._set_state([])         # self.state: per position, {buffer name: array}

    # ---- hyper-parameters ----

    def __setattr__(self, key, value):
        if key in self._hyper:
            self._change({key: value})
        else:
            super().__setattr__(key, value)

    def _change(self, changes):
        """Set {name: value} after construction: all settings are checked together, as the
        constructor checks them (an error changes nothing), and the state's buffers follow."""
        values = self._validate({**self.hyperparameter_values(), **changes})
        self.__dict__.update(values)
        self._match_buffers()

    def hyperparameter_values(self):
        """{name: value} of this optimizer's hyper-parameters."""
        return {key: getattr(self, key) for key in self._hyper}

    def current_lr(self):
        """The learning rate the next step will use."""
        lr = self.lr(self.t) if callable(self.lr) else self.lr
        return _number("the learning rate from the schedule" if callable(self.lr) else "lr", lr)

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameter_values().items())
        return f"{type(self).__name__}({settings})"

    def __getstate__(self):
        """For copy.deepcopy and pickle: everything but the cached C pointers."""
        state = dict(self.__dict__)
        state["_groups"] = None
        return state

    # ---- the step ----

    def _gather(self, params, grads):
        """Checked (params, grads, signature): grads converted to each param's dtype and layout,
        signature the list of (shape, dtype) the state must fit."""
        if isinstance(params, _np.ndarray):
            params, grads = [params], [grads]
        else:
            if not isinstance(grads, (list, tuple)):   # a 2-D array would pass as a list of rows
                raise TypeError("with a list of parameters, grads must be a list or tuple of "
                                f"gradients (one per parameter), not a {type(grads).__name__}")
            params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
        ready, signature = [], []
        for index, (p, g) in enumerate(zip(params, grads)):
            if type(p) is not _np.ndarray:
                raise TypeError(f"params[{index}] is a {type(p).__name__}; parameters are updated "
                                "in place, so each must be a numpy.ndarray (float32 or float64)")
            dtype = p.dtype
            if dtype != _F32 and dtype != _F64:
                raise TypeError(f"params[{index}] has dtype {dtype}; parameters must be float32 or "
                                "float64 (convert once with .astype(numpy.float32) before training)")
            flags = p.flags
            if not flags.c_contiguous:
                raise ValueError(f"params[{index}] is not C-contiguous; the update runs in place "
                                 "on contiguous memory (use numpy.ascontiguousarray once, and keep "
                                 "that array)")
            if not flags.writeable:
                raise ValueError(f"params[{index}] is read-only; it must be writable to be updated")
            if not flags.aligned:
                raise ValueError(f"params[{index}] is not aligned to its dtype; the update runs in "
                                 "place in C, which needs aligned floats (copy it once)")
            shape = p.shape
            if not (type(g) is _np.ndarray and g.dtype == dtype and g.flags.c_contiguous
                    and g.flags.aligned):
                g = _np.asarray(g)
                if g.dtype.kind not in "fiub":
                    raise TypeError(f"grads[{index}] has dtype {g.dtype}; gradients must be real "
                                    "numbers")
                if g.shape == shape:
                    g = _np.asarray(g, dtype=dtype, order="C")
                    if not g.flags.aligned:
                        g = g.copy()
            if g.shape != shape:
                raise ValueError(f"grads[{index}] has shape {g.shape} but params[{index}] has "
                                 f"shape {shape}")
            ready.append((p, g))
            signature.append((shape, dtype))
        _check_disjoint(params)
        return ready, signature

    def _check_state(self, signature):
        """ValueError unless the held state fits these parameters (count, shapes, dtypes)."""
        if not self.state or signature == self._signature:
            return
        if len(self.state) != len(signature):
            raise ValueError(f"the optimizer state holds {len(self.state)} tensors but step got "
                             f"{len(signature)} parameters; use one optimizer per parameter list")
        if self._signature is None:         # loaded state without buffers: any shapes fit
            self._signature = list(signature)
            return
        for index, ((shape, dtype), (held_shape, held_dtype)) in enumerate(
                zip(signature, self._signature)):
            if shape != held_shape or dtype != held_dtype:
                raise ValueError(f"the state of tensor {index} has shape {held_shape} and dtype "
                                 f"{held_dtype}, but params[{index}] has shape {shape} and dtype "
                                 f"{dtype}")

    def _set_state(self, state, signature=None):
        """Hold `state` (a list of {buffer: array}, [] for none) for parameters of `signature`
        (read from the buffers if not given; None if they have none) and forget cached
        pointers."""
        self.state = state
        if signature is None and state and all(state):
            first_buffers = (next(iter(entry.values())) for entry in state)
            signature = [(b.shape, b.dtype) for b in first_buffers]
        self._signature = list(signature) if signature is not None else None
        self._groups = None

    def _make_state(self, signature):
        names = self._buffers()
        self._set_state([{key: _np.zeros(shape, dtype) for key in names}
                         for shape, dtype in signature], signature)
        self._fresh = True

    def _match_buffers(self):
        """Give the state the buffers the current settings use: zero ones for a setting switched
        on (SGD's next step then starts the velocity at the gradient, as torch does), none for
        one switched off."""
        names = self._buffers()
        if all(tuple(entry) == names for entry in self.state):
            return
        if self._signature is None:         # loaded without buffers: no shapes, nothing to keep
            self._set_state([])             # the next step makes the state afresh
            return
        added = any(key not in entry for entry in self.state for key in names)
        self._set_state([{key: entry[key] if key in entry else _np.zeros(shape, dtype)
                          for key in names}
                         for entry, (shape, dtype) in zip(self.state, self._signature)],
                        self._signature)
        if added:
            self._fresh = True

    def _dtype_groups(self):
        """dtype -> (positions, sizes, {buffer: pointer array}, keep-alive), made once per state."""
        if self._groups is None:
            groups = {}
            for dtype in (_F32, _F64):
                positions = [i for i, (_, d) in enumerate(self._signature) if d == dtype]
                if not positions:
                    continue
                sizes = _ffi.new("size_t[]", [_math.prod(self._signature[i][0])
                                              for i in positions])
                views = [[_ffi.from_buffer(_ARRAY[dtype], self.state[i][name]) for i in positions]
                         for name in self._buffers()]
                buffers = {name: _ffi.new(_POINTERS[dtype], view)
                           for name, view in zip(self._buffers(), views)}
                groups[dtype] = (positions, sizes, buffers, views)
            self._groups = groups
        return self._groups

    def step(self, params, grads):
        """Update params in place from grads: a list (or tuple) of arrays and a list or tuple of
        their gradients, or one array and its gradient. TypeError/ValueError, with nothing
        changed, for a bad list, including a parameter listed twice or two sharing memory."""
        pairs, signature = self._gather(params, grads)
        if not pairs:
            return
        self._check_state(signature)
        lr = self.current_lr()
        if not self.state:
            self._make_state(signature)
        for dtype, (positions, sizes, buffers, _) in self._dtype_groups().items():
            kind, array = _POINTERS[dtype], _ARRAY[dtype]
            p_list = [_ffi.from_buffer(array, pairs[i][0]) for i in positions]
            g_list = [_ffi.from_buffer(array, pairs[i][1]) for i in positions]
            self._call(dtype, len(positions), _ffi.new(kind, p_list), _ffi.new(kind, g_list),
                       buffers, sizes, lr)
        self.t += 1
        self._fresh = False

    # ---- state ----

    def state_dict(self):
        """The optimizer's state as plain data: a flat dict of numbers, strings, booleans and
        numpy arrays (copies), ready for numpy.savez(file, **state) or pickle."""
        state = {"optimizer": self.name, "t": self.t, "count": len(self.state)}
        for key, value in self.hyperparameter_values().items():
            if key == "lr" and callable(value):
                state["lr_schedule"] = repr(value)
            else:
                state[f"hyperparameters.{key}"] = value
        for index, buffers in enumerate(self.state):
            for key, buffer in buffers.items():
                state[f"state.{index}.{key}"] = buffer.copy()
        return state

    def load_state_dict(self, state):
        """Restore a state_dict() (also as read back by numpy.load or pickle). Hyper-parameters
        saved in it replace this optimizer's; a schedule given as lr= is kept (it depends only
        on the step count, which is restored). ValueError if the state does not fit."""
        try:
            keys = list(state.keys())
        except AttributeError:
            raise TypeError("load_state_dict takes the dict made by state_dict() "
                            f"(or numpy.load of it), not {type(state).__name__}") from None
        items = {key: state[key] for key in keys}
        name = str(_item(items.pop("optimizer", self.name)))
        if name != self.name:
            raise ValueError(f"this state belongs to optimizer {name!r}, not {self.name!r}")
        if "t" not in items:
            raise ValueError("not an optimizer state: it has no 't' (step count) entry")
        step = int(_item(items.pop("t")))
        indices = {int(k.split(".")[1]) for k in items if k.startswith("state.") and
                   k.split(".")[1].isdigit()}
        count = int(_item(items.pop("count", len(indices))))
        if step < 0 or count < 0:
            raise ValueError(f"step ({step}) and count ({count}) must be >= 0")
        values = self.hyperparameter_values()
        items.pop("lr_schedule", None)
        items.pop("hyperparameters.betas", None)            # Adam's (beta1, beta2), saved apart
        for key in self._hyper:
            if f"hyperparameters.{key}" in items:
                value = _item(items.pop(f"hyperparameters.{key}"))
                if not (key == "lr" and callable(self.lr)):    # a schedule given as lr= stays
                    values[key] = value
        values = self._validate(values)
        names = self._buffers_for(values)
        buffers = []
        for index in range(count):
            entry = {}
            for key in names:
                array = items.pop(f"state.{index}.{key}", None)
                if array is None:
                    raise ValueError(f"the state has no state.{index}.{key} buffer "
                                     f"(it holds {count} tensors)")
                array = _np.asarray(array)
                if array.dtype != _F32 and array.dtype != _F64:
                    raise ValueError(f"state.{index}.{key} has dtype {array.dtype}; "
                                     "buffers are float32 or float64")
                entry[key] = _np.array(array, order="C", copy=True)
            shapes = {(a.shape, a.dtype) for a in entry.values()}
            if len(shapes) > 1:
                raise ValueError(f"the buffers of tensor {index} disagree in shape or dtype: "
                                 f"{sorted(map(str, shapes))}")
            buffers.append(entry)
        if items:
            raise ValueError(f"unexpected entries in the state: {', '.join(sorted(items))}")
        if self.state and names == self._buffers():
            if len(self.state) != count:
                raise ValueError(f"the state holds {count} tensors; this optimizer has "
                                 f"{len(self.state)}")
            for index, (old, new) in enumerate(zip(self.state, buffers)):
                for key in names:
                    if old[key].shape != new[key].shape or old[key].dtype != new[key].dtype:
                        raise ValueError(f"state.{index}.{key} has shape {new[key].shape} and "
                                         f"dtype {new[key].dtype}; the parameter has shape "
                                         f"{old[key].shape} and dtype {old[key].dtype}")
        self.__dict__.update(values)
        self.t = step
        self._set_state(buffers)
        self._fresh = step == 0

    # subclasses
    def _validate(self, values):
        raise NotImplementedError

    def _buffers_for(self, values):
        raise NotImplementedError

    def _buffers(self):
        return self._buffers_for(self.hyperparameter_values())

    def _call(self, dtype, count, params, grads, buffers, sizes, lr):
        raise NotImplementedError


@register("sgd")
class SGD(FusedOptimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay.

    torch.optim.SGD semantics with dampening 0 (the velocity starts as the first gradient).

    >>> import numpy as np, fpkernels as fk
    >>> w = np.array([1.0, 2.0], np.float32)
    >>> fk.optimizers.get("sgd", lr=0.1).step(w, [1.0, -1.0]); w
    array([0.9, 2.1], dtype=float32)
    """

    name = "sgd"
    _hyper = ("lr", "momentum", "nesterov", "weight_decay")
    description = ("Stochastic gradient descent: step each weight against its gradient.\n"
                   "Momentum keeps a running sum of past gradients (a velocity) and steps along "
                   "it, which speeds travel along consistent directions and damps zig-zags; "
                   "Nesterov evaluates the step one velocity ahead.")
    formula = ("g = ∇L + λ·p;  b = μ·b + g (b₁ = g);  g = b  (Nesterov: g + μ·b);  p ← p − η·g")
    formulaic = staticmethod(_reference.sgd)
    hyperparameters = {"lr": "learning rate η: a number, or a schedule (a function of the step count that "
                     "returns the rate, e.g. fpkernels.schedules.Warmup)",
                       "momentum": "μ: how much of the previous velocity is kept (0 = none); "
                                   "switched on after some steps, the velocity starts from "
                                   "the next gradient",
                       "nesterov": "use Nesterov's look-ahead momentum (needs momentum > 0)",
                       "weight_decay": "λ: L2 penalty added to the gradient"}
    when_to_use = ("Large datasets and vision models, where SGD with momentum 0.9 often "
                   "generalises better than adaptive methods; a baseline for any comparison.")
    pitfalls = ("Very sensitive to the learning rate: too high diverges, too low crawls. "
                "Usually needs a decaying schedule (see fpkernels.schedules).")

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def _validate(self, v):
        out = {"lr": _learning_rate(v["lr"]), "momentum": _number("momentum", v["momentum"]),
               "nesterov": _bool("nesterov", v["nesterov"]),
               "weight_decay": _number("weight_decay", v["weight_decay"])}
        if out["nesterov"] and out["momentum"] == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        return out

    def _buffers_for(self, values):
        return ("momentum_buffer",) if values["momentum"] != 0 else ()

    def _call(self, dtype, count, params, grads, buffers, sizes, lr):
        config = _ffi.new("fpk_sgd_config *", {
            "lr": lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
            "nesterov": int(self.nesterov), "first_step": int(self._fresh)})
        momentum = buffers.get("momentum_buffer", _ffi.NULL)
        _check(getattr(_lib, f"fpk_sgd_step_many_{_SUFFIX[dtype]}")(
            count, params, grads, momentum, sizes, config), "sgd step")


_ADAM_HYPER = {"lr": "learning rate η: a number, or a schedule (a function of the step count that "
                     "returns the rate, e.g. fpkernels.schedules.Warmup)",
               "beta1": "β₁: how slowly the running mean m of the gradients forgets",
               "beta2": "β₂: how slowly the running mean v of the squared gradients forgets",
               "eps": "ε: added to the denominator so it is never 0",
               "weight_decay": "λ: pulls every weight toward 0 by adding λ·p to its gradient",
               "amsgrad": "AMSGrad: divide by the largest v seen so far instead of the "
                          "current v, so steps never grow back (switched on after some "
                          "steps: the largest v from then on)",
               "betas": "(β₁, β₂) as one pair, as torch writes it; overrides beta1 and beta2"}


class _AdamBase(FusedOptimizer):
    decoupled = False
    _hyper = ("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad")

    def __init__(self, lr, beta1, beta2, eps, weight_decay, amsgrad, betas):
        if betas is not None:
            beta1, beta2 = _betas(betas)
        super().__init__(lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    @property
    def betas(self):
        """(beta1, beta2), as torch names them; settable as a pair."""
        return (self.beta1, self.beta2)

    @betas.setter
    def betas(self, pair):
        beta1, beta2 = _betas(pair)
        self._change({"beta1": beta1, "beta2": beta2})

    def _validate(self, v):
        return {"lr": _learning_rate(v["lr"]),
                "beta1": _number("beta1", v["beta1"], below=1.0),
                "beta2": _number("beta2", v["beta2"], below=1.0),
                "eps": _number("eps", v["eps"], low_open=True),
                "weight_decay": _number("weight_decay", v["weight_decay"]),
                "amsgrad": _bool("amsgrad", v["amsgrad"])}

    def _buffers_for(self, values):
        return ("m", "v", "vmax") if values["amsgrad"] else ("m", "v")

    def _call(self, dtype, count, params, grads, buffers, sizes, lr):
        t = self.t + 1
        config = _ffi.new("fpk_adam_config *", {
            "lr": lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
            "weight_decay": self.weight_decay, "decoupled": int(self.decoupled),
            "amsgrad": int(self.amsgrad),
            "bias_correction1": 1.0 - self.beta1 ** t, "bias_correction2": 1.0 - self.beta2 ** t})
        _check(getattr(_lib, f"fpk_adam_step_many_{_SUFFIX[dtype]}")(
            count, params, grads, buffers["m"], buffers["v"], buffers.get("vmax", _ffi.NULL),
            sizes, config), f"{self.name} step")


@register("adam")
class Adam(_AdamBase):
    """Adam: per-weight step sizes from running means of the gradient and its square.

    torch.optim.Adam semantics: weight_decay is an L2 term added to the gradient. Hyper-
    parameters beta1, beta2 (the b1, b2 of the formula) or torch's betas=(b1, b2).

    >>> import numpy as np, fpkernels as fk
    >>> w = np.zeros(3, np.float32)
    >>> opt = fk.optimizers.get("adam", lr=0.1)
    >>> opt.step(w, [1.0, -2.0, 0.0])
    >>> w.round(6)                             # the first step moves each weight by about lr
    array([-0.1,  0.1,  0. ], dtype=float32)
    """

    name = "adam"
    description = ("Adam: a step size for each weight, from running means of its gradient and "
                   "of its square.\nAdam (adaptive moment estimation) keeps, for every weight, "
                   "a running mean m of its gradients and a running mean v of their squares; both "
                   "start at 0. Early on both are too small, so they are scaled up (m̂, v̂). Each "
                   "step moves the weight by η·m̂ / √v̂ (ε aside): about lr per step when the "
                   "gradients agree (then m̂ ≈ g and √v̂ ≈ |g|), smaller when they keep "
                   "changing sign (m̂ averages out towards 0). How large the gradient is hardly "
                   "matters, only how consistent it is.")
    formula = ("g ← g + λ·p\n"
               "m ← β₁·m + (1−β₁)·g\n"
               "v ← β₂·v + (1−β₂)·g²\n"
               "m̂ = m / (1−β₁ᵗ)\n"
               "v̂ = v / (1−β₂ᵗ)\n"
               "p ← p − η·m̂ / (√v̂ + ε)")
    formulaic = staticmethod(_reference.adam)
    hyperparameters = _ADAM_HYPER
    when_to_use = ("The default for most networks: fast progress with little tuning of the "
                   "learning rate (1e-3 is a good start).")
    pitfalls = ("Its weight_decay is added to the gradient, so it is divided by √v̂ like the "
                "gradient: weights with large gradients are barely shrunk. adamw instead shrinks "
                "every weight by the same fraction. Adam can do worse than SGD with momentum on "
                "new, unseen data (it generalises worse on some vision tasks). A warm-up "
                "(fpkernels.schedules.Warmup) helps with large learning rates.")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 amsgrad=False, betas=None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, amsgrad, betas)


@register("adamw")
class AdamW(_AdamBase):
    """AdamW: Adam with decoupled weight decay, p -= lr*weight_decay*p before the Adam step.

    torch.optim.AdamW semantics.
    """

    name = "adamw"
    decoupled = True
    description = ("AdamW: Adam whose weight decay shrinks each weight directly, not through the "
                   "gradient.\nThe decay shrinks every weight by the same fraction "
                   "(p ← p − η·λ·p) instead of adding λ·p to the gradient, so the decay is not "
                   "divided by √v̂ (this is called decoupled weight decay).")
    formula = ("p ← p − η·λ·p\n"
               "then Adam without λ:\n"
               "m ← β₁·m + (1−β₁)·g\n"
               "v ← β₂·v + (1−β₂)·g²\n"
               "m̂ = m / (1−β₁ᵗ)\n"
               "v̂ = v / (1−β₂ᵗ)\n"
               "p ← p − η·m̂ / (√v̂ + ε)")
    formulaic = staticmethod(_reference.adamw)
    hyperparameters = {**_ADAM_HYPER,
                       "weight_decay": "λ: shrinks every weight toward 0 by the fraction η·λ "
                                       "at each step"}
    when_to_use = "Adam with regularisation: the standard choice for transformers and large nets."
    pitfalls = ("weight_decay defaults to 0.01 and decays biases and normalisation weights too; "
                "the decay is scaled by lr, so changing lr changes the regularisation.")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
                 amsgrad=False, betas=None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, amsgrad, betas)


@register("rmsprop")
class RMSprop(FusedOptimizer):
    """RMSprop: divide each gradient by the root of a running mean of its squares.

    torch.optim.RMSprop semantics (no momentum, not centered).
    """

    name = "rmsprop"
    _hyper = ("lr", "alpha", "eps", "weight_decay")
    description = ("RMSprop: divides each gradient by the root of a running mean of its squares."
                   "\nIt keeps a running mean v of squared gradients for every weight and "
                   "steps by g / sqrt(v), so every weight moves at a similar pace whatever the "
                   "scale of its gradient.")
    formula = "v = αv + (1−α)g²;  p ← p − η·g/(√v + ε)"
    formulaic = staticmethod(_reference.rmsprop)
    hyperparameters = {"lr": "learning rate η: a number, or a schedule (a function of the step count that "
                     "returns the rate, e.g. fpkernels.schedules.Warmup)",
                       "alpha": "α: decay of the running mean of squared gradients",
                       "eps": "ε: added to the denominator so it is never 0",
                       "weight_decay": "λ: L2 penalty added to the gradient"}
    when_to_use = "Recurrent networks and non-stationary problems; Adam without the momentum."
    pitfalls = ("No bias correction: the first steps are large (v starts at 0), so keep lr "
                "small (1e-3 to 1e-2).")

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    def _validate(self, v):
        return {"lr": _learning_rate(v["lr"]), "alpha": _number("alpha", v["alpha"], below=1.0),
                "eps": _number("eps", v["eps"], low_open=True),
                "weight_decay": _number("weight_decay", v["weight_decay"])}

    def _buffers_for(self, values):
        return ("v",)

    def _call(self, dtype, count, params, grads, buffers, sizes, lr):
        config = _ffi.new("fpk_rmsprop_config *", {
            "lr": lr, "alpha": self.alpha, "eps": self.eps, "weight_decay": self.weight_decay})
        _check(getattr(_lib, f"fpk_rmsprop_step_many_{_SUFFIX[dtype]}")(
            count, params, grads, buffers["v"], sizes, config), "rmsprop step")
