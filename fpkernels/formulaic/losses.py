"""Losses and their gradients, written out in plain Python.

`predicted` and `actual` are lists of numbers of the same length (for cce and
softmax_cross_entropy: a list of rows, one row of class scores per example, and either one
class index per example or one one-hot row per example). Each loss averages its per-element
values (reduction="mean"), or adds them ("sum"), or returns them as a list ("none"). Each
gradient is the derivative of that same number with respect to every predicted value.
"""
import math

__all__ = [
    "mae", "mae_gradient",
    "mse", "mse_gradient",
    "hinge", "hinge_gradient",
    "huber", "huber_gradient",
    "bce", "bce_gradient",
    "cce", "cce_gradient",
    "softmax_cross_entropy", "softmax_cross_entropy_gradient",
]

EPSILON = 1e-7   # probabilities are kept inside [EPSILON, 1 − EPSILON] so log never sees 0


def _reduce(losses, reduction):
    """Average, add up, or keep the per-element losses."""
    if reduction == "none":
        return losses
    total = 0.0
    for value in losses:
        total = total + value
    if reduction == "sum":
        return total
    return total / len(losses)


def _scale(count, reduction):
    """What each per-element derivative is multiplied by: 1/count for a mean, else 1."""
    if reduction == "mean":
        return 1 / count
    return 1.0


def _sign(x):
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x * 0.0    # 0 (NaN stays NaN)


def _clamp(p):
    """Keep a probability away from 0 and 1."""
    return min(max(p, EPSILON), 1 - EPSILON)


# ---- Mean absolute error --------------------------------------------------------------------

def mae(predicted, actual, reduction="mean"):
    """Mean absolute error: the average of |y − p|."""
    losses = []
    for p, y in zip(predicted, actual):
        losses.append(abs(y - p))
    return _reduce(losses, reduction)


def mae_gradient(predicted, actual, reduction="mean"):
    """d MAE / d p = sign(p − y) / n (0 where p equals y, the kink, as PyTorch takes it)."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for p, y in zip(predicted, actual):
        if p == y:
            gradient.append(0.0)      # also at p = y = ±inf, where p − y is NaN
        else:
            gradient.append(_sign(p - y) * scale)
    return gradient


# ---- Mean squared error ---------------------------------------------------------------------

def mse(predicted, actual, reduction="mean"):
    """Mean squared error: the average of (y − p)²."""
    losses = []
    for p, y in zip(predicted, actual):
        error = y - p
        losses.append(error * error)
    return _reduce(losses, reduction)


def mse_gradient(predicted, actual, reduction="mean"):
    """d MSE / d p = 2·(p − y) / n."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for p, y in zip(predicted, actual):
        gradient.append(2 * (p - y) * scale)
    return gradient


# ---- Hinge ----------------------------------------------------------------------------------

def hinge(predicted, actual, reduction="mean"):
    """Hinge loss: max(0, 1 − y·p), with labels y that are −1 or +1."""
    losses = []
    for p, y in zip(predicted, actual):
        margin = 1 - y * p
        losses.append(max(0.0, margin))
    return _reduce(losses, reduction)


def hinge_gradient(predicted, actual, reduction="mean"):
    """d hinge / d p = −y where the margin 1 − y·p is still positive, else 0."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for p, y in zip(predicted, actual):
        if 1 - y * p > 0:
            gradient.append(-y * scale)
        else:
            gradient.append(0.0)
    return gradient


# ---- Huber ----------------------------------------------------------------------------------

def huber(predicted, actual, delta=1.0, reduction="mean"):
    """Huber loss: ½e² for small errors |e| ≤ delta, delta·(|e| − ½delta) for large ones."""
    losses = []
    for p, y in zip(predicted, actual):
        error = p - y
        if abs(error) <= delta:
            losses.append(0.5 * error * error)
        else:
            losses.append(delta * (abs(error) - 0.5 * delta))
    return _reduce(losses, reduction)


def huber_gradient(predicted, actual, delta=1.0, reduction="mean"):
    """d Huber / d p = e for small errors, delta·sign(e) for large ones (e = p − y)."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for p, y in zip(predicted, actual):
        error = p - y
        if abs(error) <= delta:
            gradient.append(error * scale)
        else:
            gradient.append(delta * _sign(error) * scale)
    return gradient


