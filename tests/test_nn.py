"""fk.nn: layers, backpropagation (finite differences, PyTorch), fit, save/load, determinism."""
import copy
import io
import json
import pickle
import threading
import time

import numpy as np
import pytest

import fpkernels as fk
from fpkernels import interfaces
from fpkernels.nn import Dense, History, Sequential, StopTraining

ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh", "swish", "gelu", "gelu_tanh", "softmax"]


def small_net(hidden="tanh", output=None, n_in=5, n_hidden=7, n_out=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(n_in, n_hidden, hidden, dtype=dtype, rng=rng),
                       Dense(n_hidden, n_out, output, dtype=dtype, rng=rng)])


def numeric_gradients(net, loss, X, y, h=1e-6):
    """Central finite differences of loss(net(X), y) for every parameter and for X."""
    def value():
        return loss.value(net.forward(X), y)
    grads = []
    for p in net.parameters():
        g = np.zeros_like(p)
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            keep = flat[i]
            flat[i] = keep + h
            plus = value()
            flat[i] = keep - h
            minus = value()
            flat[i] = keep
            gflat[i] = (plus - minus) / (2 * h)
        grads.append(g)
    gx = np.zeros_like(X)
    for i in range(X.size):
        keep = X.flat[i]
        X.flat[i] = keep + h
        plus = value()
        X.flat[i] = keep - h
        minus = value()
        X.flat[i] = keep
        gx.flat[i] = (plus - minus) / (2 * h)
    return grads, gx


def analytic_gradients(net, loss, X, y):
    pred = net.forward(X)
    dx = net.backward(loss.gradient(pred, y))
    return [g.copy() for g in net.gradients()], dx


def assert_close(analytic, numeric, what):
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric), 1e-12)
    error = np.linalg.norm(analytic - numeric) / scale
    assert error < 1e-6, f"{what}: relative error {error:.2e}"


def check_gradients(net, loss, X, y):
    analytic, dx = analytic_gradients(net, loss, X, y)
    numeric, ndx = numeric_gradients(net, loss, X, y)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        assert_close(a, n, f"parameter {i}")
    assert_close(dx, ndx, "input")


# ---- layers and shapes ----------------------------------------------------------------------

def test_dense_shapes_and_forward_formula():
    layer = Dense(4, 3, activation="tanh", dtype=np.float64, rng=0)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float64 and np.all(layer.bias == 0)
    x = np.random.default_rng(1).normal(size=(6, 4))
    np.testing.assert_allclose(layer.forward(x), np.tanh(x @ layer.weight.T + layer.bias),
                               rtol=1e-12, atol=1e-12)
    bound = np.sqrt(6 / (4 + 3))                            # Xavier uniform by default
    assert np.all(np.abs(layer.weight) <= bound)


def test_dense_initializers_by_name_and_seed():
    a = Dense(30, 20, weight_init="he_normal", rng=3)
    b = Dense(30, 20, weight_init="he", rng=3)
    np.testing.assert_array_equal(a.weight, b.weight)
    assert not np.array_equal(a.weight, Dense(30, 20, weight_init="he", rng=4).weight)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_dense_rejects_bad_sizes(bad):
    with pytest.raises(ValueError):
        Dense(bad, 3)


def test_dense_rejects_bad_dtype_and_names():
    with pytest.raises(TypeError):
        Dense(2, 3, dtype=np.int32)
    with pytest.raises(KeyError):
        Dense(2, 3, activation="swishy")
    with pytest.raises(KeyError):
        Dense(2, 3, weight_init="xavierr")


def test_forward_shape_mismatch_names_layer_and_shapes():
    net = Sequential([Dense(4, 3, rng=0), Dense(3, 2, rng=1)])
    with pytest.raises(ValueError, match=r"layer 0.*\(batch, 4\).*\(2, 5\)"):
        net.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        net.predict(np.zeros(4))


def test_sequential_rejects_mismatched_layers():
    with pytest.raises(ValueError, match=r"layer 1.*\(batch, 5\).*\(batch, 3\)"):
        Sequential([Dense(4, 3), Dense(5, 2)])
    with pytest.raises(ValueError):
        Sequential([])
    with pytest.raises(TypeError):
        Sequential([Dense(2, 2), "not a layer"])
    with pytest.raises(TypeError):
        Sequential([Dense(2, 2, dtype=np.float32), Dense(2, 2, dtype=np.float64)])


