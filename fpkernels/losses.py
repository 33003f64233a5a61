"""The losses of fpkernels and their registry (`get`, `names`, `info`, `register`)."""
from .registry import Registry

registry = Registry("losses")
get, names, info, register = registry.get, registry.names, registry.info, registry.register

# ---- the built-in losses (activations developer) ---------------------------------------------
import numpy as np

from . import formulaic as _formulaic
from ._core import (apart, as_array, check, contiguous, float_dtype, kernel, output, ptr,
                    real_number)
from ._fpkernels import ffi, lib
from .interfaces import Loss, Setting

__all__ = ["get", "names", "info", "register", "MAE", "MSE", "Hinge", "Huber", "BCE", "CCE",
           "SoftmaxCrossEntropy"]

_REDUCTIONS = {"none": lib.FPK_REDUCTION_NONE, "mean": lib.FPK_REDUCTION_MEAN,
               "sum": lib.FPK_REDUCTION_SUM}


def _compute_dtype(pred, target):
    """The dtype of the computation: the prediction's float dtype; integer or bool targets
    (labels) do not promote a float32 prediction to float64, float targets follow NumPy."""
    if target.dtype.kind in "iub":
        return float_dtype(pred)
    return float_dtype(pred, target)


def _outside_unit_interval(y):
    """True where y is not in [0, 1] (NaN included)."""
    return ~((y >= 0) & (y <= 1))


def _first_bad(target, bad):
    """'VALUE at index (i, j)' for the first True of the boolean mask `bad`."""
    index = np.unravel_index(int(np.argmax(bad)), bad.shape)
    index = tuple(int(i) for i in index)
    return f"{target[index].item()!r} at index {index if len(index) != 1 else index[0]}"


class _LossBase(Loss):
    """Shared plumbing: reductions, metadata, repr."""

    @property
    def _reduction(self):
        return _REDUCTIONS[self.reduction]

    def __call__(self, pred, target):
        return self.value(pred, target)

    def _value_outputs(self, shape, dtype):
        """(array for 'none' or None, its C pointer, a C double for the total)."""
        if self.reduction == "none":
            values = np.empty(shape, dtype)
            return values, ptr(values), ffi.NULL
        return None, ffi.NULL, ffi.new("double *")

    @staticmethod
    def _value_result(values, total):
        return values if values is not None else float(total[0])

    def _check_targets(self, status, target, is_bad, rule):
        """Raise for a C status; a target the kernel rejected is named, found with `is_bad`
        (NumPy's search runs only then: beforehand it cost more than the kernel)."""
        if status == lib.FPK_ERR_VALUE and target is not None and is_bad is not None:
            bad = is_bad(target)
            if bad.any():
                raise ValueError(f"{self.kernel} {rule}; found {_first_bad(target, bad)}")
        check(status, self.kernel)

    def _overridden(self, base):
        """Whether a subclass overrides base's value or gradient: value_and_gradient then
        calls them (the fused kernel would skip the subclass's code)."""
        cls = type(self)
        return cls.value is not base.value or cls.gradient is not base.gradient

    def __repr__(self):
        hyper = "".join(f"{k}={getattr(self, k)!r}, " for k in self.hyperparameters
                        if k != "reduction")
        return f"{type(self).__name__}({hyper}reduction={self.reduction!r})"


