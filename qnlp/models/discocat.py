"""The DisCoCat sentence classifier: text -> diagram -> circuit -> classes.

:class:`SentencePipeline` turns text into circuits (parser, cup removal,
ansatz) and applies the unknown-word strategy; :class:`DisCoCatClassifier`
is the ``torch.nn.Module`` holding one flat weight vector and evaluating
circuits with the batched :class:`~qnlp.engine.Engine`.

Unknown words: a word never seen in training (with its category) is
replaced by the token ``<unk>`` of the same category before the ansatz,
so it gets the parameters of ``<unk>``. Training words that occur only
once are also mapped to ``<unk>`` so that those parameters are trained.

Word parameters from word vectors: with ``vectors`` (a function from
words to vectors, e.g. :class:`~qnlp.models.wordvectors.WordVectors`)
the classifier computes every word's parameters from its frozen vector
by one trained linear map per role (:class:`~qnlp.models.wordvectors.
WordMap`), and the pipeline keeps unseen words (``keep_unseen=True``)
rather than reading them as ``<unk>``.

Bias: with ``bias=True`` every sentence also has a trained word
``<bias>`` of type ``s.r @ s`` joined to its sentence wire by a cup (a
circuit element like any word: with the diagonal ansatz, one trained
factor for each class, the same for every sentence).

Class read-out: the sentence wire has ``q`` qubits with ``2**q >= C``
classes; the probabilities of the first ``C`` outcomes are renormalised
(a sentence whose post-selection has probability zero reads as the
uniform distribution, with a warning: :func:`~qnlp.engine.plan.
uniform_where_zero`).

>>> import torch
>>> pipeline = SentencePipeline()
>>> texts = ['woman cooks tasty meal', 'man debugs useful program']
>>> pipeline.fit_vocabulary(texts, min_count=1)
>>> circuits = pipeline.circuits(texts)
>>> model = DisCoCatClassifier.from_circuits(circuits, n_classes=2, seed=0)
>>> model(circuits).shape
torch.Size([2, 2])
>>> from qnlp.models.wordvectors import char_ngrams
>>> keep = SentencePipeline(keep_unseen=True)
>>> words = DisCoCatClassifier.from_circuits(keep.circuits(texts), seed=0,
...                                          vectors=char_ngrams)
>>> new = keep.circuits(['chef cooks tasty soup'])  # chef, soup: unseen
>>> words.extend_symbols(new, fill=0.0)  # their parameters: from vectors
>>> words(new).shape, words.word_map.words[-2:]
(torch.Size([1, 2]), ['chef', 'soup'])
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Sequence

import torch

from qnlp.compiler import initial_angle, make_ansatz, symbol_word, to_circuit
from qnlp.compiler.ansatz import ANSATZ_CLASSES
from qnlp.engine import Engine, PreparedBatch, collect_symbols
from qnlp.engine.products import ProductBatch, product_probabilities
from qnlp.engine.device import Device, resolve_device, resolve_dtype
from qnlp.errors import CheckpointError, ConfigError, ParseError
from qnlp.parsing import Parser

UNK = '<unk>'
#: The word of the bias box (``--bias``).
BIAS = '<bias>'


def with_bias(diagram: Any) -> Any:
    """``diagram`` with a :data:`BIAS` word of type ``t.r @ t`` (``t``
    its output type) beside it, joined to its output by cups: a trained
    map on the sentence wire, written as a word.

    >>> from qnlp.parsing import parse
    >>> biased = with_bias(parse('woman cooks meal'))
    >>> biased.cod, [box.name for box in biased.boxes if box.name == BIAS]
    (Ty(s), ['<bias>'])
    """
    from lambeq.backend.grammar import Diagram, Id, Word
    out = diagram.cod
    return (diagram @ Word(BIAS, out.r @ out)) >> \
        (Diagram.cups(out, out.r) @ Id(out))


def word_role(name: str, ansatz: str = 'iqp') -> tuple[str, str]:
    """``(word, role)`` of a symbol (:func:`qnlp.compiler.symbol_word`),
    except that the :data:`BIAS` word has roles of its own: with
    ``share_types`` every word's symbol has the role ``__0``, and the bias
    (a class prior) needs a trained number no other word shares.

    >>> word_role('good__0', 'diagonal'), word_role('<bias>__0', 'diagonal')
    (('good', '__0'), ('<bias>', '<bias>__0'))
    """
    word, role = symbol_word(name, ansatz)
    return (word, BIAS + role) if word == BIAS else (word, role)


class SentencePipeline:
    """Text to circuits: parse, map unknown words, rewrite, apply ansatz.

    Parameters
    ----------
    parser:
        The sentence parser (default: the offline lexicon parser).
    ansatz, layers, noun_qubits, sentence_qubits:
        Passed to :func:`qnlp.compiler.make_ansatz`.
    target:
        Grammatical type the texts reduce to: ``'s'``, ``'n'`` or ``None``.
    frobenius:
        Relative pronouns as spiders (no parameters) instead of word boxes.
    keep_unseen:
        Keep words outside the vocabulary as they are (their parameters
        come from word vectors) instead of reading them as ``<unk>``.
    compile:
        ``'none'``, or ``'zx'``: circuits are rewritten symbolically
        (:meth:`qnlp.compiler.Compiler.zx_circuit`, cached per shape);
        same outputs, fewer two-qubit gates.
    share_types:
        One parameter a word for all its grammatical types (ansatz
        ``diagonal``; :func:`~qnlp.compiler.make_ansatz`).
    bias:
        Every sentence with a trained ``<bias>`` word (:func:`with_bias`).
    """

    def __init__(self, parser: Parser | None = None, ansatz: str = 'iqp',
                 layers: int = 1, noun_qubits: int = 1,
                 sentence_qubits: int = 1, target: str | None = None,
                 frobenius: bool = False, keep_unseen: bool = False,
                 compile: str = 'none', share_types: bool = False,
                 bias: bool = False) -> None:
        self.parser = parser or Parser()
        self.bias = bias
        self.share_types = share_types
        self.frobenius = frobenius
        self.keep_unseen = keep_unseen
        self.ansatz_name = ansatz
        self.ansatz = make_ansatz(ansatz, noun_qubits=noun_qubits,
                                  sentence_qubits=sentence_qubits,
                                  layers=layers, share_types=share_types)
        self.target = target
        self.compiler = None
        if compile == 'zx':
            from qnlp.compiler import Compiler
            self.compiler = Compiler(self.ansatz, symbolic=('zx',))
        self.vocabulary: set[tuple[str, str]] | None = None
        self._parsed: dict[str, Any] = {}  # text -> analysis, parsed once

    def analyse(self, text: str) -> Any:
        """The parser's analysis of ``text`` (kept: parsing is slow);
        raises :class:`~qnlp.errors.ParseError`."""
        result = self.analyse_many([text])[0]
        if isinstance(result, ParseError):
            raise result
        return result

    def analyse_many(self, texts: Sequence[str]) -> list[Any]:
        """One analysis or :class:`~qnlp.errors.ParseError` per text; the
        texts not analysed yet are parsed as one batch."""
        new = [t for t in dict.fromkeys(texts) if t not in self._parsed]
        if new:
            self._parsed.update(zip(new, self.parser.analyse_many(
                new, self.target)))
        return [self._parsed[text] for text in texts]

    @property
    def parses(self) -> dict[str, Any]:
        """Every analysis (or ParseError) so far, by text: what a
        :class:`~qnlp.parsing.cache.ParseCache` keeps."""
        return self._parsed

    def remember(self, parses: dict[str, Any]) -> None:
        """Take ``parses`` (e.g. from a cache) as analyses of their texts."""
        self._parsed.update(parses)

    def parser_settings(self) -> dict[str, Any]:
        """What changes this pipeline's parses (for the parse cache)."""
        return {**self.parser.settings(), 'target': self.target}

    def _analyses(self, texts: Iterable[str]):
        return [self.analyse(text) for text in texts]

    def count_pairs(self, texts: Iterable[str]) -> Counter[tuple[str, str]]:
        """How often each ``(word, category)`` pair occurs in ``texts``."""
        counts: Counter[tuple[str, str]] = Counter()
        for analysis in self._analyses(texts):
            counts.update(zip(analysis.words, analysis.categories))
        return counts

    def fit_vocabulary(self, texts: Iterable[str] | None = None,
                       min_count: int = 2,
                       counts: Counter[tuple[str, str]] | None = None
                       ) -> None:
        """Learn the known ``(word, category)`` pairs from training texts.

        Pairs seen fewer than ``min_count`` times become ``<unk>`` (with
        ``share_types``: words, whatever their type). Give
        ``counts`` (from :meth:`count_pairs`, e.g. summed over shards)
        instead of ``texts`` to skip the parsing.
        """
        if counts is None:
            counts = self.count_pairs(texts or ())
        if self.share_types:   # a word's uses of every type count
            words: Counter[str] = Counter()
            for (word, _), n in counts.items():
                words[word] += n
            counts = Counter({pair: words[pair[0]] for pair in counts})
        self.vocabulary = {pair for pair, n in counts.items()
                           if n >= min_count}

    def diagrams(self, texts: Iterable[str]) -> list[Any]:
        """Grammar diagrams of ``texts``, unknown words as ``<unk>``
        (with the bias word if ``bias``)."""
        result = []
        known = self._known()
        for analysis in self._analyses(texts):
            words = analysis.words
            if known is not None:
                words = [w if (w if self.share_types else (w, c)) in known
                         else UNK
                         for w, c in zip(words, analysis.categories)]
            diagram = analysis.diagram_with(words)
            result.append(with_bias(diagram) if self.bias else diagram)
        return result

    def _known(self) -> set[Any] | None:
        """What :meth:`diagrams` keeps (``(word, category)`` pairs, or
        words with ``share_types``); ``None``: every word."""
        if self.vocabulary is None or self.keep_unseen:
            return None
        if self.share_types:
            return {word for word, _ in self.vocabulary}
        return self.vocabulary

    def circuits(self, texts: Iterable[str]) -> list[Any]:
        """Circuits (or tensor networks) of ``texts``."""
        circuits = [to_circuit(d, self.ansatz, frobenius=self.frobenius)
                    for d in self.diagrams(texts)]
        if self.compiler is None:
            return circuits
        return [self.compiler.zx_circuit(c) for c in circuits]


