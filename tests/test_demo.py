"""The demo (`fpkernels demo`) end to end, and the image loaders behind it."""
import gzip
import os
import re
import runpy
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fpkernels as fk
from fpkernels import datasets, demo

TINY = ["--epochs", "2", "--limit", "30", "--size", "28", "--hidden", "16,8", "--quiet"]


@pytest.fixture(autouse=True)
def in_a_temporary_folder(tmp_path, monkeypatch):
    """The demo writes its loss curve to the current folder by default: never the source tree."""
    monkeypatch.chdir(tmp_path)


def test_demo_runs_end_to_end_on_a_tiny_setting(tmp_path, capsys):
    assert demo.main(TINY + ["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "held-out test accuracy:" in out and "trouser vs dress" in out
    assert len(out.strip().splitlines()) == 1                      # --quiet: the result only
    assert out.rstrip().endswith(" s in all")             # the run's time, not an epoch's


def test_demo_prints_architecture_progress_and_saves_the_curve(tmp_path, capsys):
    result = demo.run(demo.parse_args(["--epochs", "3", "--limit", "40", "--size", "40",
                                       "--log-every", "1", "--out", str(tmp_path),
                                       "--save-model", str(tmp_path / "model.npz")]))
    out = capsys.readouterr().out
    assert "(batch, 1600) -> (batch, 64)" in out and "swish" in out and "sigmoid" in out
    assert "epoch 1/3" in out and "epoch 3/3" in out
    assert 0.0 <= result["accuracy"] <= 1.0 and len(result["history"]["loss"]) == 3
    if result["curve"] is None:
        assert 'pip install "fpkernels[plot]"' in out and "*" in out
    else:
        assert result["curve"].read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "model.npz").exists()


def test_demo_without_matplotlib_draws_a_text_curve(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    result = demo.run(demo.parse_args(["--epochs", "3", "--limit", "20", "--size", "20",
                                       "--hidden", "8,4", "--out", str(tmp_path)]))
    out = capsys.readouterr().out
    assert result["curve"] is None and not list(tmp_path.iterdir())
    assert 'pip install "fpkernels[plot]"' in out and "epoch 1 .. 3" in out


def test_demo_threads_option_is_restored(tmp_path):
    before = fk.get_num_threads()
    demo.run(demo.parse_args(TINY + ["--threads", "1", "--out", str(tmp_path)]))
    assert fk.get_num_threads() == before


def test_demo_default_task_reaches_95_percent(tmp_path):
    with fk.num_threads(1):         # same bits on any thread count; 1 is kind to a busy machine
        result = demo.run(demo.parse_args(["--quiet", "--out", str(tmp_path)]))
    assert result["accuracy"] >= 0.95
    assert result["classes"] == ("trouser", "dress")


def test_python_dash_m_fpkernels_demo(run_python, tmp_path):
    done = run_python("import runpy, sys; sys.argv = ['fpkernels.demo'] + "
                      f"{TINY + ['--out', str(tmp_path)]!r}; "
                      "runpy.run_module('fpkernels.demo', run_name='__main__')", check=False)
    assert done.returncode == 0, done.stderr
    assert "held-out test accuracy" in done.stdout


def test_demo_reports_bad_options(capsys):
    assert demo.main(TINY + ["--classes", "trouser,hat"]) == 2
    assert "no class named 'hat'" in capsys.readouterr().err
    assert demo.main(TINY + ["--classes", "trouser"]) == 2
    assert "two classes" in capsys.readouterr().err
    for bad in (["--epochs", "0"], ["--hidden", "64,x"], ["--test-fraction", "1"]):
        with pytest.raises(SystemExit):                  # argparse: usage and exit code 2
            demo.parse_args(bad)


# ---- the shipped slice and preprocessing ----------------------------------------------------

def test_shipped_slice():
    images, labels, names = datasets.load_fashion_slice()
    assert images.shape == (1600, 28, 28) and images.dtype == np.uint8
    assert names == ("trouser", "dress", "sandal", "ankle boot")
    assert np.bincount(labels).tolist() == [400, 400, 400, 400]
    assert (datasets.DATA / "fashion_mnist_LICENSE.txt").read_text().count("Zalando SE") >= 2


def test_to_inputs_scales_and_flattens():
    images = np.array([[[0, 255], [255, 0]]], np.uint8)
    X = datasets.to_inputs(images, size=(2, 2))
    np.testing.assert_array_equal(X, [[0, 1, 1, 0]])
    X = datasets.to_inputs(images, size=(100, 100))
    assert X.shape == (1, 10000) and X.dtype == np.float32
    assert X.min() >= 0 and X.max() <= 1


def test_resize_bilinear_known_values():
    constant = np.full((3, 5, 7), 42, np.uint8)
    np.testing.assert_allclose(datasets.resize_bilinear(constant, (11, 13)), 42, rtol=1e-6)
    ramp = np.array([[[0.0, 4.0]]])                           # 1x2 -> 1x4, half-pixel centres
    np.testing.assert_allclose(datasets.resize_bilinear(ramp, (1, 4)), [[[0, 1, 3, 4]]])
    with pytest.raises(ValueError):
        datasets.resize_bilinear(np.zeros((4, 4)), (8, 8))


def test_resize_bilinear_matches_torch():
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28)).astype(np.uint8)
    ours = datasets.resize_bilinear(images, (100, 100))
    theirs = torch.nn.functional.interpolate(torch.tensor(images, dtype=torch.float32)[:, None],
                                             size=(100, 100), mode="bilinear",
                                             align_corners=False)[:, 0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-3)


