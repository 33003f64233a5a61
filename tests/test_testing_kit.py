"""The conformance kit: it passes good building blocks and names the check a bad one fails."""
import math

import numpy as np
import pytest

import fpkernels as fk
from fpkernels import testing as fkt
from fpkernels.interfaces import (Activation, Initializer, Loss, Optimizer, as_float_array,
                                  output_array)


def softplus_formulaic(xs):
    """log(1 + e^x) of each number, the stable way."""
    result = []
    for x in xs:
        result.append(max(x, 0.0) + math.log1p(math.exp(-abs(x))))
    return result


class Softplus(Activation):
    description = "A smooth ReLU: log(1 + e^x)."
    formula = "f(x) = log(1 + eˣ)"
    formulaic = staticmethod(softplus_formulaic)

    def forward(self, x, out=None):
        x = as_float_array(x)
        out = output_array(out, x.shape, x.dtype)
        return np.add(np.log1p(np.exp(-np.abs(x))), np.maximum(x, 0), out=out)

    def derivative(self, x, out=None):
        x = as_float_array(x)
        out = output_array(out, x.shape, x.dtype)
        return np.divide(1, 1 + np.exp(-x), out=out)


class RowSoftmax(Activation):
    description = "Row-wise softmax."
    formula = "sᵢ = e^(xᵢ - max) / Σⱼ e^(xⱼ - max)"
    formulaic = None
    elementwise = False

    def forward(self, x, out=None):
        x = as_float_array(x)
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return np.divide(e, e.sum(axis=-1, keepdims=True), out=output_array(out, x.shape, x.dtype))

    def derivative(self, x, out=None):
        raise NotImplementedError("softmax has a Jacobian, see backward")

    def backward(self, x, grad_out, out=None):
        s = self.forward(x)
        g = as_float_array(grad_out, "grad_out")
        return np.multiply(s, g - (g * s).sum(axis=-1, keepdims=True),
                           out=output_array(out, s.shape, s.dtype))


def log_cosh_formulaic(pred, target):
    total = 0.0
    for p, y in zip(pred, target):
        total += math.log(math.cosh(p - y))
    return total / len(pred)


class LogCosh(Loss):
    description = "log(cosh(p - y)): like MSE near 0, like MAE far away."
    formula = "L = mean log(cosh(pᵢ - yᵢ))"
    formulaic = staticmethod(log_cosh_formulaic)

    def value(self, pred, target):
        p, y = self.check_inputs(pred, target)
        e = np.abs(p - y)
        return self.reduce(e + np.log1p(np.exp(-2 * e)) - np.log(p.dtype.type(2)))

    def gradient(self, pred, target):
        p, y = self.check_inputs(pred, target)
        return self.reduce_gradient(np.tanh(p - y))


class SmallUniform(Initializer):
    description = "U(-a, a)."
    formula = "w ~ U(-a, a)"

    def __init__(self, a=0.1):
        self.a = a

    def __call__(self, shape, rng=None, dtype=np.float32):
        dtype = self.check_dtype(dtype)
        shape = tuple(shape) if not isinstance(shape, int) else (shape,)
        if any(not isinstance(s, (int, np.integer)) or s < 0 for s in shape):
            raise ValueError(f"bad shape {shape}")
        return self.generator(rng).uniform(-self.a, self.a, size=shape).astype(dtype)


class Momentum(Optimizer):
    description = "Heavy-ball momentum."
    formula = "v ← μv + g;  p ← p − ηv"
    state_names = ("v",)

    def __init__(self, lr=0.1, mu=0.9):
        super().__init__()
        self.lr, self.mu = lr, mu

    def update(self, param, grad, state):
        state["v"] *= self.mu
        state["v"] += grad
        param -= self.lr * state["v"]


def momentum_reference(param, grad, state, t, hyperparameters):
    state["v"] = hyperparameters["mu"] * state.get("v", 0.0) + grad
    return param - hyperparameters["lr"] * state["v"]


def test_good_building_blocks_pass():
    assert "derivative vs finite differences (float64)" in fkt.check_activation(Softplus)
    assert "formulaic reference agrees" in fkt.check_activation(Softplus())
    assert "deterministic" in fkt.check_activation(RowSoftmax, metadata=False)
    assert "gradient vs finite differences (float64)" in fkt.check_loss(LogCosh)
    assert "reproducible from a seed" in fkt.check_initializer(SmallUniform, hyperparams={"a": 0.5})
    passed = fkt.check_optimizer(Momentum, reference_step=momentum_reference)
    assert "steps match the reference" in passed and "deterministic, state_dict round-trips" in passed
    fkt.check_optimizer(Momentum(lr=0.01), reference_step=momentum_reference)


