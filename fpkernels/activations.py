"""The activations of fpkernels and their registry (`get`, `names`, `info`, `register`)."""
from .registry import Registry

registry = Registry("activations")
get, names, info, register = registry.get, registry.names, registry.info, registry.register