class _ElementWiseLoss(_LossBase):
    """A loss of equal-shape pred and target, backed by fpk_<kernel>_{value,gradient}."""

    kernel = ""
    label_rule = None      # None, or (numpy predicate that is True for bad targets, wording)

    def _hyper(self):
        return ()

    def _inputs(self, pred, target):
        pred = as_array(pred, "pred")
        target = as_array(target, "target")
        if pred.shape != target.shape:
            raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}; "
                             "they must be equal")
        dtype = _compute_dtype(pred, target)
        return contiguous(pred, dtype), contiguous(target, dtype), dtype, target

    def _check(self, status, given_target):
        """Raise for a C status; a rejected target is named as the caller gave it."""
        is_bad, wording = self.label_rule or (None, "")
        self._check_targets(status, given_target, is_bad, f"targets must be {wording}")

    def _check_in_place(self, pred, target, out, dtype, given):
        """Where out is pred or target, the gradient kernel would find a rejected target after
        overwriting part of the caller's array (the bad value too, when out is target): the
        value kernel, which writes nothing, checks the targets first. Only losses that check
        their targets pay this pass, and only in place."""
        if self.label_rule is not None and (out is pred or out is target):
            self._check(kernel(self.kernel + "_value", dtype)(
                ptr(pred), ptr(target), pred.size, _REDUCTIONS["sum"], ffi.NULL,
                ffi.new("double *"), *self._hyper()), given)

    def value(self, pred, target):
        """The loss: a Python float for reduction 'mean'/'sum', an array for 'none'."""
        pred, target, dtype, given = self._inputs(pred, target)
        values, values_ptr, total = self._value_outputs(pred.shape, dtype)
        self._check(kernel(self.kernel + "_value", dtype)(
            ptr(pred), ptr(target), pred.size, self._reduction, values_ptr, total,
            *self._hyper()), given)
        return self._value_result(values, total)

    def gradient(self, pred, target, out=None):
        """d value / d pred, an array shaped like pred (or `out`)."""
        pred, target, dtype, given = self._inputs(pred, target)
        out = output(out, pred.shape, dtype)
        pred, target = apart(pred, out), apart(target, out)
        self._check_in_place(pred, target, out, dtype, given)
        self._check(kernel(self.kernel + "_gradient", dtype)(
            ptr(pred), ptr(target), ptr(out), pred.size, self._reduction, *self._hyper()), given)
        return out

    def value_and_gradient(self, pred, target, out=None):
        """(value, gradient) in one pass over the data, as a training step needs them: the
        numbers of gradient() and value() (whose float32 total may differ in its last bits:
        it is summed in another order). out=pred overwrites pred with the gradient."""
        if self._overridden(_ElementWiseLoss):
            return self.value(pred, target), self.gradient(pred, target, out=out)
        pred, target, dtype, given = self._inputs(pred, target)
        out = output(out, pred.shape, dtype)
        pred, target = apart(pred, out), apart(target, out)
        self._check_in_place(pred, target, out, dtype, given)
        values, values_ptr, total = self._value_outputs(pred.shape, dtype)
        self._check(kernel(self.kernel + "_value_and_gradient", dtype)(
            ptr(pred), ptr(target), ptr(out), pred.size, self._reduction, values_ptr, total,
            *self._hyper()), given)
        return self._value_result(values, total), out


_REDUCTION_DOC = ("'mean' (default; NaN for an empty input, as in PyTorch), 'sum', or 'none' "
                  "(one loss per element)")


@register("mae")
class MAE(_ElementWiseLoss):
    description = """Mean absolute error: the average distance |y − p| between the prediction p and the target y.

    Robust to outliers (a big error counts only linearly). The gradient is ±1/n, and 0 where
    the prediction equals the target."""
    formula = "MAE = (1/n)·Σ |yᵢ − pᵢ|"
    formulaic = staticmethod(_formulaic.mae)
    formulaic_gradient = staticmethod(_formulaic.mae_gradient)
    hyperparameters = {"reduction": _REDUCTION_DOC}
    when_to_use = "Regression where outliers should not dominate; the median is its best constant."
    pitfalls = "Its gradient does not shrink near the optimum, so training can oscillate."
    kernel = "mae"


@register("mse")
class MSE(_ElementWiseLoss):
    description = """Mean squared error: the average of (y − p)², p the prediction and y the target.

    The standard regression loss: large errors are punished quadratically, and the gradient
    2(p − y)/n shrinks as the prediction approaches the target."""
    formula = "MSE = (1/n)·Σ (yᵢ − pᵢ)²"
    formulaic = staticmethod(_formulaic.mse)
    formulaic_gradient = staticmethod(_formulaic.mse_gradient)
    hyperparameters = {"reduction": _REDUCTION_DOC}
    when_to_use = "Regression with roughly Gaussian noise."
    pitfalls = "Outliers dominate it; consider huber or mae when the data have them."
    kernel = "mse"


