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

from qnlp.data.images import DATASETS
from qnlp.errors import ConfigError
from qnlp.tasks.base import MAX_EPOCHS, Loaded, Settings, Task, setting

__all__ = ['IMAGE_MODELS', 'ImageSettings', 'ImageTask', 'build_network',
           'read_image_file']
#: :data:`qnlp.models.images.MODELS` and ``FRONTS``, named here so that
#: the command line builds its options without importing torch.
IMAGE_MODELS = ('hqnn-parallel', 'cnn', 'cnn-large', 'hqnn-quanv',
                'cnn-quanv', 'cnn-quanv-large')
IMAGE_FRONTS = ('small', 'cifar')
#: Models that read raw [0, 1] pixels (no per-channel normalisation).
RAW_PIXELS = ('hqnn-quanv', 'cnn-quanv', 'cnn-quanv-large')
#: Images used for the normalisation's mean and standard deviation.
NORMALISATION_IMAGES = 5000


@dataclass
class ImageSettings(Settings):
    """Every setting of an image run."""
    model: str = setting('hqnn-parallel', 'image model', choices=IMAGE_MODELS)
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
    reupload: bool = setting(False, 'hqnn-parallel: re-encode the inputs '
                                    'before every layer')
    dtype: str = setting('float32', 'floating precision',
                         choices=('float64', 'float32'))


def build_network(settings: ImageSettings, shape: Sequence[int],
                  n_classes: int) -> Any:
    """The network of ``settings`` for images of ``shape`` (C, H, W)."""
    from qnlp.models.images import make_image_model
    channels, side = shape[0], shape[1]
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
    from qnlp.data.images import load_image_folder
    return load_image_folder(data, settings.dataset)


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
        return Hooks(loss=cross_entropy,
                     augment=ImageAugment(settings.shift, flip),
                     select='dev' if loaded.dev is not None else 'last')

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
        return {**getattr(self, '_counts', {}),
                'n_quantum_parameters': quantum_parameters(model)}

    def model_name(self, settings: ImageSettings) -> str:
        return settings.model

    def fit_baseline(self, name: str, data: str,
                     settings: ImageSettings) -> dict[str, float]:
        """A classical CNN trained by the same runner, with the same
        settings, in a temporary run directory."""
        from qnlp.tasks.runner import train
        with tempfile.TemporaryDirectory() as folder:
            metrics = train(self, data, Path(folder) / 'run',
                            replace(settings, model=name), progress=False)
        return {'accuracy': metrics['test_accuracy'],
                'f1': metrics['test_f1'],
                'parameters': metrics['n_parameters'],
                'seconds': metrics['train_seconds']}
