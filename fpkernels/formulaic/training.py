"""Teaching references for training: optimizer steps, initialisers and normalisation.

Plain Python, one idea per line, as the paper writes them. A tensor here is a flat list of
numbers (its elements in order); initialisers return nested lists shaped like `shape`.

Optimizer steps share one signature, so any of them can be checked against a fast optimizer:

    step(param, grad, state, **hyperparameters)

`param` is updated in place, `state` is a dict the step fills on its first call and keeps
between calls (moment estimates, the timestep). The hyper-parameter names are those of the
fast optimizer (fpkernels.optimizers.get(name, **hyperparameters)).
"""
import math
import random

__all__ = [
    "sgd", "adam", "adamw", "rmsprop",
    "fans", "zeros", "uniform", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform",
    "zscore", "minmax",
]


# ---- optimizers ----

def sgd(param, grad, state, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
    """One SGD step: param -= lr * grad, with optional momentum, Nesterov and weight decay."""
    if "velocity" not in state:
        state["velocity"] = None                    # no velocity until the first step
    velocity = state["velocity"]
    first_step = velocity is None
    if first_step:
        velocity = [0.0] * len(param)
    for i in range(len(param)):
        g = grad[i] + weight_decay * param[i]       # L2 penalty: pulls weights towards 0
        if momentum != 0:
            if first_step:
                velocity[i] = g                     # the velocity starts as the gradient
            else:
                velocity[i] = momentum * velocity[i] + g   # running sum of past gradients
            if nesterov:
                g = g + momentum * velocity[i]      # look one step ahead
            else:
                g = velocity[i]
        param[i] -= lr * g
    state["velocity"] = velocity


def adam(param, grad, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
         amsgrad=False, decoupled=False):
    """One Adam step: moving averages of the gradient and its square, bias-corrected.

    decoupled=True is AdamW's weight decay (fpkernels' adamw calls this with it): shrink p
    directly instead of adding weight_decay·p to the gradient.
    """
    if "timestep" not in state:
        state["timestep"] = 0
        state["m"] = [0.0] * len(param)             # first moment: mean of the gradients
        state["v"] = [0.0] * len(param)             # second moment: mean of their squares
        state["v_max"] = [0.0] * len(param)         # AMSGrad: the largest v seen so far
    state["timestep"] += 1
    timestep = state["timestep"]
    m, v, v_max = state["m"], state["v"], state["v_max"]
    for i in range(len(param)):
        g = grad[i]
        if decoupled:
            param[i] -= lr * weight_decay * param[i]    # AdamW: shrink the weight directly
        else:
            g = g + weight_decay * param[i]             # Adam: decay through the gradient
        m[i] = beta1 * m[i] + (1 - beta1) * g           # running mean of the gradients
        v[i] = beta2 * v[i] + (1 - beta2) * (g ** 2)    # running mean of their squares
        if amsgrad:
            v_max[i] = max(v_max[i], v[i])
            v_used = v_max[i]
        else:
            v_used = v[i]
        # m and v start at 0, so early averages are too small: scale them back up
        m_hat = m[i] / (1 - beta1 ** timestep)
        v_hat = v_used / (1 - beta2 ** timestep)
        param[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)   # a step of about lr per weight


def adamw(param, grad, state, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01,
          amsgrad=False):
    """One AdamW step: Adam with the weight decay taken out of the gradient (decoupled)."""
    adam(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
         weight_decay=weight_decay, amsgrad=amsgrad, decoupled=True)


def rmsprop(param, grad, state, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
    """One RMSprop step: divide the gradient by a running root-mean-square of past gradients."""
    if "v" not in state:
        state["v"] = [0.0] * len(param)
    v = state["v"]
    for i in range(len(param)):
        g = grad[i] + weight_decay * param[i]
        v[i] = alpha * v[i] + (1 - alpha) * (g ** 2)    # running mean of squared gradients
        param[i] -= lr * g / (math.sqrt(v[i]) + eps)


# ---- initialisers ----

def fans(shape):
    """fan_in and fan_out of a weight of shape (out, in, *kernel), PyTorch's rule."""
    if len(shape) < 2:
        raise ValueError(f"fan_in and fan_out need a weight with at least 2 dimensions "
                         f"(out, in, ...); got shape {tuple(shape)}")
    receptive_field = 1
    for size in shape[2:]:
        receptive_field *= size                     # a convolution kernel's height * width ...
    fan_in = shape[1] * receptive_field             # inputs feeding one output unit
    fan_out = shape[0] * receptive_field            # outputs fed by one input unit
    return fan_in, fan_out


def _tensor(shape, draw):
    """Nested lists of `shape`, each element a fresh draw()."""
    if len(shape) == 0:
        return draw()
    return [_tensor(shape[1:], draw) for _ in range(shape[0])]


def zeros(shape):
    """All zeros: fine for biases; for weights every unit would learn the same thing."""
    return _tensor(tuple(shape), lambda: 0.0)


def uniform(shape, low=-0.5, high=0.5, seed=0):
    """Every weight drawn uniformly from [low, high]."""
    generator = random.Random(seed)
    return _tensor(tuple(shape), lambda: generator.uniform(low, high))


def xavier_uniform(shape, gain=1.0, seed=0):
    """U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    generator = random.Random(seed)
    return _tensor(tuple(shape), lambda: generator.uniform(-bound, bound))


def xavier_normal(shape, gain=1.0, seed=0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    generator = random.Random(seed)
    return _tensor(tuple(shape), lambda: generator.gauss(0.0, std))


def he_normal(shape, seed=0):
    """N(0, std^2) with std = sqrt(2 / fan_in) (He et al., for ReLU layers)."""
    fan_in, _ = fans(shape)
    std = math.sqrt(2 / fan_in)
    generator = random.Random(seed)
    return _tensor(tuple(shape), lambda: generator.gauss(0.0, std))


def he_uniform(shape, seed=0):
    """U(-bound, bound) with bound = sqrt(6 / fan_in): the same variance, 2 / fan_in."""
    fan_in, _ = fans(shape)
    bound = math.sqrt(6 / fan_in)
    generator = random.Random(seed)
    return _tensor(tuple(shape), lambda: generator.uniform(-bound, bound))


# ---- normalisation ----

def zscore(values):
    """(x - mean) / std with the sample std (n - 1); a constant list (std 0) gives zeros."""
    n = len(values)
    mean = sum(values) / n
    squared_deviations = 0.0
    for x in values:
        squared_deviations += (x - mean) ** 2
    std = math.sqrt(squared_deviations / (n - 1)) if n > 1 else 0.0
    if min(values) == max(values):   # constant: std is 0, though the rounded mean may be off
        std = 0.0
    result = []
    for x in values:
        result.append(0.0 if std == 0 else (x - mean) / std)
    return result


def minmax(values, low=0.0, high=1.0):
    """Rescale to [low, high]: the minimum goes to low, the maximum to high (constant -> low)."""
    min_value = min(values)
    max_value = max(values)
    result = []
    for x in values:
        if max_value == min_value:
            result.append(low)
        else:
            result.append(low + (x - min_value) / (max_value - min_value) * (high - low))
    return result