def test_stratified_split_and_select_classes():
    labels = np.repeat([0, 1, 2], [40, 20, 40])
    train, test = datasets.stratified_split(labels, 0.25, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert np.bincount(labels[test]).tolist() == [10, 5, 10]
    images = np.arange(100)[:, None, None] * np.ones((1, 2, 2), np.uint8)
    kept, new_labels, names = datasets.select_classes(images, labels, ("a", "b", "c"), ["c", "0"])
    assert names == ("c", "a") and len(kept) == 80
    assert new_labels[kept[:, 0, 0] < 40].tolist() == [1] * 40
    with pytest.raises(ValueError, match="no class named"):
        datasets.select_classes(images, labels, ("a", "b", "c"), ["z"])
    with pytest.raises(ValueError, match="differ"):
        datasets.select_classes(images, labels, ("a", "b", "c"), ["a", "0"])


# ---- IDX files and the full set ---------------------------------------------------------------

def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as file:
        file.write(header + array.astype(np.uint8).tobytes())


def fake_full_set(directory, n=12):
    rng = np.random.default_rng(0)
    for part in ("train", "t10k"):
        write_idx(directory / f"{part}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, size=(n, 28, 28)))
        write_idx(directory / f"{part}-labels-idx1-ubyte.gz", np.arange(n) % 10)


def test_read_idx(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(datasets.read_idx(tmp_path / name), array)
    (tmp_path / "bad").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        datasets.read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match="header says"):
        datasets.read_idx(tmp_path / "short")


def test_full_set_loader_and_demo_full(tmp_path, monkeypatch, capsys):
    fake_full_set(tmp_path, n=40)
    images, labels, names = datasets.load_fashion_full(tmp_path)
    assert images.shape == (80, 28, 28) and len(names) == 10
    monkeypatch.setattr(datasets, "FULL_DIR", tmp_path)
    assert datasets.full_fashion_available()
    assert demo.main(["--full", "--classes", "1,3"] + TINY) == 0
    assert "trouser vs dress" in capsys.readouterr().out
    monkeypatch.setattr(datasets, "FULL_DIR", tmp_path / "missing")
    assert demo.main(["--full"] + TINY) == 2
    assert "apt-get install dataset-fashion-mnist" in capsys.readouterr().err


def test_make_slice_from_idx_files(tmp_path):
    fake_full_set(tmp_path, n=40)
    datasets.make_slice(tmp_path, classes=(1, 3), per_class=3, path=tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as data:
        assert data["images"].shape == (6, 28, 28)
        assert data["labels"].tolist() == [0, 0, 0, 1, 1, 1]
        assert data["class_names"].tolist() == ["trouser", "dress"]


# ---- a user's own folder of images --------------------------------------------------------------

def write_pngs(root, classes=("cats", "dogs"), per_class=6):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 100, size=(30 + i, 40, 3)) + 150 * c
            Image.fromarray(pixels.astype(np.uint8), "RGB").save(root / name / f"{i}.png")
        (root / name / "notes.txt").write_text("not an image")


def test_image_folder_loader(tmp_path):
    write_pngs(tmp_path)
    images, labels, names = datasets.load_image_folder(tmp_path, size=(20, 24))
    assert images.shape == (12, 20, 24) and images.dtype == np.uint8
    assert names == ("cats", "dogs") and labels.tolist() == [0] * 6 + [1] * 6
    assert images[labels == 1].mean() > images[labels == 0].mean()


def test_demo_on_an_image_folder(tmp_path, capsys):
    write_pngs(tmp_path / "pictures", per_class=8)
    assert demo.main(["--images", str(tmp_path / "pictures"), "--epochs", "3", "--size", "16",
                      "--hidden", "8,4", "--quiet", "--out", str(tmp_path)]) == 0
    assert "cats vs dogs" in capsys.readouterr().out


def test_image_folder_errors(tmp_path):
    pytest.importorskip("PIL")
    with pytest.raises(FileNotFoundError):
        datasets.load_image_folder(tmp_path / "missing")
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError, match="one sub-folder per class"):
        datasets.load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        datasets.load_image_folder(tmp_path)


def test_image_folder_without_pillow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"fpkernels\[images\]"):
        datasets.load_image_folder(tmp_path)


