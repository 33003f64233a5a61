"""Learning-rate schedules: small objects an optimizer calls each step to get its learning rate.

A schedule is any callable `schedule(step) -> float`, where `step` is the number of updates
already made (0 for the first). Give one as an optimizer's `lr=`:

    >>> import fpkernels as fk
    >>> from fpkernels.schedules import CosineLR, Warmup
    >>> opt = fk.optimizers.get("adam", lr=Warmup(CosineLR(1e-3, total_steps=1000), 100))
    >>> round(opt.lr(0), 8), round(opt.lr(99), 8)
    (1e-05, 0.00097601)

or set a plain number yourself before each step (`opt.lr = 0.01`). Schedules hold no state,
so an optimizer's state_dict (which saves its step count) is all a resumed run needs; save
the schedule's settings with your own code (its repr shows them).
"""
import math

__all__ = ["Schedule", "ConstantLR", "StepLR", "CosineLR", "Warmup"]


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, not {value!r}")
    return value


def _rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or math.isinf(value):
        raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
    return float(value)


class Schedule:
    """Base class: subclasses define __call__(step) -> learning rate."""

    def __call__(self, step):
        raise NotImplementedError

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({settings})"


class ConstantLR(Schedule):
    """The same learning rate at every step."""

    def __init__(self, lr):
        self.lr = _rate("lr", lr)

    def __call__(self, step):
        return self.lr


class StepLR(Schedule):
    """lr * gamma ** (step // step_size): divide the rate by 1/gamma every step_size steps."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr = _rate("lr", lr)
        self.step_size = _positive_int("step_size", step_size)
        self.gamma = _rate("gamma", gamma)

    def __call__(self, step):
        return self.lr * self.gamma ** (step // self.step_size)


class CosineLR(Schedule):
    """Half a cosine from lr down to min_lr over total_steps, then min_lr."""

    def __init__(self, lr, total_steps, min_lr=0.0):
        self.lr = _rate("lr", lr)
        self.total_steps = _positive_int("total_steps", total_steps)
        self.min_lr = _rate("min_lr", min_lr)

    def __call__(self, step):
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


class Warmup(Schedule):
    """Ramp linearly up to `schedule` (a schedule or a number) over the first warmup_steps:
    (step + 1) / warmup_steps times its rate, then the schedule unchanged."""

    def __init__(self, schedule, warmup_steps):
        self.schedule = schedule if callable(schedule) else ConstantLR(schedule)
        self.warmup_steps = _positive_int("warmup_steps", warmup_steps)

    def __call__(self, step):
        rate = self.schedule(step)
        if step < self.warmup_steps:
            return rate * (step + 1) / self.warmup_steps
        return rate
