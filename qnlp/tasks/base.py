"""The task contract: one ``Settings`` dataclass and one ``Task`` per task.

A *task* (sentences, proteins, sentiment, images) is one module of
:mod:`qnlp.tasks` defining a :class:`Settings` subclass (the shared
training fields plus its own) and a :class:`Task` subclass that says how
to load its data, build its model, turn a user's inputs (a sentence, a
sequence, a review, an image file) into model inputs, and score it.
Everything else (the training loop, the run directory, the command line)
is written once, in :func:`qnlp.train.fit`, :mod:`qnlp.train.run` and
:mod:`qnlp.cli`, for every task.

Settings declare their constraints next to their fields (as
scikit-learn's ``_parameter_constraints`` do) with :func:`setting`, and
are validated in one place, :meth:`Settings.validate`, whether they come
from Python, a config file or the command line:

>>> from dataclasses import dataclass
>>> @dataclass
... class Toy(Settings):
...     layers: int = setting(1, 'circuit layers', low=1, high=8)
>>> Toy(layers=2).layers
2
>>> Toy(layers=1.5)
Traceback (most recent call last):
...
qnlp.errors.ConfigError: layers must be an integer, got 1.5
>>> Toy.from_dict({'lr': 'nan'})
Traceback (most recent call last):
...
qnlp.errors.ConfigError: lr must be a finite number, got 'nan'
>>> Toy.from_dict({'warp': 9})
Traceback (most recent call last):
...
qnlp.errors.ConfigError: unknown setting 'warp' for this task; known: average_weights, batch_size, dtype, epochs, layers, lr, optimizer, patience, schedule, seed, select, weight_decay
"""
from __future__ import annotations

import math
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Callable, ClassVar, Sequence

from qnlp.choices import OPTIMISERS, SCHEDULES, SELECTIONS
from qnlp.errors import ConfigError
from qnlp.robust.names import WHITE_BOX, parse_attack, parse_attacks

#: Largest epoch count any task accepts (a typo like 1e9 is refused early).
MAX_EPOCHS = 100_000


def setting(default: Any, help: str, *, choices: Sequence[Any] | None = None,
            low: float | None = None, high: float | None = None,
            parse: Callable[[list[str]], Any] | None = None,
            metavar: str | None = None, option: str | None = None) -> Any:
    """A settings field with its help text and constraints.

    ``choices``: the allowed values; ``low``/``high``: inclusive bounds of
    a number; ``parse``: for options given several times on the command
    line (``--label-pattern A=1 --label-pattern B=0``), turns the list of
    texts into the value; ``option``: the command-line name when it is
    not the field's (``--label-pattern`` for ``label_patterns``, given
    once per pattern).
    """
    return field(default=default, metadata={
        'help': help, 'choices': tuple(choices) if choices else None,
        'low': low, 'high': high, 'parse': parse, 'metavar': metavar,
        'option': option})