def test_registry_names_are_accepted():
    fk.activations.register("kit_softplus", Softplus)
    try:
        fkt.check_activation("kit_softplus")
    finally:
        fk.activations.registry.unregister("kit_softplus")


def failing(check, function, *args, **kwargs):
    with pytest.raises(AssertionError) as caught:
        function(*args, **kwargs)
    message = str(caught.value)
    assert f"failed {check!r}" in message, message
    return message


def test_wrong_derivative_is_caught():
    class Wrong(Softplus):
        def derivative(self, x, out=None):
            d = super().derivative(x)
            return np.multiply(d, 1.01, out=output_array(out, d.shape, d.dtype))

    message = failing("derivative vs finite differences (float64)", fkt.check_activation, Wrong)
    assert message.startswith("check_activation(Wrong)") and "finite differences" in message


def test_dtype_changes_are_caught():
    class Upcasts(Softplus):
        def forward(self, x, out=None):
            return super().forward(np.asarray(x, np.float64))

    failing("dtype and shape preserved", fkt.check_activation, Upcasts)


def test_ignored_out_is_caught():
    class IgnoresOut(Softplus):
        def forward(self, x, out=None):
            return super().forward(x)

    failing("out= honoured", fkt.check_activation, IgnoresOut)


def test_complex_input_must_raise():
    class Lenient(Softplus):
        def forward(self, x, out=None):
            x = np.asarray(x)
            return super().forward(x.real if x.dtype.kind == "c" else x, out=out)

    failing("bad input raises", fkt.check_activation, Lenient)


def test_missing_metadata_is_caught():
    class Bare(Softplus):
        description = ""
        formulaic = None

    message = failing("metadata present", fkt.check_activation, Bare)
    assert "description" in message and "formulaic" in message
    fkt.check_activation(Bare, metadata=False)


def test_missing_methods_are_caught():
    class OnlyForward:
        def forward(self, x, out=None):
            return x

    failing("interface", fkt.check_activation, OnlyForward())


def test_nondeterminism_is_caught():
    class Noisy(Softplus):
        def forward(self, x, out=None):
            y = super().forward(x, out=out)
            y *= 1 + 1e-9 * np.random.default_rng().normal(size=y.shape)
            return y

    with pytest.raises(AssertionError):
        fkt.check_activation(Noisy)


def test_inputs_modified_are_caught():
    class InPlace(Softplus):
        def forward(self, x, out=None):
            if isinstance(x, np.ndarray) and x.flags.writeable and x.dtype.kind == "f":
                return super().forward(x, out=x)
            return super().forward(x, out=out)

    with pytest.raises(AssertionError):
        fkt.check_activation(InPlace)


def test_wrong_formulaic_reference_is_caught():
    class Off(LogCosh):
        formulaic = staticmethod(lambda pred, target: 1.0)

    failing("formulaic reference agrees", fkt.check_loss, Off)

    class OffActivation(Softplus):
        formulaic = staticmethod(lambda xs: [0.0 for x in xs])

    failing("formulaic reference agrees", fkt.check_activation, OffActivation)


def test_wrong_loss_gradient_is_caught():
    class Half(LogCosh):
        def gradient(self, pred, target):
            return super().gradient(pred, target) / 2

    failing("gradient vs finite differences (float64)", fkt.check_loss, Half)


def test_loss_shape_errors_must_name_both_shapes():
    class Vague(LogCosh):
        def value(self, pred, target):
            if np.shape(pred) != np.shape(target):
                raise ValueError("shapes differ")
            return super().value(pred, target)

    failing("bad input raises", fkt.check_loss, Vague)