def test_sequential_refuses_a_layer_listed_twice():
    layer = Dense(3, 3, "tanh", rng=0, dtype=np.float64)
    with pytest.raises(ValueError, match=r"layer 2 is layer 0 again"):
        Sequential([layer, Dense(3, 3, rng=1, dtype=np.float64), layer])


def test_backward_errors():
    net = small_net()
    with pytest.raises(RuntimeError, match="backward needs the forward of its batch"):
        net.backward(np.zeros((2, 3)))
    net.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3\)"):
        net.backward(np.zeros((2, 4)))


def test_inputs_are_converted_to_the_network_dtype():
    net = Sequential([Dense(3, 2, "relu", rng=0)])
    out = net.predict([[1, 2, 3]])                       # int list -> float32 network
    assert out.dtype == np.float32 and out.shape == (1, 2)
    np.testing.assert_array_equal(net.predict(np.asfortranarray(np.ones((4, 3)))),
                                  net.predict(np.ones((4, 3), np.float32)))
    with pytest.raises(TypeError, match="complex"):
        net.predict(np.ones((1, 3), complex))


def test_parameters_and_gradients_are_aligned_and_updated_in_place():
    net = small_net()
    params, grads = net.parameters(), net.gradients()
    assert [p.shape for p in params] == [g.shape for g in grads] == [(7, 5), (7,), (3, 7), (3,)]
    before = [id(g) for g in grads]
    net.forward(np.ones((2, 5)))
    net.backward(np.ones((2, 3)))
    assert [id(g) for g in net.gradients()] == before
    assert any(np.any(g != 0) for g in grads)


@pytest.mark.parametrize("make", [lambda: Dense(3, 2, "tanh", rng=0, dtype=np.float64),
                                  lambda: Sequential([Dense(3, 2, "tanh", rng=0,
                                                            dtype=np.float64)])])
def test_forward_keeps_its_own_copy_of_the_input(make):
    changed, kept = make(), make()
    x = np.random.default_rng(0).normal(size=(4, 3))
    changed.forward(x)
    kept.forward(x.copy())
    x[:] = 100                               # the caller reuses its array before backward
    grad = np.ones((4, 2))
    np.testing.assert_array_equal(changed.backward(grad), kept.backward(grad))
    for a, b in zip(changed.gradients(), kept.gradients()):
        np.testing.assert_array_equal(a, b)


def test_forward_returns_new_arrays():
    net = small_net()
    a = net.forward(np.ones((2, 5)))
    b = net.forward(np.zeros((2, 5)))
    assert not np.shares_memory(a, b) and not np.array_equal(a, b)


# ---- gradients ------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences_for_every_activation(activation):
    net = small_net(hidden=activation, output=None, seed=1)
    X = np.random.default_rng(2).normal(size=(4, 5))
    y = np.random.default_rng(3).normal(size=(4, 3))
    check_gradients(net, fk.losses.get("mse"), X, y)


def _loss_case(name, rng):
    labels = rng.integers(0, 3, size=6)
    if name in ("mse", "mae", "huber"):
        return None, 3, rng.normal(size=(6, 3))
    if name == "hinge":
        return None, 1, rng.choice([-1.0, 1.0], size=(6, 1))
    if name == "bce":
        return "sigmoid", 1, rng.uniform(0.05, 0.95, size=(6, 1))
    if name == "cce":
        return "softmax", 3, labels
    if name == "softmax_cross_entropy":
        return None, 3, labels
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["mse", "mae", "hinge", "huber", "bce", "cce",
                                  "softmax_cross_entropy"])
def test_gradients_match_finite_differences_for_every_loss(name):
    rng = np.random.default_rng(4)
    output, n_out, y = _loss_case(name, rng)
    net = small_net(hidden="swish", output=output, n_out=n_out, seed=5)
    X = rng.normal(size=(6, 5))
    check_gradients(net, fk.losses.get(name), X, y)


