"""Dense networks trained by backpropagation on the fpkernels kernels (paper sections 17, 18.3).

The training loop of the paper, step by step, and where each step lives here:

    forward pass        Dense.forward: z = a W^T + b (fk.matmul, transpose_b), a' = f(z)
    loss                loss.value(pred, target) and loss.gradient(pred, target)
    backward pass       Dense.backward: dz = f'(z) * grad (the activation's fused backward),
                        dW = dz^T a (fk.matmul, transpose_a), db = fk.sum(dz, axis=0), da = dz W
    update              optimizer.step(parameters, gradients), in place
    epochs, batches     Sequential.fit: shuffled mini-batches, a log line every `log_every`
                        epochs, stop when the epoch loss falls below `stop_below`

Activations, losses, initializers and optimizers are given by registry name ("swish") or as
objects (fk.activations.get("leaky_relu", alpha=0.1), or a plugin's own object).

>>> import numpy as np, fpkernels as fk
>>> net = fk.nn.Sequential([fk.nn.Dense(2, 8, "tanh", rng=0), fk.nn.Dense(8, 1, "sigmoid", rng=1)])
>>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
>>> history = net.fit(X, [0, 1, 1, 0], loss="mse", optimizer=fk.optimizers.get("adam", lr=0.05),
...                   epochs=300, batch_size=4, verbose=0)
>>> (net.predict(X)[:, 0] > 0.5).astype(int).tolist()
[0, 1, 1, 0]
"""
import functools
import inspect
import json
import math
import sys
import threading
import time

import numpy as np

import fpkernels as fk  # the package is still importing: its attributes are read at call time

from . import activations, initializers, losses, optimizers
from ._core import as_array, flag, integer, real_number

__all__ = ["Dense", "Sequential", "History", "StopTraining"]

FORMAT = "fpkernels.nn/1"
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class StopTraining(Exception):
    """Raise it from a callback to end `fit` after the current epoch."""


# ---------------------------------------------------------------------------------------------
# Building blocks by name or object
# ---------------------------------------------------------------------------------------------

def _resolve(spec, registry, what):
    """A building block from a registry name, or the object itself."""
    if isinstance(spec, str):
        return registry.get(spec)
    if spec is None:
        raise TypeError(f"{what} must be a registry name or an object, not None")
    return spec


def _describe(obj, registry, strict=True):
    """(registry name, hyper-parameters) of an object, so it can be rebuilt by name on load.

    The name is the registry entry whose factory made the object; the hyper-parameters are
    the object's attributes named after the factory's keyword arguments.
    """
    registry = getattr(registry, "registry", registry)   # a family module or its Registry
    guesses = [getattr(obj, "name", None), type(obj).__name__.lower()]
    for name in [g for g in guesses if isinstance(g, str)] + registry.names():
        try:
            entry = registry.entry(name)
        except Exception:  # noqa: BLE001 - unknown names, plugins that fail to load
            continue
        if type(obj) is not entry.factory:
            continue
        hyper = {}
        keys = entry.defaults()
        if callable(getattr(obj, "hyperparameter_values", None)):
            keys = obj.hyperparameter_values()      # the object's own list (optimizers)
        for key in keys:
            if not hasattr(obj, key):
                if strict:
                    raise ValueError(
                        f"cannot save {type(obj).__name__} as {registry.kind} {name!r}: its "
                        f"hyper-parameter {key!r} is not readable as an attribute")
                continue
            value = getattr(obj, key)
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, tuple):
                value = list(value)
            try:
                json.dumps(value)
            except TypeError:
                if strict:
                    raise ValueError(f"cannot save {registry.kind} {name!r}: hyper-parameter "
                                     f"{key}={value!r} is not a plain value") from None
                continue
            hyper[key] = value
        return {"name": name, "hyperparameters": hyper}
    raise ValueError(
        f"cannot save a {type(obj).__name__} object: it is not in the {registry.kind} registry. "
        f"Register it (fk.{registry.kind}.register(name, {type(obj).__name__})) or ship it as a "
        f"plugin, so that load() can rebuild it by name")


def _label(obj, registry):
    """A short display name: 'swish', 'leaky_relu(alpha=0.1)' or the class name."""
    if obj is None:
        return "linear"
    try:
        spec = _describe(obj, registry)
    except ValueError:
        return type(obj).__name__
    defaults = getattr(registry, "registry", registry).entry(spec["name"]).defaults()
    changed = {k: v for k, v in spec["hyperparameters"].items() if defaults.get(k) != v}
    args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
    return f"{spec['name']}({args})" if args else spec["name"]


