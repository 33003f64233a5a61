"""Optimizers: fused C steps against the formulaic references, checks, state and schedules."""
import io
import pickle

import numpy as np
import pytest

import fpkernels as fk
from fpkernels import formulaic
from fpkernels._core import ffi, lib
from fpkernels.schedules import ConstantLR, CosineLR, StepLR, Warmup

# (registry name, hyper-parameters): every variant the kernels have.
CONFIGS = [
    ("sgd", {}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01, "amsgrad": True}),
    ("adamw", {}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {}),
    ("rmsprop", {"lr": 0.001, "alpha": 0.9, "weight_decay": 0.05}),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in hp.items()) or 'defaults'}" for name, hp in CONFIGS]
SHAPES = [(3, 4), (5,), (2, 1, 3)]


def gradient_sequence(shapes, steps, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]


def start_params(shapes, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize("name, hyper", CONFIGS, ids=IDS)
def test_matches_formulaic_reference(name, hyper, dtype, threads):
    steps = 25
    params = start_params(SHAPES, dtype)
    reference = [p.astype(np.float64).ravel().tolist() for p in params]
    states = [{} for _ in SHAPES]
    opt = fk.optimizers.get(name, **hyper)
    step_function = type(opt).formulaic
    for grads in gradient_sequence(SHAPES, steps, dtype):
        opt.step(params, grads)
        for ref, g, state in zip(reference, grads, states):
            step_function(ref, g.astype(np.float64).ravel().tolist(), state, **hyper)
    tolerance = 2e-5 if dtype == np.float32 else 1e-12
    for p, ref in zip(params, reference):
        np.testing.assert_allclose(p.ravel(), ref, rtol=tolerance, atol=tolerance)
    assert opt.t == steps


@pytest.mark.parametrize("name, hyper", CONFIGS, ids=IDS)
def test_many_tensors_thread_count_and_split_invariant(name, hyper, dtype):
    """A list big enough for two threads gives the same bits on 1 and 2 threads, and the same
    bits as stepping each tensor on its own."""
    shapes = [(40_000,), (7,), (300, 101), (0,), (1,)]
    grads = gradient_sequence(shapes, 3, dtype)
    results = []
    for threads in (1, 2):
        with fk.num_threads(threads):
            params = start_params(shapes, dtype)
            opt = fk.optimizers.get(name, **hyper)
            for g in grads:
                opt.step(params, g)
            results.append(params)
    params = start_params(shapes, dtype)
    singles = [fk.optimizers.get(name, **hyper) for _ in shapes]
    for g in grads:
        for opt, p, gi in zip(singles, params, g):
            opt.step(p, gi)
    results.append(params)
    for a, b, c in zip(*results):
        assert a.tobytes() == b.tobytes() == c.tobytes()


def test_mixed_dtypes_in_one_list():
    params = [np.ones(4, np.float32), np.ones(3, np.float64)]
    opt = fk.optimizers.get("adam", lr=0.1)
    opt.step(params, [np.ones(4), np.ones(3)])
    np.testing.assert_allclose(params[0], 0.9, rtol=1e-6)
    np.testing.assert_allclose(params[1], 1 - 0.1 / (1 + 1e-8), rtol=1e-15)
    assert params[0].dtype == np.float32 and params[1].dtype == np.float64


def test_single_array_and_gradient_conversions():
    w = np.zeros((2, 3), np.float32)
    opt = fk.optimizers.get("sgd", lr=1.0)
    opt.step(w, [[1, 2, 3], [4, 5, 6]])                       # nested list of ints
    np.testing.assert_array_equal(w, -np.arange(1, 7).reshape(2, 3))
    opt.step(w, np.ones((4, 6))[::2, ::2])                     # strided float64 view
    np.testing.assert_array_equal(w, -np.arange(1, 7).reshape(2, 3) - 1)
    opt.step(w, np.ones((2, 3), bool))                         # bools promote
    np.testing.assert_array_equal(w, -np.arange(1, 7).reshape(2, 3) - 2)


def test_nan_gradient_propagates():
    for name in ("sgd", "adam", "adamw", "rmsprop"):
        w = np.ones(3)
        fk.optimizers.get(name).step(w, [np.nan, 1.0, 1.0])
        assert np.isnan(w[0]) and np.isfinite(w[1:]).all()


def test_empty_list_and_empty_tensor():
    opt = fk.optimizers.get("adam")
    opt.step([], [])
    assert opt.t == 0
    w = np.ones(0, np.float32)
    opt.step(w, np.ones(0))
    assert opt.t == 1


@pytest.mark.parametrize("name, hyper, error", [
    ("sgd", {"lr": -0.1}, ValueError),
    ("sgd", {"lr": float("nan")}, ValueError),
    ("sgd", {"lr": "0.1"}, TypeError),
    ("sgd", {"momentum": -0.5}, ValueError),
    ("sgd", {"nesterov": True}, ValueError),
    ("sgd", {"nesterov": 1, "momentum": 0.9}, TypeError),
    ("sgd", {"weight_decay": -1}, ValueError),
    ("adam", {"beta1": 1.0}, ValueError),
    ("adam", {"beta2": -0.1}, ValueError),
    ("adam", {"eps": 0.0}, ValueError),
    ("adam", {"amsgrad": "yes"}, TypeError),
    ("adam", {"betas": (0.9,)}, ValueError),
    ("adamw", {"weight_decay": float("inf")}, ValueError),
    ("rmsprop", {"alpha": 1.5}, ValueError),
    ("rmsprop", {"eps": -1e-8}, ValueError),
    ("adam", {"momentum": 0.9}, TypeError),        # unknown hyper-parameter (registry)
])
def test_bad_hyperparameters(name, hyper, error):
    with pytest.raises(error):
        fk.optimizers.get(name, **hyper)


def test_betas_torch_spelling():
    opt = fk.optimizers.get("adam", betas=(0.8, 0.99))
    assert (opt.beta1, opt.beta2) == (0.8, 0.99) == opt.betas
    assert fk.optimizers.info("adam")["defaults"]["beta1"] == 0.9


def test_defaults_match_spec():
    defaults = {name: fk.optimizers.info(name)["defaults"] for name in fk.optimizers.names()}
    assert defaults["sgd"] == {"lr": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}
    assert defaults["adam"]["lr"] == 1e-3 and defaults["adam"]["eps"] == 1e-8
    assert defaults["adamw"]["weight_decay"] == 0.01
    assert defaults["rmsprop"] == {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0}


def bad_lists():
    good = np.ones(4, np.float32)
    readonly = np.ones(4, np.float32)
    readonly.flags.writeable = False
    return [
        ([good, [1.0, 2.0, 3.0, 4.0]], TypeError, "numpy.ndarray"),
        ([good, np.ones(4, np.int64)], TypeError, "float32 or float64"),
        ([good, np.ones(4, np.float16)], TypeError, "float32 or float64"),
        ([good, np.ones(8, np.float32)[::2]], ValueError, "C-contiguous"),
        ([good, readonly], ValueError, "read-only"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_bad_parameter_list_leaves_everything_untouched(case):
    params, error, words = bad_lists()[case]
    before = [np.array(p, copy=True) for p in params]
    opt = fk.optimizers.get("adam", lr=0.5)
    with pytest.raises(error, match=words):
        opt.step(params, [np.ones(4), np.ones(4)])
    np.testing.assert_array_equal(params[0], before[0])
    assert opt.t == 0 and opt.state_dict()["count"] == 0


def test_bad_gradients():
    params = [np.ones(4), np.ones((2, 2))]
    opt = fk.optimizers.get("sgd")
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 2\)"):
        opt.step(params, [np.ones(4), np.ones(4)])
    with pytest.raises(TypeError, match="complex"):
        opt.step(params, [np.ones(4), np.ones((2, 2), complex)])
    with pytest.raises(TypeError):
        opt.step(params, [np.ones(4), np.array([["a", "b"], ["c", "d"]])])
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        opt.step(params, [np.ones(4)])
    np.testing.assert_array_equal(params[0], 1.0)


def test_changing_the_list_after_state_exists_is_refused():
    opt = fk.optimizers.get("adam")
    params = [np.ones(3), np.ones(2)]
    opt.step(params, [np.ones(3), np.ones(2)])
    with pytest.raises(ValueError, match="holds 2 tensors"):
        opt.step(params[:1], [np.ones(3)])
    with pytest.raises(ValueError, match="shape"):
        opt.step([np.ones(3), np.ones(4)], [np.ones(3), np.ones(4)])
    with pytest.raises(ValueError, match="dtype"):
        opt.step([np.ones(3), np.ones(2, np.float32)], [np.ones(3), np.ones(2)])


def test_grads_must_be_a_list_when_params_is_a_list():
    w = np.ones(3)
    opt = fk.optimizers.get("sgd")
    with pytest.raises(TypeError, match="grads must be a list or tuple.*ndarray"):
        opt.step([w], np.ones((1, 3)))               # its rows would pass for a list
    opt.step((w,), (np.ones(3),))                    # tuples are fine
    np.testing.assert_array_equal(w, 0.99)


@pytest.mark.parametrize("make, words", [
    (lambda b: [b, b], "params\\[0\\] and params\\[1\\] are the same array"),
    (lambda b: [b[:4], b[2:]], "params\\[0\\] and params\\[1\\] overlap"),
    (lambda b: [np.ones(2), b[2:], np.ones(1), b.reshape(2, 3)], "params\\[1\\] and params\\[3\\]"),
])
def test_shared_memory_between_parameters_is_refused(make, words):
    """torch only warns; updating shared elements twice per step is never what was meant."""
    b = np.ones(6)
    params = make(b)
    opt = fk.optimizers.get("adam")
    with pytest.raises(ValueError, match=words):
        opt.step(params, [np.ones(p.shape) for p in params])
    assert (b == 1).all() and opt.t == 0


def test_disjoint_views_of_one_array_are_fine():
    b = np.ones(6)
    fk.optimizers.get("sgd", lr=1.0).step([b[:3], b[3:], b[:0], b[3:3]],
                                          [np.ones(3), np.full(3, 2.0), [], []])
    np.testing.assert_array_equal(b, [0, 0, 0, -1, -1, -1])


@pytest.mark.parametrize("key", ["lr", "momentum", "weight_decay"])
def test_int_too_large_for_a_float_names_the_argument(key):
    with pytest.raises(ValueError, match=f"{key} .*too large for a float"):
        fk.optimizers.get("sgd", **{key: 2**1100})
    with pytest.raises(ValueError, match="eps .*too large for a float"):
        fk.optimizers.get("adam", eps=2**1100)


# ---- hyper-parameters changed after construction: checked when set, used from the next step ----

# (name, constructor settings, settings changed after 3 steps)
CHANGES = [
    ("sgd", {}, {"lr": 0.5}),
    ("sgd", {}, {"momentum": 0.9}),                   # the velocity starts from the next gradient
    ("sgd", {"momentum": 0.9}, {"momentum": 0.0}),
    ("sgd", {"momentum": 0.9}, {"nesterov": True}),
    ("sgd", {}, {"weight_decay": 0.1}),
    ("adam", {}, {"lr": 0.01}),
    ("adam", {}, {"beta1": 0.5}),
    ("adam", {}, {"beta2": 0.9}),
    ("adam", {}, {"betas": (0.5, 0.9)}),
    ("adam", {}, {"eps": 1e-3}),
    ("adam", {}, {"weight_decay": 0.1}),
    ("adam", {"lr": 0.01}, {"amsgrad": True}),        # the largest v from the next v on
    ("adam", {"amsgrad": True}, {"amsgrad": False}),
    ("adamw", {}, {"weight_decay": 0.2}),
    ("adamw", {"lr": 0.01}, {"amsgrad": True}),
    ("rmsprop", {}, {"lr": 0.1}),
    ("rmsprop", {}, {"alpha": 0.5}),
    ("rmsprop", {}, {"eps": 0.1}),
    ("rmsprop", {}, {"weight_decay": 0.1}),
]


def reference_hyper(hyper):
    hyper = dict(hyper)
    if "betas" in hyper:
        hyper["beta1"], hyper["beta2"] = hyper.pop("betas")
    return hyper


@pytest.mark.parametrize("name, before, change", CHANGES,
                         ids=[f"{n}-{'-'.join(c)}-{c[next(iter(c))]}" for n, _, c in CHANGES])
def test_hyperparameter_set_after_construction_takes_effect_next_step(name, before, change):
    grads = gradient_sequence(SHAPES, 6, np.float64)
    params = start_params(SHAPES, np.float64)
    reference = [p.ravel().tolist() for p in params]
    states = [{} for _ in SHAPES]
    opt = fk.optimizers.get(name, **before)
    for step, g in enumerate(grads):
        if step == 3:
            for key, value in change.items():
                setattr(opt, key, value)
        hyper = reference_hyper({**before, **change} if step >= 3 else before)
        opt.step(params, g)
        for ref, gi, state in zip(reference, g, states):
            getattr(formulaic, name)(ref, gi.ravel().tolist(), state, **hyper)
    for p, ref in zip(params, reference):
        np.testing.assert_allclose(p.ravel(), ref, rtol=1e-12, atol=1e-12)
    after = fk.optimizers.get(name, **{**before, **change})
    assert opt.hyperparameter_values() == after.hyperparameter_values()
    # the state holds the buffers the new settings use, and round-trips
    p = [np.ones(s) for s in SHAPES]
    after.step(p, [np.ones(s) for s in SHAPES])
    assert [set(e) for e in opt.state] == [set(e) for e in after.state]
    resumed = fk.optimizers.get(name)
    resumed.load_state_dict(opt.state_dict())
    twin = [p.copy() for p in params]
    opt.step(params, grads[0])
    resumed.step(twin, grads[0])
    assert all(a.tobytes() == b.tobytes() for a, b in zip(params, twin))


# (name, constructor settings, hyper-parameter, bad value): set later, the constructor's error
BAD_CHANGES = [
    ("sgd", {}, "lr", -0.1), ("sgd", {}, "lr", float("nan")), ("sgd", {}, "lr", "0.1"),
    ("sgd", {}, "lr", 2**1100), ("sgd", {}, "momentum", -0.5), ("sgd", {}, "momentum", None),
    ("sgd", {}, "nesterov", True), ("sgd", {"momentum": 0.9}, "nesterov", 1),
    ("sgd", {"momentum": 0.9, "nesterov": True}, "momentum", 0.0),
    ("sgd", {}, "weight_decay", float("inf")),
    ("adam", {}, "beta1", 5), ("adam", {}, "beta1", 1.0), ("adam", {}, "beta2", -0.1),
    ("adam", {}, "betas", (0.9,)), ("adam", {}, "betas", (0.9, 1.5)), ("adam", {}, "eps", 0.0),
    ("adam", {}, "eps", "x"), ("adam", {}, "amsgrad", "yes"), ("adamw", {}, "weight_decay", -1),
    ("rmsprop", {}, "alpha", 1.5), ("rmsprop", {}, "eps", -1e-8),
]


@pytest.mark.parametrize("name, before, key, bad", BAD_CHANGES)
def test_bad_hyperparameter_set_later_raises_the_constructors_error(name, before, key, bad):
    with pytest.raises((TypeError, ValueError)) as built:
        fk.optimizers.get(name, **{**before, key: bad})
    opt = fk.optimizers.get(name, **before)
    w = np.ones(3)
    opt.step(w, np.ones(3))
    settings, state = opt.hyperparameter_values(), opt.state_dict()
    with pytest.raises(type(built.value)) as changed:
        setattr(opt, key, bad)
    assert str(changed.value) == str(built.value)
    assert opt.hyperparameter_values() == settings            # the old value stays
    twin, w2 = fk.optimizers.get(name, **before), np.ones(3)
    twin.step(w2, np.ones(3))
    opt.step(w, np.ones(3))
    twin.step(w2, np.ones(3))
    assert w.tobytes() == w2.tobytes() and state.keys() == opt.state_dict().keys()


def test_schedule_set_after_construction():
    schedule = StepLR(0.1, 2, gamma=0.5)
    grads = gradient_sequence([(5,)], 6, np.float64)
    late, early = start_params([(5,)], np.float64), start_params([(5,)], np.float64)
    opt = fk.optimizers.get("adam", lr=0.1)
    scheduled = fk.optimizers.get("adam", lr=schedule)
    for step, g in enumerate(grads):
        if step == 2:
            opt.lr = schedule                # from now on the rate is schedule(t)
        opt.step(late, g)
        scheduled.step(early, g)
    np.testing.assert_array_equal(late[0], early[0])
    assert opt.lr is schedule and "lr_schedule" in opt.state_dict()


def test_momentum_switched_on_after_loading_a_state_without_buffers():
    """A momentum-free SGD state holds no shapes: switching momentum on starts the state
    afresh (the step count stays), and the state saved meanwhile loads again."""
    first = fk.optimizers.get("sgd")
    first.step([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    second = fk.optimizers.get("sgd")
    second.load_state_dict(first.state_dict())
    second.momentum = 0.9
    third = fk.optimizers.get("sgd")
    third.load_state_dict(second.state_dict())
    assert third.momentum == 0.9 and third.t == 1
    for opt in (second, third):
        params = [np.ones(2), np.ones(3)]
        opt.step(params, [np.ones(2), np.ones(3)])
        opt.step(params, [np.ones(2), np.ones(3)])
        np.testing.assert_allclose(params[1], 1 - 0.01 - 0.01 * 1.9)
        assert opt.t == 3 and set(opt.state[1]) == {"momentum_buffer"}


# ---- state: save, load, continue ----

def run(opt, params, grads):
    for g in grads:
        opt.step(params, g)


def through_savez(state):
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    return np.load(buffer)


@pytest.mark.parametrize("name, hyper", CONFIGS, ids=IDS)
@pytest.mark.parametrize("transport", ["pickle", "savez", "none"])
def test_save_load_continue_is_bit_identical(name, hyper, transport):
    shapes = [(6, 3), (4,)]
    grads = gradient_sequence(shapes, 20, np.float32)
    straight = start_params(shapes, np.float32)
    run(fk.optimizers.get(name, **hyper), straight, grads)

    resumed = start_params(shapes, np.float32)
    first = fk.optimizers.get(name, **hyper)
    run(first, resumed, grads[:8])
    state = first.state_dict()
    if transport == "pickle":
        state = pickle.loads(pickle.dumps(state))
    elif transport == "savez":
        state = through_savez(state)
    second = fk.optimizers.get(name)                 # defaults: the state restores the settings
    second.load_state_dict(state)
    assert second.hyperparameter_values() == first.hyperparameter_values()
    run(second, resumed, grads[8:])
    for a, b in zip(straight, resumed):
        assert a.tobytes() == b.tobytes()


def test_state_dict_is_plain_data_and_a_copy():
    opt = fk.optimizers.get("adam", amsgrad=True)
    w = np.ones(3, np.float32)
    opt.step(w, np.ones(3))
    state = opt.state_dict()
    for key, value in state.items():
        assert isinstance(value, (int, float, str, bool, np.ndarray)), key
    assert state["optimizer"] == "adam" and state["t"] == 1 and state["count"] == 1
    assert set(k for k in state if k.startswith("state.")) == {"state.0.m", "state.0.v",
                                                               "state.0.vmax"}
    assert state["hyperparameters.lr"] == 1e-3 and state["hyperparameters.amsgrad"] is True
    saved = state["state.0.m"].copy()
    opt.step(w, np.ones(3))
    np.testing.assert_array_equal(state["state.0.m"], saved)


def test_load_refuses_bad_state():
    opt = fk.optimizers.get("adam")
    opt.step([np.ones(3), np.ones(2)], [np.ones(3), np.ones(2)])
    state = opt.state_dict()

    fresh = fk.optimizers.get("sgd")
    with pytest.raises(ValueError, match="belongs to optimizer 'adam'"):
        fresh.load_state_dict(state)

    missing = dict(state)
    del missing["state.1.v"]
    with pytest.raises(ValueError, match="no state.1.v"):
        fk.optimizers.get("adam").load_state_dict(missing)

    extra = dict(state, surprise=1)
    with pytest.raises(ValueError, match="surprise"):
        fk.optimizers.get("adam").load_state_dict(extra)

    wrong_dtype = dict(state, **{"state.0.m": np.ones(3, np.int32)})
    with pytest.raises(ValueError, match="dtype"):
        fk.optimizers.get("adam").load_state_dict(wrong_dtype)

    disagree = dict(state, **{"state.0.m": np.ones(4)})
    with pytest.raises(ValueError, match="disagree"):
        fk.optimizers.get("adam").load_state_dict(disagree)

    bad_beta = dict(state, **{"hyperparameters.beta1": 1.5})
    with pytest.raises(ValueError, match="beta1"):
        fk.optimizers.get("adam").load_state_dict(bad_beta)

    with pytest.raises(TypeError):
        fk.optimizers.get("adam").load_state_dict([1, 2])

    # loaded state for 2 tensors, then a step with 3 parameters: refused, nothing changed
    loaded = fk.optimizers.get("adam")
    loaded.load_state_dict(state)
    params = [np.ones(3), np.ones(2), np.ones(1)]
    with pytest.raises(ValueError, match="2 tensors"):
        loaded.step(params, [np.ones(3), np.ones(2), np.ones(1)])
    with pytest.raises(ValueError, match="shape"):
        loaded.step([np.ones(3), np.ones(5)], [np.ones(3), np.ones(5)])
    assert all((p == 1).all() for p in params)

    # an optimizer that already holds state refuses a state for other shapes
    other = fk.optimizers.get("adam")
    other.step([np.ones(3), np.ones(7)], [np.ones(3), np.ones(7)])
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(state)


# ---- learning-rate schedules ----

def test_schedule_as_lr_equals_setting_lr_by_hand():
    schedule = Warmup(CosineLR(0.1, total_steps=10, min_lr=0.01), warmup_steps=3)
    grads = gradient_sequence([(5,)], 12, np.float64)
    scheduled = start_params([(5,)], np.float64)
    opt = fk.optimizers.get("adam", lr=schedule)
    run(opt, scheduled, grads)
    by_hand = start_params([(5,)], np.float64)
    manual = fk.optimizers.get("adam")
    for step, g in enumerate(grads):
        manual.lr = schedule(step)
        manual.step(by_hand, g)
    np.testing.assert_array_equal(scheduled[0], by_hand[0])


def test_schedule_values():
    assert [StepLR(1.0, 2, gamma=0.5)(s) for s in range(5)] == [1, 1, 0.5, 0.5, 0.25]
    cosine = CosineLR(1.0, total_steps=4, min_lr=0.0)
    assert cosine(0) == 1.0 and abs(cosine(2) - 0.5) < 1e-12 and cosine(4) == cosine(100) == 0.0
    warm = Warmup(0.1, warmup_steps=4)
    assert [round(warm(s), 10) for s in range(6)] == [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    assert ConstantLR(0.3)(7) == 0.3
    assert fk.schedules.CosineLR is CosineLR
    assert "CosineLR" in repr(cosine)
    with pytest.raises(ValueError):
        StepLR(0.1, 0)
    with pytest.raises(ValueError):
        CosineLR(-1, 10)


def test_bad_schedule_value_is_refused_before_updating():
    w = np.ones(2)
    opt = fk.optimizers.get("sgd", lr=lambda step: -1.0)
    with pytest.raises(ValueError, match="schedule"):
        opt.step(w, np.ones(2))
    assert (w == 1).all() and opt.t == 0


def test_schedule_kept_on_load():
    schedule = StepLR(0.1, 5)
    first = fk.optimizers.get("sgd", lr=schedule)
    w = np.ones(2)
    run(first, [w], [[np.ones(2)]] * 3)
    state = first.state_dict()
    assert "hyperparameters.lr" not in state and "StepLR" in state["lr_schedule"]
    second = fk.optimizers.get("sgd", lr=schedule)
    second.load_state_dict(state)
    assert second.lr is schedule and second.t == 3


# ---- the C entry points directly ----

def test_c_status_codes():
    p = np.ones(4, np.float32)
    g = np.ones(4, np.float32)
    m = np.zeros(4, np.float32)
    v = np.zeros(4, np.float32)
    fp = lambda a: ffi.from_buffer("float[]", a)  # noqa: E731
    config = ffi.new("fpk_adam_config *", {"lr": 0.1, "beta1": 0.9, "beta2": 0.999,
                                           "eps": 1e-8})
    assert lib.fpk_adam_step_f32(4, fp(p), fp(g), fp(m), fp(v), ffi.NULL, config) == lib.FPK_ERR_VALUE
    assert lib.fpk_adam_config_set_step(config, 0) == lib.FPK_ERR_VALUE
    assert lib.fpk_adam_config_set_step(config, 1) == lib.FPK_OK
    assert config.bias_correction1 == pytest.approx(0.1)
    assert lib.fpk_adam_step_f32(4, fp(p), fp(g), fp(m), fp(v), ffi.NULL, config) == lib.FPK_OK
    np.testing.assert_allclose(p, 0.9, rtol=1e-6)
    config.amsgrad = 1
    assert lib.fpk_adam_step_f32(4, fp(p), fp(g), fp(m), fp(v), ffi.NULL, config) == lib.FPK_ERR_NULL
    assert lib.fpk_adam_step_f32(4, ffi.NULL, fp(g), fp(m), fp(v), fp(v), config) == lib.FPK_ERR_NULL
    assert lib.fpk_adam_step_f32(0, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL,
                                 config) == lib.FPK_OK
    sgd = ffi.new("fpk_sgd_config *", {"lr": 0.1, "momentum": 0.0, "nesterov": 1})
    assert lib.fpk_sgd_step_f32(4, fp(p), fp(g), ffi.NULL, sgd) == lib.FPK_ERR_VALUE
    sgd.nesterov, sgd.momentum = 0, 0.9
    assert lib.fpk_sgd_step_f32(4, fp(p), fp(g), ffi.NULL, sgd) == lib.FPK_ERR_NULL
    rms = ffi.new("fpk_rmsprop_config *", {"lr": 0.1, "alpha": 1.0, "eps": 1e-8})
    assert lib.fpk_rmsprop_step_f32(4, fp(p), fp(g), fp(v), rms) == lib.FPK_ERR_VALUE
    sizes = ffi.new("size_t[]", [2**63, 2**63])
    ptrs = ffi.new("float *[]", [fp(p), fp(p)])
    sgd.momentum = 0.0
    assert lib.fpk_sgd_step_many_f32(2, ptrs, ptrs, ffi.NULL, sizes, sgd) == lib.FPK_ERR_OVERFLOW


# ---- teaching metadata ----

@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_metadata(name):
    factory = fk.optimizers.registry.entry(name).factory
    assert factory.description and factory.formula and factory.when_to_use and factory.pitfalls
    assert callable(factory.formulaic) and factory.formulaic is getattr(formulaic, name)
    assert set(factory.hyperparameters) >= set(fk.optimizers.info(name)["defaults"]) - {"betas"}
    assert fk.optimizers.info(name)["description"]


# ---- the docstring examples of the training modules run ----

@pytest.mark.parametrize("module", ["optimizers", "initializers", "normalize", "schedules"])
def test_doctests(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(f"fpkernels.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_bufferless_state_checks_the_count():
    first = fk.optimizers.get("sgd")
    first.step([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    second = fk.optimizers.get("sgd")
    second.load_state_dict(first.state_dict())
    with pytest.raises(ValueError, match="holds 2 tensors"):
        second.step([np.ones(2)], [np.ones(2)])
    second.step([np.ones(2), np.ones(3)], [np.ones(2), np.ones(3)])
    assert second.t == 2


# ---- the conformance kit accepts every built-in, against its formulaic reference ----

def kit_reference(name):
    """The formulaic step as the kit calls a reference: (param, grad, state, t, config)."""
    step_function = getattr(formulaic, name)

    def reference(param, grad, state, t, config):
        hyper = {k: v for k, v in config.items() if k != "betas"}
        values = param.ravel().tolist()
        step_function(values, grad.ravel().tolist(), state, **hyper)
        return np.array(values).reshape(param.shape)
    return reference


@pytest.mark.parametrize("name, hyper", CONFIGS, ids=IDS)
def test_conformance_kit(name, hyper):
    import fpkernels.testing as fkt
    passed = fkt.check_optimizer(name, kit_reference(name), hyperparams=hyper)
    assert "steps match the reference" in passed


def test_deepcopy_and_pickle_of_a_stepped_optimizer():
    import copy
    opt = fk.optimizers.get("adam", amsgrad=True)
    w = np.ones(5, np.float32)
    opt.step(w, np.arange(5.0))
    twins = [copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))]
    ws = [w.copy(), w.copy()]
    opt.step(w, np.ones(5))
    for twin, wt in zip(twins, ws):
        assert twin.state[0]["m"] is not opt.state[0]["m"]
        twin.step(wt, np.ones(5))
        assert wt.tobytes() == w.tobytes()


# ---- random hyper-parameters and data against the references (float64) ----

from hypothesis import given, strategies as st  # noqa: E402

HYPER = {
    "sgd": st.fixed_dictionaries({"lr": st.floats(0, 1), "momentum": st.floats(0.01, 0.99),
                                  "nesterov": st.booleans(), "weight_decay": st.floats(0, 1)}),
    "adam": st.fixed_dictionaries({"lr": st.floats(0, 1), "beta1": st.floats(0, 0.999),
                                   "beta2": st.floats(0, 0.9999), "eps": st.floats(1e-10, 1),
                                   "weight_decay": st.floats(0, 1), "amsgrad": st.booleans()}),
    "rmsprop": st.fixed_dictionaries({"lr": st.floats(0, 1), "alpha": st.floats(0, 0.999),
                                      "eps": st.floats(1e-10, 1), "weight_decay": st.floats(0, 1)}),
}
HYPER["adamw"] = HYPER["adam"]
STATE_NAMES = {"vmax": "v_max", "momentum_buffer": "velocity"}   # fast optimizer's -> formulaic's


@given(st.sampled_from(sorted(HYPER)), st.data(),
       st.lists(st.floats(-10, 10), min_size=1, max_size=9), st.integers(1, 4))
def test_random_settings_match_reference(name, data, start, steps):
    hyper = data.draw(HYPER[name])
    grads = [data.draw(st.lists(st.floats(-10, 10), min_size=len(start), max_size=len(start)))
             for _ in range(steps)]
    param, state = np.array(start), {}
    opt = fk.optimizers.get(name, **hyper)
    for g in grads:
        # Each step from the kernel's own param and state: over several steps a rounding can
        # grow a billionfold (a param cancelled to 1e-11, then divided by eps = 1e-10), so
        # comparing only the end would test the settings' conditioning, not the step.
        reference = list(param)
        opt.step(param, g)
        getattr(formulaic, name)(reference, g, state, **hyper)
        np.testing.assert_allclose(param, reference, rtol=1e-9, atol=1e-9)
        for key, value in opt.state[0].items():
            key = STATE_NAMES.get(key, key)
            np.testing.assert_allclose(value, state[key], rtol=1e-9, atol=1e-9)
            state[key] = list(value)


def misaligned(n, dtype=np.float32):
    buffer = np.zeros(np.dtype(dtype).itemsize * n + 1, np.uint8)
    view = buffer[1:].view(dtype)
    assert not view.flags.aligned
    return view


def test_misaligned_arrays():
    p = misaligned(4)
    with pytest.raises(ValueError, match="aligned"):
        fk.optimizers.get("sgd").step(p, np.ones(4))
    g = misaligned(4)
    g[:] = 1.0
    w = np.zeros(4, np.float32)
    fk.optimizers.get("sgd", lr=1.0).step(w, g)
    assert (w == -1).all()