@register("hinge")
class Hinge(_ElementWiseLoss):
    description = """Hinge loss: max(0, 1 − y·p), for a predicted score p and a label y of −1 or +1.

    Zero once an example is on the right side with a margin of at least 1; otherwise it grows
    linearly. The loss of support vector machines."""
    formula = "hinge = (1/n)·Σ max(0, 1 − yᵢ·pᵢ),  yᵢ ∈ {−1, +1}"
    formulaic = staticmethod(_formulaic.hinge)
    formulaic_gradient = staticmethod(_formulaic.hinge_gradient)
    hyperparameters = {"reduction": _REDUCTION_DOC}
    when_to_use = "Binary classification with a raw score output (no sigmoid), SVM-style."
    pitfalls = "Labels must be −1 and +1, not 0 and 1 (a ValueError says so)."
    kernel = "hinge"
    label_rule = (lambda y: ~((y == 1) | (y == -1)), "-1 or +1")

    @staticmethod
    def example_inputs(rng, dtype):
        """Scores and -1/+1 labels (what fpkernels.testing.check_loss feeds it)."""
        return rng.uniform(-2, 2, (5, 4)).astype(dtype), rng.choice([-1, 1], (5, 4)).astype(dtype)


@register("huber")
class Huber(_ElementWiseLoss):
    description = """Huber loss: squared error for small errors, absolute error for large ones.

    Quadratic within ±delta of the target and linear beyond, so it is smooth near the optimum
    like mse and robust to outliers like mae."""
    formula = "huber = (1/n)·Σ { ½eᵢ² if |eᵢ| ≤ δ else δ·(|eᵢ| − ½δ) },  eᵢ = pᵢ − yᵢ"
    formulaic = staticmethod(_formulaic.huber)
    formulaic_gradient = staticmethod(_formulaic.huber_gradient)
    hyperparameters = {"delta": "where the loss turns from quadratic to linear (> 0)",
                       "reduction": _REDUCTION_DOC}
    when_to_use = "Regression with some outliers; PyTorch's huber_loss (smooth_l1 with beta = delta scaled)."
    pitfalls = "delta is in the units of the target: rescale it when the targets are rescaled."
    kernel = "huber"

    delta = Setting(lambda name, value: real_number(name, value, low=0.0, low_open=True))

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction)
        self.delta = delta

    def _hyper(self):
        return (self.delta,)


@register("bce")
class BCE(_ElementWiseLoss):
    description = """Binary cross-entropy: how surprised the predicted probability p is by the label y (0 or 1).

    p is clamped to [1e-7, 1 − 1e-7] so log never sees 0. The gradient is the formula's
    derivative at the clamped p, (p − y)/(p(1 − p)), so even a saturated prediction gets a
    (large, finite) push back. Targets must lie in [0, 1] (soft labels are allowed). In
    float32 on the vector kernels (AVX2, AVX-512) the logarithms are float ones (each
    element's loss within 3 ULP of the float64 formula, the sum taken in double); the portable
    build and float64 keep double throughout."""
    formula = "BCE = −(1/n)·Σ [yᵢ·log pᵢ + (1 − yᵢ)·log(1 − pᵢ)]"
    formulaic = staticmethod(_formulaic.bce)
    formulaic_gradient = staticmethod(_formulaic.bce_gradient)
    hyperparameters = {"reduction": _REDUCTION_DOC}
    when_to_use = "Binary or multi-label classification after a sigmoid output."
    pitfalls = ("Give it probabilities, not logits. Sigmoid then bce loses precision for "
                "confident predictions; clamping hides, but does not fix, that.")
    kernel = "bce"
    label_rule = (_outside_unit_interval, "in [0, 1]")


