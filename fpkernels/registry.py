"""Registries: name -> building block, for activations, losses, initializers and optimizers.

Each family module (fpkernels.activations, .losses, .initializers, .optimizers) owns one
Registry and exposes its get/names/info/register as module functions:

    >>> import fpkernels as fk
    >>> fk.activations.get("relu").forward([-1.0, 2.0])
    array([0., 2.])

An entry is a factory (usually a class) whose keyword arguments are its hyper-parameters;
its teaching metadata are attributes of the factory (see fpkernels.interfaces).

Where entries come from
-----------------------
- built-ins, registered when their module is imported (origin "fpkernels (built-in)");
- `register(name, factory)` or `@register(name)` at run time (origin: the factory's module);
- plugins: entry points of installed distributions, in the groups ``fpkernels.activations``,
  ``fpkernels.losses``, ``fpkernels.initializers`` and ``fpkernels.optimizers``. The entry
  point's name is the registry name, its value the factory (``"my_pkg.module:MyClass"``).

Plugins load lazily. ``import fpkernels`` neither imports a plugin nor reads package metadata.
The first question asked of a registry (get, names, info, ``in``) reads the entry points of
every installed distribution once (names only, nothing is imported) and caches them; a plugin
module is imported only when one of its names is used (get or info). `rescan()` reads the
entry points again (after a pip install in a running session).

Aliases a plugin declares on its class (``aliases = ("other_name",)``) become known when it
loads: looking up a name nobody provides loads the not-yet-loaded plugins of that family once
to learn their aliases before raising KeyError.

When a plugin goes wrong
------------------------
- A plugin that fails to import, or whose factory misses a required method, is reported once
  (a `PluginWarning` naming the distribution, the entry point and the reason), recorded in
  `plugin_errors()`, and is unavailable: using its name raises `PluginError`; every other
  name keeps working. Set ``FPKERNELS_RAISE_PLUGIN_ERRORS=1`` to get the original exception
  instead (for plugin authors debugging their package).
- A name provided twice (two distributions, or a distribution and a built-in or run-time
  registration) is ambiguous: using it raises `PluginConflictError` naming every provider,
  until the user chooses one, in any of three ways (first match wins):

      fk.activations.get("mish", provider="fpkernels-mish")      # one call
      fk.activations.registry.prefer("mish", "fpkernels-mish")    # this session
      FPKERNELS_PREFER="mish=fpkernels-mish,activations.relu=fpkernels"   # environment

  A provider is a distribution name (case, "-", "_" and "." do not matter); the built-ins'
  provider is "fpkernels", a run-time registration's provider is its module's name.
- ``FPKERNELS_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points altogether: only built-ins and
  run-time registrations exist.
"""
import inspect
import os
import re
import threading
import warnings

BUILTIN_ORIGIN = "fpkernels (built-in)"
BUILTIN_PROVIDER = "fpkernels"
KINDS = ("activations", "losses", "initializers", "optimizers")

# What each family's objects must offer; checked when a plugin loads and when it is created.
REQUIRED_METHODS = {
    "activations": ("forward", "derivative", "backward"),
    "losses": ("value", "gradient"),
    "initializers": ("__call__",),
    "optimizers": ("step", "state_dict", "load_state_dict"),
}

_lock = threading.RLock()
_registries = {}          # kind -> Registry
_scanned = None           # {group: [PluginEntry]} once entry points have been read
_errors = []              # PluginEntry objects whose load failed, in order of failure


class PluginWarning(UserWarning):
    """A plugin could not be loaded or declares something that cannot be honoured."""


class PluginError(LookupError):
    """A name exists but cannot be used: its plugin failed to load or breaks the interface."""


class PluginConflictError(PluginError):
    """A name is provided by more than one source and the user has not chosen one."""


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def normalize_provider(name):
    """A distribution name in canonical form (PEP 503): lower case, runs of -_. become '-'."""
    return re.sub(r"[-_.]+", "-", str(name)).lower()


def _first_line(text):
    return inspect.cleandoc(text or "").split("\n", 1)[0]