def _names(value, name):
    """A tuple from a list or tuple argument (None: empty, a string: one name)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple, not {type(value).__name__}")
    return tuple(value)


def _check_metrics(metrics):
    metrics = _names(metrics, "metrics")
    unknown = [m for m in metrics if m != "accuracy"]
    if unknown:
        raise ValueError(f"metrics: unknown {unknown}; the one metric is 'accuracy'")
    return metrics


def _accepts_out(method):
    try:
        return "out" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Dense layer
# ---------------------------------------------------------------------------------------------

class Dense:
    """A fully connected layer: z = a W^T + b, then a' = activation(z).

    Weights have shape (out_features, in_features) and bias (out_features,); a batch is one
    row per sample. `activation` is None (linear), a registry name or an activation object;
    `weight_init` and `bias_init` are initializer names or callables called as
    init(shape, rng=..., dtype=...); `rng` is a seed or numpy Generator (None: fresh entropy).

    forward caches a copy of its input and its pre-activation for backward, so a layer
    appears once in a network (Sequential refuses a layer listed twice). It may be shared by
    several networks (tied weights): their calls take turns on it, and backward refuses to
    use a forward that ran in another network than its own, or outside any. Calls from
    several threads take turns too, but a forward and the backward after it are two calls:
    a hand-written training loop needs a layer of its own per thread.

    >>> import fpkernels as fk
    >>> layer = fk.nn.Dense(3, 2, activation="relu", rng=0)
    >>> layer.weight.shape, layer.bias.shape, layer.forward([[1.0, 2.0, 3.0]]).shape
    ((2, 3), (2,), (1, 2))
    """

    def __init__(self, in_features, out_features, activation=None, weight_init="xavier_uniform",
                 bias_init="zeros", dtype=np.float32, rng=None):
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Dense {label} must be a positive int, not {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.dtype = np.dtype(dtype)
        if self.dtype not in _FLOATS:
            raise TypeError(f"Dense dtype must be float32 or float64, not {self.dtype}")
        self.name = "Dense"
        self.activation = None if activation is None else _resolve(activation, activations,
                                                                   "activation")
        if self.activation is not None and not (hasattr(self.activation, "forward")
                                                and hasattr(self.activation, "backward")):
            raise TypeError(f"activation {self.activation!r} has no forward/backward methods")
        self._forward_out = self.activation is not None and _accepts_out(self.activation.forward)
        self._backward_out = self.activation is not None and _accepts_out(self.activation.backward)

        generator = np.random.default_rng(rng)
        self.weight = self._initial("weight_init", weight_init,
                                    (self.out_features, self.in_features), generator)
        self.bias = self._initial("bias_init", bias_init, (self.out_features,), generator)
        self.weight_grad = np.zeros_like(self.weight)
        self.bias_grad = np.zeros_like(self.bias)
        self._buffers = {}                    # (what, batch rows) -> preallocated array
        self._input = self._z = None          # what backward needs, cached by forward
        self._caller = None                   # whose forward that was (a network's token)
        self._lock = threading.RLock()        # networks sharing the layer take turns

    def __getstate__(self):          # a lock cannot be pickled or copied: a copy gets its own
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _initial(self, label, init, shape, generator):
        init = _resolve(init, initializers, label)
        values = np.ascontiguousarray(init(shape, rng=generator, dtype=self.dtype), self.dtype)
        if values.shape != shape:
            raise ValueError(f"{self.name}: {label} returned shape {values.shape}, "
                             f"expected {shape}")
        return values

    def __repr__(self):
        return (f"Dense({self.in_features}, {self.out_features}, "
                f"activation={_label(self.activation, activations)!r})")

    def parameters(self):
        """[weight, bias]: the arrays an optimizer updates in place."""
        return [self.weight, self.bias]

    def gradients(self):
        """[weight_grad, bias_grad], filled in place by backward (same order as parameters)."""
        return [self.weight_grad, self.bias_grad]

    def _buffer(self, what, rows, columns):
        """A reusable (rows, columns) array, so training allocates nothing per batch."""
        key = (what, rows)
        array = self._buffers.get(key)
        if array is None:
            if len(self._buffers) >= 12:      # a few batch sizes at most (train, last, predict)
                self._buffers.pop(next(iter(self._buffers)))
            array = self._buffers[key] = np.empty((rows, columns), self.dtype)
        return array

    def _check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self.name} expects input of shape (batch, {self.in_features}), "
                             f"got shape {x.shape}")

    def _forward(self, x, caller=None):
        """Forward pass into the layer's buffers (x: C-contiguous, the layer's dtype), for
        `caller` (a network's token; None: the layer's own forward)."""
        rows = x.shape[0]
        z = self._buffer("z", rows, self.out_features)
        fk.matmul(x, self.weight, transpose_b=True, out=z)          # z = a W^T
        fk.add(z, self.bias, out=z)                                 #     + b
        self._input, self._z, self._caller = x, z, caller
        if self.activation is None:
            return z
        if self._forward_out:                                       # a' = f(z)
            a = self._buffer("a", rows, self.out_features)
            return self._checked(self.activation.forward(z, out=a), "forward")
        return self._checked(self.activation.forward(z), "forward")

    def _checked(self, result, method):
        """What the activation's `method` returned, as the layer's dtype; a ValueError naming the
        layer if it has the wrong shape (a plugin's activation may be wrong)."""
        result = np.asarray(result)
        if result.shape != self._z.shape:
            raise ValueError(f"{self.name}: activation {type(self.activation).__name__}.{method} "
                             f"returned shape {result.shape}, the layer needs {self._z.shape}")
        return np.ascontiguousarray(result, self.dtype)

    def _foreign_forward(self, caller):
        """Why backward for `caller` may not use this layer's last forward."""
        if caller is None:
            return ("its last forward ran inside a network: call that network's backward, or "
                    "the layer's own forward first")
        return ("its last forward ran outside this network (the layer is shared, or was "
                "called on its own): run this network's forward again before backward")

    def _backward(self, grad_out, input_grad=True, caller=None):
        """Fill weight_grad and bias_grad from dLoss/da'; return dLoss/da (or None)."""
        if self._z is None:
            raise RuntimeError(f"{self.name}: backward needs the forward of its batch just "
                               "before it (none yet, or predict/evaluate/fit ran since)")
        if self._caller is not caller:
            raise RuntimeError(f"{self.name}: {self._foreign_forward(caller)}")
        if grad_out.shape != self._z.shape:
            raise ValueError(f"{self.name}: the gradient has shape {grad_out.shape}, "
                             f"the layer's output has shape {self._z.shape}")
        rows = grad_out.shape[0]
        if self.activation is None:
            dz = grad_out
        elif self._backward_out:                                   # dz = f'(z) * grad
            dz = self._checked(self.activation.backward(
                self._z, grad_out, out=self._buffer("dz", rows, self.out_features)), "backward")
        else:
            dz = self._checked(self.activation.backward(self._z, grad_out), "backward")
        fk.matmul(dz, self._input, transpose_a=True, out=self.weight_grad)   # dW = dz^T a
        self.bias_grad[...] = fk.sum(dz, axis=0)                            # db = sum of dz
        if not input_grad:
            return None
        return fk.matmul(dz, self.weight, out=self._buffer("dx", rows, self.in_features))

    def forward(self, x):
        """The layer's output for a batch x of shape (batch, in_features), as a new array.

        x is copied (backward needs it as it was, even if the caller then changes x)."""
        x = _as_input(x, self.dtype, private=True)
        self._check_input(x)
        with self._lock:
            return self._forward(x).copy()

    def backward(self, grad_out):
        """Gradients from dLoss/d(output) of the last forward; returns dLoss/d(input)."""
        grad_out = np.ascontiguousarray(as_array(grad_out, "grad_out"), self.dtype)
        with self._lock:
            return self._backward(grad_out).copy()

    def config(self):
        """The architecture of this layer as plain JSON-able values."""
        act = None if self.activation is None else _describe(self.activation, activations)
        return {"type": "Dense", "in_features": self.in_features,
                "out_features": self.out_features, "activation": act, "dtype": self.dtype.name}


def _as_input(x, dtype, private=False):
    """x as a C-contiguous array of dtype; private=True always copies it (forward caches its
    input for backward, which must not see later changes the caller makes to x)."""
    x = as_array(x, "x")
    return np.array(x, dtype, order="C") if private else np.ascontiguousarray(x, dtype)


# ---------------------------------------------------------------------------------------------
# History and progress
# ---------------------------------------------------------------------------------------------

class History(dict):
    """What fit recorded, one value per epoch: history["loss"], ["val_loss"], ["seconds"], ...

    A dict of lists (keys: epoch, loss, accuracy, val_loss, val_accuracy, seconds), plus
    `stopped` (why training ended early, or None), `plot()` and `text_plot()`.
    """

    def __init__(self):
        super().__init__()
        self.stopped = None

    def append(self, logs):
        for key, value in logs.items():
            self.setdefault(key, []).append(value)

    def plot(self, path=None, ax=None, keys=("loss", "val_loss")):
        """Plot the loss curves with matplotlib into `ax` (or a new figure); save a PNG to
        `path` if given (then no pyplot window is involved). Returns the axes."""
        if ax is None and path is not None:
            from matplotlib.figure import Figure
            ax = Figure(figsize=(6, 4), dpi=100).subplots()
        elif ax is None:
            import matplotlib.pyplot as plt
            ax = plt.subplots(figsize=(6, 4), dpi=100)[1]
        for key in keys:
            if self.get(key):
                ax.plot(self["epoch"], self[key], marker=".", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_yscale("log" if min(self.get("loss") or [1]) > 0 else "linear")
        ax.grid(True, alpha=0.3)
        ax.legend()
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path)
        return ax

    def text_plot(self, key="loss", width=60, height=12, log=None):
        """The curve of `key` drawn with characters, for terminals without matplotlib.

        log: a logarithmic vertical axis (default: when every value is positive)."""
        values = [v for v in self.get(key, []) if math.isfinite(v)]
        if not values:
            return f"(no finite {key} values to draw)"
        if log is None:
            log = min(values) > 0
        heights = [math.log10(v) for v in values] if log else values
        low, high = min(heights), max(heights)
        span = (high - low) or 1.0
        columns = min(width, len(values))
        picks = [heights[round(i * (len(values) - 1) / max(columns - 1, 1))]
                 for i in range(columns)]
        rows = [[" "] * columns for _ in range(height)]
        for column, value in enumerate(picks):
            rows[height - 1 - round((value - low) / span * (height - 1))][column] = "*"
        lines = [f"{max(values):10.4g} |" + "".join(rows[0])]
        lines += ["           |" + "".join(row) for row in rows[1:-1]]
        lines += [f"{min(values):10.4g} |" + "".join(rows[-1]),
                  "           +" + "-" * columns,
                  f"            epoch 1 .. {len(values)}  ({key}{', log scale' if log else ''})"]
        return "\n".join(lines)


class _PlainBar:
    """A one-line text progress bar (used when tqdm is not installed)."""

    def __init__(self, total, stream):
        self.total, self.stream, self.done, self.text = total, stream, 0, ""

    def update(self, n=1):
        self.done += n
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done}/{self.total} {self.text}")
        self.stream.flush()

    def set_postfix_str(self, text):
        self.text = text

    def write(self, line):
        self.stream.write("\r" + " " * 79 + "\r")
        print(line, flush=True)

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text):
        pass

    def write(self, line):
        print(line, flush=True)

    def close(self):
        pass


