"""Activations and their derivatives, written out in plain Python.

A tensor here is a list of rows, and a row is a list of numbers: [[1.0, -2.0], [0.5, 3.0]].
Every function walks the rows with explicit loops, one idea per line. The fast C kernels of
fpkernels.activations compute the same numbers; these are their test oracles.

Two numerical habits show up again and again, because e^x overflows for x > 709:
  * sigmoid is computed from e^-|x|, which is always between 0 and 1;
  * softmax subtracts the largest value of a row before exponentiating.
"""
import math

__all__ = [
    "erf", "exp",
    "relu", "relu_derivative",
    "leaky_relu", "leaky_relu_derivative",
    "sigmoid", "sigmoid_derivative",
    "tanh", "tanh_derivative",
    "swish", "swish_derivative",
    "gelu", "gelu_derivative",
    "gelu_tanh", "gelu_tanh_derivative",
    "softmax", "softmax_derivative", "softmax_backward",
    "sigmoid_backward_from_output", "tanh_backward_from_output", "softmax_backward_from_output",
]


# ---- two building blocks ------------------------------------------------------------------

def exp(x, terms=30):
    """e^x from its series 1 + x + x²/2! + x³/3! + ..., after halving x until it is small.

    Teaching version of math.exp: e^x = (e^(x/2))², so we shrink x, sum the series, square back.
    """
    halvings = 0
    while abs(x) > 0.5:
        x = x / 2
        halvings = halvings + 1
    total = 0.0
    term = 1.0
    for n in range(1, terms + 1):
        total = total + term
        term = term * x / n
    for _ in range(halvings):
        total = total * total
    return total


def erf(x, steps=1000):
    """The error function by the trapezoid rule: erf(x) = 2/√π · ∫₀ˣ e^(−t²) dt.

    Cut [0, x] into `steps` slices; each slice adds the average height of its two ends times
    its width. The fast kernel fpkernels.erf uses an accurate approximation instead.
    """
    width = x / steps
    area = 0.0
    for i in range(steps):
        left = i * width
        right = (i + 1) * width
        area = area + (math.exp(-left * left) + math.exp(-right * right)) / 2 * width
    return 2 / math.sqrt(math.pi) * area


def _sigmoid_of(x):
    """σ(x) for one number, without overflow: only ever exponentiate −|x|."""
    e = math.exp(-abs(x))
    if x >= 0:
        return 1 / (1 + e)
    return e / (1 + e)


def _tanh_of(x):
    """tanh(x) for one number, without overflow: (1 − e)/(1 + e) with e = e^(−2|x|)."""
    e = math.exp(-2 * abs(x))
    magnitude = (1 - e) / (1 + e)
    if x >= 0:
        return magnitude
    return -magnitude


def _gaussian_cdf(x):
    """Φ(x): the chance that a random bell-curve number (mean 0, spread 1) is below x."""
    # erfc(z) = 1 − erf(z), so this is ½(1 + erf(x/√2));
    # erfc stays accurate for very negative x, where 1 + erf would lose every digit
    return 0.5 * math.erfc(-x / math.sqrt(2))


# ---- ReLU -----------------------------------------------------------------------------------

def relu(rows):
    """ReLU: keep positive numbers, replace the others with 0."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            if x > 0:
                new_row.append(x)
            else:
                new_row.append(0.0)
        result.append(new_row)
    return result


def relu_derivative(rows):
    """ReLU′: slope 1 where x > 0, slope 0 elsewhere (0 at x = 0 by convention)."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            if x > 0:
                new_row.append(1.0)
            else:
                new_row.append(0.0)
        result.append(new_row)
    return result


# ---- Leaky ReLU -----------------------------------------------------------------------------

def leaky_relu(rows, alpha=0.01):
    """Leaky ReLU: positives pass unchanged, negatives are scaled by a small alpha."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            if x > 0:
                new_row.append(x)
            else:
                new_row.append(alpha * x)
        result.append(new_row)
    return result


def leaky_relu_derivative(rows, alpha=0.01):
    """Leaky ReLU′: slope 1 where x > 0, slope alpha elsewhere."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            if x > 0:
                new_row.append(1.0)
            else:
                new_row.append(alpha)
        result.append(new_row)
    return result


# ---- Sigmoid --------------------------------------------------------------------------------

def sigmoid(rows):
    """Sigmoid: σ(x) = 1 / (1 + e⁻ˣ), squashing every number into (0, 1)."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            new_row.append(_sigmoid_of(x))
        result.append(new_row)
    return result


def sigmoid_derivative(rows):
    """Sigmoid′: σ(x)·(1 − σ(x)), largest (0.25) at x = 0."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            s = _sigmoid_of(x)
            new_row.append(s * (1 - s))
        result.append(new_row)
    return result


# ---- tanh -----------------------------------------------------------------------------------

