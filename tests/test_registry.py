"""The registries: names, aliases, hyper-parameters, info, register, conflicts (in process).

Entry-point plugins (fake distributions in a new interpreter, and real pip installs) are
tested in test_plugins.py.
"""
import pickle

import numpy as np
import pytest

import fpkernels as fk
from fpkernels.interfaces import Activation, Initializer, Loss, Optimizer
from fpkernels.registry import (BUILTIN_ORIGIN, PluginConflictError, Registry, check_factory,
                                normalize_provider)


class Cube(Activation):
    """x**3 times a scale: a tiny activation for registry tests."""

    description = "Cube of the input, scaled."
    formula = "f(x) = s·x³"

    def __init__(self, scale=1.0):
        self.scale = scale

    def forward(self, x, out=None):
        x = fk.interfaces.as_float_array(x)
        return np.multiply(self.scale, x ** 3, out=fk.interfaces.output_array(out, x.shape, x.dtype))

    def derivative(self, x, out=None):
        x = fk.interfaces.as_float_array(x)
        return np.multiply(3 * self.scale, x * x, out=fk.interfaces.output_array(out, x.shape, x.dtype))


@pytest.fixture
def reg():
    """A private registry (kind 'activations' semantics, not the global one)."""
    registry = Registry("testing-activations")
    registry.register("cube", Cube, aliases=("Cubic",), origin=BUILTIN_ORIGIN)
    return registry


def test_get_is_case_insensitive_and_follows_aliases(reg):
    for name in ("cube", "CUBE", "Cubic", "cubic"):
        obj = reg.get(name, scale=2.0)
        assert isinstance(obj, Cube) and obj.scale == 2.0
    assert reg.get("cube") is not reg.get("cube")            # a fresh object each call
    assert "CuBiC" in reg and "square" not in reg


def test_unknown_name_lists_close_matches(reg):
    with pytest.raises(KeyError, match="did you mean cube"):
        reg.get("cub")
    with pytest.raises(KeyError, match="known: cube"):
        reg.get("zzzz")


def test_unknown_hyperparameter_names_the_accepted_ones(reg):
    with pytest.raises(TypeError, match=r"unknown hyper-parameter\(s\) beta; it accepts: scale"):
        reg.get("cube", beta=1.0)


def test_hyperparameters_are_keyword_arguments(reg):
    """A positional hyper-parameter is not taken for a provider: the error says what to do."""
    with pytest.raises(TypeError, match=r"get\('cube', 2.0\): hyper-parameters are keyword "
                                        r"arguments \(cube accepts: scale=...\), and so is provider="):
        reg.get("cube", 2.0)


def test_register_needs_a_factory(reg):
    with pytest.raises(TypeError, match="register a class or a function that makes the object, not 42"):
        reg.register("answer")(42)


def test_factories_taking_any_keyword_accept_everything(reg):
    reg.register("anything", lambda **kw: kw)
    assert reg.get("anything", a=1, b=2) == {"a": 1, "b": 2}


def test_names_and_info(reg):
    assert reg.names() == ["cube"]
    info = reg.info("CUBIC")
    assert info["name"] == "cube" and info["aliases"] == ("cubic",)
    assert info["origin"] == BUILTIN_ORIGIN and info["distribution"] == "fpkernels"
    assert info["version"] == fk.__version__
    assert info["defaults"] == {"scale": 1.0}
    assert info["description"] == "Cube of the input, scaled." and info["summary"] == info["description"]
    assert info["formula"] == "f(x) = s·x³" and info["factory"] is Cube
    assert info["entry_point"] is None


def test_register_as_decorator_and_call(reg):
    @reg.register("square", aliases=["sq"])
    class Square(Cube):
        pass

    assert Square.__name__ == "Square"                       # the decorator returns the class
    assert isinstance(reg.get("SQ"), Square)
    assert reg.info("square")["origin"] == f"{__name__} (registered at run time)"
    assert reg.info("square")["provider"] == __name__
    reg.register("square2", Square)
    assert set(reg.names()) == {"cube", "square", "square2"}


def test_taken_names_and_aliases_are_refused_naming_the_owner(reg):
    class Other(Cube):
        pass

    with pytest.raises(ValueError, match="'cubic' is taken by 'cube'"):
        reg.register("other", Other, aliases=("cubic",))
    with pytest.raises(ValueError, match="taken"):
        reg.register("CUBE", Other)
    reg.register("cube", Other, replace=True)
    assert isinstance(reg.get("cube"), Other) and "cubic" not in reg


