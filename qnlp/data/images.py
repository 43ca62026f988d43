"""Image data sets: MNIST, Fashion-MNIST (IDX), MedMNIST (.npz), CIFAR-10.

Every loader returns an :class:`ImageData` with ``uint8`` images of shape
``(N, C, H, W)`` and ``int64`` labels, on the official splits. Files are
found in this order: the ``data_dir`` argument (the data set's own folder
or a folder holding one per data set, e.g. ``DIR/mnist``), then
``$QNLP_DATA_DIR/<name>``, then the cache ``<cache>/<name>``
(:func:`qnlp.files.cache_dir`, e.g. ``~/.cache/qnlp``).
:func:`download_dataset` fetches the official files there (checksums
verified) for users with a network; nothing is ever downloaded implicitly.

Formats read:

* IDX (``train-images-idx3-ubyte`` and friends, gzipped or raw);
* MedMNIST ``.npz`` (keys ``train_images``, ``train_labels``, ``val_*``,
  ``test_*``);
* CIFAR-10 as a JPEG tree ``train/<class>/*.jpg``, ``test/<class>/*.jpg``
  (a folder, or a ``.tar.gz`` of it, whose decoded pixels are cached as
  ``.npz`` in the cache folder), or the official python batches
  (``cifar-10-batches-py``). The batches are Python pickles: they are
  read only because that is CIFAR-10's documented distribution format,
  with an unpickler that refuses every object except plain containers
  and numpy arrays, so a tampered file cannot run code. Prefer the JPEG
  tree.

Malformed files raise :class:`~qnlp.errors.CorpusError` naming the file.

>>> import tempfile, pathlib, numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_idx(folder / 'x.idx', np.arange(8, dtype=np.uint8).reshape(2, 2, 2))
>>> read_idx(folder / 'x.idx').tolist()
[[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable

import numpy as np

from qnlp.errors import CorpusError
from qnlp.files import atomic_path, cache_dir

DATASETS = ('mnist', 'fashion-mnist', 'pneumoniamnist', 'cifar10')

CLASSES = {
    'mnist': [str(i) for i in range(10)],
    'fashion-mnist': ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                      'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'],
    'pneumoniamnist': ['normal', 'pneumonia'],
    'cifar10': ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                'frog', 'horse', 'ship', 'truck'],
}

IDX_FILES = {'train_images': 'train-images-idx3-ubyte',
             'train_labels': 'train-labels-idx1-ubyte',
             'test_images': 't10k-images-idx3-ubyte',
             'test_labels': 't10k-labels-idx1-ubyte'}
#: Optional IDX files of a dev (validation) split, which MNIST itself
#: lacks (e.g. written by ``benchmarks/bench_federated.py``).
IDX_DEV_FILES = {'val_images': 'val-images-idx3-ubyte',
                 'val_labels': 'val-labels-idx1-ubyte'}

#: Official download locations and MD5 checksums (those published with
#: the data and used by torchvision / medmnist).
DOWNLOADS: dict[str, list[tuple[str, str, str]]] = {
    'mnist': [
        ('https://ossci-datasets.s3.amazonaws.com/mnist/'
         'train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte.gz',
         'f68b3c2dcbeaaa9fbdd348bbdeb94873'),
        ('https://ossci-datasets.s3.amazonaws.com/mnist/'
         'train-labels-idx1-ubyte.gz', 'train-labels-idx1-ubyte.gz',
         'd53e105ee54ea40749a09fcbcd1e9432'),
        ('https://ossci-datasets.s3.amazonaws.com/mnist/'
         't10k-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz',
         '9fb629c4189551a2d022fa330f9573f3'),
        ('https://ossci-datasets.s3.amazonaws.com/mnist/'
         't10k-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
         'ec29112dd5afa0611ce80d1b7f02629c')],
    'fashion-mnist': [
        ('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'
         'train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte.gz',
         '8d4fb7e6c68d591d4c3dfef9ec88bf0d'),
        ('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'
         'train-labels-idx1-ubyte.gz', 'train-labels-idx1-ubyte.gz',
         '25c81989df183df01b3e8a0aad5dffbe'),
        ('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'
         't10k-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz',
         'bef4ecab320f06d8554ea6380940ec79'),
        ('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'
         't10k-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
         'bb300cfdad3c16e7a12a480ee83cd310')],
    'pneumoniamnist': [
        ('https://zenodo.org/records/10519652/files/pneumoniamnist.npz'
         '?download=1', 'pneumoniamnist.npz',
         '28209eda62fecd6e6a2d98b1501bb15f')],
    'cifar10': [
        ('https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz',
         'cifar-10-python.tar.gz', 'c58f30108f718f92721af3b95e74349a')],
}

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype('>i2'),
              0x0C: np.dtype('>i4'), 0x0D: np.dtype('>f4'),
              0x0E: np.dtype('>f8')}


@dataclass
class ImageData:
    """Images ``(N, C, H, W)`` uint8 and labels per official split."""
    name: str
    classes: list[str]
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    val_images: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    sources: list[Path] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]

    def fingerprint(self) -> str:
        """SHA-256 over the source files' names and bytes (run identity)."""
        digest = hashlib.sha256()
        for path in sorted(self.sources):
            digest.update(path.name.encode())
            with open(path, 'rb') as handle:
                for block in iter(lambda: handle.read(1 << 20), b''):
                    digest.update(block)
        return digest.hexdigest()


