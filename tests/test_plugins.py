"""Plugins through entry points, in a new interpreter each time.

Most tests make fake installed distributions on the fly (a folder holding NAME-VERSION.dist-info
with METADATA and entry_points.txt, plus the plugin's module) and put the folder on the new
interpreter's sys.path, which is all importlib.metadata needs. The last test installs the real
example plugins of plugins/ with pip into a throw-away virtual environment (slow: marked).
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fpkernels as fk

REPO = Path(__file__).resolve().parents[1]

GOOD_ACTIVATION = '''
import numpy as np
from fpkernels.interfaces import Activation, as_float_array, output_array

class {cls}(Activation):
    description = "Twice the input."
    formula = "f(x) = 2x"
    aliases = {aliases!r}

    def __init__(self, factor=2.0):
        self.factor = factor

    def forward(self, x, out=None):
        x = as_float_array(x)
        return np.multiply(x, self.factor, out=output_array(out, x.shape, x.dtype))

    def derivative(self, x, out=None):
        x = as_float_array(x)
        return np.multiply(np.ones_like(x), self.factor, out=output_array(out, x.shape, x.dtype))
'''


def make_dist(root, name, version="1.0", entry_points=None, modules=None):
    """A fake installed distribution in `root`: NAME-VERSION.dist-info with METADATA and
    entry_points.txt ({group: {name: value}}), and the given {module name: source} files."""
    root = Path(root)
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, entries in (entry_points or {}).items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return info


def activation_module(cls="Double", aliases=()):
    return GOOD_ACTIVATION.format(cls=cls, aliases=tuple(aliases))


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def run(run_python, site):
    """Run code in a new interpreter with the fake site folder on sys.path; returns the JSON
    the code prints on its last line (or the CompletedProcess when check=False)."""
    def go(code, check=True, **env):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FPKERNELS_")}
        environment.update(env)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), environment.get("PYTHONPATH")) if p)
        done = run_python(textwrap.dedent(code), env=environment, check=False)
        if not check:
            return done
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])
    return go


def test_plugins_load_lazily_and_report_their_distribution(site, run):
    make_dist(site, "fpk-double", "2.3.1",
              {"fpkernels.activations": {"double": "fpk_double:Double"}},
              {"fpk_double": activation_module(aliases=("twice",))})
    result = run("""
        import sys, json
        import fpkernels as fk
        after_import = ["fpk_double" in sys.modules, "importlib.metadata" in sys.modules]
        names = fk.activations.names()
        after_names = "fpk_double" in sys.modules
        act = fk.activations.get("Double", factor=3.0)
        info = fk.activations.info("double")
        print(json.dumps({"after_import": after_import, "after_names": after_names,
                          "names": names, "y": act.forward([1.0]).tolist(),
                          "twice": type(fk.activations.get("twice")).__name__,
                          "info": {k: info[k] for k in ("distribution", "version", "origin",
                                   "entry_point", "description", "defaults", "aliases")},
                          "plugins": fk.registry.plugins()}))
    """)
    assert result["after_import"] == [False, False]          # no plugin, no metadata scan
    assert result["after_names"] is False                    # names() imports nothing
    assert "double" in result["names"] and result["y"] == [3.0]
    assert result["twice"] == "Double"                       # alias declared on the class
    info = result["info"]
    assert info["distribution"] == "fpk-double" and info["version"] == "2.3.1"
    assert info["origin"] == "fpk-double 2.3.1 (plugin)"
    assert info["entry_point"] == "fpk_double:Double" and info["defaults"] == {"factor": 2.0}
    assert info["description"] == "Twice the input." and info["aliases"] == ["twice"]
    assert result["plugins"] == [{"kind": "activations", "name": "double",
                                  "distribution": "fpk-double", "version": "2.3.1",
                                  "entry_point": "fpk_double:Double", "status": "loaded",
                                  "error": None}]


def test_slow_plugins_are_not_imported_by_import_fpkernels(site, run):
    for i in range(5):
        make_dist(site, f"fpk-slow{i}", "1.0",
                  {"fpkernels.losses": {f"slow{i}": f"fpk_slow{i}:Slow"}},
                  {f"fpk_slow{i}": "import time\ntime.sleep(30)\n"})
    result = run("""
        import sys, json, time
        start = time.perf_counter()
        import fpkernels as fk
        names = fk.losses.names()
        print(json.dumps({"seconds": time.perf_counter() - start, "names": names,
                          "imported": [m for m in sys.modules if m.startswith("fpk_slow")]}))
    """)
    assert result["imported"] == []
    assert {f"slow{i}" for i in range(5)} <= set(result["names"])
    assert result["seconds"] < 30                           # (not a benchmark: nothing slept)


def test_a_broken_plugin_is_reported_and_the_others_keep_working(site, run):
    make_dist(site, "fpk-broken", "0.1", {"fpkernels.activations": {"broken": "fpk_broken:Broken"}},
              {"fpk_broken": "raise RuntimeError('boom at import')\n"})
    make_dist(site, "fpk-double", "1.0", {"fpkernels.activations": {"double": "fpk_double:Double"}},
              {"fpk_double": activation_module()})
    result = run("""
        import json, warnings
        import fpkernels as fk
        before = fk.activations.names()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fk.activations.get("broken")
                error = None
            except fk.registry.PluginError as e:
                error = str(e)
            try:
                fk.activations.get("broken")            # second use: no second warning
            except LookupError:
                pass
        print(json.dumps({"before": before, "after": fk.activations.names(), "error": error,
                          "warnings": [str(w.message) for w in caught],
                          "categories": [w.category.__name__ for w in caught],
                          "double": fk.activations.get("double").forward([2.0]).tolist(),
                          "errors": fk.registry.plugin_errors()}))
    """)
    assert "broken" in result["before"] and "broken" not in result["after"]
    assert "fpk-broken 0.1" in result["error"] and "RuntimeError: boom at import" in result["error"]
    assert len(result["warnings"]) == 1 and result["categories"] == ["PluginWarning"]
    warning = result["warnings"][0]
    assert "fpk-broken" in warning and "broken = fpk_broken:Broken" in warning and "boom" in warning
    assert result["double"] == [4.0]
    assert result["errors"] == [{"kind": "activations", "name": "broken", "distribution": "fpk-broken",
                                 "version": "0.1", "entry_point": "fpk_broken:Broken",
                                 "error": "RuntimeError: boom at import"}]


def test_raise_plugin_errors_gives_the_original_exception(site, run):
    make_dist(site, "fpk-broken", "0.1", {"fpkernels.activations": {"broken": "fpk_broken:Broken"}},
              {"fpk_broken": "raise RuntimeError('boom at import')\n"})
    done = run("import fpkernels as fk; fk.activations.get('broken')", check=False,
               FPKERNELS_RAISE_PLUGIN_ERRORS="1")
    assert done.returncode != 0
    assert "RuntimeError: boom at import" in done.stderr and "PluginError" not in done.stderr
    done = run("import fpkernels as fk; fk.activations.get('broken')", check=False)
    assert "PluginError" in done.stderr and "FPKERNELS_RAISE_PLUGIN_ERRORS" in done.stderr


def test_a_plugin_failing_the_interface_is_unavailable(site, run):
    make_dist(site, "fpk-half", "1.0",
              {"fpkernels.activations": {"half": "fpk_half:Half", "notaclass": "fpk_half:VALUE"},
               "fpkernels.optimizers": {"lazy": "fpk_half:Lazy"}},
              {"fpk_half": """
                   from fpkernels.interfaces import Activation, Optimizer
                   VALUE = 3
                   class Half(Activation):
                       def forward(self, x, out=None):
                           return x
                   class Lazy(Optimizer):
                       pass
               """})
    result = run("""
        import json, warnings
        import fpkernels as fk
        warnings.simplefilter("ignore")
        messages = []
        for family, name in (("activations", "half"), ("activations", "notaclass"), ("optimizers", "lazy")):
            try:
                getattr(fk, family).get(name)
            except fk.registry.PluginError as e:
                messages.append(str(e))
        print(json.dumps(messages))
    """)
    assert len(result) == 3
    assert "fpk-half" in result[0] and "derivative" in result[0]
    assert "class or factory function" in result[1]
    assert "update (or step)" in result[2]


def test_two_distributions_with_one_name_conflict_until_the_user_chooses(site, run):
    for dist, factor in (("fpk-double-a", 2.0), ("fpk-double-b", 5.0)):
        module = dist.replace("-", "_")
        make_dist(site, dist, "1.0", {"fpkernels.activations": {"double": f"{module}:Double"}},
                  {module: activation_module().replace("factor=2.0", f"factor={factor}")})
    code = """
        import json
        import fpkernels as fk
        out = {"names": fk.activations.names().count("double"),
               "providers": fk.activations.registry.providers("double")}
        try:
            fk.activations.get("double")
        except fk.registry.PluginConflictError as e:
            out["error"] = str(e)
        out["explicit"] = fk.activations.get("double", provider="FPK_double.B").factor
        fk.activations.registry.prefer("double", "fpk-double-a")
        out["preferred"] = fk.activations.get("double").factor
        print(json.dumps(out))
    """
    result = run(code)
    assert result["names"] == 1 and sorted(result["providers"]) == ["fpk-double-a", "fpk-double-b"]
    assert "fpk-double-a" in result["error"] and "fpk-double-b" in result["error"]
    assert "provider=" in result["error"] and "FPKERNELS_PREFER" in result["error"]
    assert result["explicit"] == 5.0 and result["preferred"] == 2.0
    by_env = run("""
        import json, fpkernels as fk
        print(json.dumps(fk.activations.get("double").factor))
    """, FPKERNELS_PREFER="activations.double=fpk-double-b")
    assert by_env == 5.0


def test_shadowing_a_built_in_is_a_conflict(site, run):
    make_dist(site, "fpk-relu", "1.0", {"fpkernels.activations": {"relu": "fpk_relu:Double"}},
              {"fpk_relu": activation_module()})
    result = run("""
        import json
        import fpkernels as fk
        from fpkernels.interfaces import Activation
        if "relu" not in fk.activations.registry._entries:      # before the built-ins land
            class ReLU(Activation):
                pass
            fk.activations.register("relu", ReLU, origin=fk.registry.BUILTIN_ORIGIN)
        builtin = fk.activations.registry._entries["relu"].factory
        try:
            fk.activations.get("relu")
            error = None
        except fk.registry.PluginConflictError as e:
            error = str(e)
        print(json.dumps({"error": error,
            "builtin": type(fk.activations.get("relu", provider="fpkernels")) is builtin,
            "plugin": type(fk.activations.get("relu", provider="fpk-relu")).__name__}))
    """)
    assert "fpk-relu" in result["error"] and "fpkernels (built-in)" in result["error"]
    assert result["builtin"] is True and result["plugin"] == "Double"


def test_a_plugin_that_also_registers_itself_is_one_source(site, run):
    module = activation_module().replace("class Double(Activation):",
                                         "@register('double')\nclass Double(Activation):")
    module = "from fpkernels.activations import register\n" + module
    make_dist(site, "fpk-double", "1.0", {"fpkernels.activations": {"double": "fpk_double:Double"}},
              {"fpk_double": module})
    result = run("""
        import json, fpkernels as fk
        first = fk.activations.get("double").factor
        print(json.dumps([first, fk.activations.info("double")["distribution"],
                          fk.activations.registry.providers("double")]))
    """)
    assert result == [2.0, "fpk-double", ["fpk-double"]]
    imported_first = run("""
        import json, fpkernels as fk
        import fpk_double                      # imported by hand before any registry question
        print(json.dumps(fk.activations.registry.providers("double")))
    """)
    assert imported_first == ["fpk-double"]


def test_autoload_can_be_disabled(site, run):
    make_dist(site, "fpk-double", "1.0", {"fpkernels.activations": {"double": "fpk_double:Double"}},
              {"fpk_double": activation_module()})
    result = run("""
        import json, sys
        import fpkernels as fk
        try:
            fk.activations.get("double")
            error = None
        except KeyError as e:
            error = str(e)
        print(json.dumps({"names": fk.activations.names(), "error": error,
                          "metadata_read": "importlib.metadata" in sys.modules}))
    """, FPKERNELS_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "double" not in result["names"] and "no activations named 'double'" in result["error"]
    assert result["metadata_read"] is False


def test_rescan_sees_installs_and_removals(site, run):
    result = run(f"""
        import json, shutil, sys
        sys.path.insert(0, {str(site)!r})
        sys.path.insert(0, {str(REPO / "tests")!r})
        from test_plugins import make_dist, activation_module
        import fpkernels as fk
        seen = [fk.activations.names().count("double")]
        info = make_dist({str(site)!r}, "fpk-double", "1.0",
                         {{"fpkernels.activations": {{"double": "fpk_double:Double"}}}},
                         {{"fpk_double": activation_module()}})
        seen.append(fk.activations.names().count("double"))        # cached: not yet
        fk.registry.rescan()
        seen.append(fk.activations.names().count("double"))
        fk.activations.get("double")
        shutil.rmtree(info)
        fk.activations.registry.rescan()
        seen.append(fk.activations.names().count("double"))
        print(json.dumps(seen))
    """)
    assert result == [0, 0, 1, 0]


def test_a_fixed_plugin_loads_after_rescan(site, run):
    make_dist(site, "fpk-double", "1.0", {"fpkernels.activations": {"double": "fpk_double:Double"}},
              {"fpk_double": "raise ImportError('missing dependency')\n"})
    result = run(f"""
        import json, warnings
        import fpkernels as fk
        warnings.simplefilter("ignore")
        try:
            fk.activations.get("double")
        except fk.registry.PluginError:
            pass
        errors = len(fk.registry.plugin_errors())
        import sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        from test_plugins import activation_module
        open({str(site / "fpk_double.py")!r}, "w").write(activation_module())
        fk.registry.rescan()
        print(json.dumps([errors, len(fk.registry.plugin_errors()),
                          fk.activations.get("double").forward([1.0]).tolist()]))
    """)
    assert result == [1, 0, [2.0]]


def test_one_distribution_twice_on_the_path_counts_once(tmp_path, site, run):
    other = tmp_path / "other"
    for root in (site, other):
        make_dist(root, "fpk-double", "1.0", {"fpkernels.activations": {"double": "fpk_double:Double"}},
                  {"fpk_double": activation_module()})
    result = run("""
        import json, fpkernels as fk
        print(json.dumps(fk.activations.get("double").factor))
    """, PYTHONPATH=str(other))
    assert result == 2.0


def test_plugin_optimizer_and_loss_from_entry_points(site, run):
    make_dist(site, "fpk-train", "0.2",
              {"fpkernels.optimizers": {"signsgd": "fpk_train:SignSGD"},
               "fpkernels.losses": {"l1": "fpk_train:L1"},
               "fpkernels.initializers": {"ones": "fpk_train:Ones"}},
              {"fpk_train": """
                   import numpy as np
                   from fpkernels.interfaces import Initializer, Loss, Optimizer
                   class SignSGD(Optimizer):
                       def __init__(self, lr=0.5):
                           super().__init__()
                           self.lr = lr
                       def update(self, param, grad, state):
                           param -= self.lr * np.sign(grad)
                   class L1(Loss):
                       def value(self, pred, target):
                           p, y = self.check_inputs(pred, target)
                           return self.reduce(np.abs(p - y))
                       def gradient(self, pred, target):
                           p, y = self.check_inputs(pred, target)
                           return self.reduce_gradient(np.sign(p - y))
                   class Ones(Initializer):
                       def __call__(self, shape, rng=None, dtype=np.float32):
                           return np.ones(shape, self.check_dtype(dtype))
               """})
    result = run("""
        import json, numpy as np, fpkernels as fk
        p = [np.zeros(2)]
        opt = fk.optimizers.get("signsgd", lr=0.25)
        opt.step(p, [np.array([1.0, -2.0])])
        try:
            fk.optimizers.get("signsgd", momentum=0.9)
        except TypeError as e:
            error = str(e)
        print(json.dumps({"p": p[0].tolist(), "state": opt.state_dict(), "error": error,
                          "l1": fk.losses.get("l1").value([1.0, 3.0], [0.0, 0.0]),
                          "ones": fk.initializers.get("ones")((2, 2), rng=0).tolist()}))
    """)
    assert result["p"] == [-0.25, 0.25] and result["state"] == {"t": 1, "hyperparameters.lr": 0.25}
    assert "momentum" in result["error"] and "lr" in result["error"]
    assert result["l1"] == 2.0 and result["ones"] == [[1.0, 1.0], [1.0, 1.0]]


# ---- the real example plugins, installed with pip --------------------------------------

def _pip_available():
    import importlib.util
    return all(importlib.util.find_spec(name) for name in ("pip", "setuptools", "wheel", "cffi"))


@pytest.mark.slow
@pytest.mark.skipif(not _pip_available(), reason="needs pip, setuptools and wheel to build plugins")
def test_example_plugins_install_work_and_uninstall(tmp_path):
    """pip install the example plugins (their C extension compiled against fpkernels' installed
    header) into a throw-away venv that sees this interpreter's packages, then use them from a
    new interpreter without importing them by hand; uninstall and they are gone."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # The venv sees this interpreter's packages (pip, setuptools, cffi, numpy) and this
    # fpkernels (installed, or built in place) after its own site-packages.
    parent = [str(Path(fk.__file__).resolve().parents[1])] + [p for p in sys.path if p and os.path.isdir(p)]
    Path(site, "parent_packages.pth").write_text("\n".join(parent) + "\n")
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("FPKERNELS_", "PYTHON", "PIP_"))}
    environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def python_run(*args, **kwargs):
        done = subprocess.run([str(python), *args], capture_output=True, text=True, cwd=tmp_path,
                              env=environment, timeout=300, **kwargs)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    work = tmp_path / "plugins"
    shutil.copytree(REPO / "plugins", work, ignore=shutil.ignore_patterns("build", "*.egg-info", "*.so"))
    python_run("-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-deps",
               "--no-index", str(work / "fpkernels-mish"), str(work / "fpkernels-extras"))
    used = json.loads(python_run("-c", textwrap.dedent("""
        import json, sys
        import numpy as np
        import fpkernels as fk
        lazy = not any(m.startswith(("fpkernels_mish", "fpkernels_extras")) for m in sys.modules)
        names = {k: getattr(fk, k).names() for k in ("activations", "losses", "optimizers")}
        mish = fk.activations.get("mish")
        x = np.linspace(-3, 3, 7)
        info = fk.activations.info("mish")
        opt = fk.optimizers.get("lion", lr=0.1)
        p = [np.ones(3)]
        opt.step(p, [np.array([1.0, -1.0, 0.0])])
        rng = np.random.default_rng(0)
        X = rng.normal(size=(256, 4)).astype(np.float32)
        y = np.tanh(X.sum(axis=1, keepdims=True)).astype(np.float32)
        net = fk.nn.Sequential([fk.nn.Dense(4, 16, activation="mish", rng=0), fk.nn.Dense(16, 1, rng=1)])
        history = net.fit(X, y, loss="log_cosh", optimizer="lion", epochs=10, verbose=0, metrics=())
        print(json.dumps({"lazy": lazy, "names": names, "trained": history["loss"][-1] < history["loss"][0],
            "mish": mish.forward(x).tolist(),
            "info": [info["distribution"], info["version"], info["origin"]],
            "lion": p[0].tolist(),
            "logcosh": fk.losses.get("log_cosh").value([0.0], [0.0])}))
    """)).strip().splitlines()[-1])
    assert used["lazy"] is True
    assert used["trained"] is True              # a network trains with the three plugin names
    assert "mish" in used["names"]["activations"] and "lion" in used["names"]["optimizers"]
    assert "log_cosh" in used["names"]["losses"]
    import numpy as np
    x = np.linspace(-3, 3, 7)
    assert np.allclose(used["mish"], x * np.tanh(np.log1p(np.exp(x))), rtol=1e-12)
    assert used["info"][:2] == ["fpkernels-mish", "0.1.0"]
    assert used["lion"] == pytest.approx([0.9, 1.1, 1.0]) and used["logcosh"] == 0.0
    # the command line explains and lists them like built-ins
    explained = python_run("-m", "fpkernels", "--color", "never", "explain", "mish")
    assert "fpkernels-mish" in explained and "tanh(softplus(x))" in explained
    assert "def mish(xs)" in explained                       # the formulaic reference's source
    listed = python_run("-m", "fpkernels", "--color", "never", "info")
    assert "fpkernels-mish" in listed and "fpkernels-extras" in listed and "lion" in listed
    # the plugins' own test suites, through the conformance kit
    python_run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(work / "fpkernels-mish" / "tests"),
               str(work / "fpkernels-extras" / "tests"))
    python_run("-m", "pip", "uninstall", "--quiet", "--yes", "fpkernels-mish", "fpkernels-extras")
    gone = json.loads(python_run("-c", "import json, fpkernels as fk; "
                                 "print(json.dumps([fk.activations.names(), fk.optimizers.names()]))"))
    assert "mish" not in gone[0] and "lion" not in gone[1]


