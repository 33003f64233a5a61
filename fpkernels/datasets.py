"""Real images for the demo and the examples: a small Fashion-MNIST slice shipped with the
package, the full Fashion-MNIST set when Debian's `dataset-fashion-mnist` is installed, and a
user's own folders of pictures.

Fashion-MNIST is Zalando SE's set of 28x28 grayscale article photos (MIT licence; see
fpkernels/data/fashion_mnist_LICENSE.txt). The shipped slice holds 400 training images of
each of four classes: trouser, dress, sandal and ankle boot.

>>> from fpkernels import datasets
>>> images, labels, names = datasets.load_fashion_slice()
>>> images.shape, images.dtype, names
((1600, 28, 28), dtype('uint8'), ('trouser', 'dress', 'sandal', 'ankle boot'))
>>> X = datasets.to_inputs(images[:2], size=(100, 100))     # resize, scale to [0, 1], flatten
>>> X.shape, X.dtype, float(X.min()) >= 0.0, float(X.max()) <= 1.0
((2, 10000), dtype('float32'), True, True)
"""
import gzip
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
SLICE = DATA / "fashion_mnist_slice.npz"
FULL_DIR = Path("/usr/share/datasets/fashion-mnist")   # Debian's dataset-fashion-mnist
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat",
                   "sandal", "shirt", "sneaker", "bag", "ankle boot")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm"}


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def read_idx(path):
    """The array in an IDX file (the MNIST format; gzip-compressed if it ends in .gz)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as file:
        data = file.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape}, file holds "
                         f"{len(data) - offset} bytes of data")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape).copy()


def load_fashion_slice():
    """(images uint8 (n, 28, 28), labels int64 (n,) in 0..k-1, class names): the shipped slice."""
    with np.load(SLICE, allow_pickle=False) as data:
        images, labels = data["images"], data["labels"].astype(np.int64)
        names = tuple(str(name) for name in data["class_names"])
    return images, labels, names


def full_fashion_available(directory=None):
    """True when the full Fashion-MNIST idx files are installed (Debian dataset-fashion-mnist)."""
    directory = Path(FULL_DIR if directory is None else directory)
    return all((directory / f"{part}-{kind}-idx{d}-ubyte.gz").exists()
               for part in ("train", "t10k") for kind, d in (("images", 3), ("labels", 1)))


def load_fashion_full(directory=None):
    """All 70,000 Fashion-MNIST images: (images uint8 (70000, 28, 28), labels, 10 class names)."""
    directory = Path(FULL_DIR if directory is None else directory)
    if not full_fashion_available(directory):
        raise FileNotFoundError(
            f"the full Fashion-MNIST set is not in {directory}; on Debian or Ubuntu install it "
            "with `apt-get install dataset-fashion-mnist`")
    images = np.concatenate([read_idx(directory / f"{p}-images-idx3-ubyte.gz")
                             for p in ("train", "t10k")])
    labels = np.concatenate([read_idx(directory / f"{p}-labels-idx1-ubyte.gz")
                             for p in ("train", "t10k")]).astype(np.int64)
    return images, labels, FASHION_CLASSES


def make_slice(directory=None, classes=(1, 3, 5, 9), per_class=400, seed=0, path=SLICE):
    """Write the shipped slice: `per_class` random training images of each Fashion-MNIST class
    in `classes` (how fpkernels/data/fashion_mnist_slice.npz was made)."""
    directory = Path(FULL_DIR if directory is None else directory)
    images = read_idx(directory / "train-images-idx3-ubyte.gz")
    labels = read_idx(directory / "train-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([np.sort(rng.choice(np.flatnonzero(labels == c), per_class,
                                                replace=False)) for c in classes])
    new_label = {c: i for i, c in enumerate(classes)}
    np.savez_compressed(path, images=images[chosen],
                        labels=np.array([new_label[c] for c in labels[chosen]], np.uint8),
                        class_names=np.array([FASHION_CLASSES[c] for c in classes]),
                        source_index=chosen.astype(np.int32))


def load_image_folder(directory, size=(100, 100)):
    """Grayscale images from `directory`/<class name>/*.png|jpg|...: (images uint8 (n, h, w),
    labels int64, class names sorted). Each picture is converted to grayscale and resized to
    `size` (height, width) with Pillow (install it with `pip install "fpkernels[images]"`)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('reading image folders needs Pillow: pip install "fpkernels[images]" '
                          "(or pip install pillow)") from None
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a folder")
    names = sorted(p.name for p in directory.iterdir() if p.is_dir())
    if len(names) < 2:
        raise ValueError(f"{directory} must hold one sub-folder per class (at least two); "
                         f"found {names or 'none'}")
    height, width = size
    images, labels = [], []
    for label, name in enumerate(names):
        files = sorted(p for p in (directory / name).iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"class folder {directory / name} holds no images "
                             f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        for file in files:
            with Image.open(file) as picture:
                gray = picture.convert("L").resize((width, height), Image.BILINEAR)
                images.append(np.asarray(gray, dtype=np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels, np.int64), tuple(names)


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------

def _interpolation_matrix(source, target):
    """(target, source) matrix of bilinear weights (half-pixel centres, edges clamped)."""
    position = (np.arange(target) + 0.5) * (source / target) - 0.5
    position = np.clip(position, 0, source - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, source - 1)
    weight = (position - low).astype(np.float32)
    matrix = np.zeros((target, source), np.float32)
    rows = np.arange(target)
    np.add.at(matrix, (rows, low), 1.0 - weight)
    np.add.at(matrix, (rows, high), weight)
    return matrix


def resize_bilinear(images, size):
    """Resize a stack of grayscale images (n, h, w) to (n, *size) by bilinear interpolation.

    Separable: rows then columns, each one matrix product (R @ image @ C^T), so the whole
    stack is resized without a Python loop over pixels. Same sampling as PIL's and torch's
    bilinear (align_corners=False) when enlarging. Returns float32 in the input's value range.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, height, width), got {images.shape}")
    rows = _interpolation_matrix(images.shape[1], size[0])
    columns = _interpolation_matrix(images.shape[2], size[1])
    out = np.empty((len(images), size[0], size[1]), np.float32)
    for start in range(0, len(images), 1024):        # bounded temporaries for large sets
        chunk = images[start:start + 1024].astype(np.float32)
        out[start:start + 1024] = rows @ chunk @ columns.T
    return out


def to_inputs(images, size=(100, 100)):
    """The paper's preprocessing: resize to `size`, scale pixels to [0, 1], flatten each image
    to one row. uint8 images (n, h, w) -> float32 (n, height * width)."""
    images = np.asarray(images)
    if images.shape[1:] != tuple(size):
        images = resize_bilinear(images, size)
    else:
        images = images.astype(np.float32)
    scaled = images.reshape(len(images), -1)
    scaled *= np.float32(1.0 / 255.0)
    return np.clip(scaled, 0.0, 1.0, out=scaled)


def stratified_split(labels, test_fraction=0.25, seed=0):
    """(train_index, test_index): each class split in the same proportion, shuffled by seed."""
    labels = np.asarray(labels)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), not {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(members) * test_fraction))
        if len(members) >= 2:
            cut = min(max(cut, 1), len(members) - 1)
        test.append(members[:cut])
        train.append(members[cut:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def select_classes(images, labels, names, wanted):
    """Keep the images of classes `wanted` (names or indices into `names`); labels become
    0..len(wanted)-1 in that order. Returns (images, labels, names)."""
    index = []
    for item in wanted:
        if isinstance(item, str) and not item.isdigit():
            matches = [i for i, n in enumerate(names) if n.lower() == item.lower()]
            if not matches:
                raise ValueError(f"no class named {item!r}; the classes are {', '.join(names)}")
            index.append(matches[0])
        else:
            number = int(item)
            if not 0 <= number < len(names):
                raise ValueError(f"class {number} out of range 0..{len(names) - 1}")
            index.append(number)
    if len(set(index)) != len(index):
        raise ValueError(f"classes must differ, got {list(wanted)}")
    keep = np.isin(labels, index)
    remap = np.zeros(max(len(names), int(labels.max()) + 1), np.int64)
    remap[index] = np.arange(len(index))
    return images[keep], remap[labels[keep]], tuple(names[i] for i in index)