# ---- Binary cross-entropy -------------------------------------------------------------------

def bce(predicted, actual, reduction="mean"):
    """Binary cross-entropy: −(y·log p + (1 − y)·log(1 − p)), with p kept inside (0, 1)."""
    losses = []
    for p, y in zip(predicted, actual):
        p = _clamp(p)
        losses.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
    return _reduce(losses, reduction)


def bce_gradient(predicted, actual, reduction="mean"):
    """d BCE / d p = (p − y) / (p·(1 − p)), at the clamped p."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for p, y in zip(predicted, actual):
        p = _clamp(p)
        gradient.append((p - y) / (p * (1 - p)) * scale)
    return gradient


# ---- Categorical cross-entropy --------------------------------------------------------------

def _one_hot(label, classes):
    """A class index as a one-hot row; a row given already is returned as it is."""
    if isinstance(label, (list, tuple)):
        return list(label)
    row = [0.0] * classes
    row[label] = 1.0
    return row


def cce(predicted, actual, reduction="mean"):
    """Categorical cross-entropy: −log p[label] for each row of class probabilities.

    `actual` holds one class index per row, or one one-hot row per row; with a one-hot row y
    the loss is −Σⱼ yⱼ·log pⱼ, which is the same number.
    """
    losses = []
    for probabilities, label in zip(predicted, actual):
        y = _one_hot(label, len(probabilities))
        loss = 0.0
        for p, weight in zip(probabilities, y):
            if weight != 0:
                loss = loss - weight * math.log(_clamp(p))
        losses.append(loss)
    return _reduce(losses, reduction)


def cce_gradient(predicted, actual, reduction="mean"):
    """d CCE / d pⱼ = −yⱼ / pⱼ: only the true class's probability gets pushed (up)."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for probabilities, label in zip(predicted, actual):
        y = _one_hot(label, len(probabilities))
        row = []
        for p, weight in zip(probabilities, y):
            row.append(-weight / _clamp(p) * scale)
        gradient.append(row)
    return gradient


# ---- Softmax cross-entropy (fused) ----------------------------------------------------------

def _log_sum_exp(row):
    """log Σ e^z, computed as max + log Σ e^(z − max) so nothing overflows."""
    largest = max(row)
    total = 0.0
    for z in row:
        total = total + math.exp(z - largest)
    return largest + math.log(total)


def softmax_cross_entropy(predicted, actual, reduction="mean"):
    """Cross-entropy of softmax(logits), in one step: log Σ e^z − z[label] for each row.

    Going through log-sum-exp instead of softmax-then-log never takes the log of 0.
    """
    losses = []
    for logits, label in zip(predicted, actual):
        y = _one_hot(label, len(logits))
        log_total = _log_sum_exp(logits)
        loss = 0.0
        for z, weight in zip(logits, y):
            if weight != 0:           # a class of weight 0 adds nothing, even at z = −inf
                loss = loss + weight * (log_total - z)
        losses.append(loss)
    return _reduce(losses, reduction)


def softmax_cross_entropy_gradient(predicted, actual, reduction="mean"):
    """d / d logits = softmax(logits) − one_hot(label), divided by the batch size for a mean."""
    scale = _scale(len(predicted), reduction)
    gradient = []
    for logits, label in zip(predicted, actual):
        y = _one_hot(label, len(logits))
        log_total = _log_sum_exp(logits)
        total_weight = sum(y)   # 1 for a one-hot row
        row = []
        for z, weight in zip(logits, y):
            probability = math.exp(z - log_total)
            row.append((probability * total_weight - weight) * scale)
        gradient.append(row)
    return gradient
