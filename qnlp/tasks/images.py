"""Image classification: HQNN-Parallel, HQNN-Quanv and their classical
CNNs (:mod:`qnlp.models.images`).

DATA is an image data set's folder (or file): MNIST or Fashion-MNIST
IDX files, a MedMNIST ``.npz``, CIFAR-10 (see :mod:`qnlp.data.images`);
which one is ``dataset``, by default told from its name or contents.
The official splits are kept: train, the validation split as dev when
the data set has one (its best epoch is kept; otherwise the last), test.
Training uses Adam (optionally with weight decay), minibatches, a
one-cycle schedule by default and random shifts (and flips for colour
images) of each minibatch (:mod:`qnlp.data.augment`).

>>> import tempfile, numpy as np
>>> from qnlp.data.images import write_idx
>>> from qnlp.tasks import train
>>> folder = tempfile.mkdtemp() + '/mnist'
>>> rng = np.random.default_rng(0)
>>> import os; os.makedirs(folder)
>>> for split, n in (('train', 24), ('t10k', 8)):
...     write_idx(f'{folder}/{split}-images-idx3-ubyte',
...               rng.integers(0, 256, (n, 12, 12), dtype=np.uint8))
...     write_idx(f'{folder}/{split}-labels-idx1-ubyte',
...               (np.arange(n) % 2).astype(np.uint8))
>>> metrics = train('images', folder, tempfile.mkdtemp() + '/run',
...     ImageSettings(model='hqnn-quanv', epochs=1, batch_size=8),
...     progress=False)
>>> 0 <= metrics['test_accuracy'] <= 1, metrics['task_metrics']['images']
(True, [24, 0, 8])
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from qnlp.choices import (ANSATZES, CREEP_MODELS, EMBEDDINGS, IMAGE_FRONTS,
                          IMAGE_MODELS, REUPLOAD_MODELS, TRANSFER_MODELS)
from qnlp.data.images import DATASETS
from qnlp.errors import ConfigError
from qnlp.robust.names import parse_attack
from qnlp.tasks.base import (MAX_EPOCHS, AttackSettings, Loaded, Settings,
                             Task, setting)

__all__ = ['IMAGE_MODELS', 'ImageSettings', 'ImageTask', 'build_network',
           'read_image_file']
#: The creep-in paper's sequence: all classical, layer 1, 2, 3 swapped,
#: all swapped (creep models are best on small images, ``image_size`` 8).
PAPER_CREEP = ('creep-ccc', 'creep-qcc', 'creep-cqc', 'creep-ccq',
               'creep-qqq')
#: Models that read raw [0, 1] pixels (no per-channel normalisation).
RAW_PIXELS = ('hqnn-quanv', 'cnn-quanv', 'cnn-quanv-large')
#: Images used for the normalisation's mean and standard deviation.
NORMALISATION_IMAGES = 5000


@dataclass
class ImageSettings(AttackSettings):
    """Every setting of an image run."""
    model: str = setting('hqnn-parallel', 'image model',
                         choices=IMAGE_MODELS + REUPLOAD_MODELS
                         + CREEP_MODELS + TRANSFER_MODELS)
    dataset: str | None = setting(None, 'which data set DATA holds '
                                        '(default: told from its name or '
                                        'files)', choices=DATASETS)
    epochs: int = setting(10, 'training epochs', low=1, high=MAX_EPOCHS)
    batch_size: int = setting(128, 'minibatch size; 0 = the whole training '
                                   'set', low=0)
    lr: float = setting(3e-3, 'learning rate', low=1e-12, high=1e3)
    schedule: str = setting('onecycle', 'learning-rate schedule (onecycle '
                                        'steps after every minibatch)',
                            choices=('constant', 'cosine', 'step',
                                     'onecycle'))
    shift: int = setting(2, 'random shifts of up to this many pixels; 0 = '
                            'none', low=0, high=16)
    flip: bool | None = setting(None, 'random horizontal flips (true/false; '
                                      'default: on for colour images)')
    front: str = setting('auto', "convolutional front end; auto = 'cifar' "
                                 "for 3x32x32 images, else 'small'",
                         choices=('auto',) + IMAGE_FRONTS)
    layers: int | None = setting(None, 'circuit layers of the quantum '
                                       'models (default: the model\'s)',
                                 low=1, high=32)
    creep_width: int = setting(16, 'creep models: width of the two hidden '
                                   'layers', low=1, high=64)
    encoder_epochs: int = setting(10, 'transfer models: epochs of the '
                                      'autoencoder pretraining', low=1,
                                  high=MAX_EPOCHS)
    transfer_qubits: int | None = setting(None, 'transfer-linear and '
                                             'transfer-hamiltonian: qubits '
                                             'of the circuit (default 8 '
                                             'and 4)', low=1, high=12)
    embedding: str = setting('hermitian', 'hamiltonian: the image as '
                                          '(X + X^T)/2 + i(X - X^T)/2 '
                                          '(hermitian) or (X + X^T)/2 '
                                          '(symmetric, the paper\'s)',
                             choices=EMBEDDINGS)
    ansatz: str = setting('su', 'hamiltonian and angle-reupload: trainable '
                                'layers, general n-qubit unitaries (su) or '
                                'RZ-RY-RZ + CNOT ring (ring)',
                          choices=ANSATZES)
    reupload: bool = setting(False, 'hqnn-parallel: re-encode the inputs '
                                    'before every layer')
    dtype: str = setting('float32', 'floating precision',
                         choices=('float64', 'float32'))
    classes: tuple[str, ...] = setting(
        (), 'keep only these classes (names as the data set calls them, '
            'e.g. 0 and 1 for MNIST), relabelled in this order; default all',
        parse=tuple, metavar='CLASS', option='--class')
    image_size: int | None = setting(None, 'resize the images to this side '
                                           '(area averaging); default: as '
                                           'stored', low=4, high=256)
    train_images: int = setting(0, 'use the first N training (and dev) '
                                   'images; 0 = all', low=0)
    test_images: int = setting(0, 'use the first N test images; 0 = all',
                               low=0)
    attack_images: int = setting(500, 'test images the attacks use', low=1)

    def check(self) -> None:
        self.check_attacks()


def build_network(settings: ImageSettings, shape: Sequence[int],
                  n_classes: int) -> Any:
    """The network of ``settings`` for images of ``shape`` (C, H, W)."""
    from qnlp.models.images import make_image_model
    channels, side = shape[0], shape[1]
    if settings.model in REUPLOAD_MODELS:
        from qnlp.models.reupload import make_reupload_model
        return make_reupload_model(settings.model, channels, side, n_classes,
                                   n_layers=settings.layers,
                                   seed=settings.seed,
                                   embedding=settings.embedding,
                                   ansatz=settings.ansatz)
    if settings.model in CREEP_MODELS:
        from qnlp.models.creep import make_creep_model
        return make_creep_model(settings.model, channels * side * side,
                                n_classes, width=settings.creep_width,
                                n_layers=settings.layers or 1,
                                seed=settings.seed)
    if settings.model in TRANSFER_MODELS:
        from qnlp.models.transfer import make_transfer_model
        return make_transfer_model(settings.model, channels * side * side,
                                   n_classes, n_layers=settings.layers or 4,
                                   seed=settings.seed,
                                   n_qubits=settings.transfer_qubits)
    front = settings.front
    if front == 'auto':
        front = 'cifar' if channels == 3 and side == 32 else 'small'
    quantum: dict[str, Any] = {}
    if settings.model in ('hqnn-parallel', 'hqnn-quanv'):
        if settings.layers is not None:
            quantum['n_layers'] = settings.layers
        if settings.reupload and settings.model == 'hqnn-parallel':
            quantum['reupload'] = True
    return make_image_model(settings.model, channels, side, n_classes,
                            front=front, seed=settings.seed, **quantum)


def _make_classifier(settings: ImageSettings, shape: Sequence[int],
                     n_classes: int, device: Any) -> Any:
    from qnlp.engine.device import resolve_dtype
    from qnlp.models.images import ImageClassifier
    model = ImageClassifier(build_network(settings, shape, n_classes),
                            shape[0])
    return model.to(device=device, dtype=resolve_dtype(settings.dtype))


def read_image_file(path: str | Path, shape: Sequence[int]) -> Any:
    """A PNG/JPEG/... file as uint8 ``(C, H, W)`` with the run's channels
    (grey or RGB); a file that is no image, or of another size, is a
    :class:`ConfigError`."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError
    channels, height, width = shape
    try:
        with Image.open(path) as image:
            if image.size != (width, height):
                raise ConfigError(f"{path}: the image is {image.size[0]}x"
                                  f"{image.size[1]} pixels; the run takes "
                                  f"{width}x{height}")
            array = np.asarray(image.convert('L' if channels == 1
                                             else 'RGB'), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as error:
        raise ConfigError(f"{path}: not a readable image "
                          f"({getattr(error, 'strerror', None) or error})") \
            from None
    return array.reshape(height, width, channels).transpose(2, 0, 1)


def _load(data: str, settings: ImageSettings) -> Any:
    """The data set in ``data`` with the settings' class selection,
    size and image counts applied."""
    from qnlp.data.images import load_image_folder
    return select_images(load_image_folder(data, settings.dataset),
                         settings.classes, settings.image_size,
                         settings.train_images, settings.test_images)


def select_images(found: Any, classes: Sequence[str] = (),
                  size: int | None = None, train: int = 0, test: int = 0
                  ) -> Any:
    """``found`` (:class:`qnlp.data.images.ImageData`) with only
    ``classes`` (relabelled 0, 1, ... in that order), images resized to
    ``size`` by area averaging, and the first ``train`` training and dev
    and ``test`` test images (0: all; a split stored class by class is
    first :func:`interleaved`, so that the cut holds every class).

    >>> import numpy as np
    >>> from qnlp.data.images import ImageData
    >>> images = np.arange(4 * 16, dtype=np.uint8).reshape(4, 1, 4, 4)
    >>> data = ImageData('mnist', list('0123'), images, np.arange(4),
    ...                  images, np.array([3, 2, 1, 0]))
    >>> small = select_images(data, ('2', '0'), size=2, test=1)
    >>> small.classes, small.train_labels.tolist(), small.test_labels.tolist()
    (['2', '0'], [1, 0], [0])
    >>> small.train_images[1, 0].tolist()
    [[34, 36], [42, 44]]
    >>> select_images(data, ('7',))
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: class '7' is not one of the data set's: 0, 1, 2, 3
    """
    import numpy as np
    from dataclasses import replace as copy
    for name in classes:
        if name not in found.classes:
            raise ConfigError(f"class {name!r} is not one of the data set's: "
                              f"{', '.join(found.classes)}")
    order = [found.classes.index(name) for name in classes]

    def one(images: Any, labels: Any, limit: int) -> tuple[Any, Any]:
        if images is None:
            return None, None
        if order:
            keep = np.isin(labels, order)
            images, labels = images[keep], labels[keep]
        if limit and limit < len(labels) and stored_by_class(labels):
            turns = interleaved(labels)
            images, labels = images[turns], labels[turns]
        if order:
            labels = np.array([order.index(v) for v in labels],
                              dtype=np.int64).reshape(-1)
        if limit:
            images, labels = images[:limit], labels[:limit]
        if size is not None and images.shape[-1] != size:
            images = _resized(images, size)
        return images, labels

    train_images, train_labels = one(found.train_images, found.train_labels,
                                     train)
    if not len(train_labels):
        raise ConfigError(f"no training images of the classes "
                          f"{', '.join(classes)}")
    val_images, val_labels = one(found.val_images, found.val_labels, train)
    test_images, test_labels = one(found.test_images, found.test_labels,
                                   test)
    return copy(found, classes=list(classes) or found.classes,
                train_images=train_images, train_labels=train_labels,
                val_images=val_images, val_labels=val_labels,
                test_images=test_images, test_labels=test_labels)


def stored_by_class(labels: Any) -> bool:
    """Whether a split holds more than one class, stored class by class.

    >>> stored_by_class([0, 0, 1, 1]), stored_by_class([0, 1, 0, 1])
    (True, False)
    """
    import numpy as np
    labels = np.asarray(labels)
    return bool(len(labels) and labels[0] != labels[-1]
                and (np.diff(labels) >= 0).all())


def interleaved(labels: Any) -> Any:
    """Indices that take the images of each class in turn (the first of
    every class, then the second...), each class in stored order: where
    a split is stored class by class (the CIFAR-10 JPEG tree), the first
    N images of a cut then hold every class, not just the first one.

    >>> interleaved([0, 0, 0, 1, 1, 2]).tolist()
    [0, 3, 5, 1, 4, 2]
    """
    import numpy as np
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    for value in np.unique(labels):
        where = np.flatnonzero(labels == value)
        rank[where] = np.arange(len(where))
    return np.lexsort((labels, rank))


def _resized(images: Any, size: int) -> Any:
    """uint8 ``(N, C, H, W)`` -> ``(N, C, size, size)``, area averaging."""
    import numpy as np
    import torch
    pixels = torch.from_numpy(images).double()
    small = torch.nn.functional.interpolate(pixels, size=(size, size),
                                            mode='area')
    return small.round().clamp(0, 255).to(torch.uint8).numpy().astype(
        np.uint8)


def _split(images: Any, labels: Any) -> Any:
    import torch

    from qnlp.train import Split
    return Split(torch.from_numpy(images), torch.from_numpy(labels))


class ImageTask(Task):
    """HQNN-Parallel / HQNN-Quanv image classifiers."""
    name = 'images'
    Settings = ImageSettings
    data_help = ('an image data set folder or file (mnist, fashion-mnist, '
                 'pneumoniamnist, cifar10)')
    input_help = 'image files (PNG, JPEG, ...) of the training size'
    eval_chunk = 1000
    baselines = {'cnn': 'the HQNN-Parallel network with a classical '
                        '20 -> 20 + tanh layer',
                 'cnn-large': 'the same front end with a 128-wide head',
                 'cnn-quanv': 'a 2x2 stride-2 convolution of the '
                              'quanvolution\'s size',
                 'cnn-quanv-large': 'a 16-channel 2x2 stride-2 '
                                    'convolution'}
    default_baselines = ('cnn',)

    def load(self, data: str, settings: ImageSettings,
             **options: Any) -> Loaded:
        found = _load(data, settings)
        self._attack_test = (settings, found.test_images, found.test_labels)
        has_dev = found.val_images is not None and len(found.val_images) > 0
        dev = _split(found.val_images, found.val_labels) if has_dev else None
        self._counts = {'dataset': found.name, 'images': [
            len(found.train_images), len(found.val_images) if has_dev else 0,
            len(found.test_images)]}
        return Loaded(
            _split(found.train_images, found.train_labels), dev,
            _split(found.test_images, found.test_labels),
            list(found.classes), found.fingerprint(),
            state={'dataset': found.name, 'shape': list(found.shape)})

    def build(self, settings: ImageSettings, loaded: Loaded,
              device: Any) -> Any:
        model = _make_classifier(settings, loaded.state['shape'],
                                 len(loaded.labels), device)
        if settings.model not in RAW_PIXELS:
            model.normalise_with(loaded.train.circuits[:NORMALISATION_IMAGES])
        if settings.model in TRANSFER_MODELS:
            from qnlp.models.transfer import pretrain_encoder
            pixels = model.prepare(loaded.train.circuits)
            self._pretrain_loss = pretrain_encoder(
                model.network, (pixels - model.mean) / model.std,
                settings.encoder_epochs, seed=settings.seed)[-1]
        return model

    def restore(self, settings: ImageSettings, config: dict[str, Any],
                tensors: dict[str, Any], device: Any) -> Any:
        model = _make_classifier(settings, config['shape'],
                                 len(config['labels']), device)
        model.load_state_dict(tensors)
        return model

    def hooks(self, settings: ImageSettings, loaded: Loaded) -> Any:
        from qnlp.data.augment import ImageAugment
        from qnlp.train import Hooks, cross_entropy
        flip = settings.flip if settings.flip is not None \
            else loaded.state['shape'][0] == 3
        adversary = None
        if settings.adversarial is not None:
            from qnlp.robust.attacks import Adversary
            adversary = Adversary(*parse_attack(settings.adversarial))
        return Hooks(loss=cross_entropy,
                     augment=ImageAugment(settings.shift, flip),
                     select=self.selection(settings, loaded),
                     adversary=adversary)

    def probabilities(self, outputs: Any) -> Any:
        return outputs.softmax(1)

    def examples(self, data: str, settings: ImageSettings,
                 config: dict[str, Any]) -> tuple[list[Any], list[str]]:
        found = _load(data, settings)
        if list(found.shape) != list(config['shape']):
            raise ConfigError(f"{data}: images of shape {list(found.shape)}"
                              f"; the run was trained on {config['shape']}")
        return list(found.test_images), \
            [found.classes[i] for i in found.test_labels.tolist()]

    def inputs(self, items: Sequence[Any], settings: ImageSettings,
               config: dict[str, Any], model: Any = None) -> Any:
        import numpy as np
        import torch
        shape = config['shape']
        arrays = [read_image_file(item, shape)
                  if isinstance(item, (str, Path)) else item
                  for item in items]
        if not arrays:
            return torch.zeros((0, *shape), dtype=torch.uint8)
        return torch.from_numpy(np.stack(arrays))

    def extra_metrics(self, model: Any, world: Any) -> dict[str, Any]:
        from qnlp.models.images import quantum_parameters
        found = {**getattr(self, '_counts', {}),
                 'n_quantum_parameters': quantum_parameters(model)}
        if hasattr(self, '_pretrain_loss'):
            found['autoencoder_mse'] = round(self._pretrain_loss, 6)
        settings, images, labels = getattr(self, '_attack_test',
                                           (None, None, None))
        if settings is not None and settings.attacks:
            import torch

            from qnlp.robust.attacks import robust_accuracy
            n = settings.attack_images
            found['robust_accuracy'] = robust_accuracy(
                model, model.prepare(images[:n]),
                torch.from_numpy(labels[:n]), settings.attacks,
                seed=settings.seed)
            found['attack_images'] = min(n, len(images))
        return found

    def model_name(self, settings: ImageSettings) -> str:
        return settings.model

    def baseline_choices(self, settings: ImageSettings
                         ) -> tuple[dict[str, str], tuple[str, ...]]:
        """A creep model's baselines are the other creep mixes (by
        default the paper's five), a transfer model's the other heads on
        the same frozen encoder (by default all); else the CNNs."""
        for family, usual in ((CREEP_MODELS, PAPER_CREEP), (TRANSFER_MODELS,
                                                            TRANSFER_MODELS)):
            if settings.model in family:
                known = {name: f'{settings.model} with other layers or head'
                         for name in family if name != settings.model}
                return known, tuple(name for name in usual if name in known)
        return super().baseline_choices(settings)

    def fit_baseline(self, name: str, data: str,
                     settings: ImageSettings) -> dict[str, Any]:
        """A classical CNN trained by the same runner, with the same
        settings (attacked, when they say so, on the same test images
        with the same attack seed), in a temporary run directory."""
        from qnlp.tasks.compare import row_of
        from qnlp.tasks.runner import train
        with tempfile.TemporaryDirectory() as folder:
            return row_of(train(self, data, Path(folder) / 'run',
                                replace(settings, model=name),
                                progress=False))