def _hint_parts(hint: Any) -> tuple[Any, bool]:
    """``(base type, accepts None)`` of a field's type hint."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else hint), True
    return hint, False


#: The shared settings that only the training loop reads.
LOOP_FIELDS = ('epochs', 'batch_size', 'lr', 'optimizer', 'schedule',
               'patience', 'weight_decay', 'average_weights', 'select')


@dataclass
class Settings:
    """Training fields every task shares; subclasses add their own and may
    redeclare a shared field to change its default.

    Validation runs on construction; :meth:`from_dict` also turns config
    file values (lists, numbers as text) into the declared types.
    """
    seed: int = setting(0, 'seed of initialisation, shuffling and splits',
                        low=0)
    epochs: int = setting(120, 'training epochs', low=1, high=MAX_EPOCHS)
    batch_size: int = setting(0, 'minibatch size; 0 = the whole training '
                                 'set', low=0)
    lr: float = setting(0.1, 'learning rate (the initial step of cobyla and '
                             'nelder-mead)', low=1e-12, high=1e3)
    optimizer: str = setting('adam', 'optimiser', choices=OPTIMISERS)
    schedule: str = setting('constant', 'learning-rate schedule',
                            choices=SCHEDULES)
    patience: int = setting(0, 'stop after this many epochs without a '
                               'better dev score; 0 = never', low=0)
    dtype: str = setting('float64', 'floating precision (complex64 '
                                    'amplitudes with float32)',
                         choices=('float64', 'float32'))
    weight_decay: float = setting(0.0, 'L2 weight decay of adam and sgd',
                                  low=0.0, high=1.0)
    average_weights: float = setting(
        0.0, 'keep an exponential moving average of the weights with this '
             'decay a step and select and save it instead of the raw '
             'weights (0 = off; adam, sgd, spsa)', low=0.0, high=0.9999)
    select: str = setting('dev-accuracy', "which epoch's weights are "
                                          'kept: best dev accuracy (ties: '
                                          'lower dev loss), lowest dev '
                                          'loss, or the last; without a '
                                          'dev split the last',
                          choices=SELECTIONS)

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def hints(cls) -> dict[str, Any]:
        """Field name -> resolved type hint."""
        return typing.get_type_hints(cls)

    def validate(self) -> None:
        """Check every field against its type and constraints (one place);
        values are normalised in place (ints to floats, lists to tuples)."""
        hints = self.hints()
        for spec in fields(self):
            value = _checked(spec.name, getattr(self, spec.name),
                             hints[spec.name], spec.metadata)
            object.__setattr__(self, spec.name, value)
        self.check()
        if self.patience and self.select == 'last':
            raise ConfigError("patience stops after epochs without a "
                              "better dev score; select last keeps the "
                              "last epoch and scores none")
        self.train_config()   # TrainConfig's own rules (weight decay)
        reason = self.fitted_without_a_loop()
        if reason:
            defaults = self.defaults()
            given = [name for name in LOOP_FIELDS
                     if getattr(self, name) != defaults[name]]
            if given:
                raise ConfigError(f"{', '.join(given)}: {reason}; these "
                                  "options set the training loop")

    def check(self) -> None:
        """Rules that tie fields together (override in a task)."""

    def fitted_without_a_loop(self) -> str | None:
        """Why the model of these settings is fitted without the
        training loop (None: it trains in it); then a loop setting
        (:data:`LOOP_FIELDS`) other than its default is refused, not
        silently ignored (override in a task)."""
        return None

    def train_config(self) -> Any:
        """The :class:`qnlp.train.TrainConfig` of these settings (the
        shared training fields)."""
        from qnlp.train.config import TrainConfig
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size,
                           lr=self.lr, seed=self.seed,
                           optimizer=self.optimizer, schedule=self.schedule,
                           patience=self.patience,
                           weight_decay=self.weight_decay,
                           average_weights=self.average_weights)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Settings":
        """Settings from a mapping (a config file, ``config.json``),
        refusing unknown names."""
        known = {spec.name for spec in fields(cls)}
        for name in values:
            if name not in known:
                raise ConfigError(f"unknown setting {name!r} for this task; "
                                  f"known: {', '.join(sorted(known))}")
        hints = cls.hints()
        converted = {name: _from_text(name, value, hints[name])
                     for name, value in values.items()}
        return cls(**converted)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists)."""
        return _jsonable(asdict(self))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Field name -> default value."""
        return {spec.name: (spec.default if spec.default is not MISSING
                            else spec.default_factory())   # type: ignore
                for spec in fields(cls)}



@dataclass
class SplitSettings(Settings):
    """Settings of a task that splits its data itself, seeded: the split
    (and the folds) can be held while ``seed`` moves only the model, so
    that seeds of a model are compared on the same test examples.

    >>> from dataclasses import replace
    >>> settings = SplitSettings(seed=3)
    >>> settings.data_seed, replace(settings, split_seed=0).data_seed
    (3, 0)
    """
    split_seed: int | None = setting(None, 'seed of the train/dev/test '
                                           'split and folds alone '
                                           '(default: --seed), so that '
                                           'seeds of the model can be '
                                           'compared on the same split',
                                     low=0)

    @property
    def data_seed(self) -> int:
        """The seed of the split: ``split_seed``, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

@dataclass
class AttackSettings(Settings):
    """Settings of a task whose models can be attacked (images: the
    pixels; sentiment: the reduced features the quantum model reads):
    robust accuracy after training and adversarial training, one option
    of each for every such task.

    >>> AttackSettings(attacks=parse_attacks(['pgd:0.1'])).attacks
    (('pgd', 0.1),)
    """
    attacks: tuple[tuple[str, float], ...] = setting(
        (), 'after training, accuracy on the test inputs under ATTACK:EPS '
            '(fgsm, pgd, pgd-l2, square (images), hsj; images: the '
            'pixels, sentiment: the reduced features in standardised '
            'units; needs qnlp[robust])',
        parse=parse_attacks, metavar='ATTACK:EPS', option='--attack')
    adversarial: str | None = setting(
        None, 'adversarial training: ATTACK:EPS (pgd, pgd-l2 or fgsm), '
              'each minibatch replaced by its attacked inputs (images; '
              'the sentiment VQC: its reduced features), e.g. pgd:0.1',
        metavar='ATTACK:EPS')

    def check_attacks(self) -> None:
        """Attacks as ``(NAME, EPS)`` pairs (also when read back from a
        run's ``config.json``); adversarial training takes a white-box
        attack."""
        self.attacks = parse_attacks(self.attacks)
        if self.adversarial is not None \
                and parse_attack(self.adversarial)[0] not in WHITE_BOX:
            raise ConfigError(f"adversarial {self.adversarial!r}: training "
                              f"takes {', '.join(WHITE_BOX)}")