_ROW_REDUCTION_DOC = ("'mean' over rows (default; NaN for no rows), 'sum', or 'none' (one loss "
                      "per row)")


class _RowLoss(_LossBase):
    """A loss over rows of class scores with integer labels or one-hot (weight) rows."""

    kernel = ""

    def _inputs(self, pred, target):
        pred = as_array(pred, "pred")
        target = as_array(target, "target")
        if pred.ndim == 0 or pred.shape[-1] == 0:
            raise ValueError(f"pred has shape {pred.shape}; it needs a last axis of (at least "
                             "one) classes")
        classes = pred.shape[-1]
        if target.shape == pred.shape:           # weights: the kernels check them (_check)
            dtype = _compute_dtype(pred, target)
            rows_target = contiguous(target, dtype)
            labels = None
        elif target.shape == pred.shape[:-1]:
            dtype = float_dtype(pred)
            rows_target = None
            if target.dtype.kind == "f":
                bad = ~(np.isfinite(target) & (target == np.floor(target)))
                if bad.any():
                    raise ValueError(f"{self.kernel} class labels must be whole numbers; "
                                     f"found {_first_bad(target, bad)}")
            bad = (target < 0) | (target >= classes)     # before int64 could wrap them
            if bad.any():
                raise ValueError(f"{self.kernel} class labels must be in [0, {classes}) for "
                                 f"{classes} classes; found {_first_bad(target, bad)}")
            labels = np.ascontiguousarray(target, dtype=np.int64)
        else:
            raise ValueError(f"pred has shape {pred.shape} but target has shape {target.shape}; "
                             f"target must be class labels of shape {pred.shape[:-1]} or "
                             f"one-hot rows of shape {pred.shape}")
        pred = contiguous(pred, dtype)
        rows = pred.size // classes
        return pred, labels, rows_target, dtype, rows, classes

    def _check(self, status, rows_target):
        """Raise for a C status; a rejected weight is named (checking the weights before the
        kernel took three times as long as the kernel, (16384, 1000) float32)."""
        self._check_targets(status, rows_target, _outside_unit_interval,
                            "one-hot target rows must hold weights in [0, 1]")

    def _check_in_place(self, pred, rows_target, out, dtype, rows, classes):
        """As _ElementWiseLoss._check_in_place, for weight rows (labels are checked before
        any kernel runs)."""
        if rows_target is not None and (out is pred or out is rows_target):
            self._check(kernel(self.kernel + "_value", dtype)(
                ptr(pred), ffi.NULL, ptr(rows_target), rows, classes, _REDUCTIONS["sum"],
                ffi.NULL, ffi.new("double *")), rows_target)

    @staticmethod
    def _targets(labels, rows_target):
        if labels is not None:
            return ffi.from_buffer("int64_t[]", labels), ffi.NULL
        return ffi.NULL, ptr(rows_target)

    def value(self, pred, target):
        """The loss: a Python float for 'mean'/'sum', one value per row for 'none'."""
        pred, labels, rows_target, dtype, rows, classes = self._inputs(pred, target)
        label_ptr, target_ptr = self._targets(labels, rows_target)
        values, values_ptr, total = self._value_outputs(pred.shape[:-1], dtype)
        self._check(kernel(self.kernel + "_value", dtype)(
            ptr(pred), label_ptr, target_ptr, rows, classes, self._reduction, values_ptr, total),
            rows_target)
        return self._value_result(values, total)

    def gradient(self, pred, target, out=None):
        """d value / d pred, shaped like pred (or `out`)."""
        pred, labels, rows_target, dtype, rows, classes = self._inputs(pred, target)
        out = output(out, pred.shape, dtype)
        pred = apart(pred, out)
        self._check_in_place(pred, rows_target, out, dtype, rows, classes)
        label_ptr, target_ptr = self._targets(labels, apart(rows_target, out))
        self._check(kernel(self.kernel + "_gradient", dtype)(
            ptr(pred), label_ptr, target_ptr, ptr(out), rows, classes, self._reduction),
            rows_target)
        return out

    def value_and_gradient(self, pred, target, out=None):
        """(value, gradient) in one pass over the data, as a training step needs them: the
        numbers of value() and gradient() (softmax_cross_entropy's float32 value may differ
        in its last bits: it comes from the gradient's exponentials, computed once)."""
        if self._overridden(_RowLoss):
            return self.value(pred, target), self.gradient(pred, target, out=out)
        pred, labels, rows_target, dtype, rows, classes = self._inputs(pred, target)
        out = output(out, pred.shape, dtype)
        pred = apart(pred, out)
        self._check_in_place(pred, rows_target, out, dtype, rows, classes)
        label_ptr, target_ptr = self._targets(labels, apart(rows_target, out))
        values, values_ptr, total = self._value_outputs(pred.shape[:-1], dtype)
        self._check(kernel(self.kernel + "_value_and_gradient", dtype)(
            ptr(pred), label_ptr, target_ptr, ptr(out), rows, classes, self._reduction,
            values_ptr, total), rows_target)
        return self._value_result(values, total), out