def test_redefining_the_same_class_replaces_it_quietly(reg):
    """Re-running a notebook cell defines a new class with the same name: allowed."""
    def define():
        class Fresh(Cube):
            pass
        return Fresh

    first, second = define(), define()
    reg.register("fresh", first)
    reg.register("fresh", second)
    assert type(reg.get("fresh")) is second


def test_unregister(reg):
    reg.unregister("cubic")
    assert reg.names() == []
    with pytest.raises(KeyError):
        reg.unregister("cube")


def test_bad_names_are_type_errors(reg):
    with pytest.raises(TypeError):
        reg.register("", Cube)
    with pytest.raises(TypeError):
        reg.register(3, Cube)


def test_two_run_time_providers_conflict_until_one_is_chosen(reg, monkeypatch):
    """A run-time registration and a built-in cannot share a name (ValueError at register);
    conflicts between entry points are covered in test_plugins.py. Here: provider= and
    prefer() pick the one registered entry by its provider."""
    assert type(reg.get("cube", provider="fpkernels")) is Cube
    with pytest.raises(KeyError, match="not provided by 'someone-else'"):
        reg.get("cube", provider="someone-else")
    reg.prefer("cube", "someone-else")
    with pytest.raises(KeyError, match=r"chosen by .*prefer"):
        reg.get("cube")
    reg.prefer("cube", None)
    monkeypatch.setenv("FPKERNELS_PREFER", "testing-activations.cube=nobody")
    with pytest.raises(KeyError, match="FPKERNELS_PREFER"):
        reg.get("cube")
    monkeypatch.setenv("FPKERNELS_PREFER", "losses.cube=nobody")   # another family: ignored
    assert type(reg.get("cube")) is Cube


def test_provider_names_are_normalized():
    assert normalize_provider("FPKernels_Mish.Plugin") == "fpkernels-mish-plugin"


def test_conflict_error_is_a_lookup_error():
    assert issubclass(PluginConflictError, LookupError)


def test_interface_checks_name_what_is_missing():
    class NoDerivative(Activation):
        def forward(self, x, out=None):
            return x

    class Fine(Cube):
        pass

    with pytest.raises(TypeError, match="missing or unimplemented derivative"):
        check_factory("activations", NoDerivative)
    with pytest.raises(TypeError, match="class or factory function"):
        check_factory("activations", 42)
    with pytest.raises(TypeError, match="update"):
        check_factory("optimizers", type("Lazy", (Optimizer,), {}))
    with pytest.raises(TypeError, match="value, gradient"):
        check_factory("losses", type("Empty", (Loss,), {}))
    with pytest.raises(TypeError, match="__call__"):
        check_factory("initializers", type("Empty", (Initializer,), {}))
    class RowWise(Activation):
        elementwise = False

        def forward(self, x, out=None):
            return x

    with pytest.raises(TypeError, match="backward"):
        check_factory("activations", RowWise)
    RowWise.backward = lambda self, x, grad_out, out=None: grad_out
    check_factory("activations", RowWise)                # no derivative needed when row-wise
    check_factory("activations", Fine)
    check_factory("activations", lambda: Fine())          # factories are checked when called


def test_global_registries_exist_and_share_the_api():
    for kind in ("activations", "losses", "initializers", "optimizers"):
        module = getattr(fk, kind)
        assert module.registry.kind == kind
        for function in ("get", "names", "info", "register"):
            assert callable(getattr(module, function))
        assert isinstance(module.names(), list)
    assert fk.registry.plugin_errors() == [] or isinstance(fk.registry.plugin_errors(), list)


def test_run_time_registration_in_the_global_registry():
    @fk.activations.register("test_registry_cube")
    class LocalCube(Cube):
        pass

    try:
        assert "test_registry_cube" in fk.activations.names()
        assert fk.activations.get("TEST_REGISTRY_CUBE").forward([2.0])[0] == 8.0
    finally:
        fk.activations.registry.unregister("test_registry_cube")
    assert "test_registry_cube" not in fk.activations.names()


# ---- the free parts of the base classes -------------------------------------------------