#: Optimisers that need no gradient (the ones ``train_shots`` takes).
GRADIENT_FREE = ('spsa', 'cobyla', 'nelder-mead')


@dataclass
class CircuitTrainingSettings(Settings):
    """Noise-aware and shot-based training (:mod:`qnlp.noise.training`),
    for the tasks whose models are circuits of the exact noisy engine;
    :meth:`circuit_refusal` says when a task's settings make no such
    circuit.

    >>> CircuitTrainingSettings(train_shots=256, optimizer='spsa').train_shots
    256
    >>> CircuitTrainingSettings(train_shots=256)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --train-shots trains on sampled estimates, which have no gradient: use --optimizer spsa (or cobyla, nelder-mead), not adam
    >>> CircuitTrainingSettings(train_noise='p2=x')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: --train-noise: p2 needs a number, got 'x'
    """
    train_noise: str | None = setting(
        None, 'train, select and evaluate under this noise model in the '
              'exact noisy engine (as qnlp evaluate --noise: P or '
              'p2=..,readout=..; circuit models)', metavar='MODEL')
    train_shots: int = setting(
        0, 'train on the frequencies of this many shots per circuit, drawn '
           'from the exact (noisy) distribution at every training step '
           '(gradient-free optimisers: spsa, cobyla, nelder-mead); dev '
           'selection and scores stay exact; 0 = exact probabilities',
        low=0, high=10 ** 7, metavar='S')

    def validate(self) -> None:
        super().validate()
        if self.train_noise is None and not self.train_shots:
            return
        option = '--train-noise' if self.train_noise is not None \
            else '--train-shots'
        if self.train_noise is not None:
            from qnlp.noise import parse_noise
            try:
                parse_noise(self.train_noise)
            except ConfigError as error:
                raise ConfigError("--train-noise: " + str(error).removeprefix(
                    '--noise: ')) from None
        reason = self.circuit_refusal()
        if reason:
            raise ConfigError(f"{option} needs a circuit model: {reason}")
        if self.train_shots and self.optimizer not in GRADIENT_FREE:
            raise ConfigError(
                "--train-shots trains on sampled estimates, which have no "
                "gradient: use --optimizer spsa (or cobyla, nelder-mead), "
                f"not {self.optimizer}")

    @property
    def circuit_training(self) -> dict[str, Any] | None:
        """The noisy model's options (``noise``, ``shots``), or None when
        the model trains on exact noiseless probabilities."""
        if self.train_noise is None and not self.train_shots:
            return None
        from qnlp.noise import NoiseSpec, parse_noise
        return {'noise': NoiseSpec() if self.train_noise is None
                else parse_noise(self.train_noise),
                'shots': self.train_shots}

    def circuit_refusal(self) -> str | None:
        """Why these settings' model is no circuit of the noisy engine
        (None: it is one)."""
        return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _from_text(name: str, value: Any, hint: Any) -> Any:
    """A config-file or command-line value converted to the field's type
    when it is given as text (``'2'`` for an int); anything else is left
    for :func:`_checked` to judge."""
    base, _ = _hint_parts(hint)
    if not isinstance(value, str) or base is str:
        return value
    if value.lower() in ('none', 'null') and _hint_parts(hint)[1]:
        return None
    if base is bool and value.lower() in ('true', 'false', 'yes', 'no'):
        return value.lower() in ('true', 'yes')
    if base is int:
        try:
            return int(value)
        except ValueError:
            return value
    if base is float:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _checked(name: str, value: Any, hint: Any,
             meta: typing.Mapping[str, Any]) -> Any:
    """``value`` if it fits ``hint`` and the field's constraints, else a
    :class:`ConfigError` naming the setting."""
    base, optional = _hint_parts(hint)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} must be given (it cannot be empty)")
    origin = typing.get_origin(base)
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{name} must be an integer, got {value!r}")
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got "
                              f"{str(value)!r}")
    elif base is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, got {value!r}")
    elif origin is tuple or base is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    choices = meta.get('choices')
    if choices and value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}"
                          f", got {value!r}")
    low, high = meta.get('low'), meta.get('high')
    if low is not None and value < low:
        raise ConfigError(f"{name} must be at least {low:g}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{name} must be at most {high:g}, got {value!r}")
    return value