def test_onehot_targets_match_integer_labels():
    net = small_net(hidden="swish", output=None, seed=6)
    X = np.random.default_rng(7).normal(size=(5, 5))
    labels = np.array([0, 2, 1, 1, 0])
    loss = fk.losses.get("softmax_cross_entropy")
    g_int, _ = analytic_gradients(net, loss, X, labels)
    g_hot, _ = analytic_gradients(net, loss, X, np.eye(3)[labels])
    for a, b in zip(g_int, g_hot):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_gradients_match_pytorch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    net = Sequential([Dense(12, 9, "swish", dtype=np.float64, rng=rng),
                      Dense(9, 6, "swish", dtype=np.float64, rng=rng),
                      Dense(6, 1, "sigmoid", dtype=np.float64, rng=rng)])
    X, y = rng.normal(size=(10, 12)), rng.uniform(size=(10, 1))
    loss = fk.losses.get("mse")
    ours, _ = analytic_gradients(net, loss, X, y)

    weights = [torch.tensor(p, requires_grad=True) for p in net.parameters()]
    a = torch.tensor(X)
    for i in range(0, len(weights), 2):
        a = torch.nn.functional.linear(a, weights[i], weights[i + 1])
        a = torch.nn.functional.silu(a) if i < len(weights) - 2 else torch.sigmoid(a)
    torch.nn.functional.mse_loss(a, torch.tensor(y)).backward()
    np.testing.assert_allclose(a.detach().numpy(), net.forward(X), rtol=1e-12)
    for mine, theirs in zip(ours, weights):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_float32_gradients_close_to_float64():
    net64 = small_net(hidden="swish", output="sigmoid", n_out=1, seed=9)
    net32 = Sequential([Dense(5, 7, "swish", rng=0), Dense(7, 1, "sigmoid", rng=0)])
    for p32, p64 in zip(net32.parameters(), net64.parameters()):
        p32[...] = p64
    X = np.random.default_rng(10).normal(size=(8, 5))
    y = np.random.default_rng(11).uniform(size=(8, 1))
    loss = fk.losses.get("mse")
    g64, _ = analytic_gradients(net64, loss, X, y)
    g32, _ = analytic_gradients(net32, loss, X.astype(np.float32), y.astype(np.float32))
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ---- plugin-style activations ----------------------------------------------------------------

class Cube(interfaces.Activation):
    """x^3 / 3 with a strength hyper-parameter: a stand-in for a plugin's activation."""

    def __init__(self, strength=1.0):
        self.strength = strength

    def forward(self, x, out=None):
        return np.multiply(self.strength / 3.0, np.power(x, 3), out=out)

    def derivative(self, x, out=None):
        return np.multiply(self.strength, np.square(x), out=out)


class DuckTyped:
    """No base class, no out= parameter: forward and backward only."""

    def forward(self, x):
        return np.sin(x)

    def backward(self, x, grad_out):
        return grad_out * np.cos(x)


@pytest.mark.parametrize("activation", [Cube(0.5), DuckTyped()], ids=["subclass", "duck"])
def test_object_activation_works_in_a_layer(activation):
    net = small_net(hidden=activation, output=None, seed=12)
    X = np.random.default_rng(13).normal(size=(3, 5))
    y = np.random.default_rng(14).normal(size=(3, 3))
    check_gradients(net, fk.losses.get("mse"), X, y)
    assert type(activation).__name__ in net.summary()


def test_saving_an_unregistered_activation_raises_a_clear_error(tmp_path):
    net = small_net(hidden=Cube(), seed=0)
    with pytest.raises(ValueError, match="not in the activations registry.*register"):
        net.save(tmp_path / "net.npz")


def test_registered_object_activation_saves_by_name_with_hyperparameters(tmp_path):
    if "test_nn_cube" not in fk.activations.registry:
        fk.activations.register("test_nn_cube", Cube, origin="tests/test_nn.py")
    net = small_net(hidden=fk.activations.get("test_nn_cube", strength=0.25), seed=0)
    net.save(tmp_path / "net.npz")
    again = Sequential.load(tmp_path / "net.npz")
    assert isinstance(again.layers[0].activation, Cube)
    assert again.layers[0].activation.strength == 0.25
    X = np.random.default_rng(0).normal(size=(3, 5))
    np.testing.assert_array_equal(again.predict(X), net.predict(X))
    assert "test_nn_cube(strength=0.25)" in net.summary()


# ---- training -------------------------------------------------------------------------------