# ---- the example scripts ------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script", ["demo.py", "multiclass.py"])
def test_example_scripts(script, tmp_path, monkeypatch, capsys):
    """Compiled always; trained to >= 95 % with FPKERNELS_TEST_EXAMPLES=1 (10-20 s each)."""
    if not (EXAMPLES / script).exists():
        pytest.skip("examples/ is not beside the tests")
    compile((EXAMPLES / script).read_text(), script, "exec")
    if os.environ.get("FPKERNELS_TEST_EXAMPLES") != "1":
        return
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    accuracy = float(out.split("held-out test accuracy: ")[1].split("%")[0])
    assert accuracy >= 95.0, out


def test_tutorial_ten_lines_run(tmp_path, monkeypatch, capsys):
    """The ten lines, then the tutorial's other blocks (the loop by hand) on what they made."""
    tutorial = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
    if not tutorial.exists():
        pytest.skip("docs/ is not beside the tests")
    code, *more = [textwrap.dedent(block) for block in          # blocks in a list are indented
                   re.findall(r"^ *```python\n(.*?)^ *```", tutorial.read_text(), re.S | re.M)]
    assert more                                                  # the loop by hand
    monkeypatch.chdir(tmp_path)
    namespace = {}
    with fk.num_threads(1):
        exec(compile(code, str(tutorial), "exec"), namespace)
    assert namespace["net"].evaluate(namespace["X"][namespace["test"]],
                                     namespace["y"][namespace["test"]])["accuracy"] >= 0.95
    assert (tmp_path / "trousers_vs_dresses.npz").exists()
    assert "epoch 1 .." in capsys.readouterr().out
    before = [p.copy() for p in namespace["net"].parameters()]
    with fk.num_threads(1):
        for block in more:
            exec(compile(block, str(tutorial), "exec"), namespace)
    assert any(not np.array_equal(a, b) for a, b in zip(before, namespace["net"].parameters()))