class Entry:
    """One registered name: its factory, aliases and where it came from."""

    kind = None

    def __init__(self, name, factory, aliases, origin, provider=BUILTIN_PROVIDER):
        self.name = name
        self.factory = factory
        self.aliases = tuple(aliases)
        self.origin = origin
        self.provider = provider
        self.distribution = BUILTIN_PROVIDER if provider == BUILTIN_PROVIDER else None
        self.entry_point = None

    @property
    def version(self):
        if self.distribution == BUILTIN_PROVIDER:
            from . import __version__
            return __version__
        return None

    def defaults(self):
        """The hyper-parameters and their default values, read from the factory's signature."""
        try:
            parameters = inspect.signature(self.factory).parameters.values()
        except (TypeError, ValueError):
            return {}
        return {p.name: p.default for p in parameters
                if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD}

    def _accepts_any_keyword(self):
        try:
            parameters = inspect.signature(self.factory).parameters.values()
        except (TypeError, ValueError):
            return True
        return any(p.kind is p.VAR_KEYWORD for p in parameters)

    def create(self, hyperparams):
        accepted = self.defaults()
        unknown = sorted(set(hyperparams) - set(accepted))
        if unknown and not self._accepts_any_keyword():
            raise TypeError(f"{self.name} got unknown hyper-parameter(s) {', '.join(unknown)}; "
                            f"it accepts: {', '.join(accepted) or 'none'}")
        return self.factory(**hyperparams)

    def describe(self):
        return f"{self.name!r} from {self.origin}"


class PluginEntry(Entry):
    """A name offered by an entry point of an installed distribution; loaded on first use."""

    def __init__(self, kind, entry_point, distribution, version):
        super().__init__(entry_point.name.lower(), None, (), None, normalize_provider(distribution))
        self.kind = kind
        self.entry_point = entry_point
        self.distribution = distribution
        self._version = version
        self.origin = f"{distribution} {version} (plugin)"
        self.error = None          # (reason, exception) once a load failed
        self.declared_aliases = ()

    @property
    def version(self):
        return self._version

    @property
    def loaded(self):
        return self.factory is not None

    @property
    def value(self):
        return self.entry_point.value

    def names_factory(self, factory):
        """True when this entry point designates `factory` (loaded or not)."""
        if self.factory is not None:
            return self.factory is factory
        target = f"{getattr(factory, '__module__', '')}:{getattr(factory, '__qualname__', '')}"
        return self.value.replace(" ", "").split("[")[0] == target

    def describe(self):
        return (f"{self.name!r} from distribution {self.distribution} {self._version} "
                f"(entry point {self.name} = {self.value} in group fpkernels.{self.kind})")

    def load(self):
        """Import the factory and check it; on failure record, warn, and raise PluginError."""
        if self.factory is not None:
            return self.factory
        with _lock:
            return self._load()

    def _load(self):
        if self.factory is not None:
            return self.factory
        if self.error is None:
            try:
                factory = self.entry_point.load()
                check_factory(self.kind, factory)
            except Exception as error:  # noqa: BLE001 - any failure makes the plugin unavailable
                reason = f"{type(error).__name__}: {error}"
                self.error = (reason, error)
                _errors.append(self)
                warnings.warn(f"fpkernels plugin {self.describe()} is unavailable: {reason}",
                              PluginWarning, stacklevel=5)
                if _flag("FPKERNELS_RAISE_PLUGIN_ERRORS"):
                    raise
            else:
                self.factory = factory
                self.declared_aliases = tuple(a.lower() for a in getattr(factory, "aliases", ()) or ())
                return factory
        if _flag("FPKERNELS_RAISE_PLUGIN_ERRORS"):
            raise self.error[1]
        raise PluginError(f"{self.kind} {self.name!r} is unavailable: the plugin "
                          f"{self.describe()} failed to load ({self.error[0]}). "
                          "Set FPKERNELS_RAISE_PLUGIN_ERRORS=1 to see the original exception.")

    def create(self, hyperparams):
        obj = super().create(hyperparams)
        missing = _missing_methods(self.kind, obj)
        if missing:
            raise PluginError(f"{self.kind} {self.describe()} made an object of type "
                              f"{type(obj).__name__} that lacks {', '.join(missing)}")
        return obj


