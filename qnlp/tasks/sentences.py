"""Sentence classification with the DisCoCat model.

DATA is a corpus directory whose file names contain ``train``, ``dev``
(or ``valid``) and ``test``, or one such file split with ``split``; each
file in ``label sentence`` lines, ``sentence<TAB>label`` lines (UCI),
CSV/TSV with a header or JSON Lines (``format``, detected by default and
reported on stderr; see :mod:`qnlp.data.corpus`).
Sentences are parsed into pregroup diagrams, compiled to circuits by an
ansatz, and simulated by the batched engine; words never seen in
training are read as ``<unk>`` of their category.

>>> import tempfile
>>> from qnlp.tasks import train
>>> metrics = train('sentences', 'corpora/meaning', tempfile.mkdtemp() + '/r',
...                 SentenceSettings(epochs=2), progress=False)
>>> sorted(k for k in metrics if k.endswith('accuracy'))
['dev_accuracy', 'test_accuracy', 'train_accuracy']
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from qnlp.choices import WORD_VECTORS
from qnlp.data.corpus import FORMATS
from qnlp.errors import ConfigError, ParseError
from qnlp.spacy_pipeline import DEFAULT_PIPELINE, checked
from qnlp.tasks.base import (CircuitTrainingSettings, Loaded, SplitSettings,
                             Task, setting)

#: What to do with a sentence the parser cannot reduce: stop with its
#: file and line, or leave it out (counted in the metrics).
UNPARSABLE = ('error', 'skip')
#: Ansatz layers beyond this are refused (circuits grow linearly).
MAX_LAYERS = 32
#: Where a word's circuit parameters come from (--word-params; see
#: :mod:`qnlp.models.wordvectors`).
WORD_PARAMS = ('per-word', 'embedding', 'embedding+correction')
#: Optimisers that need one flat weight vector (not word maps).
FLAT_ONLY = ('cobyla', 'nelder-mead')


def parse_fractions(texts: Sequence[str]) -> tuple[float, ...]:
    """``--split 0.7,0.15,0.15`` -> three fractions.

    >>> parse_fractions(['0.7,0.15,0.15'])
    (0.7, 0.15, 0.15)
    """
    text = texts[-1] if not isinstance(texts, str) else texts
    try:
        values = tuple(float(part) for part in text.split(','))
    except ValueError:
        raise ConfigError(f"split: expected fractions like 0.7,0.15,0.15, "
                          f"got {text!r}") from None
    return values


@dataclass
class CorpusFormatSettings(SplitSettings):
    """How corpus files are read: the settings of every text task."""
    format: str = setting('auto', 'corpus file format: detected (auto, '
                                  'reported), label-first ("label '
                                  'sentence"), label-last ("sentence<TAB>'
                                  'label", UCI), csv, tsv or jsonl',
                          choices=FORMATS)
    text_column: str | None = setting(None, 'CSV/TSV column or JSON Lines '
                                            'key of the text (default: '
                                            'text, sentence or review)')
    label_column: str | None = setting(None, 'CSV/TSV column or JSON Lines '
                                             'key of the label (default: '
                                             'label, liked or class)')


def report_corpus(description: str, report: bool) -> None:
    """Print how a corpus was read (``description``) to stderr if
    ``report``."""
    if report:
        print(f"qnlp: {description}", file=sys.stderr)


@dataclass
class SentenceSettings(CorpusFormatSettings, CircuitTrainingSettings):
    """Every setting of a sentence-classification run."""
    ansatz: str = setting('iqp', 'ansatz of the word boxes',
                          choices=('iqp', 'sim4', 'sim14', 'sim15',
                                   'strongly-entangling', 'diagonal',
                                   'tensor', 'spider', 'mps'))
    layers: int = setting(1, 'ansatz layers', low=1, high=MAX_LAYERS)
    compile: str = setting('none', 'train on the circuits as the ansatz '
                                   'made them (none) or on their symbolic '
                                   'ZX rewrite (zx: same outputs, fewer '
                                   'two-qubit gates; circuit ansatze)',
                           choices=('none', 'zx'))
    tagger: str = setting('lexicon', "part-of-speech tagger of the parser "
                                     "(spacy needs qnlp[spacy])",
                          choices=('lexicon', 'spacy'))
    spacy_pipeline: str = setting(
        DEFAULT_PIPELINE, 'the spaCy pipeline of --tagger spacy: an '
                          'installed pipeline package (en_core_web_trf '
                          'after python -m spacy download en_core_web_trf) '
                          'or a trained pipeline directory',
        metavar='NAME|PATH')
    frobenius: bool = setting(False, 'relative pronouns as spiders '
                                     '(DisCoCat) rather than word boxes')
    split: tuple[float, ...] | None = setting(
        None, 'split a single corpus file by these fractions (stratified, '
              'seeded)', parse=parse_fractions, metavar='TRAIN,DEV,TEST')
    unparsable: str = setting('error', 'a sentence the parser cannot '
                                       'reduce: stop with its file and '
                                       'line, or leave it out and count it',
                              choices=UNPARSABLE)
    word_params: str = setting(
        'per-word', "where a word's circuit parameters come from: its own "
                    "trained values (per-word; words seen once or never "
                    "read as <unk>), a trained map per grammatical type "
                    "from the word's frozen vector (embedding; unseen "
                    "words get parameters from their vectors), or that map "
                    "plus a trained per-word correction starting at 0 "
                    "(embedding+correction)", choices=WORD_PARAMS)
    min_count: int | None = setting(
        None, 'a word (with its grammatical type) seen fewer times than '
              'this in training reads as <unk> (default 2; 1 with word '
              'vectors, whose words are never <unk>)', low=1)
    share_types: bool = setting(False, "one parameter a word for all its "
                                       "grammatical types (ansatz "
                                       "diagonal)")
    bias: bool = setting(False, 'a trained <bias> word on every '
                                "sentence's output wire (a class prior)")
    word_vectors: str = setting(
        'all-MiniLM-L6-v2', 'the frozen word vectors of --word-params '
                            'embedding: all-MiniLM-L6-v2 (qnlp[embeddings]; '
                            'cached per user, see QNLP_CACHE_DIR) or '
                            'char-ngrams (hashed letters, no package)')

    @property
    def vocabulary_min_count(self) -> int:
        """``min_count``, or its default: 2 (1 with word vectors)."""
        if self.min_count is not None:
            return self.min_count
        return 1 if self.embedded else 2

    @property
    def embedded(self) -> bool:
        """Whether word parameters come from word vectors."""
        return self.word_params != 'per-word'

    def circuit_refusal(self) -> str | None:
        if self.ansatz in ('tensor', 'spider', 'mps', 'diagonal'):
            return (f"ansatz {self.ansatz} makes tensor networks or "
                    "closed-form products; use a circuit ansatz")
        return None

    def check(self) -> None:
        # the spaCy pipeline is there (a directory made absolute)
        self.spacy_pipeline = checked(self.tagger, self.spacy_pipeline)
        if self.word_vectors not in WORD_VECTORS:   # one a user registered?
            from qnlp.models.wordvectors import check_embedder
            check_embedder(self.word_vectors)
        if self.share_types and self.ansatz != 'diagonal':
            raise ConfigError("--share-types needs --ansatz diagonal (one "
                              f"parameter a word), not {self.ansatz}")
        if self.embedded and self.optimizer in FLAT_ONLY:
            raise ConfigError(f"optimizer {self.optimizer} needs one flat "
                              "weight vector; --word-params "
                              f"{self.word_params} trains maps: use adam, "
                              "sgd, aqgd or spsa")
        if self.compile == 'zx' and self.ansatz in ('tensor', 'spider',
                                                    'mps', 'diagonal'):
            raise ConfigError(f"--compile zx rewrites circuits; ansatz "
                              f"{self.ansatz} makes tensor networks or "
                              "closed-form products")
        if self.split is not None:
            if len(self.split) != 3 or any(f < 0 for f in self.split) or \
                    abs(sum(self.split) - 1) > 1e-6:
                raise ConfigError(f"split must be three non-negative "
                                  f"fractions adding up to 1, got "
                                  f"{','.join(map(str, self.split))}")


def sentence_qubits(n_classes: int) -> int:
    """Qubits of the sentence wire for ``n_classes`` classes."""
    return max(1, (n_classes - 1).bit_length())


def make_pipeline(settings: SentenceSettings, n_classes: int) -> Any:
    """The text -> circuit pipeline of ``settings``."""
    from qnlp.models import SentencePipeline
    from qnlp.parsing import make_parser
    return SentencePipeline(make_parser(settings.tagger,
                                        settings.spacy_pipeline),
                            ansatz=settings.ansatz, layers=settings.layers,
                            sentence_qubits=sentence_qubits(n_classes),
                            frobenius=settings.frobenius,
                            keep_unseen=settings.embedded,
                            compile=settings.compile,
                            share_types=settings.share_types,
                            bias=settings.bias)


#: Sentences parsed per batch (a tagger like spaCy's tags a batch at once).
PARSE_BATCH = 256


def _parse_shards(pipeline: Any, examples: Sequence[Any],
                  settings: SentenceSettings, world: Any,
                  progress: bool = False, name: str = '') -> list[int]:
    """Parse this rank's examples; returns the global indices kept.

    Every rank gets the same answer: the failures of all ranks are
    gathered, and with ``unparsable='error'`` every rank raises the error
    of the first failing example (as a single process would).
    ``progress``: a bar over the sentences (parsing real corpora takes
    minutes).
    """
    from tqdm.auto import tqdm
    mine = list(world.shard(range(len(examples))))
    failed = []
    with tqdm(total=len(mine), desc=f'parse {name}', unit='sentence',
              disable=not progress, leave=False) as bar:
        for start in range(0, len(mine), PARSE_BATCH):
            batch = mine[start:start + PARSE_BATCH]
            results = pipeline.analyse_many([examples[i].text
                                             for i in batch])
            for i, result in zip(batch, results):
                if isinstance(result, ParseError):
                    example = examples[i]
                    failed.append((i, f"{example.source}:{example.line}: "
                                      f"{result}"))
            bar.update(len(batch))
    failed = sorted(f for shard in world.all_gather(failed) for f in shard)
    if failed and settings.unparsable == 'error':
        raise ParseError(f"{failed[0][1]} (use --unparsable skip to leave "
                         "such sentences out)")
    dropped = {i for i, _ in failed}
    return [i for i in range(len(examples)) if i not in dropped]


def _parse_corpus(pipeline: Any, corpus: Any, settings: SentenceSettings,
                  world: Any, progress: bool) -> dict[str, list[int]]:
    """Parse every split (reading and updating the parse cache); the
    indices kept per split."""
    from qnlp.parsing.cache import ParseCache
    cache = ParseCache(corpus.fingerprint, pipeline.parser_settings())
    cached = cache.load()
    pipeline.remember(cached)
    try:
        return {name: _parse_shards(pipeline, examples, settings, world,
                                    progress, name)
                for name, examples in (('train', corpus.train),
                                       ('dev', corpus.dev),
                                       ('test', corpus.test))}
    finally:
        # Kept even when a sentence stops the run (--unparsable error):
        # the next run, with the sentence mended or skipped, parses only
        # what is new.
        new = {text: result for text, result in pipeline.parses.items()
               if text not in cached}
        everything = {**cached}
        for shard in world.all_gather(new):
            everything.update(shard)
        if world.is_main and len(everything) > len(cached):
            cache.save(everything)


def _split(pipeline: Any, corpus: Any, examples: Sequence[Any],
           kept: list[int], world: Any) -> Any:
    """This rank's shard of the kept ``examples`` as circuits and labels."""
    import torch

    from qnlp.train import Split
    mine = [k for k, i in enumerate(kept) if world.owner(i) == world.rank]
    circuits = pipeline.circuits([examples[kept[k]].text for k in mine])
    labels = torch.tensor([corpus.label_index(examples[kept[k]].label)
                           for k in mine], dtype=torch.long)
    return Split(circuits, labels, positions=mine, total=len(kept))


