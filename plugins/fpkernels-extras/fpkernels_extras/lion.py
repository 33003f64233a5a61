"""Lion (EvoLved Sign Momentum), an optimizer found by program search (Chen et al., 2023)."""
import numpy as np

from fpkernels.interfaces import Optimizer


def lion_step(params, grads, moments, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0):
    """One Lion step on lists of numbers (the formulaic reference): params change in place."""
    for i in range(len(params)):
        g = grads[i]
        m = moments[i]
        blend = beta1 * m + (1 - beta1) * g                     # where to step: a blend ...
        direction = 1.0 if blend > 0 else -1.0 if blend < 0 else 0.0   # only its sign counts
        params[i] = params[i] - lr * (direction + weight_decay * params[i])
        moments[i] = beta2 * m + (1 - beta2) * g                # momentum, with its own beta
    return params


class Lion(Optimizer):
    description = """Lion: step by the sign of a blend of momentum and gradient.

    Found by symbolic program search (Chen et al., 2023, "Symbolic Discovery of Optimization
    Algorithms"). Every coordinate moves by exactly lr (plus decay), so the update has the
    same size everywhere, like signSGD, but the sign is taken of an interpolation between
    the momentum and the fresh gradient (beta1), while the momentum itself is tracked with
    a slower beta2. It keeps one state array per parameter (Adam keeps two)."""
    formula = ("c = β₁m + (1 − β₁)g;  p ← p − η(sign(c) + λp);  m ← β₂m + (1 − β₂)g")
    formulaic = staticmethod(lion_step)
    hyperparameters = {
        "lr": "step size η; typically 3-10x smaller than Adam's",
        "beta1": "weight of the momentum in the blend whose sign is taken",
        "beta2": "decay of the momentum itself",
        "weight_decay": "decoupled weight decay λ (as in AdamW); typically 3-10x larger than AdamW's",
    }
    when_to_use = "Large models and batches where memory for Adam's second moment matters."
    pitfalls = "Needs a smaller learning rate than Adam: every coordinate moves by lr each step."
    state_names = ("m",)

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0):
        super().__init__()
        if lr <= 0:
            raise ValueError(f"lr must be positive, not {lr}")
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), not {beta1}, {beta2}")
        self.lr, self.beta1, self.beta2, self.weight_decay = lr, beta1, beta2, weight_decay

    def update(self, param, grad, state):
        m = state["m"]
        blend = self.beta1 * m + (1 - self.beta1) * grad
        if self.weight_decay:
            param *= 1 - self.lr * self.weight_decay
        param -= self.lr * np.sign(blend)
        m *= self.beta2
        m += (1 - self.beta2) * grad