def _missing_methods(kind, obj):
    """The required methods `obj` (a class or an instance) lacks or leaves unimplemented."""
    from . import interfaces
    base = interfaces.BASES.get(kind)
    abstract = interfaces.ABSTRACT_METHODS.get(kind, ())
    if kind == "activations" and getattr(obj, "elementwise", True) is False:
        abstract = ("forward", "backward")     # row-wise: a Jacobian-vector product, no derivative
    missing = []
    for method in REQUIRED_METHODS.get(kind, ()):
        attribute = getattr(obj, method, None)
        if attribute is None or not callable(attribute):
            missing.append(method)
        elif base is not None and isinstance(obj, type) and issubclass(obj, base) \
                and getattr(obj, method) is getattr(base, method) and method in abstract:
            missing.append(method)
    if kind == "optimizers" and isinstance(obj, type) and issubclass(obj, interfaces.Optimizer) \
            and obj.step is interfaces.Optimizer.step and obj.update is interfaces.Optimizer.update:
        missing.append("update (or step)")
    return missing


def check_factory(kind, factory):
    """Raise TypeError unless `factory` can make a `kind` object (callable, methods present)."""
    if not callable(factory):
        raise TypeError(f"the entry point must name a class or factory function, "
                        f"not a {type(factory).__name__}")
    if isinstance(factory, type):
        missing = _missing_methods(kind, factory)
        if missing:
            raise TypeError(f"class {factory.__module__}.{factory.__qualname__} does not meet "
                            f"the {kind} interface: missing or unimplemented "
                            f"{', '.join(missing)}")


# ---- reading entry points ----------------------------------------------------------------

def _read_entry_points():
    """{kind: [PluginEntry]} from every installed distribution, in sys.path order.

    One pass over the installed distributions: only their entry_points.txt is read (names and
    versions only for the few that declare fpkernels groups); nothing is imported. A
    distribution found twice on sys.path counts once (the first, as import would pick).
    """
    from importlib import metadata
    found = {kind: [] for kind in KINDS}
    groups = {f"fpkernels.{kind}": kind for kind in KINDS}
    seen = set()
    for dist in metadata.distributions():
        try:
            text = dist.read_text("entry_points.txt")
        except Exception:  # noqa: BLE001 - an unreadable distribution is not ours to report
            continue
        if not text or "fpkernels." not in text:
            continue
        try:
            name = dist.metadata["Name"] or "unknown-distribution"
            key = normalize_provider(name)
            if key in seen:
                continue
            seen.add(key)
            version = dist.version
            entry_points = list(dist.entry_points)
        except Exception as error:  # noqa: BLE001
            warnings.warn(f"fpkernels: cannot read the metadata of a distribution at "
                          f"{getattr(dist, '_path', '?')}: {error}", PluginWarning, stacklevel=3)
            continue
        for entry_point in entry_points:
            kind = groups.get(entry_point.group)
            if kind is not None:
                found[kind].append(PluginEntry(kind, entry_point, name, version))
    return found


def _plugin_table():
    """The cached entry points (read on first need), or nothing when autoload is disabled."""
    global _scanned
    if _scanned is None:
        with _lock:
            if _scanned is None:
                if _flag("FPKERNELS_DISABLE_PLUGIN_AUTOLOAD"):
                    _scanned = {kind: [] for kind in KINDS}
                else:
                    _scanned = _read_entry_points()
    return _scanned


def rescan():
    """Forget what was read from entry points and read them again now.

    Use after installing or removing a plugin in a running session. Plugins already loaded
    whose entry point is still installed keep their imported factory; plugins that had
    failed are tried again on their next use (and leave plugin_errors() until then).
    """
    global _scanned
    import importlib
    with _lock:
        old = {(p.kind, p.name, p.provider, p.value): p
               for entries in (_scanned or {}).values() for p in entries}
        importlib.invalidate_caches()
        _scanned = None
        table = _plugin_table()
        for kind, entries in table.items():
            for i, plugin in enumerate(entries):
                previous = old.get((kind, plugin.name, plugin.provider, plugin.value))
                if previous is not None and previous.loaded:
                    entries[i] = previous
        _errors.clear()
        for registry in _registries.values():
            registry._plugins_version = None