def _gathered_symbols(circuits: Sequence[Any], world: Any) -> list[Any]:
    """The symbols of every rank's ``circuits``, sorted by name."""
    from qnlp.engine import collect_symbols, unique_symbols
    return unique_symbols(symbol for shard in
                          world.all_gather(collect_symbols(circuits))
                          for symbol in shard)


def read_corpus(data: str | Path, settings: SentenceSettings,
                report: bool = False) -> Any:
    """The corpus of a run (``split`` only for a single file), read in
    ``settings.format``; ``report`` prints how each file was read to
    stderr."""
    from qnlp.data import CorpusFormat, load_corpus
    if settings.split is not None and Path(data).is_dir():
        raise ConfigError(f"--split splits a single corpus file; {data} is "
                          "a directory with its own train/dev/test files")
    corpus = load_corpus(data, split=settings.split, seed=settings.data_seed,
                         how=CorpusFormat.of(settings))
    report_corpus(corpus.description, report)
    return corpus


class SentenceTask(Task):
    """DisCoCat sentence classifier (see the module docstring)."""
    name = 'sentences'
    Settings = SentenceSettings
    data_help = ('a corpus directory with *train*, *dev* and *test* files '
                 '("label sentence" or "sentence<TAB>label" lines, CSV/TSV '
                 'with a header, JSON Lines; see --format), or one such '
                 'file split with --split')
    input_help = 'sentences'
    distributed = True
    baselines = {'bow': 'bag of words + logistic regression',
                 'tfidf': 'TF-IDF + logistic regression',
                 'bilstm': 'bidirectional LSTM',
                 'embedding': 'all-MiniLM-L6-v2 embeddings + logistic '
                              'regression (qnlp[embeddings])'}
    default_baselines = ('bow', 'tfidf', 'bilstm')

    def load(self, data: str, settings: SentenceSettings,
             world: Any = None, **options: Any) -> Loaded:
        from qnlp.train.distributed import World
        world = world or World()
        corpus = read_corpus(data, settings, report=world.is_main and
                             options.get('progress', False))
        pipeline = make_pipeline(settings, len(corpus.labels))
        parts = {'train': corpus.train, 'dev': corpus.dev,
                 'test': corpus.test}
        kept = _parse_corpus(pipeline, corpus, settings, world,
                             world.is_main and options.get('progress', False))
        own_train = [corpus.train[i].text for i in kept['train']
                     if world.owner(i) == world.rank]
        counts = sum(world.all_gather(pipeline.count_pairs(own_train)),
                     Counter())
        # With word vectors no word is <unk>: the vocabulary is every
        # training word (it only tells new data from the training data).
        pipeline.fit_vocabulary(counts=counts,
                                min_count=settings.vocabulary_min_count)
        train, dev, test = (_split(pipeline, corpus, parts[name], kept[name],
                                   world) for name in ('train', 'dev', 'test'))
        # Dev and test may use <unk> of categories absent from train.
        symbols = [_gathered_symbols(split.circuits, world)
                   for split in (train, dev, test)]
        metrics = {}
        if pipeline.compiler is not None:   # --compile zx: gates it saved
            metrics['compile_zx'] = {
                key: sum(world.all_gather(value))
                for key, value in pipeline.compiler.zx_report().items()}
        return Loaded(train, dev, test, corpus.labels, corpus.fingerprint,
                      state={'sentence_qubits': sentence_qubits(
                                 len(corpus.labels)),
                             'vocabulary': sorted(map(list,
                                                      pipeline.vocabulary)),
                             'symbol_groups': symbols},
                      skipped={name: len(parts[name]) - len(kept[name])
                               for name in parts},
                      metrics=metrics)

    def build(self, settings: SentenceSettings, loaded: Loaded,
              device: Any) -> Any:
        from qnlp.compiler import symbol_word
        from qnlp.models.wordvectors import WordVectors
        train_symbols, *others = loaded.state.pop('symbol_groups')
        vectors = None
        if settings.embedded:
            vectors = WordVectors(settings.word_vectors)
            vectors([symbol_word(s.name, settings.ansatz)[0]   # one batch
                     for group in (train_symbols, *others) for s in group])
        model = _classifier(settings, train_symbols, len(loaded.labels),
                            device, vectors)
        for symbols in others:
            model.add_symbols(symbols)
        loaded.state['symbols'] = model.engine.symbols
        if vectors is not None:
            loaded.state['word_vectors'] = {
                'model': settings.word_vectors,
                'dimension': model.word_map.dimension,
                'words': model.word_map.words}
        return model

    def restore(self, settings: SentenceSettings, config: dict[str, Any],
                tensors: dict[str, Any], device: Any) -> Any:
        from qnlp.models.wordvectors import WordVectors
        vectors = None
        if settings.embedded:
            # The run's own vectors: only new words need the embedder.
            vectors = WordVectors(settings.word_vectors)
            vectors.remember(config['word_vectors']['words'],
                             tensors['word_map.vectors'].cpu().numpy())
        model = _classifier(settings, config['symbols'],
                            len(config['labels']), device, vectors)
        model.load_state_dict(tensors)
        model.pipeline = make_pipeline(settings, len(config['labels']))
        model.pipeline.vocabulary = {tuple(pair)
                                     for pair in config['vocabulary']}
        return model

    def examples(self, data: str, settings: SentenceSettings,
                 config: dict[str, Any]) -> tuple[list[Any], list[str]]:
        from qnlp.data import CorpusFormat, read_corpus_file
        path = Path(data)
        examples = read_corpus(path, replace(settings, split=None)).test \
            if path.is_dir() else read_corpus_file(
                path, CorpusFormat.of(settings))
        return [e.text for e in examples], [e.label for e in examples]

    def inputs(self, items: Sequence[str], settings: SentenceSettings,
               config: dict[str, Any], model: Any = None) -> list[Any]:
        circuits = model.pipeline.circuits(list(items))
        model.extend_symbols(circuits, fill=0.0)
        return circuits

    def fit_baseline(self, name: str, data: str,
                     settings: SentenceSettings) -> dict[str, float]:
        from qnlp.baselines import make_baseline
        from qnlp.train.metrics import classification_report
        corpus = read_corpus(data, settings)
        start = time.perf_counter()
        model = make_baseline(name, settings.seed).fit(
            [e.text for e in corpus.train], [e.label for e in corpus.train])
        seconds = time.perf_counter() - start
        predicted = [corpus.label_index(p) for p in
                     model.predict([e.text for e in corpus.test])]
        scores = classification_report(
            [corpus.label_index(e.label) for e in corpus.test], predicted,
            corpus.labels)
        return {'accuracy': scores['accuracy'], 'f1': scores['f1'],
                'parameters': model.n_parameters, 'seconds': seconds}

    def model_name(self, settings: SentenceSettings) -> str:
        return 'discocat'

    def check_data(self, data: str, settings: SentenceSettings) -> None:
        read_corpus(data, settings)

    def novelty(self, data: str, items: Sequence[Any],
                config: dict[str, Any]) -> list[str]:
        """A warning when most words of ``data`` were never seen in
        training: it is probably another corpus."""
        from qnlp.parsing import tokenise
        known = {word for word, _ in config['vocabulary']}
        words = [w.lower() for text in items for w in tokenise(text)]
        seen = sum(w in known for w in words) / max(len(words), 1)
        embedded = 'word_vectors' in config
        if seen < 0.5:
            return [f"{data}: only {seen:.0%} of its words were seen in "
                    f"training on {config['data']}; words never seen "
                    + ("get parameters from their word vectors alone, so "
                       "expect low figures" if embedded else
                       "are read as <unk>, so expect figures near chance")]
        return []

    def extra_metrics(self, model: Any, world: Any) -> dict[str, Any]:
        return {'n_circuit_shapes': sum(world.all_gather(
            model.engine.n_plans))}