# ---------------------------------------------------------------- IDX ----

def _open(path: Path) -> BinaryIO:
    with open(path, 'rb') as probe:
        magic = probe.read(2)
    return gzip.open(path, 'rb') if magic == b'\x1f\x8b' \
        else open(path, 'rb')  # type: ignore[return-value]


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a numpy array."""
    path = Path(path)
    try:
        with _open(path) as handle:
            data = handle.read()
    except FileNotFoundError:
        raise CorpusError("no such file", str(path)) from None
    except (OSError, EOFError) as error:
        raise CorpusError(f"cannot read ({error})", str(path)) from None
    if len(data) < 4 or data[:2] != b'\0\0' or data[2] not in _IDX_TYPES:
        raise CorpusError("not an IDX file (bad magic number)", str(path))
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorpusError("truncated IDX header", str(path))
    dims = struct.unpack(f'>{ndim}I', data[4:header])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise CorpusError(f"IDX header says {dims} ({expected} bytes of "
                          f"data) but the file holds {len(data) - header}",
                          str(path))
    return np.frombuffer(data, dtype, offset=header).reshape(dims) \
        .astype(dtype.newbyteorder('='))


def write_idx(path: str | Path, array: np.ndarray,
              compress: bool = False) -> None:
    """Write ``array`` (uint8) as an IDX file, gzipped if ``compress``."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    payload = (bytes([0, 0, 0x08, array.ndim])
               + struct.pack(f'>{array.ndim}I', *array.shape)
               + array.tobytes())
    Path(path).write_bytes(gzip.compress(payload, mtime=0) if compress
                           else payload)


def _idx_file(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / (stem + '.gz'), folder / stem,
                      folder / stem.replace('-idx', '.idx')):
        if candidate.is_file():
            return candidate
    return None


def _find_idx(folder: Path, stem: str) -> Path:
    found = _idx_file(folder, stem)
    if found is None:
        raise CorpusError(f"missing {stem}(.gz)", str(folder))
    return found