def plugins():
    """Every plugin entry point found (without importing any), as a list of dicts:
    kind, name, distribution, version, entry_point, status ('not loaded', 'loaded', 'failed')
    and error (the reason, or None)."""
    rows = []
    for kind, entries in _plugin_table().items():
        for p in entries:
            status = "failed" if p.error else "loaded" if p.loaded else "not loaded"
            rows.append({"kind": kind, "name": p.name, "distribution": p.distribution,
                         "version": p.version, "entry_point": p.value, "status": status,
                         "error": p.error[0] if p.error else None})
    return rows


def plugin_errors():
    """The plugins that failed to load so far: list of dicts with kind, name, distribution,
    version, entry_point and error (the reason). Call load_plugins() first to try them all."""
    return [{"kind": p.kind, "name": p.name, "distribution": p.distribution,
             "version": p.version, "entry_point": p.value, "error": p.error[0]}
            for p in _errors]


def load_plugins():
    """Import every discovered plugin now (for diagnostics such as `fpkernels info`);
    returns plugin_errors(). Failures warn once and are recorded, never raised here
    (unless FPKERNELS_RAISE_PLUGIN_ERRORS=1)."""
    for entries in _plugin_table().values():
        for plugin in entries:
            _try_load(plugin)
    return plugin_errors()


def _try_load(plugin):
    try:
        plugin.load()
    except PluginError:
        pass
    return plugin.loaded


def prefer(kind, name, provider):
    """Choose, for this session, which provider answers `name` in the registry `kind`."""
    return _registries[kind].prefer(name, provider)


def _env_preferences(kind):
    """FPKERNELS_PREFER="name=provider,kind.name=provider,..." as {name: provider} for kind."""
    chosen = {}
    for item in os.environ.get("FPKERNELS_PREFER", "").replace(";", ",").split(","):
        if "=" not in item:
            continue
        name, provider = (s.strip() for s in item.split("=", 1))
        scope, _, bare = name.rpartition(".")
        if scope and scope.lower() != kind:
            continue
        chosen[bare.lower()] = provider
    return chosen


# ---- the registry --------------------------------------------------------------------------