def _classifier(settings: SentenceSettings, symbols: Sequence[Any],
                n_classes: int, device: Any, vectors: Any = None) -> Any:
    """The untrained classifier of ``settings`` over ``symbols`` (word
    parameters from ``vectors`` when they are given)."""
    from qnlp.engine.device import resolve_dtype
    from qnlp.models import DisCoCatClassifier
    kind, noise = DisCoCatClassifier, settings.circuit_training or {}
    if noise:
        from qnlp.noise.training import NoisyClassifier
        kind, noise = NoisyClassifier, {**noise, 'shot_seed': settings.seed}
    return kind(
        symbols, n_classes, settings.seed, resolve_dtype(settings.dtype),
        device, vectors=vectors,
        correction=settings.word_params == 'embedding+correction',
        ansatz=settings.ansatz, **noise)


def load_sentence_run(run_dir: str | Path, device: Any = None) -> Any:
    """A finished sentence run read back (:class:`qnlp.tasks.Trained`;
    its ``model.pipeline`` turns texts into the run's circuits)."""
    from qnlp.tasks.runner import load_trained
    trained = load_trained(run_dir, device)
    if trained.task.name != SentenceTask.name:
        raise ConfigError(f"{run_dir}: a {trained.task.name} run; this "
                          "needs a sentence run (qnlp train --task "
                          "sentences)")
    return trained