def tanh(rows):
    """tanh: (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ), squashing every number into (−1, 1)."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            new_row.append(_tanh_of(x))
        result.append(new_row)
    return result


def tanh_derivative(rows):
    """tanh′: 1 − tanh²(x), largest (1) at x = 0."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            t = _tanh_of(x)
            new_row.append(1 - t * t)
        result.append(new_row)
    return result


# ---- Swish (SiLU) ---------------------------------------------------------------------------

def swish(rows, beta=1.0):
    """Swish: x·σ(βx), the input gated by its own sigmoid (SiLU when β = 1)."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            gate = _sigmoid_of(beta * x)
            new_row.append(x * gate)
        result.append(new_row)
    return result


def swish_derivative(rows, beta=1.0):
    """Swish′: σ(βx) + βx·σ(βx)·(1 − σ(βx)), the product rule on x·σ(βx)."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            gate = _sigmoid_of(beta * x)
            gate_slope = gate * (1 - gate)
            new_row.append(gate + beta * x * gate_slope)
        result.append(new_row)
    return result


# ---- GELU (erf) -----------------------------------------------------------------------------

def gelu(rows):
    """GELU: x·Φ(x), x weighted by the chance that a bell-curve number is below x."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            new_row.append(x * _gaussian_cdf(x))
        result.append(new_row)
    return result


def gelu_derivative(rows):
    """GELU′: Φ(x) + x·φ(x), where φ(x) = e^(−x²/2)/√(2π) is the bell curve's height."""
    result = []
    for row in rows:
        new_row = []
        for x in row:
            cdf = _gaussian_cdf(x)
            density = math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
            new_row.append(cdf + x * density)
        result.append(new_row)
    return result


# ---- GELU (tanh approximation) --------------------------------------------------------------

def gelu_tanh(rows):
    """GELU, tanh form: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    c = math.sqrt(2 / math.pi)
    result = []
    for row in rows:
        new_row = []
        for x in row:
            inner = c * (x + 0.044715 * x ** 3)
            new_row.append(0.5 * x * (1 + _tanh_of(inner)))
        result.append(new_row)
    return result


def gelu_tanh_derivative(rows):
    """GELU′, tanh form: ½·(1 + t) + ½·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)."""
    c = math.sqrt(2 / math.pi)
    result = []
    for row in rows:
        new_row = []
        for x in row:
            t = _tanh_of(c * (x + 0.044715 * x ** 3))
            inner_slope = c * (1 + 3 * 0.044715 * x * x)
            new_row.append(0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner_slope)
        result.append(new_row)
    return result


# ---- Softmax --------------------------------------------------------------------------------

def softmax(rows):
    """Softmax of each row: e^(x − max) / Σ e^(x − max), so every row sums to 1."""
    result = []
    for row in rows:
        largest = max(row)
        exps = []
        for x in row:
            exps.append(math.exp(x - largest))
        total = sum(exps)
        new_row = []
        for e in exps:
            new_row.append(e / total)
        result.append(new_row)
    return result


def softmax_derivative(rows):
    """The diagonal of softmax's Jacobian: ∂sᵢ/∂xᵢ = sᵢ·(1 − sᵢ). For gradients use softmax_backward."""
    result = []
    for s_row in softmax(rows):
        new_row = []
        for s in s_row:
            new_row.append(s * (1 - s))
        result.append(new_row)
    return result


def softmax_backward(rows, grad_rows):
    """The gradient through softmax: sᵢ·(gᵢ − Σⱼ gⱼ·sⱼ) for each row (a Jacobian-vector product).

    Every output of a row depends on every input of that row, so the incoming gradient g is
    first summed against s, then each gᵢ is compared with that average.
    """
    return softmax_backward_from_output(softmax(rows), grad_rows)


# ---- backward from the saved output -------------------------------------------------------
# Training keeps each layer's output for the backward pass anyway, and the derivatives of
# sigmoid, tanh and softmax are written in their outputs, so no exponential is needed again.

def sigmoid_backward_from_output(outputs, grad_rows):
    """The gradient through the sigmoid from its output s = σ(x): g·s·(1 − s)."""
    result = []
    for s_row, g_row in zip(outputs, grad_rows):
        new_row = []
        for s, g in zip(s_row, g_row):
            new_row.append(g * s * (1 - s))
        result.append(new_row)
    return result


def tanh_backward_from_output(outputs, grad_rows):
    """The gradient through tanh from its output t = tanh(x): g·(1 − t²)."""
    result = []
    for t_row, g_row in zip(outputs, grad_rows):
        new_row = []
        for t, g in zip(t_row, g_row):
            new_row.append(g * (1 - t * t))
        result.append(new_row)
    return result


def softmax_backward_from_output(outputs, grad_rows):
    """The gradient through softmax from its output s: sᵢ·(gᵢ − Σⱼ gⱼ·sⱼ) for each row."""
    result = []
    for s_row, g_row in zip(outputs, grad_rows):
        average_g = 0.0
        for s, g in zip(s_row, g_row):
            average_g = average_g + g * s
        new_row = []
        for s, g in zip(s_row, g_row):
            new_row.append(s * (g - average_g))
        result.append(new_row)
    return result