def blobs(n=200, features=6, seed=0, dtype=np.float32):
    """Two Gaussian blobs: an easy binary task."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, features)) + (2.0 * y - 1.0)[:, None]
    return X.astype(dtype), y.astype(dtype)


def binary_net(features=6, seed=0, hidden=8):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(features, hidden, "swish", rng=rng),
                       Dense(hidden, 1, "sigmoid", rng=rng)])


def test_fit_learns_a_binary_task_and_returns_history():
    X, y = blobs()
    net = binary_net()
    history = net.fit(X, y, loss="mse", optimizer=fk.optimizers.get("adam", lr=0.01), epochs=20,
                      batch_size=16, verbose=0)
    assert isinstance(history, History) and isinstance(history, dict)
    assert len(history["loss"]) == len(history["seconds"]) == len(history["accuracy"]) == 20
    assert history["epoch"] == list(range(1, 21))
    assert history["loss"][-1] < history["loss"][0]
    assert history["accuracy"][-1] > 0.9
    assert net.evaluate(X, y)["accuracy"] > 0.9
    assert net.epochs_trained == 20 and history.stopped is None


def test_fit_multiclass_softmax_cross_entropy():
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=4, size=(3, 4))
    labels = rng.integers(0, 3, size=240)
    X = (centres[labels] + rng.normal(size=(240, 4))).astype(np.float32)
    net = Sequential([Dense(4, 16, "relu", rng=rng), Dense(16, 3, rng=rng)])
    net.fit(X, labels, loss="softmax_cross_entropy", optimizer=fk.optimizers.get("adam", lr=0.02),
            epochs=15, verbose=0)
    assert net.evaluate(X, labels)["accuracy"] > 0.9
    assert net.evaluate(X, np.eye(3)[labels])["accuracy"] == net.evaluate(X, labels)["accuracy"]


def test_hinge_with_minus_one_plus_one_labels_scores_accuracy_at_zero():
    X, y = blobs()
    net = Sequential([Dense(6, 8, "tanh", rng=0), Dense(8, 1, rng=1)])
    history = net.fit(X, 2 * y - 1, loss="hinge", optimizer=fk.optimizers.get("adam", lr=0.01),
                      epochs=10, verbose=0)
    assert history["accuracy"][-1] > 0.9
    assert net.evaluate(X, 2 * y - 1)["accuracy"] > 0.9


def test_stop_below_ends_training_early():
    X, y = blobs()
    history = binary_net().fit(X, y, loss="mse", optimizer=fk.optimizers.get("adam", lr=0.02),
                               epochs=200, stop_below=0.05, verbose=0)
    assert len(history["loss"]) < 200
    assert history["loss"][-1] < 0.05 <= min(history["loss"][:-1], default=1.0)
    assert "stop_below" in history.stopped


def test_log_every_prints_every_n_epochs_and_the_last(capsys):
    X, y = blobs(n=40)
    binary_net().fit(X, y, loss="mse", epochs=25, log_every=10, verbose=1)
    out = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in out] == ["10/25", "20/25", "25/25"]
    assert all("loss" in line and "accuracy" in line for line in out)


def test_verbose_zero_is_silent(capsys):
    X, y = blobs(n=40)
    binary_net().fit(X, y, loss="mse", epochs=3, log_every=1, stop_below=10.0,
                     validation_split=0.25, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_two_logs_every_epoch(capsys):
    X, y = blobs(n=40)
    binary_net().fit(X, y, loss="mse", epochs=3, log_every=10, verbose=2)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_plain_progress_bar_fallback():
    stream = io.StringIO()
    bar = fk.nn._PlainBar(4, stream)
    bar.set_postfix_str("loss 0.5")
    bar.update()
    bar.update()
    bar.close()
    assert "2/4" in stream.getvalue() and "loss 0.5" in stream.getvalue()


def test_callbacks_are_called_and_can_stop():
    X, y = blobs(n=40)
    seen = []

    def record(epoch, logs):
        seen.append((epoch, logs["loss"]))

    class StopAtThree:
        def on_epoch_end(self, epoch, logs):
            return epoch == 3

    net = binary_net()
    history = net.fit(X, y, loss="mse", epochs=10, callbacks=[record, StopAtThree()], verbose=0)
    assert [e for e, _ in seen] == [1, 2, 3] and len(history["loss"]) == 3
    assert "callback" in history.stopped

    def raise_stop(epoch, logs):            # epochs count on across fit calls: 4, 5, ...
        if epoch == 5:
            raise StopTraining

    history = net.fit(X, y, epochs=10, callbacks=[raise_stop], verbose=0)
    assert history["epoch"] == [4, 5]


def test_validation_split_and_validation_data():
    X, y = blobs(n=100)
    net = binary_net()
    history = net.fit(X, y, loss="mse", epochs=3, validation_split=0.2, verbose=0)
    assert len(history["val_loss"]) == len(history["val_accuracy"]) == 3
    assert history["val_loss"][-1] == pytest.approx(net.evaluate(X[80:], y[80:])["loss"])
    history = binary_net().fit(X[:80], y[:80], loss="mse", epochs=2,
                               validation_data=(X[80:], y[80:]), verbose=0)
    assert len(history["val_loss"]) == 2
    with pytest.raises(ValueError):
        binary_net().fit(X, y, loss="mse", validation_split=1.5)


def test_fit_argument_errors():
    X, y = blobs(n=20)
    net = binary_net()
    with pytest.raises(ValueError, match="loss"):
        net.fit(X, y)
    with pytest.raises(ValueError, match=r"20 rows.*\(19,\)"):
        net.fit(X, y[:19], loss="mse")
    with pytest.raises(ValueError, match="batch_size"):
        net.fit(X, y, loss="mse", batch_size=0)
    with pytest.raises(ValueError, match="reduces"):
        net.fit(X, y, loss=fk.losses.get("mse", reduction="none"))
    with pytest.raises(KeyError):
        net.fit(X, y, loss="msee")
    with pytest.raises(ValueError, match="at least one"):
        net.fit(X[:0], y[:0], loss="mse")
    with pytest.raises(ValueError, match="at least one"):
        net.evaluate(X[:0], y[:0], loss="mse")
    assert net.predict(X[:0]).shape == (0, 1)


def _state(net):
    return [p.copy() for p in net.parameters()], net.loss, net.optimizer, net.epochs_trained


@pytest.mark.parametrize("arguments, error, match", [
    ({"y": 1.0}, ValueError, r"y has shape \(\)"),
    ({"epochs": 2.7}, TypeError, "epochs"),
    ({"epochs": "3"}, TypeError, "epochs"),
    ({"epochs": True}, TypeError, "epochs"),
    ({"epochs": -3}, ValueError, "epochs"),
    ({"shuffle": "no"}, TypeError, "shuffle must be True or False"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"batch_size": -1}, ValueError, "batch_size"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"log_every": "10"}, TypeError, "log_every"),
    ({"stop_below": "x"}, TypeError, "stop_below"),
    ({"validation_split": "0.5"}, TypeError, "validation_split"),
    ({"validation_split": -0.1}, ValueError, "validation_split"),
    ({"validation_data": "data"}, TypeError, "validation_data"),
    ({"validation_data": ("X",)}, ValueError, "validation_data"),
    ({"validation_data": (np.zeros((0, 6)), np.zeros(0))}, ValueError, "validation_data"),
    ({"validation_split": 0.2, "validation_data": (np.zeros((2, 6)), np.zeros(2))},
     ValueError, "not both"),
    ({"metrics": ["acc"]}, ValueError, "metrics"),
    ({"callbacks": [1]}, TypeError, "callbacks"),
    ({"callbacks": print}, TypeError, "callbacks"),
    ({"verbose": 3}, ValueError, "verbose"),
    ({"loss": object()}, TypeError, "loss"),
    ({"optimizer": object()}, TypeError, "optimizer"),
])
def test_fit_checks_every_argument_before_training(arguments, error, match):
    X, y = blobs(n=20)
    net = binary_net()
    net.fit(X, y, loss="mse", optimizer="sgd", epochs=1, verbose=0)
    before = _state(net)
    arguments = {"y": y, "loss": "huber", "optimizer": "adam", "epochs": 2, "verbose": 0,
                 **arguments}
    with pytest.raises(error, match=match):
        net.fit(X, **arguments)
    after = _state(net)
    for p, q in zip(before[0], after[0]):
        np.testing.assert_array_equal(p, q)
    assert before[1:] == after[1:]


def test_fit_checks_class_labels_before_training():
    X = np.random.default_rng(0).normal(size=(10, 3))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 5])          # 5 is no class of 3 outputs
    net = Sequential([Dense(3, 4, "tanh", rng=0), Dense(4, 3, "softmax", rng=1)])
    weights = [p.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"labels from 0 to 5.*3 outputs"):
        net.fit(X, y, loss="cross_entropy", batch_size=3, shuffle=False, verbose=0)
    for p, q in zip(weights, net.parameters()):
        np.testing.assert_array_equal(p, q)


def test_fit_zero_epochs_trains_nothing():
    X, y = blobs(n=20)
    net = binary_net()
    weights = [p.copy() for p in net.parameters()]
    history = net.fit(X, y, loss="mse", epochs=0, verbose=0)
    assert dict(history) == {} and net.epochs_trained == 0
    for p, q in zip(weights, net.parameters()):
        np.testing.assert_array_equal(p, q)


def test_same_seed_same_weights_and_epochs_compose():
    X, y = blobs(n=90)
    a, b, c = binary_net(seed=1), binary_net(seed=1), binary_net(seed=1)
    a.fit(X, y, loss="mse", optimizer="adam", epochs=4, batch_size=16, seed=7, verbose=0)
    b.fit(X, y, loss="mse", optimizer="adam", epochs=4, batch_size=16, seed=7, verbose=0)
    c.fit(X, y, loss="mse", optimizer="adam", epochs=2, batch_size=16, seed=7, verbose=0)
    c.fit(X, y, epochs=2, batch_size=16, seed=7, verbose=0)       # keeps loss and optimizer
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(p, q)
        np.testing.assert_array_equal(p, r)


def test_seed_none_shuffles_differently():
    X, y = blobs(n=90)
    a, b = binary_net(seed=1), binary_net(seed=1)
    a.fit(X, y, loss="mse", epochs=1, batch_size=16, seed=None, verbose=0)
    b.fit(X, y, loss="mse", epochs=1, batch_size=16, seed=None, verbose=0)
    assert not np.array_equal(a.parameters()[0], b.parameters()[0])


def test_fit_is_bit_identical_on_one_and_two_threads():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(256, 600)).astype(np.float32)
    y = (X[:, :300].sum(axis=1) > X[:, 300:].sum(axis=1)).astype(np.float32)
    weights = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            net = Sequential([Dense(600, 128, "swish", rng=3), Dense(128, 64, "swish", rng=4),
                              Dense(64, 1, "sigmoid", rng=5)])
            net.fit(X, y, loss="mse", optimizer="adam", epochs=2, batch_size=64, seed=1,
                    verbose=0)
            weights.append([p.copy() for p in net.parameters()])
    for p1, p2 in zip(*weights):
        np.testing.assert_array_equal(p1, p2)


def test_predict_in_batches_equals_all_at_once():
    X, _ = blobs(n=50)
    net = binary_net()
    np.testing.assert_array_equal(net.predict(X, batch_size=7), net.predict(X))


@pytest.mark.parametrize("batch_size, error", [(-1, ValueError), (0, ValueError),
                                               (2.5, TypeError), (True, TypeError),
                                               ("4", TypeError)])
def test_predict_and_evaluate_reject_bad_batch_size(batch_size, error):
    X, y = blobs(n=10)
    net = binary_net()
    with pytest.raises(error, match="batch_size"):
        net.predict(X, batch_size=batch_size)
    with pytest.raises(error, match="batch_size"):
        net.evaluate(X, y, loss="mse", batch_size=batch_size)


def run_in_threads(work, count):
    """work(0), ..., work(count - 1), each on its own thread, all at once."""
    threads = [threading.Thread(target=work, args=(k,)) for k in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_one_network_used_from_several_threads_gives_the_serial_results():
    rng = np.random.default_rng(0)
    net = Sequential([Dense(200, 128, "swish", rng=0), Dense(128, 3, "softmax", rng=1)])
    inputs = [rng.normal(size=(256, 200)).astype(np.float32) for _ in range(4)]
    labels = rng.integers(0, 3, size=256)
    serial = [net.predict(x) for x in inputs]
    scores = [net.evaluate(x, labels, loss="cross_entropy") for x in inputs]
    failures = []

    def work(k):
        try:
            for r in range(8):
                i = (k + r) % len(inputs)
                if not np.array_equal(net.predict(inputs[i]), serial[i]):
                    failures.append(f"predict {i}")
                if net.evaluate(inputs[i], labels, loss="cross_entropy") != scores[i]:
                    failures.append(f"evaluate {i}")
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(repr(error))

    run_in_threads(work, 4)
    assert failures == []


def test_networks_copy_and_pickle_with_their_own_lock():
    net = binary_net()
    X, _ = blobs(n=5)
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert other._lock is not net._lock
        np.testing.assert_array_equal(other.predict(X), net.predict(X))


def test_a_layer_shared_by_two_networks_refuses_the_other_networks_forward():
    shared = Dense(2, 3, "tanh", rng=0)
    first = Sequential([shared, Dense(3, 1, rng=1)])
    second = Sequential([shared, Dense(3, 2, rng=2)])
    x, g = np.ones((4, 2), np.float32), np.ones((4, 1), np.float32)
    first.forward(x)
    second.forward(2 * x)
    with pytest.raises(RuntimeError, match="ran outside this network .the layer is shared"):
        first.backward(g)
    with pytest.raises(RuntimeError, match="ran inside a network"):
        shared.backward(np.ones((4, 3), np.float32))
    first.forward(x)                                  # its own forward again: then it works
    first.backward(g)
    alone = Sequential([Dense(2, 3, "tanh", rng=0), Dense(3, 1, rng=1)])
    alone.forward(x)
    alone.backward(g)
    for got, want in zip(first.gradients(), alone.gradients()):
        np.testing.assert_array_equal(got, want)


def test_networks_sharing_a_layer_take_turns_across_threads():
    shared = Dense(3, 16, "swish", rng=0)
    nets = [Sequential([shared, Dense(16, 2, rng=k)]) for k in range(2)]
    inputs = [np.random.default_rng(k).standard_normal((64, 3)) for k in range(4)]
    serial = [[net.predict(x) for x in inputs] for net in nets]
    failures = []

    def work(k):
        net = nets[k % 2]
        for r in range(20):
            i = (k + r) % len(inputs)
            if not np.array_equal(net.predict(inputs[i]), serial[k % 2][i]):
                failures.append((k, i))

    run_in_threads(work, 4)
    assert failures == []


def test_a_callback_using_a_network_that_shares_a_layer_does_not_deadlock():
    """Thread 1: A.fit, whose callback evaluates B; thread 2: B.fit; A and B share a layer.
    Taking the locks one by one, each thread held one the other waited for."""
    shared = Dense(4, 4, "relu", rng=0)
    a, b = (Sequential([shared, Dense(4, 1, rng=k)]) for k in (1, 2))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 4)).astype(np.float32)
    y = rng.standard_normal((256, 1)).astype(np.float32)
    started = threading.Event()

    def score_b(epoch, logs):
        started.set()
        time.sleep(0.2)                            # B's fit starts meanwhile
        b.evaluate(X, y, loss="mse", metrics=())

    def work(k):
        if k == 0:
            a.fit(X, y, loss="mse", epochs=2, verbose=0, metrics=(), callbacks=[score_b])
        else:
            started.wait(10)
            b.fit(X, y, loss="mse", epochs=2, verbose=0, metrics=())

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "deadlock"


def test_layer_forward_from_threads_takes_turns():
    layer = Dense(8, 64, "tanh", rng=0)
    inputs = [np.random.default_rng(k).standard_normal((32, 8)) for k in range(4)]
    serial = [layer.forward(x) for x in inputs]
    failures = []

    def work(k):
        for r in range(50):
            i = (k + r) % len(inputs)
            if not np.array_equal(layer.forward(inputs[i]), serial[i]):
                failures.append((k, i))

    run_in_threads(work, 4)
    assert failures == []


def test_a_refused_backward_changes_no_gradient():
    shared, last = Dense(4, 4, "tanh", rng=0), Dense(4, 1, rng=1)
    a, b = Sequential([shared, last]), Sequential([shared, Dense(4, 1, rng=2)])
    x, g = np.ones((3, 4), np.float32), np.ones((3, 1), np.float32)
    a.forward(x)
    a.backward(g)
    before = [grad.copy() for grad in a.gradients()]
    a.forward(x)
    b.forward(2 * x)
    with pytest.raises(RuntimeError, match="outside this network"):
        a.backward(g)
    for got, want in zip(a.gradients(), before):
        np.testing.assert_array_equal(got, want)


def test_layers_copy_and_pickle_with_their_own_lock():
    layer = Dense(2, 3, rng=0)
    for other in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert other._lock is not layer._lock
        np.testing.assert_array_equal(other.forward([[1.0, 2.0]]), layer.forward([[1.0, 2.0]]))


# ---- description, saving, loading -----------------------------------------------------------

def test_summary_lists_layers_shapes_parameters_and_activations():
    net = Sequential([Dense(100, 16, "swish"), Dense(16, 8, fk.activations.get("leaky_relu",
                                                                              alpha=0.2)),
                      Dense(8, 1, "sigmoid")])
    text = net.summary()
    for expected in ("(batch, 100) -> (batch, 16)", "1,616", "swish", "leaky_relu(alpha=0.2)",
                     "sigmoid", f"{100 * 16 + 16 + 16 * 8 + 8 + 8 + 1:,} parameters"):
        assert expected in text, expected


def test_save_load_round_trip_and_resume_is_bit_identical(tmp_path):
    X, y = blobs(n=96)
    straight = binary_net(seed=2)
    straight.fit(X, y, loss="huber", optimizer=fk.optimizers.get("adam", lr=0.003), epochs=4,
                 batch_size=32, seed=5, verbose=0)

    first = binary_net(seed=2)
    first.fit(X, y, loss="huber", optimizer=fk.optimizers.get("adam", lr=0.003), epochs=2,
              batch_size=32, seed=5, verbose=0)
    path = tmp_path / "model.npz"
    first.save(path)
    loaded = Sequential.load(path)
    np.testing.assert_array_equal(loaded.predict(X), first.predict(X))
    assert loaded.epochs_trained == 2
    assert loaded.summary() == first.summary()
    loaded.fit(X, y, epochs=2, batch_size=32, seed=5, verbose=0)     # optimizer state resumed
    for p, q in zip(loaded.parameters(), straight.parameters()):
        np.testing.assert_array_equal(p, q)

    with np.load(path, allow_pickle=False) as data:                  # nothing pickled
        config = json.loads(str(data["config"]))
        assert all(data[key].dtype != object for key in data.files)
    assert config["layers"][0]["activation"]["name"] == "swish"
    assert config["optimizer"]["name"] == "adam"
    assert config["loss"]["name"] == "huber"


def test_save_before_training_and_float64(tmp_path):
    net = small_net(hidden="gelu", output="softmax")
    net.save(tmp_path / "m.npz")
    again = Sequential.load(tmp_path / "m.npz")
    assert again.dtype == np.float64 and again.optimizer is None
    X = np.random.default_rng(0).normal(size=(3, 5))
    np.testing.assert_array_equal(again.predict(X), net.predict(X))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, config=np.array(json.dumps({"format": "something else"})))
    with pytest.raises(ValueError, match="not an fpkernels.nn file"):
        Sequential.load(path)
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not an fpkernels.nn file"):
        Sequential.load(path)


def _damage(path, change):
    """Rewrite the saved file at path after change(arrays, config)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    config = json.loads(str(arrays["config"]))
    change(arrays, config)
    arrays["config"] = np.array(json.dumps(config))
    np.savez(path, **arrays)