def test_loss_custom_inputs():
    class Hinge(Loss):
        description = "max(0, 1 - y p)"
        formula = "L = mean max(0, 1 − yᵢpᵢ)"
        formulaic = staticmethod(lambda ps, ys: sum(max(0.0, 1 - y * p) for p, y in zip(ps, ys)) / len(ps))

        def value(self, pred, target):
            p, y = self.check_inputs(pred, target)
            return self.reduce(np.maximum(0, 1 - y * p))

        def gradient(self, pred, target):
            p, y = self.check_inputs(pred, target)
            return self.reduce_gradient(np.where(1 - y * p > 0, -y, 0).astype(p.dtype))

    def signs(rng, dtype):
        return (rng.uniform(-2, 2, (5, 3)).astype(dtype),
                rng.choice([-1.0, 1.0], (5, 3)).astype(dtype))

    fkt.check_loss(Hinge, inputs=signs)


def test_initializer_seed_is_checked():
    class Unseeded(SmallUniform):
        def __call__(self, shape, rng=None, dtype=np.float32):
            return super().__call__(shape, rng=None, dtype=dtype)

    failing("reproducible from a seed", fkt.check_initializer, Unseeded)

    class AlwaysFloat64(SmallUniform):
        def __call__(self, shape, rng=None, dtype=np.float32):
            return super().__call__(shape, rng, np.float64)

    failing("dtype and shape", fkt.check_initializer, AlwaysFloat64)


def test_optimizer_reference_mismatch_is_caught():
    def wrong_reference(param, grad, state, t, hyperparameters):
        return param - hyperparameters["lr"] * grad

    message = failing("steps match the reference", fkt.check_optimizer, Momentum,
                      reference_step=wrong_reference)
    assert "after step 2" in message


def test_optimizer_state_must_round_trip():
    class Forgetful(Momentum):
        def load_state_dict(self, state):
            pass

    failing("deterministic, state_dict round-trips", fkt.check_optimizer, Forgetful)


def test_optimizer_must_update_in_place():
    class Copies(Momentum):
        def step(self, params, grads):
            params = [p.copy() for p in params]
            super().step(params, grads)

    failing("updates in place, keeps dtype", fkt.check_optimizer, Copies)


def test_finite_difference_helper():
    x = np.array([0.5, -1.0, 2.0])
    assert np.allclose(fkt.finite_difference(lambda v: float(np.sum(v ** 3)), x), 3 * x ** 2)


# ---- every built-in passes the kit --------------------------------------------------------

def builtin_names(kind):
    registry = getattr(fk, kind).registry
    return [name for name, entry in sorted(registry._entries.items())
            if entry.provider == "fpkernels"]


def _adam(param, grad, state, t, hp, decoupled=0.0):
    b1, b2 = hp.get("b1", hp.get("beta1", 0.9)), hp.get("b2", hp.get("beta2", 0.999))
    lr, eps = hp.get("lr", 1e-3), hp.get("eps", 1e-8)
    m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * grad
    v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * grad * grad
    param = param - lr * decoupled * param
    return param - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)


def _sgd(param, grad, state, t, hp):
    lr, mu, wd = hp.get("lr", 0.01), hp.get("momentum", 0.0), hp.get("weight_decay", 0.0)
    grad = grad + wd * param
    if mu:
        buf = state["buf"] = mu * state["buf"] + grad if "buf" in state else grad
        grad = grad + mu * buf if hp.get("nesterov") else buf
    return param - lr * grad


def _rmsprop(param, grad, state, t, hp):
    a, lr, eps = hp.get("alpha", 0.99), hp.get("lr", 0.01), hp.get("eps", 1e-8)
    v = state["v"] = a * state.get("v", 0.0) + (1 - a) * grad * grad
    return param - lr * grad / (np.sqrt(v) + eps)


OPTIMIZER_REFERENCES = {
    "sgd": _sgd,
    "adam": _adam,
    "adamw": lambda p, g, s, t, hp: _adam(p, g, s, t, hp, hp.get("weight_decay", 0.01)),
    "rmsprop": _rmsprop,
}


@pytest.mark.parametrize("name", builtin_names("activations"))
def test_builtin_activation_conforms(name):
    fkt.check_activation(name)


@pytest.mark.parametrize("name", builtin_names("losses"))
def test_builtin_loss_conforms(name):
    fkt.check_loss(name)


@pytest.mark.parametrize("name", builtin_names("initializers"))
def test_builtin_initializer_conforms(name):
    fkt.check_initializer(name)


@pytest.mark.parametrize("name", builtin_names("optimizers"))
def test_builtin_optimizer_conforms(name):
    fkt.check_optimizer(name, reference_step=OPTIMIZER_REFERENCES.get(name))