def _symbol_names(state: torch.Tensor) -> list[str]:
    """The names :meth:`DisCoCatClassifier.get_extra_state` stored."""
    text = bytes(state.cpu().tolist()).decode('utf-8')
    return text.split('\0') if text else []


class DisCoCatClassifier(torch.nn.Module):
    """Probabilities over ``n_classes`` for circuits, one weight vector.

    Parameters
    ----------
    symbols:
        Every parameter symbol the model owns (from training circuits).
    n_classes:
        Number of classes; the sentence wire must give at least as many
        outcomes.
    seed:
        Seeds the uniform ``[0, 1)`` initial angles (lambeq's choice;
        the diagonal ansatz starts every word at its neutral angle 0); they
        are drawn on the CPU in float64, so every device and dtype starts
        from the same numbers.
    dtype, device:
        Real type of the weights (amplitudes in the matching complex
        type) and where the weights and the engine's plans live.
        ``model.to(device)`` and ``model.to(torch.float32)`` move both.
    vectors, correction, ansatz:
        With ``vectors`` (words -> frozen vectors), the parameters come
        from a :class:`~qnlp.models.wordvectors.WordMap` (``word_map``;
        plus a per-word correction if ``correction``) rather than from
        the flat vector ``weights``; ``ansatz`` names the ansatz that made
        the symbols (:func:`qnlp.compiler.symbol_word`).
    """

    #: :meth:`prepare` gives a batch with ``select(index)``, so
    #: :func:`qnlp.train.fit` prepares the training set once and selects
    #: its minibatches from it.
    selectable_batches = True

    def __init__(self, symbols: Sequence[Any], n_classes: int = 2,
                 seed: int = 0, dtype: torch.dtype = torch.float64,
                 device: Device = None, vectors: Any = None,
                 correction: bool = False, ansatz: str = 'iqp') -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"need at least 2 classes, got {n_classes}")
        self.n_classes = n_classes
        self.ansatz = ansatz
        #: Where words start (None: uniform in [0, 1), lambeq's choice).
        self.initial_angle = initial_angle(ansatz)
        #: Circuits of the diagonal ansatz run in closed form.
        self.products = getattr(ANSATZ_CLASSES.get(ansatz), 'closed_form',
                                None) == 'products'
        dtype, device = resolve_dtype(dtype), resolve_device(device)
        self.engine = Engine(symbols, dtype=dtype, device=device)
        self.word_map = None
        if vectors is not None:
            from functools import partial

            from qnlp.models.wordvectors import WordMap
            self.word_map = WordMap(vectors, seed, correction,
                                    partial(word_role, ansatz=ansatz),
                                    dtype, device)
            self._add_to_map(self.engine.symbols, self.initial_angle)
            return
        generator = torch.Generator().manual_seed(seed)
        start = torch.rand(self.engine.n_weights, generator=generator,
                           dtype=torch.float64) \
            if self.initial_angle is None else \
            torch.full((self.engine.n_weights,), self.initial_angle,
                       dtype=torch.float64)
        self.weights = torch.nn.Parameter(start.to(device=device,
                                                   dtype=dtype))

    def _add_to_map(self, names: Sequence[str], fill: float | None) -> None:
        slices = [self.engine.symbol_slice(name) for name in names]
        self.word_map.add(names, [s.stop - s.start for s in slices], fill)

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The optimiser's parameter groups (:func:`qnlp.train.fit`):
        weight decay pulls per-word parameters (``weights``, the word
        map's ``correction``) towards their start, but not the word map's
        maps and biases, which every word shares (decaying them shrinks
        what the vectors say about every word: yelp and amazon, mean dev
        accuracy over 5 seeds, ``benchmarks/README.md``).

        >>> from qnlp.models.wordvectors import char_ngrams
        >>> circuits = SentencePipeline(ansatz='diagonal').circuits(
        ...     ['woman cooks meal'])
        >>> model = DisCoCatClassifier.from_circuits(
        ...     circuits, vectors=char_ngrams, correction=True,
        ...     ansatz='diagonal')
        >>> [(len(g['params']), g.get('weight_decay')) for g in
        ...  model.parameter_groups()]
        [(1, None), (2, 0.0)]
        """
        if self.word_map is None:
            return [{'params': [self.weights]}]
        shared = [self.word_map.maps, self.word_map.bias]
        own = [] if self.word_map.correction is None else \
            [self.word_map.correction]
        return [{'params': own}, {'params': shared, 'weight_decay': 0.0}]

    def flat_weights(self) -> torch.Tensor:
        """The engine's flat parameter vector: ``weights``, or computed by
        ``word_map`` from the word vectors."""
        return self.weights if self.word_map is None else self.word_map()

    @classmethod
    def from_circuits(cls, circuits: Iterable[Any], n_classes: int = 2,
                      seed: int = 0, dtype: torch.dtype = torch.float64,
                      device: Device = None, **options: Any
                      ) -> "DisCoCatClassifier":
        """A classifier over every symbol of ``circuits`` (``options``:
        ``vectors``, ``correction``, ``ansatz``)."""
        return cls(collect_symbols(circuits), n_classes, seed, dtype, device,
                   **options)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any
               ) -> "DisCoCatClassifier":
        # ``to``, ``cuda``, ``double``... reach the weights through here;
        # the engine's plans (not parameters) follow them.
        super()._apply(fn, *args, **kwargs)
        reference = next(self.parameters())
        self.engine.to(reference.device, reference.dtype)
        return self

    def extend_symbols(self, circuits: Iterable[Any],
                       fill: float | None = None) -> None:
        """Add symbols of ``circuits`` the model lacks.

        Only ``<unk>`` symbols of categories unseen in training reach here
        (with word vectors: every unseen word, whose parameters come from
        its vector). They are initialised like the others (uniform in
        [0, 1) from torch's global generator), or to ``fill`` when it is
        given (with word vectors: only the roles unseen in training).
        """
        self.add_symbols(collect_symbols(circuits), fill)

    def add_symbols(self, symbols: Iterable[Any],
                    fill: float | None = None) -> None:
        """Append the ``symbols`` the model lacks, in the order given,
        initialised as in :meth:`extend_symbols`."""
        new = [s for s in symbols if s not in self.engine]
        if not new:
            return
        if fill is None:
            fill = self.initial_angle
        for symbol in new:
            self.engine.add_symbol(symbol)
        if self.word_map is not None:
            self._add_to_map([getattr(s, 'name', s) for s in new], fill)
            return
        count = self.engine.n_weights - self.weights.shape[0]
        extra = (torch.full((count,), fill, dtype=self.weights.dtype)
                 if fill is not None else
                 torch.rand(count, dtype=torch.float64).to(
                     self.weights.dtype))
        extra = extra.to(self.weights.device)
        self.weights = torch.nn.Parameter(
            torch.cat([self.weights.detach(), extra]))

    def parameter_values(self) -> dict[str, float]:
        """Every symbol's trained value (turns), e.g. to bind circuits for
        :meth:`qnlp.compiler.Compiler.compile`."""
        flat = self.flat_weights().detach().cpu().tolist()
        values = {}
        for name in self.engine.symbols:
            where = self.engine.symbol_slice(name)
            if where.stop - where.start == 1:
                values[name] = flat[where.start]
        return values

    # --- state_dict: the weights with the symbols they belong to ---------
    def get_extra_state(self) -> torch.Tensor:
        """The symbol names, in the order of ``weights``, stored in the
        ``state_dict`` as ``_extra_state`` (UTF-8, NUL-separated: a tensor,
        so safetensors files and checkpoints hold it too).

        A ``state_dict`` loads by name: into a model whose symbols are the
        same in another order the weights are reordered; any other
        difference is a :class:`~qnlp.errors.CheckpointError` naming the
        first symbol that differs (a ``state_dict`` without names, from
        before they were stored, loads as it is).

        >>> model = DisCoCatClassifier(['a__n_0', 'b__n_0'], seed=0)
        >>> other = DisCoCatClassifier(['b__n_0', 'a__n_0'], seed=1)
        >>> _ = other.load_state_dict(model.state_dict())
        >>> other.parameter_values() == model.parameter_values()
        True
        >>> DisCoCatClassifier(['a__n_0', 'c__n_0']).load_state_dict(
        ...     model.state_dict())
        Traceback (most recent call last):
        ...
        qnlp.errors.CheckpointError: the saved weights belong to other symbols: symbol 2 is 'b__n_0' there, 'c__n_0' here
        """
        text = '\0'.join(self.engine.symbols).encode('utf-8')
        return torch.tensor(list(text), dtype=torch.uint8)

    def set_extra_state(self, state: Any) -> None:
        """Nothing to set: :meth:`_load_from_state_dict` has checked (and
        ordered) the weights by the saved names."""

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: Any, strict: bool,
                              missing_keys: list[str],
                              unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        key = prefix + '_extra_state'
        if key in state_dict:
            saved = _symbol_names(state_dict[key])
            if saved != self.engine.symbols:
                weights = prefix + 'weights'
                state_dict[weights] = self._by_name(saved,
                                                    state_dict.get(weights))
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if key not in state_dict and key in missing_keys:
            missing_keys.remove(key)   # saved before names were stored

    def _by_name(self, saved: list[str], weights: torch.Tensor | None
                 ) -> torch.Tensor | None:
        """Saved ``weights`` (of the symbols ``saved``, in that order) in
        this model's order; CheckpointError unless the symbols are the
        same."""
        own = self.engine.symbols
        if sorted(saved) != sorted(own) or weights is None \
                or self.word_map is not None:
            first = next((i for i, (a, b) in enumerate(zip(saved, own))
                          if a != b), min(len(saved), len(own)))
            there = repr(saved[first]) if first < len(saved) else 'missing'
            here = repr(own[first]) if first < len(own) else 'missing'
            raise CheckpointError(f"the saved weights belong to other "
                                  f"symbols: symbol {first + 1} is {there} "
                                  f"there, {here} here")
        sizes = {name: len(range(*self.engine.symbol_slice(name).indices(
            self.engine.n_weights))) for name in own}
        starts, offset = {}, 0
        for name in saved:
            starts[name], offset = offset, offset + sizes[name]
        if offset != weights.shape[0]:
            raise CheckpointError(f"the saved weights have "
                                  f"{weights.shape[0]} numbers; their "
                                  f"symbols here need {offset}")
        index = torch.cat([torch.arange(starts[name],
                                        starts[name] + sizes[name])
                           for name in own])
        return weights[index.to(weights.device)]

    def prepare(self, circuits: Sequence[Any]
                ) -> PreparedBatch | ProductBatch:
        """Compile and group ``circuits`` once, for repeated evaluation
        (circuits of the diagonal ansatz: read their words' gates)."""
        if self.products:
            return ProductBatch.of(self.engine, circuits,
                                   ANSATZ_CLASSES[self.ansatz].OFFSET)
        return self.engine.prepare(circuits)

    def forward(self, circuits: Sequence[Any] | PreparedBatch | ProductBatch
                ) -> torch.Tensor:
        if self.products or isinstance(circuits, ProductBatch):
            batch = circuits if isinstance(circuits, ProductBatch) else \
                self.prepare(circuits)
            return product_probabilities(self.flat_weights(), batch)
        # the first n_classes outcomes, renormalised (inside the engine's
        # autograd node where it can: padded pure circuits)
        return self.engine(self.flat_weights(), circuits,
                           classes=self.n_classes)