@dataclass
class Loaded:
    """A task's data, split and turned into model inputs.

    ``train``/``dev``/``test`` are :class:`qnlp.train.Split` objects (the
    ``dev`` split may be ``None``: then the last epoch is kept);
    ``labels`` the class names; ``fingerprint`` the data's SHA-256;
    ``skipped`` how many examples of each split were left out;
    ``state`` what the run must remember to read new data the same way
    (vocabulary, symbols, ...), stored in ``config.json``; ``metrics``
    figures of reading the data (e.g. the gates a rewrite saved), added
    to ``task_metrics`` in ``metrics.json``.
    """
    train: Any
    dev: Any
    test: Any
    labels: list[str]
    fingerprint: str
    state: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


class Task:
    """One kind of data and model: subclass, set ``name`` and
    ``Settings``, implement the methods, and the module is a task.

    Subclasses register themselves (:data:`REGISTRY`) on definition.
    """
    #: ``--task`` name.
    name: ClassVar[str] = ''
    #: The settings dataclass of this task.
    Settings: ClassVar[type[Settings]] = Settings
    #: What the DATA argument of ``qnlp train/evaluate/compare`` is.
    data_help: ClassVar[str] = ''
    #: What ``qnlp predict`` takes.
    input_help: ClassVar[str] = ''

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            REGISTRY[cls.name] = cls

    # --- what every task implements -----------------------------------
    def load(self, data: str, settings: Any, **options: Any) -> Loaded:
        """Read, validate, split and encode ``data`` (nothing is written)."""
        raise NotImplementedError

    def build(self, settings: Any, loaded: Loaded, device: Any) -> Any:
        """The untrained model (a ``torch.nn.Module`` with ``prepare``)."""
        raise NotImplementedError

    def restore(self, settings: Any, config: dict[str, Any],
                tensors: dict[str, Any], device: Any) -> Any:
        """The trained model of a run, from ``config.json`` and its
        weights."""
        raise NotImplementedError

    def examples(self, data: str, settings: Any, config: dict[str, Any]
                 ) -> tuple[list[Any], list[str]]:
        """Inputs and label names of new ``data`` to score, read the way
        the run read its training data."""
        raise NotImplementedError

    def inputs(self, items: Sequence[Any], settings: Any,
               config: dict[str, Any], model: Any) -> Any:
        """Model inputs of what a user gives ``qnlp predict`` (or of the
        items :meth:`examples` read)."""
        raise NotImplementedError

    # --- hooks with defaults ---------------------------------------------
    #: Evaluate this many examples at a time (None: a split at once).
    eval_chunk: ClassVar[int | None] = None

    def hooks(self, settings: Any, loaded: Loaded) -> Any:
        """The :class:`qnlp.train.Hooks` of the training loop (loss,
        augmentation, selection rule); default: probabilities and NLL,
        :meth:`selection`."""
        from qnlp.train import Hooks
        return Hooks(select=self.selection(settings, loaded))

    @staticmethod
    def selection(settings: Any, loaded: Loaded) -> str:
        """Which epoch's weights are kept: ``settings.select``, or the
        last epoch's without a dev split."""
        return settings.select if loaded.dev is not None else 'last'

    def probabilities(self, outputs: Any) -> Any:
        """Class probabilities from model outputs (default: the model
        already outputs probabilities)."""
        return outputs

    def novelty(self, data: str, items: Sequence[Any],
                config: dict[str, Any]) -> list[str]:
        """Warnings when ``data`` looks like another corpus than the
        run's (e.g. little vocabulary overlap); default none."""
        return []

    def extra_metrics(self, model: Any, world: Any) -> dict[str, Any]:
        """The task's own block of ``metrics.json``."""
        return {}

    def model_name(self, settings: Any) -> str:
        """Name of the quantum model in comparison tables."""
        return str(getattr(settings, 'model', self.name))

    def check_data(self, data: str, settings: Any) -> None:
        """Fail early, with the file and line, on data that cannot be
        read (default: load it)."""
        self.load(data, settings)

    #: Classical (or other) models ``qnlp compare`` trains beside the
    #: quantum one, with their descriptions, and those it runs by default.
    baselines: ClassVar[dict[str, str]] = {}
    default_baselines: ClassVar[tuple[str, ...]] = ()

    def baseline_choices(self, settings: Any
                         ) -> tuple[dict[str, str], tuple[str, ...]]:
        """The baselines ``qnlp compare`` accepts with ``settings`` and
        those it runs by default: :attr:`baselines` and
        :attr:`default_baselines`, unless a task's baseline names depend
        on its settings."""
        return dict(self.baselines), tuple(self.default_baselines)

    def fit_baseline(self, name: str, data: str, settings: Any
                     ) -> dict[str, float]:
        """Train baseline ``name`` on the split ``settings`` (its seed)
        make of ``data``; ``accuracy``, ``f1``, ``parameters``,
        ``seconds`` on the test split."""
        raise NotImplementedError


#: ``--task`` name -> Task subclass (filled as task modules are imported).
REGISTRY: dict[str, type[Task]] = {}