def _progress(total, verbose, stream=None):
    """tqdm over epochs when installed and the terminal is interactive, else a plain bar."""
    stream = sys.stderr if stream is None else stream
    if verbose != 1 or not getattr(stream, "isatty", lambda: False)():
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainBar(total, stream)
    return tqdm(total=total, unit="epoch", file=stream, leave=False, dynamic_ncols=True)


def _format_logs(epoch, last_epoch, logs):
    parts = [f"epoch {epoch:>{len(str(last_epoch))}}/{last_epoch}", f"loss {logs['loss']:.6f}"]
    for key in ("accuracy", "val_loss", "val_accuracy"):
        if key in logs:
            parts.append(f"{key} {logs[key]:.4f}")
    parts.append(f"{logs['seconds']:.2f} s this epoch")
    return "  ".join(parts)


def _correct(pred, target, threshold=0.5):
    """How many predictions are right: one output above/below the threshold (0.5 for 0/1
    targets, 0 for -1/+1 targets as hinge uses), else the argmax of several."""
    if pred.shape[1] == 1:
        return int(np.count_nonzero((pred[:, 0] > threshold) == (target[:, 0] > threshold)))
    labels = target if target.ndim == 1 else np.argmax(target, axis=1)
    return int(np.count_nonzero(np.argmax(pred, axis=1) == labels))