def load_idx_dataset(folder: str | Path, name: str = 'mnist') -> ImageData:
    """MNIST-style folder of four IDX files -> :class:`ImageData`; with
    ``val-images-idx3-ubyte`` and ``val-labels-idx1-ubyte`` too, those
    are the dev split."""
    folder = Path(folder)
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_FILES.items()}
    if any(_idx_file(folder, stem) for stem in IDX_DEV_FILES.values()):
        paths.update({key: _find_idx(folder, stem)
                      for key, stem in IDX_DEV_FILES.items()})
    arrays = {key: read_idx(path) for key, path in paths.items()}
    splits = ('train', 'val', 'test') if 'val_images' in arrays \
        else ('train', 'test')
    for split in splits:
        images, labels = arrays[f'{split}_images'], arrays[f'{split}_labels']
        if images.ndim != 3 or labels.ndim != 1:
            raise CorpusError(f"expected images (N, H, W) and labels (N,), "
                              f"got {images.shape} and {labels.shape}",
                              str(paths[f'{split}_images']))
        if len(images) != len(labels):
            raise CorpusError(f"{len(images)} images but {len(labels)} "
                              "labels", str(paths[f'{split}_labels']))
    classes = CLASSES.get(name) or [str(i) for i in
                                    range(int(arrays['train_labels'].max())
                                          + 1)]
    for split in splits:
        _check_labels(arrays[f'{split}_labels'], len(classes),
                      paths[f'{split}_labels'])
    out = {key: (value[:, None] if key.endswith('images') else value
                 ).astype(np.uint8 if key.endswith('images') else np.int64)
           for key, value in arrays.items()}
    return ImageData(name, classes, out['train_images'], out['train_labels'],
                     out['test_images'], out['test_labels'],
                     out.get('val_images'), out.get('val_labels'),
                     sources=list(paths.values()))


def _check_labels(labels: np.ndarray, n_classes: int, path: Path) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise CorpusError(f"labels must lie in 0..{n_classes - 1}, found "
                          f"{labels.min()}..{labels.max()}", str(path))


# ----------------------------------------------------------- MedMNIST ----