@register("cce")
class CCE(_RowLoss):
    description = """Categorical cross-entropy: −log of the probability given to the true class.

    pred holds one row of class probabilities per example (e.g. a softmax output), clamped to
    [1e-7, 1 − 1e-7]; target is one class index per row or one one-hot row per row. 'mean'
    averages over the rows (examples). Target rows may also hold other weights in [0, 1]
    (soft labels, taken as given, not normalised); a class of weight 0 adds nothing whatever
    its p, as the other classes of a class index do."""
    formula = "CCE = −(1/N)·Σᵣ log p[r, yᵣ]  =  −(1/N)·Σᵣ Σⱼ y[r, j]·log p[r, j]"
    formulaic = staticmethod(_formulaic.cce)
    formulaic_gradient = staticmethod(_formulaic.cce_gradient)
    hyperparameters = {"reduction": _ROW_REDUCTION_DOC}
    when_to_use = "Multi-class classification when the model already outputs probabilities."
    pitfalls = "Training a softmax + cce pair is less stable than softmax_cross_entropy on logits."
    kernel = "cce"

    @staticmethod
    def example_inputs(rng, dtype):
        """Rows of probabilities and a class label per row (for fpkernels.testing)."""
        p = rng.uniform(0.1, 1.0, (5, 4))
        return (p / p.sum(axis=1, keepdims=True)).astype(dtype), rng.integers(0, 4, 5)


@register("softmax_cross_entropy", aliases=("cross_entropy",))
class SoftmaxCrossEntropy(_RowLoss):
    description = """Softmax then cross-entropy in one step: the loss of multi-class classifiers, on raw scores.

    Computed as log Σ e^z − z[label] with the log-sum-exp trick, so it never overflows or
    takes log(0). Its gradient is simply (softmax(z) − one_hot) / batch, PyTorch's
    cross_entropy. A row holding one +inf gives the limit, as the softmax activation does:
    loss 0 and gradient 0 when the +inf is the label's, else loss +inf (PyTorch gives NaN);
    a class of weight 0 in a one-hot row adds nothing, even at −inf."""
    formula = "SCE = (1/N)·Σᵣ [log Σⱼ e^z[r, j] − z[r, yᵣ]]"
    formulaic = staticmethod(_formulaic.softmax_cross_entropy)
    formulaic_gradient = staticmethod(_formulaic.softmax_cross_entropy_gradient)
    hyperparameters = {"reduction": _ROW_REDUCTION_DOC}
    when_to_use = "The output layer of every multi-class classifier: feed it the raw logits."
    pitfalls = "Do not apply softmax first: it expects logits, not probabilities."
    kernel = "softmax_cross_entropy"

    @staticmethod
    def example_inputs(rng, dtype):
        """Rows of logits and a class label per row (for fpkernels.testing)."""
        return rng.normal(size=(5, 4)).astype(dtype), rng.integers(0, 4, 5)