def _value_and_gradient(loss, pred, target):
    """The loss's value (a float) and gradient, in one call where the loss has
    value_and_gradient (the built-ins do it in one pass; a plugin's loss may have only value
    and gradient)."""
    both = getattr(loss, "value_and_gradient", None)
    value, gradient = (both(pred, target) if both is not None
                       else (loss.value(pred, target), loss.gradient(pred, target)))
    return float(value), gradient


def _threshold(target):
    """0 for -1/+1 targets (any negative value), else 0.5."""
    return 0.0 if target.dtype.kind == "f" and target.size and target.min() < 0 else 0.5


# ---------------------------------------------------------------------------------------------
# Sequential network
# ---------------------------------------------------------------------------------------------

def _acquire_all(locks):
    """Take every lock of `locks`, all at once or none: a thread never waits while holding
    some of them, so calls that nest (a fit callback that uses another network sharing a
    layer, while a third thread uses that network) cannot deadlock. The locks are RLocks:
    a thread's own outer call never blocks it."""
    while True:
        taken = []
        for lock in locks:
            if not lock.acquire(blocking=False):
                break
            taken.append(lock)
        else:
            return
        for held in reversed(taken):
            held.release()
        if lock.acquire(timeout=0.01):        # wait for the busy one, a little at a time
            lock.release()


