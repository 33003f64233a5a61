"""Registries: name -> building block, for activations, losses, initializers and optimizers.

Each family module (fpkernels.activations, .losses, .initializers, .optimizers) owns one
Registry and exposes its get/names/info/register as module functions:

    >>> import fpkernels as fk
    >>> fk.activations.get("relu").forward([-1.0, 2.0])
    array([0., 2.])

An entry is a factory (usually a class) whose keyword arguments are its hyper-parameters;
its teaching metadata are attributes of the factory (see fpkernels.interfaces).
"""
import difflib
import inspect

BUILTIN_ORIGIN = "fpkernels (built-in)"


class Entry:
    """One registered name: its factory, aliases and where it came from."""

    def __init__(self, name, factory, aliases, origin):
        self.name = name
        self.factory = factory
        self.aliases = tuple(aliases)
        self.origin = origin

    def defaults(self):
        """The hyper-parameters and their default values, read from the factory's signature."""
        parameters = inspect.signature(self.factory).parameters.values()
        return {p.name: p.default for p in parameters
                if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD}

    def create(self, hyperparams):
        accepted = self.defaults()
        unknown = sorted(set(hyperparams) - set(accepted))
        if unknown:
            raise TypeError(f"{self.name} got unknown hyper-parameter(s) {', '.join(unknown)}; "
                            f"it accepts: {', '.join(accepted) or 'none'}")
        return self.factory(**hyperparams)


class Registry:
    """Names (case-insensitive, with aliases) of one family of building blocks."""

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}   # canonical lower-case name -> Entry
        self._aliases = {}   # lower-case name or alias -> canonical name

    def register(self, name, factory=None, *, aliases=(), origin=BUILTIN_ORIGIN):
        """Register `factory` under `name`; used as a call or, without `factory`, a decorator."""
        if factory is None:
            return lambda f: self.register(name, f, aliases=aliases, origin=origin) or f
        key = name.lower()
        for alias in (key, *(a.lower() for a in aliases)):
            if alias in self._aliases:
                owner = self._entries[self._aliases[alias]]
                raise ValueError(f"{self.kind} name {alias!r} is taken by {owner.name!r} "
                                 f"from {owner.origin}; cannot register it for {origin}")
        entry = Entry(key, factory, [a.lower() for a in aliases], origin)
        self._entries[key] = entry
        for alias in (key, *entry.aliases):
            self._aliases[alias] = key
        return entry

    def entry(self, name):
        """The Entry for `name` or an alias; KeyError listing close matches otherwise."""
        key = self._aliases.get(str(name).lower())
        if key is None:
            close = difflib.get_close_matches(str(name).lower(), list(self._aliases), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no {self.kind} named {name!r}{hint} "
                           f"(known: {', '.join(self.names())})")
        return self._entries[key]

    def get(self, name, **hyperparams):
        """A new configured object for `name`; TypeError for unknown hyper-parameters."""
        return self.entry(name).create(hyperparams)

    def names(self):
        """The canonical names, sorted."""
        return sorted(self._entries)

    def info(self, name):
        """What `name` is: origin, aliases, defaults and teaching metadata."""
        entry = self.entry(name)
        factory = entry.factory
        return {
            "name": entry.name,
            "kind": self.kind,
            "aliases": entry.aliases,
            "origin": entry.origin,
            "description": inspect.cleandoc(getattr(factory, "description", "") or ""),
            "formula": getattr(factory, "formula", ""),
            "defaults": entry.defaults(),
        }

    def __contains__(self, name):
        return str(name).lower() in self._aliases
