"""Optimizer trajectories against torch.optim: 1000 steps, same gradients, float32 rounding."""
import numpy as np
import pytest

import fpkernels as fk

torch = pytest.importorskip("torch")

# (fpkernels name, hyper-parameters, torch class name, torch keyword arguments)
CASES = [
    ("sgd", {}, "SGD", {"lr": 0.01}),
    ("sgd", {"momentum": 0.9}, "SGD", {"lr": 0.01, "momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True}, "SGD",
     {"lr": 0.01, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"weight_decay": 0.05, "momentum": 0.5}, "SGD",
     {"lr": 0.01, "weight_decay": 0.05, "momentum": 0.5}),
    ("adam", {}, "Adam", {}),
    ("adam", {"lr": 0.01, "amsgrad": True}, "Adam", {"lr": 0.01, "amsgrad": True}),
    ("adam", {"weight_decay": 0.1}, "Adam", {"weight_decay": 0.1}),
    ("adam", {"betas": (0.8, 0.99), "eps": 1e-6}, "Adam", {"betas": (0.8, 0.99), "eps": 1e-6}),
    ("adamw", {}, "AdamW", {}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, "AdamW",
     {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {}, "RMSprop", {}),
    ("rmsprop", {"weight_decay": 0.1, "alpha": 0.9}, "RMSprop",
     {"weight_decay": 0.1, "alpha": 0.9}),
]
SHAPES = [(8, 5), (13,), (2, 3, 2)]
STEPS = 1000


@pytest.mark.parametrize("name, hyper, torch_name, torch_hyper", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_trajectory_matches_torch(name, hyper, torch_name, torch_hyper):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    tensors = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    ours = fk.optimizers.get(name, **hyper)
    theirs = getattr(torch.optim, torch_name)(tensors, foreach=False, **torch_hyper)
    for _ in range(STEPS):
        # a noisy gradient that depends on the parameters (a quadratic bowl plus noise)
        grads = [(0.1 * p + rng.standard_normal(p.shape)).astype(np.float32) for p in params]
        ours.step(params, grads)
        for t, g in zip(tensors, grads):
            t.grad = torch.from_numpy(g.copy())
        theirs.step()
    for p, t in zip(params, tensors):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-5, atol=1e-5)
