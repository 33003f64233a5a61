"""fpkernels-extras: the Lion optimizer and the log-cosh loss for fpkernels, in NumPy.

Nothing to import: once installed, fpkernels finds them by name through entry points:

    >>> import fpkernels as fk
    >>> opt = fk.optimizers.get("lion", lr=1e-4)
    >>> fk.losses.get("log_cosh").value([0.0, 1.0], [0.0, 0.0])   # doctest: +ELLIPSIS
    0.2168...
"""
__version__ = "0.1.0"