class Registry:
    """Names (case-insensitive, with aliases) of one family of building blocks."""

    def __init__(self, kind):
        self.kind = kind
        self._entries = {}   # canonical lower-case name -> Entry (built-in or run time)
        self._aliases = {}   # lower-case name or alias -> canonical name (of _entries)
        self._preferred = {}  # lower-case name -> provider chosen with prefer()
        self._plugins_version = None
        self._by_name = {}    # lower-case name -> [PluginEntry] (entry point names)
        _registries.setdefault(kind, self)

    # -- registering ---------------------------------------------------------------------

    def register(self, name, factory=None, *, aliases=(), origin=None, replace=False):
        """Register `factory` under `name`; used as a call or, without `factory`, a decorator.

        Aliases are extra names; `origin` says where the entry comes from (default: built-in
        for fpkernels' own modules, else "<module> (registered at run time)"). Registering a
        taken name raises ValueError unless `replace=True` or the factory is a new version of
        the same class (re-running a notebook cell).

        >>> import numpy as np, fpkernels as fk
        >>> @fk.activations.register("cube_demo")
        ... class Cube(fk.interfaces.Activation):
        ...     def forward(self, x, out=None): return np.power(x, 3.0, out=out)
        ...     def derivative(self, x, out=None): return np.multiply(3.0, np.square(x), out=out)
        >>> fk.activations.get("CUBE_DEMO").forward(np.array([2.0]))
        array([8.])
        >>> fk.activations.registry.unregister("cube_demo")
        """
        if factory is None:
            def decorator(f):
                self.register(name, f, aliases=aliases, origin=origin, replace=replace)
                return f
            return decorator
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty str, not {name!r}")
        if not callable(factory):
            raise TypeError(f"{self.kind} {name!r}: register a class or a function that makes "
                            f"the object, not {factory!r}")
        module = getattr(factory, "__module__", None) or "__main__"
        builtin = module == "fpkernels" or module.startswith("fpkernels.")
        if origin is None:
            origin = BUILTIN_ORIGIN if builtin else f"{module} (registered at run time)"
        provider = BUILTIN_PROVIDER if origin == BUILTIN_ORIGIN else module
        key = name.lower()
        new_aliases = [a.lower() for a in aliases]
        with _lock:
            if key in self._entries and (replace or _same_definition(self._entries[key].factory, factory)):
                self._remove(key)
            for alias in (key, *new_aliases):
                if alias in self._aliases:
                    owner = self._entries[self._aliases[alias]]
                    raise ValueError(f"{self.kind} name {alias!r} is taken by {owner.name!r} "
                                     f"from {owner.origin}; cannot register it for {origin} "
                                     "(pass replace=True to replace it)")
            entry = Entry(key, factory, new_aliases, origin, provider)
            entry.kind = self.kind
            self._entries[key] = entry
            for alias in (key, *entry.aliases):
                self._aliases[alias] = key
        return entry

    def unregister(self, name):
        """Remove a built-in or run-time entry (and its aliases)."""
        with _lock:
            key = self._aliases.get(str(name).lower())
            if key is None:
                raise KeyError(f"no registered {self.kind} named {name!r}")
            self._remove(key)

    def _remove(self, key):
        entry = self._entries.pop(key)
        for alias in (key, *entry.aliases):
            self._aliases.pop(alias, None)

    def prefer(self, name, provider):
        """Answer `name` with `provider` (a distribution name, "fpkernels" for the built-in,
        or a module name for a run-time registration) for the rest of the session;
        provider=None forgets the choice."""
        key = str(name).lower()
        if provider is None:
            self._preferred.pop(key, None)
        else:
            self._preferred[key] = str(provider)

    def rescan(self):
        """Read the installed entry points again (all families); see fpkernels.registry.rescan."""
        rescan()

    # -- plugins -------------------------------------------------------------------------

    def _plugin_names(self):
        """{name: [PluginEntry]} of this family's entry points (cached until rescan)."""
        table = _plugin_table()
        if self._plugins_version is not table:
            with _lock:
                by_name = {}
                for plugin in table.get(self.kind, ()):
                    by_name.setdefault(plugin.name, []).append(plugin)
                self._by_name = by_name
                self._plugins_version = table
        return self._by_name

    def _candidates(self, key):
        """Every source that answers `key`: a registered entry, plugins named so, and (when
        nothing is named so) loaded plugins declaring it as an alias. Failed plugins excluded."""
        found = []
        plugins = self._plugin_names()
        named = [p for p in plugins.get(key, ()) if p.error is None]
        if key in self._aliases:
            registered = self._entries[self._aliases[key]]
            # a plugin module that also registers its class at import is one source, not two
            if not any(p.names_factory(registered.factory) for p in named):
                found.append(registered)
        found += named
        if not found:
            found += [p for entries in plugins.values() for p in entries
                      if p.error is None and key in p.declared_aliases]
        return found

    def _failed(self, key):
        return [p for p in self._plugin_names().get(key, ()) if p.error is not None]

    def _choice(self, key, provider):
        if provider is not None:
            return str(provider), "provider="
        if key in self._preferred:
            return self._preferred[key], f"{self.kind}.registry.prefer()"
        chosen = _env_preferences(self.kind).get(key)
        if chosen is not None:
            return chosen, "FPKERNELS_PREFER"
        return None, None

    def entry(self, name, provider=None):
        """The Entry for `name` or an alias (loading its plugin if needed).

        KeyError listing close matches if nobody provides it; PluginConflictError if several
        do and none was chosen; PluginError if its plugin failed to load.
        """
        key = str(name).lower()
        candidates = self._candidates(key)
        if not candidates and not self._failed(key):
            pending = [p for entries in self._plugin_names().values() for p in entries
                       if not p.loaded and p.error is None]
            for plugin in pending:        # learn the aliases plugins declare on their classes
                _try_load(plugin)
            candidates = self._candidates(key)
        if not candidates:
            failed = self._failed(key)
            if failed:
                return failed[0].load()   # raises PluginError with the reason
            import difflib
            close = difflib.get_close_matches(key, self._all_names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"no {self.kind} named {name!r}{hint} "
                           f"(known: {', '.join(self.names())})")
        chosen, how = self._choice(key, provider)
        if chosen is not None:
            wanted = normalize_provider(chosen)
            matching = [c for c in candidates if normalize_provider(c.provider) == wanted]
            if not matching:
                raise KeyError(f"{self.kind} {name!r} is not provided by {chosen!r} (chosen by "
                               f"{how}); its providers are: "
                               f"{', '.join(c.provider for c in candidates)}")
            candidates = matching[:1]
        if len(candidates) > 1:
            raise PluginConflictError(
                f"{self.kind} name {name!r} is provided {len(candidates)} times: "
                + "; ".join(c.describe() for c in candidates)
                + f". Choose one: {self.kind}.get({key!r}, provider={candidates[-1].provider!r}),"
                f" fk.{self.kind}.registry.prefer({key!r}, {candidates[-1].provider!r}), or the "
                f"environment variable FPKERNELS_PREFER=\"{self.kind}.{key}="
                f"{candidates[-1].provider}\"; or uninstall one of them.")
        chosen_entry = candidates[0]
        if isinstance(chosen_entry, PluginEntry):
            chosen_entry.load()
        return chosen_entry

    def get(self, name, *positional, provider=None, **hyperparams):
        """A new configured object for `name`; TypeError for unknown hyper-parameters.

        Hyper-parameters are keyword arguments (get("leaky_relu", alpha=0.2)). `provider`
        picks the distribution answering a name that several provide.
        """
        entry = self.entry(name, provider)
        if positional:
            accepted = ", ".join(f"{n}=..." for n in entry.defaults()) or "none"
            raise TypeError(f"{self.kind}.get({name!r}, {', '.join(map(repr, positional))}): "
                            f"hyper-parameters are keyword arguments ({name} accepts: "
                            f"{accepted}), and so is provider=")
        return entry.create(hyperparams)

    def _all_names(self):
        names = set(self._aliases)
        for key, entries in self._plugin_names().items():
            names.add(key)
            for p in entries:
                names.update(p.declared_aliases)
        return sorted(names)

    def names(self):
        """The canonical names, sorted: registered ones and every installed plugin's entry
        point names (read from metadata, nothing is imported); failed plugins are left out."""
        names = set(self._entries)
        for key, entries in self._plugin_names().items():
            if any(p.error is None for p in entries):
                names.add(key)
        return sorted(names)

    def providers(self, name):
        """Who provides `name`: a list of provider names (a conflict when more than one)."""
        return [c.provider for c in self._candidates(str(name).lower())]

    def info(self, name, provider=None):
        """What `name` is: origin (distribution and version), aliases, defaults and teaching
        metadata (description, formula, formulaic reference, ...). Loads a plugin's module."""
        entry = self.entry(name, provider)
        factory = entry.factory
        aliases = entry.aliases or tuple(getattr(entry, "declared_aliases", ()))
        description = inspect.cleandoc(getattr(factory, "description", "") or "")
        return {
            "name": entry.name,
            "kind": self.kind,
            "aliases": aliases,
            "origin": entry.origin,
            "provider": entry.provider,
            "distribution": entry.distribution,
            "version": entry.version,
            "entry_point": entry.entry_point.value if entry.entry_point is not None else None,
            "summary": _first_line(description),
            "description": description,
            "formula": getattr(factory, "formula", "") or "",
            "derivative_formula": getattr(factory, "derivative_formula", "") or "",
            "formulaic": getattr(factory, "formulaic", None),
            "hyperparameters": dict(getattr(factory, "hyperparameters", {}) or {}),
            "when_to_use": getattr(factory, "when_to_use", "") or "",
            "pitfalls": getattr(factory, "pitfalls", "") or "",
            "defaults": entry.defaults(),
            "factory": factory,
        }

    def __contains__(self, name):
        key = str(name).lower()
        return bool(self._candidates(key))

    def __iter__(self):
        return iter(self.names())

    def __len__(self):
        return len(self.names())

    def __repr__(self):
        return f"<fpkernels {self.kind} registry: {', '.join(self.names())}>"


def _same_definition(old, new):
    """True when `new` redefines `old` (same module and qualified name), as re-running a
    notebook cell does; such a re-registration replaces the old one quietly."""
    return (getattr(old, "__module__", None) == getattr(new, "__module__", None)
            and getattr(old, "__qualname__", None) == getattr(new, "__qualname__", None)
            and getattr(old, "__module__", None) not in (None,)
            and not str(getattr(old, "__module__", "")).startswith("fpkernels"))