def test_the_plugin_guide_shows_the_example_files_as_they_are():
    """docs/writing-a-plugin.md quotes whole files of plugins/: each quote must match."""
    import re
    guide = (REPO / "docs" / "writing-a-plugin.md").read_text()
    quotes = re.findall(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)\n```\n", guide, flags=re.S)
    assert len(quotes) >= 9
    for path, shown in quotes:
        assert shown == (REPO / path).read_text().rstrip("\n"), f"{path} differs from the guide"


HELPERS_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include "fpkernels.h"

/* Every element of [0, n) is visited exactly once, for serial and threaded splits. */
int main(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 32767, 65536, 100003, 1000000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        for (int parts = 1; parts <= 7; parts++) {
            size_t covered = 0, previous_hi = 0;
            for (int part = 0; part < parts; part++) {
                size_t lo, hi;
                fpk_split_range(n, part, parts, &lo, &hi);
                if (lo > hi || lo != previous_hi) { printf("gap n=%zu parts=%d\n", n, parts); return 1; }
                covered += hi - lo;
                previous_hi = hi;
            }
            if (covered != n) { printf("split n=%zu parts=%d covers %zu\n", n, parts, covered); return 1; }
        }
        unsigned char *seen = calloc(n + 1, 1);
        for (int threads = 1; threads <= 4; threads++) {
            int team = fpk_threads_within(n, threads);
            FPK_PARALLEL_RANGES(n, team, lo, hi,
                for (size_t i = lo; i < hi; i++) seen[i]++;);
        }
        for (size_t i = 0; i < n; i++)
            if (seen[i] != 4) { printf("element %zu of %zu seen %d times\n", i, n, seen[i]); return 1; }
        free(seen);
    }
    if (fpk_threads_within(10, 8) != 1 || fpk_threads_within(FPK_GRAIN * 3, 2) != 2
        || fpk_threads_within(FPK_GRAIN * 3, 8) != 3 || fpk_threads_within(FPK_GRAIN * 100, 0) != 1) {
        printf("fpk_threads_within\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
"""


@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "no-openmp"])
def test_header_helpers_for_plugins_split_work_exactly(tmp_path, openmp):
    """The installed header's helpers compile as strict C99 (with and without OpenMP) and
    FPK_PARALLEL_RANGES / fpk_split_range visit every element exactly once."""
    import shlex
    import sysconfig
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")[:1]
    if not compiler or not shutil.which(compiler[0]):
        pytest.skip("no C compiler")
    (tmp_path / "helpers.c").write_text(HELPERS_PROGRAM)
    flags = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", "-O2"] + (["-fopenmp"] if openmp else [])
    subprocess.run(compiler + flags + ["-I", fk.get_include(), str(tmp_path / "helpers.c"),
                                       "-o", str(tmp_path / "helpers")], check=True)
    done = subprocess.run([str(tmp_path / "helpers")], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout


def test_cplugin_build_options():
    from fpkernels import cplugin
    options = cplugin.build_options()
    assert options["include_dirs"] == [fk.get_include()]
    assert {"-std=c99", "-O3", "-fopenmp"} <= set(options["extra_compile_args"])
    assert not any("fast-math" in flag for flag in options["extra_compile_args"])
    assert options["extra_link_args"] == ["-fopenmp"]
    assert not any(f.startswith("-march") for f in cplugin.compile_args(portable=True))
    assert "-march=x86-64-v3" in cplugin.compile_args(portable=False, march="x86-64-v3")
    assert cplugin.c_type("float32") == "float[]" and cplugin.c_type(float) == "double[]"
    with pytest.raises(TypeError):
        cplugin.c_type("int32")
    with pytest.raises(ValueError):
        cplugin.check(2, "shape")
    cplugin.check(0)