def _serialised(method):
    """`method` run holding the network's lock and its layers' (shared layers: those of other
    networks too): layers cache per-call state (inputs, buffers), so calls from several
    threads take turns (each kernel still uses all cores through OpenMP)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        locks = [self._lock] + [layer._lock for layer in self.layers]
        _acquire_all(locks)
        try:
            return method(self, *args, **kwargs)
        finally:
            for lock in reversed(locks):
                lock.release()
    return locked


class Sequential:
    """Layers applied one after the other, trained by backpropagation with `fit`.

    Each layer appears once: a layer listed twice raises ValueError (layers cache per-call
    state, so unlike PyTorch's shared modules a repeated layer would get wrong gradients).
    forward, backward, predict, evaluate, fit and save may be called from several threads
    on one network: they take turns (a per-network lock, and one per layer for layers shared
    with other networks; backward refuses a forward that ran in another network). A forward
    and the backward that follows are two calls, so a hand-written training loop needs a
    network of its own per thread (another thread's forward in between would replace what
    backward uses).

    >>> import fpkernels as fk
    >>> net = fk.nn.Sequential([fk.nn.Dense(4, 3, "swish", rng=0), fk.nn.Dense(3, 1, rng=1)])
    >>> net.predict([[1.0, 2.0, 3.0, 4.0]]).shape
    (1, 1)
    """

    def __init__(self, layers):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        seen = {}                             # id(layer) -> its first index
        for index, layer in enumerate(self.layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layer {index} is a {type(layer).__name__}; Sequential takes "
                                "fk.nn.Dense layers")
            first = seen.setdefault(id(layer), index)
            if first != index:
                raise ValueError(f"layer {index} is layer {first} again ({layer!r}): a layer "
                                 "caches its input for backward, so each one appears once")
            layer.name = f"layer {index} (Dense {layer.in_features} -> {layer.out_features})"
        for index, (before, after) in enumerate(zip(self.layers, self.layers[1:])):
            if before.out_features != after.in_features:
                raise ValueError(f"{after.name} expects input of shape (batch, "
                                 f"{after.in_features}), but layer {index} outputs shape "
                                 f"(batch, {before.out_features})")
        dtypes = {layer.dtype for layer in self.layers}
        if len(dtypes) != 1:
            raise TypeError(f"all layers must have one dtype, got {sorted(d.name for d in dtypes)}")
        self.dtype = self.layers[0].dtype
        self.loss = None
        self.optimizer = None
        self.epochs_trained = 0
        self.stop_training = False
        self._lock = threading.RLock()
        self._token = object()                # marks the layers' caches as this network's

    __getstate__, __setstate__ = Dense.__getstate__, Dense.__setstate__

    @property
    def in_features(self):
        return self.layers[0].in_features

    @property
    def out_features(self):
        return self.layers[-1].out_features

    def __repr__(self):
        return "Sequential([" + ", ".join(repr(layer) for layer in self.layers) + "])"

    # -- parameters ---------------------------------------------------------------------------

    def parameters(self):
        """Every weight and bias array, layer by layer: [W0, b0, W1, b1, ...]."""
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self):
        """The gradient arrays, in the order of parameters(); backward fills them in place."""
        return [g for layer in self.layers for g in layer.gradients()]

    def num_parameters(self):
        return sum(p.size for p in self.parameters())

    # -- forward and backward -----------------------------------------------------------------

    def _input(self, x, private=False):
        x = _as_input(x, self.dtype, private)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self.layers[0].name} expects input of shape "
                             f"(batch, {self.in_features}), got shape {x.shape}")
        return x

    def _forward(self, x):
        for layer in self.layers:
            x = layer._forward(x, self._token)
        return x

    def _backward(self, grad, input_grad=True):
        expected = (self.layers[-1]._z.shape if self.layers[-1]._z is not None else None)
        if expected is not None and grad.shape != expected:
            raise ValueError(f"the loss gradient has shape {grad.shape}, the network's output "
                             f"has shape {expected}")
        for layer in self.layers:     # before any gradient changes: all from our forward
            if layer._z is not None and layer._caller is not self._token:
                raise RuntimeError(f"{layer.name}: {layer._foreign_forward(self._token)}")
        for index in range(len(self.layers) - 1, -1, -1):
            grad = self.layers[index]._backward(grad, input_grad or index > 0, self._token)
        return grad

    @_serialised
    def forward(self, x):
        """The output for a batch x (batch, in_features), caching what backward needs (a copy
        of x, so later changes to x do not reach backward)."""
        return self._forward(self._input(x, private=True)).copy()

    @_serialised
    def backward(self, loss_grad, input_grad=True):
        """Backpropagate dLoss/d(output) of the last forward: fills gradients() in place and
        returns dLoss/d(input) (None with input_grad=False, which skips that product)."""
        grad = np.ascontiguousarray(as_array(loss_grad, "loss_grad"), self.dtype)
        result = self._backward(grad, input_grad=input_grad)
        return None if result is None else result.copy()

    @_serialised
    def predict(self, x, batch_size=None):
        """The network's outputs for x, as a new array (in chunks of batch_size rows if given:
        an int >= 1)."""
        if batch_size is not None:
            batch_size = integer("batch_size", batch_size, 1)
        x = self._input(x)
        if batch_size is None or batch_size >= len(x):
            out = self._forward(x).copy()
        else:
            out = np.empty((len(x), self.out_features), self.dtype)
            for start in range(0, len(x), batch_size):
                out[start:start + batch_size] = self._forward(x[start:start + batch_size])
        for layer in self.layers:        # forget the cached batch (it may be large)
            layer._input = layer._z = None
        return out

    def _target(self, y, rows):
        y = as_array(y, "y")
        if y.ndim == 0 or len(y) != rows:
            raise ValueError(f"X has {rows} rows but y has shape {y.shape}")
        if y.ndim == 1 and self.out_features == 1:
            y = y.reshape(-1, 1)
        if y.ndim == 1 and (y.dtype.kind in "iub" or np.array_equal(y, np.round(y))):
            labels = np.ascontiguousarray(y, np.int64)          # class labels 0..k-1
            if labels.size and not 0 <= labels.min() <= labels.max() < self.out_features:
                raise ValueError(f"y holds class labels from {labels.min()} to {labels.max()}, "
                                 f"the network has {self.out_features} outputs (labels 0.."
                                 f"{self.out_features - 1})")
            return labels
        y = np.ascontiguousarray(y, self.dtype)
        if y.shape[1:] != (self.out_features,):
            raise ValueError(f"y has shape {y.shape}, the network outputs shape "
                             f"(batch, {self.out_features})")
        return y

    @_serialised
    def evaluate(self, X, y, loss=None, metrics=("accuracy",), batch_size=None):
        """{"loss": ..., "accuracy": ...} of the network on (X, y)."""
        loss = self.loss if loss is None else _resolve(loss, losses, "loss")
        metrics = _check_metrics(metrics)
        pred = self.predict(X, batch_size=batch_size)
        target = self._target(y, len(pred))
        if len(pred) == 0:
            raise ValueError(f"evaluate needs at least one row, X has shape {pred.shape[:1]}")
        result = {}
        if loss is not None:
            result["loss"] = float(loss.value(pred, target))
        if "accuracy" in metrics:
            result["accuracy"] = _correct(pred, target, _threshold(target)) / len(pred)
        return result

    # -- training -----------------------------------------------------------------------------

    def _fit_data(self, X, y, validation_split, validation_data):
        """(X, y, X_val, y_val) for fit, checked (X_val, y_val are None without validation)."""
        X = self._input(X)
        y = self._target(y, len(X))
        if len(X) == 0:
            raise ValueError(f"fit needs at least one training row, X has shape {X.shape}")
        validation_split = real_number("validation_split", validation_split)
        if validation_data is not None:
            if validation_split:
                raise ValueError("give validation_split or validation_data, not both")
            if not isinstance(validation_data, (tuple, list)):
                raise TypeError("validation_data must be a pair (X_val, y_val), not "
                                f"{type(validation_data).__name__}")
            if len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (X_val, y_val), it has "
                                 f"{len(validation_data)} items")
            X_val = self._input(validation_data[0])
            if len(X_val) == 0:
                raise ValueError(f"validation_data needs at least one row, X_val has shape "
                                 f"{X_val.shape}")
            return X, y, X_val, self._target(validation_data[1], len(X_val))
        if not validation_split:
            return X, y, None, None
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), not {validation_split}")
        keep = len(X) - int(round(len(X) * validation_split))
        if keep < 1 or keep == len(X):
            raise ValueError(f"validation_split={validation_split} of {len(X)} rows leaves "
                             "no training or no validation rows")
        return X[:keep], y[:keep], X[keep:], y[keep:]

    @_serialised
    def fit(self, X, y, loss=None, optimizer=None, epochs=1, batch_size=32, shuffle=True, seed=0,
            log_every=10, stop_below=None, validation_split=0.0, validation_data=None,
            metrics=("accuracy",), callbacks=(), verbose=1):
        """Train on (X, y) with mini-batch backpropagation; returns a History.

        Every argument is checked before the first step (TypeError or ValueError naming it),
        so a bad one leaves the weights, loss and optimizer as they were.

        loss, optimizer: registry names or objects. optimizer=None keeps the network's current
            optimizer (and its state: after `load`, training resumes where it stopped), else
            Adam with its defaults.
        epochs, batch_size, shuffle: passes over the data (an int >= 0: 0 trains nothing and
            returns an empty History); rows per step (an int >= 1); reshuffle each epoch.
            The order of epoch k depends only on (seed, k), so the same seed gives the same
            weights, whatever the thread count, and 2 + 2 epochs equal 4 epochs; seed is an
            int >= 0, or None to draw a fresh one.
        log_every: print a log line every log_every epochs (and at the last); 0 for none.
        stop_below: stop once the epoch's training loss is below this number.
        validation_split: the last fraction of the rows (before shuffling) is held out and
            scored each epoch; or validation_data=(X_val, y_val) (not both).
        metrics: ("accuracy",) adds accuracy: one output thresholded at 0.5 (0/1 targets; at 0
            for -1/+1 targets), or the argmax of several (integer labels or one-hot); () for none.
        callbacks: a list of functions f(epoch, logs) or objects with on_epoch_end(epoch, logs),
            called after every epoch; returning True, raising StopTraining or setting
            network.stop_training = True ends training. They run while fit holds the network:
            they may use it and other networks, but must not wait for another thread that does.
        verbose: 0 silent, 1 progress bar (tqdm when installed, on a terminal) and log lines,
            2 a log line every epoch.
        """
        X, y, X_val, y_val = self._fit_data(X, y, validation_split, validation_data)
        epochs = integer("epochs", epochs, 0)
        shuffle = flag("shuffle", shuffle)
        batch_size = integer("batch_size", batch_size, 1)
        seed = None if seed is None else integer("seed", seed, 0)
        log_every = integer("log_every", log_every, 0)
        if stop_below is not None:
            stop_below = real_number("stop_below", stop_below)
        metrics = _check_metrics(metrics)
        hooks = [getattr(c, "on_epoch_end", c) for c in _names(callbacks, "callbacks")]
        for hook in hooks:
            if not callable(hook):
                raise TypeError(f"callbacks: {hook!r} is not a function f(epoch, logs) and "
                                "has no on_epoch_end method")
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, not {verbose!r}")
        loss = self.loss if loss is None else _resolve(loss, losses, "loss")
        if loss is None:
            raise ValueError("fit needs a loss (a name such as 'mse', or a loss object)")
        if not all(callable(getattr(loss, method, None)) for method in ("value", "gradient")):
            raise TypeError(f"loss {loss!r} has no value and gradient methods")
        if getattr(loss, "reduction", "mean") == "none":
            raise ValueError("fit needs a loss that reduces to one number ('mean' or 'sum')")
        if optimizer is not None:
            optimizer = _resolve(optimizer, optimizers, "optimizer")
        elif self.optimizer is not None:
            optimizer = self.optimizer
        else:
            optimizer = optimizers.get("adam")
        if not callable(getattr(optimizer, "step", None)):
            raise TypeError(f"optimizer {optimizer!r} has no step method")
        self.loss, self.optimizer = loss, optimizer
        step = optimizer.step
        by_mean = getattr(loss, "reduction", "mean") == "mean"
        accuracy = "accuracy" in metrics
        threshold = _threshold(y)
        params, grads = self.parameters(), self.gradients()
        rows = len(X)
        batch_size = int(min(batch_size, rows))
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        x_batch = np.empty((batch_size, X.shape[1]), self.dtype)
        history = History()
        first, last = self.epochs_trained + 1, self.epochs_trained + epochs
        bar = _progress(epochs, verbose)
        self.stop_training = False
        try:
            for epoch in range(first, last + 1):
                started = time.perf_counter()
                order = (np.random.default_rng([seed, epoch]).permutation(rows) if shuffle
                         else np.arange(rows))
                total, correct = 0.0, 0
                for start in range(0, rows, batch_size):
                    index = order[start:start + batch_size]
                    xb = np.take(X, index, axis=0, out=x_batch[:len(index)], mode="clip")
                    yb = y[index]
                    pred = self._forward(xb)                          # forward pass
                    value, loss_grad = _value_and_gradient(loss, pred, yb)   # loss
                    total += value * len(index) if by_mean else value
                    self._backward(np.ascontiguousarray(loss_grad, self.dtype),
                                   input_grad=False)                  # backward pass
                    step(params, grads)                               # update
                    if accuracy:
                        correct += _correct(pred, yb, threshold)
                self.epochs_trained = epoch
                logs = {"epoch": epoch, "loss": total / rows}
                if accuracy:
                    logs["accuracy"] = correct / rows
                if X_val is not None:
                    logs.update({"val_" + k: v for k, v in
                                 self.evaluate(X_val, y_val, loss, metrics).items()})
                logs["seconds"] = time.perf_counter() - started
                history.append(logs)
                reason = None
                for hook in hooks:
                    try:
                        if hook(epoch, logs) is True:
                            self.stop_training = True
                    except StopTraining:
                        self.stop_training = True
                if self.stop_training:
                    reason = f"stopped by a callback after epoch {epoch}"
                if stop_below is not None and logs["loss"] < stop_below:
                    reason = f"loss {logs['loss']:.6g} < stop_below {stop_below:g} at epoch {epoch}"
                bar.set_postfix_str(f"loss {logs['loss']:.5f}")
                bar.update(1)
                if verbose and (verbose == 2 or epoch == last or reason
                                or (log_every and epoch % log_every == 0)):
                    bar.write(_format_logs(epoch, last, logs))
                if reason:
                    history.stopped = reason
                    if verbose:
                        bar.write(f"stopping: {reason}")
                    break
        finally:
            bar.close()
        return history

    # -- description, saving, loading ---------------------------------------------------------

    def summary(self):
        """A text table of the layers: shapes, parameter counts, activations."""
        header = ("#", "layer", "input -> output", "parameters", "activation")
        rows = [(str(i), "Dense", f"(batch, {l.in_features}) -> (batch, {l.out_features})",
                 f"{l.weight.size + l.bias.size:,}", _label(l.activation, activations))
                for i, l in enumerate(self.layers)]
        widths = [max(len(r[c]) for r in [header] + rows) for c in range(len(header))]
        right = {0, 3}

        def line(r):
            return "  ".join(r[c].rjust(widths[c]) if c in right else r[c].ljust(widths[c])
                             for c in range(len(r))).rstrip()
        rule = "-" * len(line(header))
        return "\n".join([line(header), rule] + [line(r) for r in rows] + [
            rule, f"{self.num_parameters():,} parameters ({self.dtype.name})"])

    def config(self):
        """The architecture, loss and optimizer as plain JSON-able values."""
        return {
            "format": FORMAT,
            "layers": [layer.config() for layer in self.layers],
            "loss": None if self.loss is None else _describe(self.loss, losses),
            "optimizer": (None if self.optimizer is None
                          else _describe(self.optimizer, optimizers, strict=False)),
            "epochs_trained": self.epochs_trained,
        }

    @_serialised
    def save(self, path):
        """Save architecture (JSON text), weights and optimizer state to a NumPy .npz file.

        Nothing is pickled: load() rebuilds activations, loss and optimizer by registry name.
        """
        arrays = {}
        config = self.config()
        for i, layer in enumerate(self.layers):
            arrays[f"layer{i}/weight"] = layer.weight
            arrays[f"layer{i}/bias"] = layer.bias
        if self.optimizer is not None:
            config["optimizer_state"] = _pack(self.optimizer.state_dict(), arrays, "optimizer")
        arrays["config"] = np.array(json.dumps(config))
        with open(path, "wb") as file:
            np.savez(file, **arrays)

    @classmethod
    def load(cls, path):
        """A network saved by save(): same weights, loss and optimizer state.

        ValueError if the file's arrays do not fit its config (a weight of another shape, a
        layer's weights missing or left over)."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        if "config" not in arrays:
            raise ValueError(f"{path} is not an fpkernels.nn file (it has no 'config' entry)")
        config = json.loads(str(arrays.pop("config")))
        if config.get("format") != FORMAT:
            raise ValueError(f"{path} is not an fpkernels.nn file "
                             f"(format {config.get('format')!r})")
        try:
            return cls._from_config(config, arrays, path)
        except (KeyError, TypeError, AttributeError) as error:   # an entry missing or mistyped
            raise ValueError(f"{path}: its config is damaged ({type(error).__name__}: "
                             f"{error})") from error

    @classmethod
    def _from_config(cls, config, arrays, path):
        layers = []
        for i, spec in enumerate(config["layers"]):
            act = spec["activation"]
            activation = (None if act is None
                          else activations.get(act["name"], **act["hyperparameters"]))
            layer = Dense(spec["in_features"], spec["out_features"], activation,
                          weight_init="zeros", bias_init="zeros", dtype=spec["dtype"])
            layer.weight[...] = _saved(arrays, f"layer{i}/weight", layer.weight.shape, path)
            layer.bias[...] = _saved(arrays, f"layer{i}/bias", layer.bias.shape, path)
            layers.append(layer)
        extra = sorted(key for key in arrays if key.startswith("layer"))
        if extra:
            raise ValueError(f"{path}: its config lists {len(layers)} layers, but it also "
                             f"holds {extra}")
        network = cls(layers)
        if config["loss"] is not None:
            network.loss = losses.get(config["loss"]["name"], **config["loss"]["hyperparameters"])
        if config["optimizer"] is not None:
            spec = config["optimizer"]
            network.optimizer = optimizers.get(spec["name"], **spec["hyperparameters"])
            if "optimizer_state" in config:
                network.optimizer.load_state_dict(_unpack(config["optimizer_state"], arrays))
        network.epochs_trained = config.get("epochs_trained", 0)
        return network