def test_load_rejects_arrays_that_do_not_fit_the_config(tmp_path):
    path = tmp_path / "net.npz"

    def check(change, match):
        Sequential([Dense(3, 4, "tanh", rng=0), Dense(4, 1, rng=1)]).save(path)
        _damage(path, change)
        with pytest.raises(ValueError, match=match):
            Sequential.load(path)

    check(lambda arrays, config: arrays.update({"layer0/weight": np.ones(1, np.float32)}),
          r"layer0/weight has shape \(1,\).*\(4, 3\)")
    check(lambda arrays, config: arrays.pop("layer1/bias"), "layer1/bias")
    check(lambda arrays, config: config["layers"].pop(), r"1 layers.*layer1/bias.*layer1/weight")
    check(lambda arrays, config: config["layers"][0].pop("out_features"),
          "config is damaged.*out_features")
    check(lambda arrays, config: config.update(loss=3), "config is damaged")


def test_backward_after_predict_says_why_it_cannot():
    net = Sequential([Dense(3, 2, "tanh", rng=0)])
    x = np.ones((4, 3), np.float32)
    net.forward(x)
    net.predict(x)
    with pytest.raises(RuntimeError, match="forward of its batch just before it.*predict"):
        net.backward(np.ones((4, 2), np.float32))


def test_history_text_plot_and_png(tmp_path):
    X, y = blobs(n=40)
    history = binary_net().fit(X, y, loss="mse", epochs=5, verbose=0)
    drawing = history.text_plot()
    assert "*" in drawing and "epoch 1 .. 5" in drawing
    pytest.importorskip("matplotlib")
    history.plot(path=tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_docstring_examples():
    import doctest

    import fpkernels.datasets
    for module in (fk.nn, fpkernels.datasets):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