def load_medmnist(path: str | Path, name: str = 'pneumoniamnist'
                  ) -> ImageData:
    """A MedMNIST ``.npz`` (or a folder holding ``<name>.npz``)."""
    path = Path(path)
    if path.is_dir():
        path = path / f'{name}.npz'
    if not path.is_file():
        raise CorpusError("no such file", str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise CorpusError(f"not a readable .npz ({error})", str(path)) \
            from None
    out: dict[str, np.ndarray | None] = {}
    for split in ('train', 'val', 'test'):
        images = arrays.get(f'{split}_images')
        labels = arrays.get(f'{split}_labels')
        if images is None or labels is None:
            if split == 'val':
                out['val_images'] = out['val_labels'] = None
                continue
            raise CorpusError(f"missing key {split}_images or "
                              f"{split}_labels (found {sorted(arrays)})",
                              str(path))
        if images.ndim == 3:
            images = images[:, None]
        elif images.ndim == 4:
            images = images.transpose(0, 3, 1, 2)
        else:
            raise CorpusError(f"{split}_images has shape {images.shape}; "
                              "expected (N, H, W) or (N, H, W, C)",
                              str(path))
        labels = labels.reshape(len(labels), -1)
        if labels.shape[1] != 1 or len(labels) != len(images):
            raise CorpusError(f"{split}_labels has shape "
                              f"{arrays[f'{split}_labels'].shape} for "
                              f"{len(images)} images (multi-label sets are "
                              "not supported)", str(path))
        out[f'{split}_images'] = np.ascontiguousarray(images, np.uint8)
        out[f'{split}_labels'] = labels[:, 0].astype(np.int64)
    n_classes = int(max(out['train_labels'].max(),  # type: ignore[union-attr]
                        out['test_labels'].max())) + 1  # type: ignore
    classes = CLASSES.get(name, [str(i) for i in range(n_classes)])
    for split in ('train', 'val', 'test'):
        if out[f'{split}_labels'] is not None:
            _check_labels(out[f'{split}_labels'], len(classes), path)
    return ImageData(name, classes, out['train_images'],
                     out['train_labels'], out['test_images'],
                     out['test_labels'], out['val_images'],
                     out['val_labels'], sources=[path])


# ----------------------------------------------------------- CIFAR-10 ----

def _decode_jpeg(data: bytes, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as image:
            array = np.asarray(image.convert('RGB'), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise CorpusError(f"not a readable image ({error})", where) \
            from None
    return array.transpose(2, 0, 1)


def _jpeg_members(entries: Iterable[tuple[str, Any]], classes: list[str],
                  where: str) -> dict[str, tuple[list, list]]:
    """Group (path, payload) by split and class from ``*/split/class/f``."""
    found: dict[str, tuple[list, list]] = {'train': ([], []),
                                           'test': ([], [])}
    for name, payload in entries:
        parts = name.replace('\\', '/').split('/')
        if len(parts) < 3 or not parts[-1].lower().endswith(
                ('.jpg', '.jpeg', '.png')):
            continue
        split, label = parts[-3], parts[-2]
        if split not in found:
            continue
        if label not in classes:
            raise CorpusError(f"unknown class folder {label!r} (expected "
                              f"one of {classes})", f"{where}/{name}")
        found[split][0].append((name, payload))
        found[split][1].append(classes.index(label))
    return found


def load_image_tree(path: str | Path, name: str = 'cifar10') -> ImageData:
    """``train/<class>/*.jpg`` and ``test/<class>/*.jpg``: folder or .tar.gz.

    All images must have the same size; files are read in sorted order.
    """
    path = Path(path)
    classes = CLASSES.get(name)
    if path.is_dir():
        if classes is None:
            classes = sorted(p.name for p in (path / 'train').iterdir()
                             if p.is_dir())
        files = sorted(p for p in path.rglob('*') if p.is_file())
        entries = [(str(p.relative_to(path)), p) for p in files]
        found = _jpeg_members(entries, classes, str(path))
        read = {split: [_decode_jpeg(p.read_bytes(), str(p))
                        for _, p in found[split][0]] for split in found}
    elif path.is_file():
        cached = _read_decoded(path, name)
        if cached is not None:
            return cached
        try:
            with tarfile.open(path, 'r:*') as archive:
                members = sorted((m for m in archive.getmembers()
                                  if m.isfile()), key=lambda m: m.name)
                if classes is None:
                    classes = sorted({m.name.split('/')[-2] for m in members
                                      if '/train/' in '/' + m.name})
                found = _jpeg_members([(m.name, m) for m in members],
                                      classes, str(path))
                read = {split: [_decode_jpeg(
                    archive.extractfile(m).read(),  # type: ignore
                    f"{path}/{n}") for n, m in found[split][0]]
                    for split in found}
        except tarfile.TarError as error:
            raise CorpusError(f"not a readable tar archive ({error})",
                              str(path)) from None
    else:
        raise CorpusError("no such file or directory", str(path))
    arrays = {}
    for split in ('train', 'test'):
        if not read[split]:
            raise CorpusError(f"no images under {split}/<class>/",
                              str(path))
        shapes = {image.shape for image in read[split]}
        if len(shapes) != 1:
            raise CorpusError(f"images of different sizes {sorted(shapes)}",
                              str(path))
        arrays[split] = (np.stack(read[split]),
                         np.asarray(found[split][1], dtype=np.int64))
    data = ImageData(name, list(classes), *arrays['train'], *arrays['test'],
                     sources=[path] if path.is_file() else
                     sorted(p for _, p in found['train'][0]
                            + found['test'][0]))
    if path.is_file():
        _write_decoded(path, data)
    return data


def _decoded_path(archive: Path) -> Path:
    digest = hashlib.sha256()
    with open(archive, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return cache_dir() / 'decoded' / f'{archive.name}.{digest.hexdigest()[:16]}.npz'


def _read_decoded(archive: Path, name: str) -> ImageData | None:
    """Decoded images of ``archive`` from the cache, if there."""
    cached = _decoded_path(archive)
    if not cached.is_file():
        return None
    try:
        with np.load(cached, allow_pickle=False) as data:
            return ImageData(name, [str(c) for c in data['classes']],
                             data['train_images'], data['train_labels'],
                             data['test_images'], data['test_labels'],
                             sources=[archive])
    except (OSError, ValueError, KeyError):
        return None  # a broken cache is rebuilt


def _write_decoded(archive: Path, data: ImageData) -> None:
    """Cache decoded images (npz, atomically); silently skip on failure."""
    cached = _decoded_path(archive)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as temporary, \
                open(temporary, 'wb') as handle:
            np.savez(handle, classes=np.asarray(data.classes),
                     train_images=data.train_images,
                     train_labels=data.train_labels,
                     test_images=data.test_images,
                     test_labels=data.test_labels)
    except OSError:
        pass   # the atomic write left nothing behind


class _ArraysOnly(pickle.Unpickler):
    """Unpickler for CIFAR batches: numpy arrays and builtins, nothing else."""
    ALLOWED = {('numpy.core.multiarray', '_reconstruct'),
               ('numpy._core.multiarray', '_reconstruct'),
               ('numpy', 'ndarray'), ('numpy', 'dtype'),
               ('_codecs', 'encode')}  # bytes pickled by Python 3

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_cifar_batch(data: bytes, where: str) -> tuple[np.ndarray,
                                                       np.ndarray]:
    """One CIFAR-10 python batch -> images ``(N, 3, 32, 32)``, labels."""
    try:
        batch = _ArraysOnly(io.BytesIO(data), encoding='bytes').load()
        images = np.asarray(batch[b'data'], dtype=np.uint8)
        labels = np.asarray(batch[b'labels'], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, TypeError, EOFError,
            ValueError, AttributeError) as error:
        raise CorpusError(f"not a CIFAR-10 python batch ({error})", where) \
            from None
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or \
            len(images) != len(labels):
        raise CorpusError(f"batch data has shape {images.shape} for "
                          f"{len(labels)} labels; expected (N, 3072)", where)
    _check_labels(labels, 10, Path(where))
    return images.reshape(-1, 3, 32, 32), labels


def load_cifar_batches(path: str | Path) -> ImageData:
    """``cifar-10-batches-py`` folder or ``cifar-10-python.tar.gz``."""
    path = Path(path)
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    blobs: dict[str, bytes] = {}
    if path.is_dir():
        for name in names:
            file = path / name
            if not file.is_file():
                raise CorpusError(f"missing {name}", str(path))
            blobs[name] = file.read_bytes()
    elif path.is_file():
        try:
            with tarfile.open(path, 'r:*') as archive:
                for member in archive.getmembers():
                    base = member.name.rsplit('/', 1)[-1]
                    if member.isfile() and base in names:
                        blobs[base] = archive.extractfile(member).read()  # type: ignore
        except tarfile.TarError as error:
            raise CorpusError(f"not a readable tar archive ({error})",
                              str(path)) from None
        missing = [n for n in names if n not in blobs]
        if missing:
            raise CorpusError(f"archive lacks {missing}", str(path))
    else:
        raise CorpusError("no such file or directory", str(path))
    parts = [read_cifar_batch(blobs[n], f'{path}/{n}') for n in names]
    train_x = np.concatenate([p[0] for p in parts[:5]])
    train_y = np.concatenate([p[1] for p in parts[:5]])
    return ImageData('cifar10', CLASSES['cifar10'], train_x, train_y,
                     *parts[5], sources=[path] if path.is_file() else
                     [path / n for n in names])


def load_cifar10(path: str | Path) -> ImageData:
    """CIFAR-10 from whatever ``path`` holds (JPEG tree preferred)."""
    path = Path(path)
    if path.is_dir():
        if (path / 'train').is_dir():
            return load_image_tree(path)
        if (path / 'cifar-10-batches-py').is_dir():
            return load_cifar_batches(path / 'cifar-10-batches-py')
        if (path / 'data_batch_1').is_file():
            return load_cifar_batches(path)
        for archive in ('cifar10-jpg.tar.gz', 'cifar-10-python.tar.gz'):
            if (path / archive).is_file():
                return load_cifar10(path / archive)
        raise CorpusError("no CIFAR-10 here (expected train/<class>/ "
                          "JPEGs, cifar10-jpg.tar.gz, cifar-10-batches-py "
                          "or cifar-10-python.tar.gz)", str(path))
    if path.name.startswith('cifar-10-python'):
        return load_cifar_batches(path)
    return load_image_tree(path)


# ------------------------------------------------- location, download ----

def locate_dataset(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder (or file) holding data set ``name``; see module doc."""
    if name not in DATASETS:
        raise CorpusError(f"unknown image data set {name!r}; choose one "
                          f"of {', '.join(DATASETS)}")
    candidates: list[Path] = []
    if data_dir is not None:
        candidates += [Path(data_dir) / name, Path(data_dir)]
    if os.environ.get('QNLP_DATA_DIR'):
        candidates.append(Path(os.environ['QNLP_DATA_DIR']) / name)
    candidates.append(cache_dir() / name)
    for candidate in candidates:
        if candidate.exists() and _looks_like(name, candidate):
            return candidate
    raise CorpusError(f"data set {name} not found; pass its folder, set "
                      "QNLP_DATA_DIR, or download it with "
                      f"qnlp.data.images.download_dataset({name!r})",
                      str(candidates[0]))


def _looks_like(name: str, path: Path) -> bool:
    if path.is_file():
        return name in ('pneumoniamnist', 'cifar10')
    names = {p.name for p in path.iterdir()}
    if name in ('mnist', 'fashion-mnist'):
        return any(n.startswith('train-images') for n in names)
    if name == 'pneumoniamnist':
        return f'{name}.npz' in names
    return bool(names & {'train', 'cifar-10-batches-py', 'data_batch_1',
                         'cifar10-jpg.tar.gz', 'cifar-10-python.tar.gz'})


def load_image_dataset(name: str, data_dir: str | Path | None = None
                       ) -> ImageData:
    """Load data set ``name`` (one of :data:`DATASETS`) from disk."""
    return _load_at(name, locate_dataset(name, data_dir))


def infer_dataset(path: str | Path) -> str:
    """The data set a folder (or file) holds: its name (``.../mnist``,
    ``pneumoniamnist.npz``) when that is one of :data:`DATASETS`, else the
    one data set its contents look like.

    >>> infer_dataset('/data/fashion-mnist')
    'fashion-mnist'
    """
    path = Path(path)
    for name in (path.name, path.stem, path.name.split('.')[0]):
        if name in DATASETS:
            return name
    if not path.exists():
        raise CorpusError("no such file or folder", str(path))
    found = [name for name in DATASETS if _looks_like(name, path)]
    if found == ['mnist', 'fashion-mnist']:   # IDX files: either
        found = ['mnist']
    if len(found) != 1:
        raise CorpusError("cannot tell which image data set this is "
                          f"(give --dataset {'|'.join(DATASETS)})",
                          str(path))
    return found[0]


def load_image_folder(path: str | Path, name: str | None = None
                      ) -> ImageData:
    """The data set ``name`` (default :func:`infer_dataset`) held by the
    folder or file ``path`` itself (nothing else is searched)."""
    path = Path(path)
    name = name or infer_dataset(path)
    if not path.exists():
        raise CorpusError("no such file or folder", str(path))
    if not _looks_like(name, path):
        if path.is_dir() and (path / name).exists() \
                and _looks_like(name, path / name):
            path = path / name
        else:
            raise CorpusError(f"does not hold the {name} data set",
                              str(path))
    return _load_at(name, path)


def _load_at(name: str, path: Path) -> ImageData:
    if name in ('mnist', 'fashion-mnist'):
        return load_idx_dataset(path, name)
    if name == 'pneumoniamnist':
        return load_medmnist(path, name)
    return load_cifar10(path)


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def download_dataset(name: str, dest: str | Path | None = None) -> Path:
    """Download the official files of ``name`` into ``dest`` (default: the
    cache folder), verify their MD5 and return the folder. Files already
    present with the right checksum are kept. Needs a network; never
    called by the tests or by training.
    """
    if name not in DOWNLOADS:
        raise CorpusError(f"no download for {name!r}; choose one of "
                          f"{', '.join(DOWNLOADS)}")
    folder = Path(dest) if dest is not None else cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    for url, filename, md5 in DOWNLOADS[name]:
        target = folder / filename
        if target.is_file() and _md5(target) == md5:
            continue
        with atomic_path(target) as temporary:
            request = urllib.request.Request(url, headers={
                'User-Agent': 'qnlp-data-download'})
            with urllib.request.urlopen(request, timeout=60) as response, \
                    open(temporary, 'wb') as out:
                for block in iter(lambda: response.read(1 << 20), b''):
                    out.write(block)
            got = _md5(temporary)
            if got != md5:
                raise CorpusError(f"checksum mismatch for {url}: MD5 {got}, "
                                  f"expected {md5}", str(target))
    return folder