def _saved(arrays, key, shape, path):
    """arrays[key], taken out of arrays; ValueError if it is missing or not of `shape`."""
    if key not in arrays:
        raise ValueError(f"{path}: the config lists {key}, but the file has no such array")
    array = arrays.pop(key)
    if array.shape != shape:
        raise ValueError(f"{path}: saved {key} has shape {array.shape}, its layer expects "
                         f"{shape}")
    return array


# ---------------------------------------------------------------------------------------------
# Nested state (optimizer state_dict) <-> JSON skeleton + named arrays, without pickle
# ---------------------------------------------------------------------------------------------

def _pack(value, arrays, key):
    """JSON-able skeleton of `value`; arrays go to arrays[key/...]."""
    if isinstance(value, np.generic):
        arrays[key] = np.asarray(value)
        return {"__scalar__": key}
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, dict):
        return {"__dict__": [[_pack_key(k), _pack(v, arrays, f"{key}/{k}")]
                             for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        kind = "__list__" if isinstance(value, list) else "__tuple__"
        return {kind: [_pack(v, arrays, f"{key}/{i}") for i, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save optimizer state entry {key!r} of type {type(value).__name__}")


def _pack_key(k):
    if isinstance(k, (bool, int, str)) or k is None:
        return k
    if isinstance(k, np.integer):
        return int(k)
    raise TypeError(f"cannot save optimizer state key {k!r} of type {type(k).__name__}")


def _unpack(value, arrays):
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__scalar__" in value:
            return arrays[value["__scalar__"]][()]
        if "__dict__" in value:
            return {k: _unpack(v, arrays) for k, v in value["__dict__"]}
        if "__list__" in value:
            return [_unpack(v, arrays) for v in value["__list__"]]
        if "__tuple__" in value:
            return tuple(_unpack(v, arrays) for v in value["__tuple__"])
    return value
