"""An offline pregroup parser: tokens -> categories -> cups -> diagram.

Every token gets candidate categories with costs from a tagger; a beam
search pushes each candidate's simple types onto a stack, cancelling
``x`` against ``x^r`` (and ``x^l`` against ``x``) as they meet, and keeps
the cheapest assignments. A parse succeeds when the stack ends as the
target type (``s`` for sentences, ``n`` for noun phrases). The result is a
lambeq grammar diagram: words as boxes, reductions as cups.

>>> parser = Parser()
>>> diagram = parser.parse('skillful man prepares sauce .')
>>> [box.name for box in diagram.boxes if not box.name.startswith('CUP')]
['skillful', 'man', 'prepares', 'sauce']
>>> str(diagram.cod)
's'
>>> str(parser.parse('organization that church establish', target='n').cod)
'n'
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple, NoReturn, Protocol, Sequence

from lambeq.backend.grammar import Cup, Diagram, Layer, Word

from qnlp.errors import ConfigError, ParseError
from qnlp.limits import MAX_TOKENS
from qnlp.parsing.lexicon import LexiconTagger
from qnlp.parsing.types import CATEGORY_TYPES

_TOKEN = re.compile(r"'(?:s|re|ve|ll|d|m|t)\b|n't\b|[A-Za-z0-9]+(?:[-'.][A-Za-z0-9]+)*(?:_[A-Z]+)?|[^\sA-Za-z0-9]",
                    re.IGNORECASE)
#: Penn Treebank bracket escapes and quote marks, dropped.
_PTB_MARKS = re.compile(r"-[lr][rcs]b-|``|''", re.IGNORECASE)
_CLITIC = re.compile(r"(?<=[A-Za-z])(n't|'(?:s|re|ve|ll|d|m))\b", re.IGNORECASE)
#: The word standing for a missing subject, and its marker in the search.
IMPLICIT_SUBJECT = '<pro>'
IMPLICIT = 'IMPLICIT'
#: Punctuation that may join phrases; other punctuation is dropped.
JOINING_PUNCTUATION = {',', ';', ':', '--'}


class Tagger(Protocol):
    """Proposes ``(category, cost)`` pairs for every token of a sentence.

    A tagger may also have ``tag_many(sentences)`` (lists of tokens in,
    one candidate list per sentence out) to tag a batch at once, as
    spaCy's ``nlp.pipe`` does; :meth:`Parser.analyse_many` uses it.
    """

    def tag(self, tokens: Sequence[str]
            ) -> list[list[tuple[str, float]]]: ...


def tokenise(sentence: str) -> list[str]:
    """Split ``sentence`` into tokens: words, clitics and joining marks.

    Clitics become tokens of their own (``don't`` -> ``do n't``); commas,
    semicolons, colons and ``--`` are kept because they can coordinate;
    other punctuation is dropped.

    >>> tokenise("The chef's soup, hot (really) !")
    ['The', 'chef', "'s", 'soup', ',', 'hot', 'really']
    """
    spaced = _CLITIC.sub(r" \1", _PTB_MARKS.sub(" ", sentence))
    return [t for t in _TOKEN.findall(spaced)
            if t[0].isalnum() or t[0] == "'" and len(t) > 1
            or t in JOINING_PUNCTUATION]


#: Each category's simple types as ``(base, z)`` pairs.
_ATOMS = {category: tuple((atom.name, atom.z) for atom in ty)
          for category, ty in CATEGORY_TYPES.items()}


class _State(NamedTuple):
    """A partial parse; the path to it is kept as back-pointers."""
    cost: float
    stack: tuple[tuple[str, int, int], ...]   # (base, adjoint z, wire)
    n_wires: int
    parent: "_State | None"
    category: str
    cups: tuple[tuple[int, int], ...]         # cups this word added

    def path(self) -> tuple[list[str], list[tuple[int, int]]]:
        """Categories and cups from the first word to this state."""
        categories, cups, state = [], [], self
        while state is not None and state.parent is not None:
            categories.append(state.category)
            cups.extend(reversed(state.cups))
            state = state.parent
        return categories[::-1], cups[::-1]


def _push(state: _State, category: str, cost: float) -> list[_State]:
    """Every way of pushing a word's simple types onto the stack.

    An atom meeting its left adjoint on top of the stack (from an earlier
    word) cancels with it. When the new atom is ``n`` or a left adjoint
    the search also tries keeping both, because a later coordinator or
    modifier may need the atom (``on love , memory``: ``love`` must wait
    for the comma). Right adjoints always cancel: one left on the stack
    could never reduce, so such states are dropped.
    """
    first = state.n_wires
    partial: list[tuple[tuple, tuple]] = [(state.stack, ())]
    for offset, (base, z) in enumerate(_ATOMS[category]):
        wire = first + offset
        grown = []
        for stack, cups in partial:
            if stack:
                top = stack[-1]
                if top[2] < first and top[0] == base and z == top[1] + 1:
                    grown.append((stack[:-1], cups + ((top[2], wire),)))
                    if z > 0:
                        continue
            if z <= 0:
                grown.append((stack + ((base, z, wire),), cups))
        partial = grown
    width = first + len(_ATOMS[category])
    total = state.cost + cost
    return [_State(total, stack, width, state, category, cups)
            for stack, cups in partial]


@dataclass
class Parse:
    """A successful parse: words, their categories, cups and the diagram."""
    words: list[str]
    categories: list[str]
    cups: list[tuple[int, int]]

    @property
    def diagram(self) -> Diagram:
        """The lambeq grammar diagram of this parse."""
        return self.diagram_with(self.words)

    def diagram_with(self, words: Sequence[str]) -> Diagram:
        """The same grammar with other word names (e.g. ``<unk>``).

        The grammar (categories and cups) is built once and cached; later
        sentences with the same grammar only swap the word boxes.
        """
        key = (tuple(self.categories), tuple(self.cups))
        template = _TEMPLATES.get(key)
        if template is None:
            boxes = [Word(f'w{i}', CATEGORY_TYPES[category])
                     for i, category in enumerate(self.categories)]
            template = Diagram.create_pregroup_diagram(
                boxes, [(Cup, left, right) for left, right in self.cups])
            if len(_TEMPLATES) >= _CACHE_LIMIT:
                _TEMPLATES.clear()
            _TEMPLATES[key] = template
        layers = list(template.layers)
        for i, word in enumerate(words):   # words are the first layers
            layer = layers[i]
            layers[i] = Layer(layer.left, Word(word, layer.box.cod),
                              layer.right)
        return Diagram(template.dom, template.cod, layers)


_CACHE_LIMIT = 100_000
_TEMPLATES: dict[tuple, Diagram] = {}


def split_tag(token: str) -> tuple[str, str | None]:
    """Lower-cased word and pre-assigned category of a token, if any.

    >>> split_tag('woman_N'), split_tag('Tasty')
    (('woman', 'N'), ('tasty', None))
    """
    word, sep, tag = token.rpartition('_')
    if sep and word and tag in CATEGORY_TYPES:
        return word.lower(), tag
    return token.lower(), None


class Parser:
    """Grammar-aware sentence-to-diagram parser that needs no download.

    Parameters
    ----------
    tagger:
        Proposes categories for tokens; defaults to :class:`LexiconTagger`.
    beam_width:
        How many partial parses survive each token.
    max_extra_cost:
        Categories costing more than this above a token's cheapest one
        are not tried.
    implicit_subject_cost:
        Cost of reading a subjectless sentence with the implicit subject
        ``<pro>``; ``None`` turns implicit subjects off.
    retry_widths:
        Wider beams tried, in order, when a sentence fails to reduce.
    """

    def __init__(self, tagger: Tagger | None = None, beam_width: int = 64,
                 max_extra_cost: float = 3.0,
                 implicit_subject_cost: float | None = 2.0,
                 retry_widths: Sequence[int] = (512,)) -> None:
        self.tagger = tagger or LexiconTagger()
        self.beam_width = beam_width
        self.max_extra_cost = max_extra_cost
        self.implicit_subject_cost = implicit_subject_cost
        self.retry_widths = tuple(retry_widths)
        # The search depends only on the candidate lists: memoise it.
        self._searches: dict[tuple, tuple[list[str], list]] = {}

    def _candidates(self, tokens: list[str],
                    proposed: list[list[tuple[str, float]]] | None = None
                    ) -> list[list[tuple[str, float]]]:
        """Tagger candidates (``proposed`` if tagged already), with
        pre-tagged tokens fixed to their tag."""
        tags = [split_tag(token)[1] for token in tokens]
        if all(tag is not None for tag in tags):
            return [[(tag, 0.0)] for tag in tags]
        if proposed is None:
            proposed = self.tagger.tag([split_tag(t)[0] for t in tokens])
        return [[(tag, 0.0)] if tag is not None else options
                for tag, options in zip(tags, proposed)]

    def analyse(self, sentence: str, target: str | None = None) -> Parse:
        """Parse ``sentence`` and return tokens, categories and diagram.

        ``target`` is ``'s'``, ``'n'`` or ``None`` (the cheaper parse to
        either). Sentences of more than :data:`~qnlp.limits.MAX_TOKENS`
        tokens are refused before any search:

        >>> Parser().analyse('meal ' * 300)
        Traceback (most recent call last):
        ...
        qnlp.errors.ParseError: sentence of 300 tokens is above the limit of 256 in sentence 'meal meal meal meal meal meal meal meal ...'
        """
        tokens = self._tokens(sentence)
        return self._analyse_tokens(sentence, tokens, target)

    def analyse_many(self, sentences: Sequence[str],
                     target: str | None = None
                     ) -> list["Parse | ParseError"]:
        """Analyse a batch: one :class:`Parse` or :class:`ParseError` per
        sentence, in order; a tagger with ``tag_many`` tags them at once.

        >>> results = Parser().analyse_many(['woman cooks meal', ''], 's')
        >>> [type(r).__name__ for r in results]
        ['Parse', 'ParseError']
        """
        results: list[Parse | ParseError | None] = [None] * len(sentences)
        tokenised: list[tuple[int, list[str]]] = []
        for i, sentence in enumerate(sentences):
            try:
                tokenised.append((i, self._tokens(sentence)))
            except ParseError as error:
                results[i] = error
        tag_many = getattr(self.tagger, 'tag_many', None)
        proposed = (tag_many([[split_tag(t)[0] for t in tokens]
                              for _, tokens in tokenised])
                    if tag_many is not None else [None] * len(tokenised))
        for (i, tokens), tags in zip(tokenised, proposed):
            try:
                results[i] = self._analyse_tokens(sentences[i], tokens,
                                                  target, tags)
            except ParseError as error:
                results[i] = error
        return results

    @staticmethod
    def _tokens(sentence: str) -> list[str]:
        """The tokens of ``sentence``; refuses empty and overlong ones."""
        tokens = tokenise(sentence)
        if not tokens:
            raise ParseError("no words to parse", sentence)
        if len(tokens) > MAX_TOKENS:   # the search would take minutes
            preview = ' '.join(tokens[:8]) + ' ...'
            raise ParseError(f"sentence of {len(tokens)} tokens is above "
                             f"the limit of {MAX_TOKENS}", preview)
        return tokens

    def _analyse_tokens(self, sentence: str, tokens: list[str],
                        target: str | None,
                        proposed: list[list[tuple[str, float]]] | None = None
                        ) -> Parse:
        """Search the categories of ``tokens`` (tagged if ``proposed``)."""
        candidates = self._candidates(tokens, proposed)
        key = (target, tuple(tuple(options) for options in candidates))
        found = self._searches.get(key)
        if found is None:
            found = self._search_widening(sentence, tokens, candidates,
                                          target)
            if len(self._searches) >= _CACHE_LIMIT:
                self._searches.clear()
            self._searches[key] = found
        categories, cups = found
        words = [split_tag(token)[0] for token in tokens]
        if categories and categories[0] == IMPLICIT:
            words.insert(0, IMPLICIT_SUBJECT)
            categories = ['PRON'] + categories[1:]
        kept = [i for i, c in enumerate(categories) if c != 'SKIP']
        return Parse([words[i] for i in kept],
                     [categories[i] for i in kept], cups)

    def _search_widening(self, sentence: str, tokens: list[str],
                         candidates: list[list[tuple[str, float]]],
                         target: str | None) -> tuple[list[str], list]:
        """Search with the beam width, then with wider beams on failure."""
        widths = [self.beam_width] + [w for w in self.retry_widths
                                      if w > self.beam_width]
        for width in widths[:-1]:
            try:
                return self._search(sentence, tokens, candidates, target,
                                    width)
            except ParseError:
                continue
        return self._search(sentence, tokens, candidates, target, widths[-1])

    def _search(self, sentence: str, tokens: list[str],
                candidates: list[list[tuple[str, float]]],
                target: str | None, width: int) -> tuple[list[str], list]:
        """Beam search over reductions; the cheapest categories and cups."""
        start = _State(0.0, (), 0, None, '', ())
        beam = [start]
        if self.implicit_subject_cost is not None:
            beam += _push(start, 'PRON', self.implicit_subject_cost)
            beam[-1] = beam[-1]._replace(category=IMPLICIT)
        for position, options in enumerate(candidates):
            cheapest = min(cost for _, cost in options)
            options = [(c, k) for c, k in options
                       if k <= cheapest + self.max_extra_cost]
            best: dict[tuple, _State] = {}
            for state in beam:
                for category, cost in options:
                    for new in _push(state, category, cost):
                        # Equal type stacks have equal futures: keep the best.
                        key = tuple(atom[:2] for atom in new.stack)
                        old = best.get(key)
                        if old is None or new.cost < old.cost:
                            best[key] = new
            if not best:
                raise ParseError("no reading of the words so far can "
                                 "still reduce", sentence, tokens[position],
                                 position)
            # Rank by cost plus a charge per unreduced wire, so that cheap
            # but hopeless stacks do not crowd out the reducible ones.
            beam = sorted(best.values(),
                          key=lambda s: s.cost + len(s.stack))
            beam = beam[:width]
        targets = ('s', 'n') if target is None else (target,)
        # The cheapest parse to any target wins; ties go to the first.
        done = [(s.cost, targets.index(s.stack[0][0]), i)
                for i, s in enumerate(beam) if len(s.stack) == 1
                and s.stack[0][1] == 0 and s.stack[0][0] in targets]
        if not done:
            self._fail(sentence, tokens, beam, targets)
        return beam[min(done)[2]].path()

    def parse(self, sentence: str, target: str | None = None) -> Diagram:
        """The diagram of ``sentence``; raises :class:`ParseError`."""
        return self.analyse(sentence, target).diagram

    def parse_many(self, sentences: Iterable[str], target: str | None = None,
                   fallback: Callable[[str], Diagram] | None = None) -> "BatchResult":
        """Parse many sentences; with ``fallback`` failures do not stop it."""
        diagrams, failures = [], []
        for index, sentence in enumerate(sentences):
            try:
                diagrams.append(self.parse(sentence, target))
            except ParseError:
                if fallback is None:
                    raise
                diagrams.append(fallback(sentence))
                failures.append(index)
        return BatchResult(diagrams, failures)

    @staticmethod
    def _fail(sentence: str, tokens: list[str], beam: list[_State],
              targets: tuple[str, ...]) -> NoReturn:
        state = beam[0]
        categories, _ = state.path()
        shift = 1 if categories and categories[0] == IMPLICIT else 0
        # The first unreduced wire names the token where reduction failed.
        owner, start = 0, 0
        for position, category in enumerate(categories):
            width = 1 if category == IMPLICIT else len(_ATOMS[category])
            if state.stack and start <= state.stack[0][2] < start + width:
                owner = max(0, position - shift)
            start += width
        left = ' @ '.join(b + ('.l' * -z if z < 0 else '.r' * z)
                          for b, z, _ in state.stack)
        raise ParseError(f"does not reduce to {' or '.join(targets)} "
                         f"(best attempt leaves {left or 'nothing'})",
                         sentence, tokens[owner], owner)


@dataclass
class BatchResult:
    """Diagrams of a batch and the indices that needed the fallback."""
    diagrams: list[Diagram]
    fallbacks: list[int]


_DEFAULT_PARSERS: dict[str, Parser] = {}


def make_tagger(name: str) -> Tagger:
    """A tagger by name: ``'lexicon'`` (bundled, offline) or ``'spacy'``."""
    if name == 'lexicon':
        return LexiconTagger()
    if name == 'spacy':
        from qnlp.parsing.spacy_tagger import SpacyTagger
        return SpacyTagger()
    raise ConfigError(f"unknown tagger {name!r}; choose 'lexicon' or "
                      "'spacy'")


def default_parser(tagger: str = 'lexicon') -> Parser:
    """The shared parser with the named tagger (built on first use)."""
    if tagger not in _DEFAULT_PARSERS:
        _DEFAULT_PARSERS[tagger] = Parser(make_tagger(tagger))
    return _DEFAULT_PARSERS[tagger]


def parse(sentence: str, target: str | None = None,
          tagger: str = 'lexicon') -> Diagram:
    """Parse one sentence into a lambeq grammar diagram.

    ``target`` is ``'s'``, ``'n'`` or ``None`` (the cheaper of both);
    raises :class:`~qnlp.errors.ParseError` when nothing reduces.

    >>> str(parse('woman cooks tasty meal').cod)
    's'
    """
    return default_parser(tagger).parse(sentence, target)


def parse_many(sentences: Iterable[str], target: str | None = None,
               tagger: str = 'lexicon',
               fallback: Callable[[str], Diagram] | None = None
               ) -> BatchResult:
    """Parse a batch; with ``fallback`` failures are replaced and counted.

    >>> from lambeq import cups_reader
    >>> result = parse_many(['woman cooks meal', 'the the'], target='s',
    ...                     fallback=cups_reader.sentence2diagram)
    >>> len(result.diagrams), result.fallbacks
    (2, [1])
    """
    return default_parser(tagger).parse_many(sentences, target, fallback)