def test_activation_backward_is_free_and_checked():
    cube = Cube(2.0)
    x = np.array([1.0, -2.0], np.float32)
    g = np.array([0.5, 1.0], np.float32)
    result = cube.backward(x, g)
    assert result.dtype == np.float32 and np.allclose(result, [3.0, 24.0])
    out = np.empty(2, np.float32)
    assert cube.backward(x, g, out=out) is out
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        cube.backward(x, np.ones(3, np.float32))
    with pytest.raises(TypeError):
        cube.backward(x, g, out=np.empty(2, np.complex64))
    assert np.array_equal(cube(x), cube.forward(x))
    assert repr(cube) == "Cube(scale=2.0)"


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


def test_optimizer_base_gives_step_and_a_flat_state_dict(tmp_path):
    opt = Momentum(lr=0.5)
    params = [np.ones(3, np.float32), np.zeros((2, 2))]
    opt.step(params, [np.ones(3), np.ones((2, 2))])
    assert opt.t == 1 and params[0].dtype == np.float32
    assert np.allclose(params[0], 0.5) and np.allclose(params[1], -0.5)
    state = opt.state_dict()
    assert set(state) == {"t", "hyperparameters.lr", "hyperparameters.mu", "state.0.v", "state.1.v"}
    assert state["state.0.v"].dtype == np.float32
    np.savez(tmp_path / "opt.npz", **state)
    with np.load(tmp_path / "opt.npz") as loaded:            # no pickle needed
        restored = Momentum(lr=0.1)
        restored.load_state_dict(loaded)
    assert restored.lr == 0.5 and restored.t == 1 and isinstance(restored.lr, float)
    assert np.array_equal(restored.state[0]["v"], opt.state[0]["v"])
    again = pickle.loads(pickle.dumps(state))
    other = Momentum()
    other.load_state_dict(again)
    assert other.state_dict().keys() == state.keys()


def test_optimizer_base_step_validates():
    opt = Momentum()
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        opt.step([np.ones(2), np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        opt.step([np.ones(2)], [np.ones(3)])
    with pytest.raises(TypeError, match="complex"):
        opt.step([np.ones(2)], [np.ones(2, complex)])
    with pytest.raises(TypeError, match="float numpy.ndarray"):
        opt.step([[1.0, 2.0]], [np.ones(2)])
    opt.step([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="state for 1 parameters"):
        opt.step([np.ones(2), np.ones(2)], [np.ones(2), np.ones(2)])
    with pytest.raises(ValueError, match="no 't'"):
        opt.load_state_dict({})


def test_optimizer_base_takes_one_array_and_refuses_shared_memory():
    """As the built-ins: one array and its gradient; grads a list when params is one; no
    parameter twice or overlapping another (nothing is updated then)."""
    w = np.ones(3)
    Momentum(lr=0.5).step(w, np.ones(3))
    assert w.tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(TypeError, match="grads must be a list or tuple"):
        Momentum().step([np.ones((1, 3))], np.ones((1, 3)))
    b = np.zeros(6)
    for params, what in (([w, w], "are the same array"), ([b[:4], b[2:]], "overlap in memory")):
        with pytest.raises(ValueError, match=f"params\\[0\\] and params\\[1\\] {what}"):
            Momentum().step(params, [np.ones(p.shape) for p in params])
    assert w.tolist() == [0.5, 0.5, 0.5] and not b.any()
    a = np.zeros(6)
    Momentum().step([a[::2], a[1::2]], [np.ones(3), np.ones(3)])   # interleaved, disjoint: fine


def test_loss_and_initializer_helpers():
    class Sq(Loss):
        def value(self, pred, target):
            p, y = self.check_inputs(pred, target)
            return self.reduce((p - y) ** 2)

        def gradient(self, pred, target):
            p, y = self.check_inputs(pred, target)
            return self.reduce_gradient(2 * (p - y))

    assert Sq().value([1, 2], [0, 0]) == 2.5 and Sq(reduction="sum")([1, 2], [0, 0]) == 5.0
    assert np.array_equal(Sq(reduction="none").value([1, 2], [0, 0]), [1.0, 4.0])
    assert np.array_equal(Sq().gradient([1, 2], [0, 0]), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        Sq().value([1, 2], [0, 0, 0])
    with pytest.raises(ValueError, match="reduction"):
        Sq(reduction="max")
    assert Initializer.fans((128, 784)) == (784, 128)
    assert Initializer.fans((10,)) == (10, 10)
    assert Initializer.fans((8, 4, 3, 3)) == (36, 72)
    assert isinstance(Initializer.generator(0), np.random.Generator)
    with pytest.raises(TypeError):
        Initializer.check_dtype(np.complex64)
