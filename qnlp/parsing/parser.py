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

import bisect
import re
from operator import itemgetter
from dataclasses import dataclass
from typing import (Any, Callable, Iterable, NamedTuple, NoReturn, Protocol,
                    Sequence)

from lambeq.backend.grammar import Cup, Diagram, Layer, Word

from qnlp.errors import ConfigError, ParseError
from qnlp.limits import MAX_TOKENS
from qnlp.parsing.diagrams import pregroup_diagram
from qnlp.parsing.lexicon import LexiconTagger
from qnlp.parsing.types import CATEGORY_TYPES
from qnlp.spacy_pipeline import DEFAULT_PIPELINE, checked

_TOKEN = re.compile(r"'(?:s|re|ve|ll|d|m|t)\b|n't\b|[A-Za-z0-9]+(?:[-'.][A-Za-z0-9]+)*(?:_[A-Z]+)?|[^\sA-Za-z0-9]",
                    re.IGNORECASE)
#: Penn Treebank bracket escapes and quote marks, dropped.
_PTB_MARKS = re.compile(r"-[lr][rcs]b-|``|''", re.IGNORECASE)
_CLITIC = re.compile(r"(?<=[A-Za-z])(n't|'(?:s|re|ve|ll|d|m))\b", re.IGNORECASE)
#: The word standing for a missing subject, and its marker in the search.
IMPLICIT_SUBJECT = '<pro>'
IMPLICIT = 'IMPLICIT'
#: The word joining two sentences with nothing between them, and its
#: marker in the search.
IMPLICIT_JOIN = '<and>'
JOIN = 'JOIN'
#: Words the search adds: marker -> (word, category).
IMPLICIT_WORDS = {IMPLICIT: (IMPLICIT_SUBJECT, 'PRON'),
                  JOIN: (IMPLICIT_JOIN, 'CONJS')}
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
#: Categories with a double right adjoint (``n.rr``): a verb phrase
#: coordinator, which cancels a whole earlier verb phrase ``n.r s``.
_WAITS_FOR = frozenset(category for category, atoms in _ATOMS.items()
                       if any(z == 2 for _, z in atoms))

def _stays(base: str, z: int, wait: bool) -> bool:
    """Whether an atom may stay on the stack: not a right adjoint, but
    an ``n.r`` may wait for a later ``n.rr`` when ``wait``."""
    return z <= 0 or wait and z == 1 and base == 'n'


#: Per category: the first category of the same type (*IV* and *PRED*,
#: *N* and *PRON*, ...): categories of one type share their moves.
_SAME_TYPE = {category: next(c for c, a in _ATOMS.items() if a == atoms)
              for category, atoms in _ATOMS.items()}

#: A small number for each simple type (for :class:`_Stacks`).
_CODE = {(base, z): i for i, (base, z) in enumerate(
    (base, z) for base in ('n', 's') for z in range(-3, 4))}

def _targets(target: str | None) -> tuple[str, ...]:
    """The atom types a parse may end in: ``target``, or ``s`` or ``n``
    when none is given; any other target is a settings error (not a
    :class:`ParseError`, which would skip every sentence as unparsable).

    >>> _targets(None), _targets('n')
    (('s', 'n'), ('n',))
    >>> _targets('np')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: parse target 'np': give 's', 'n' or None (either)
    """
    if target is None:
        return ('s', 'n')
    if target not in ('s', 'n'):
        raise ConfigError(f"parse target {target!r}: give 's', 'n' or None "
                          f"(either)")
    return (target,)


#: Per category: the atom each of its atoms cancels (its left adjoint).
_PARTNERS = {category: tuple((base, z - 1) for base, z in atoms)
             for category, atoms in _ATOMS.items()}

#: Per category: the atoms its atoms can cancel, as a bit mask of
#: :data:`_CODE` (for :meth:`Parser._search`'s test of dead stacks).
_CANCELS = {category: sum({1 << _CODE[p] for p in partners if p in _CODE})
            for category, partners in _PARTNERS.items()}

#: Per category and ``wait``: how many leading atoms must cancel, because
#: one of them (a right adjoint) could not stay on the stack.
_NEED = {(category, wait): max((i + 1 for i, (b, z) in enumerate(atoms)
                                if not _stays(b, z, wait)), default=0)
         for category, atoms in _ATOMS.items() for wait in (False, True)}


class _Stacks:
    """Type stacks numbered once, and the moves between them.

    A stack is a number: the stack ``below`` it plus one ``atom`` on
    top (0 is the empty stack), so pushing and popping an atom is one
    look-up. A search state holds its stack's number; :meth:`fill`
    computes, for a stack, category and ``wait``, every reduction once,
    and the search then looks it up in :meth:`table`: the same stacks
    recur across states and sentences.
    """

    LIMIT = 1_000_000

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget every stack (between searches, when there are many)."""
        self.number: dict[int, int] = {}   # below * 16 + atom code
        self.below: list[int] = [0]
        self.atom: list[tuple[str, int]] = [('', 0)]
        self.depth: list[int] = [0]
        #: Per stack: the atoms on it, a bit mask of :data:`_CODE`.
        self.mask: list[int] = [0]
        self.tables: dict[tuple[str, bool], dict[int, list]] = {}

    def push(self, below: int, atoms: Sequence[tuple[str, int]]) -> int:
        """The number of stack ``below`` with ``atoms`` on top."""
        for atom in atoms:
            key = below << 4 | _CODE[atom]
            found = self.number.get(key)
            if found is None:
                found = self.number[key] = len(self.below)
                self.below.append(below)
                self.atom.append(atom)
                self.depth.append(self.depth[below] + 1)
                self.mask.append(self.mask[below] | 1 << _CODE[atom])
            below = found
        return below

    def atoms(self, number: int) -> tuple[tuple[str, int], ...]:
        """The atoms of stack ``number``, bottom first."""
        found = []
        while number:
            found.append(self.atom[number])
            number = self.below[number]
        return tuple(found[::-1])

    def table(self, category: str, wait: bool) -> dict[int, list]:
        """Stack number -> moves of ``category`` (see :meth:`fill`): one
        table for the categories of a type (:data:`_SAME_TYPE`)."""
        key = (_SAME_TYPE[category], wait)
        found = self.tables.get(key)
        if found is None:
            found = self.tables[key] = {}
        return found

    def fill(self, table: dict[int, list], number: int, category: str,
             wait: bool) -> list[tuple[int, int, int]]:
        """Every way to push ``category`` onto stack ``number``, kept in
        ``table``: ``(j, after, depth)`` where the word's first ``j`` atoms
        cancel the top ``j`` atoms of the stack (each the left adjoint of
        the word's atom), the word's other atoms stay on top, giving stack
        ``after`` of ``depth`` atoms.

        Atoms of one word never cancel each other, so once one atom stays
        all later ones do; ``j`` ranges from the atoms that must cancel
        (every right adjoint, unless ``wait`` lets an ``n.r`` wait for a
        later ``n.rr``) to the longest run that can cancel. When the new
        atom is ``n`` or a left adjoint the search also tries keeping
        both, because a later coordinator or modifier may need the atom
        (*on love , memory*: *love* waits for the comma).

        >>> stacks = _Stacks()
        >>> noun = stacks.push(0, [('n', 0)])
        >>> [(j, stacks.atoms(after)) for j, after, _ in
        ...  stacks.fill({}, noun, 'IV', wait=True)]
        [(0, (('n', 0), ('n', 1), ('s', 0))), (1, (('s', 0),))]
        """
        atoms = _ATOMS[category]
        need = _NEED[category, wait]
        found = [(0, number)] if need == 0 else []
        node, j, atom, below = number, 0, self.atom, self.below
        for partner in _PARTNERS[category]:
            if node == 0 or atom[node] != partner:
                break
            node, j = below[node], j + 1
            if j >= need:
                found.append((j, node))
        moves = table[number] = []
        for j, node in found:
            after = self.push(node, atoms[j:]) if j < len(atoms) else node
            moves.append((j, after, self.depth[after]))
        return moves


_STACKS = _Stacks()


class _State(NamedTuple):
    """A partial parse: its rank in the beam (cost plus one per wire left),
    its cost, the word that led to it (``category``, whose first ``j``
    atoms cancelled the stack) after ``parent``, and the number of its
    type stack (see :class:`_Stacks`). The search itself keeps plain
    tuples of these six fields (cheaper to build); every function here
    reads fields by position, so it takes either."""
    rank: float
    cost: float
    parent: "_State | tuple | None"
    category: str
    j: int
    stack: int

    def path(self) -> list[tuple[str, int]]:
        """``(category, j)`` of each word, first to last."""
        return _path(self)

    def categories(self) -> list[str]:
        """The category of each word, first to last."""
        return [category for category, _ in _path(self)]

    def wires(self) -> tuple[list[tuple[int, int]], list[int]]:
        """The cups of this parse and the wires left (see :func:`_wires`).

        >>> she = _push(_START, 'PRON', 0.0)[0]
        >>> _push(_push(she, 'TV', 0.0)[0], 'N', 0.0)[-1].wires()
        ([(0, 1), (3, 4)], [2])
        """
        return _wires(_path(self))


def _path(state: tuple) -> list[tuple[str, int]]:
    """``(category, j)`` of each word of ``state`` (a :class:`_State` or
    its plain tuple), first to last."""
    steps = []
    while state[2] is not None:
        steps.append((state[3], state[4]))
        state = state[2]
    return steps[::-1]


def _keeps_a_word(state: tuple) -> bool:
    """Whether some word of ``state`` is neither SKIP nor implicit."""
    while state[2] is not None:
        if state[3] != 'SKIP' and state[3] not in IMPLICIT_WORDS:
            return True
        state = state[2]
    return False


def _wires(steps: Sequence[tuple[str, int]], stacks: list | None = None
           ) -> tuple[list[tuple[int, int]], list[int]]:
    """Replay ``(category, j)`` steps: the cups and the wires left,
    bottom first, numbering every word's atoms left to right; the wires
    left after each step are appended to ``stacks`` if given."""
    cups, stack, first = [], [], 0
    for category, j in steps:
        name = IMPLICIT_WORDS.get(category, (None, category))[1]
        for i in range(j):
            cups.append((stack.pop(), first + i))
        size = len(_ATOMS[name])
        stack.extend(range(first + j, first + size))
        first += size
        if stacks is not None:
            stacks.append(tuple(stack))
    return cups, stack


def _joined(steps: list[tuple[str, int]]) -> list[tuple[str, int]] | None:
    """``steps`` that leave sentences ``s @ s @ ...`` with the implicit
    coordinator JOIN (``s.r s s.l``) put after each finished sentence:
    it takes the sentence before it, and the next sentence's ``s`` now
    cancels its ``s.l``, so one ``s`` is left. ``None`` when a sentence
    never stands alone on the stack between words.

    >>> two = [('PRON', 0), ('IV', 1), ('PRON', 0), ('IV', 1)]
    >>> _joined(two)
    [('PRON', 0), ('IV', 1), ('JOIN', 1), ('PRON', 0), ('IV', 2)]
    >>> _wires(_joined(two))
    ([(0, 1), (2, 3), (6, 7), (5, 8)], [4])
    """
    after: list[tuple[int, ...]] = []
    left = _wires(steps, after)[1]
    starts, first = [], 0
    for category, _ in steps:
        starts.append(first)
        first += len(_ATOMS[IMPLICIT_WORDS.get(category, (None, category))[1]])
    steps = list(steps)
    cuts = set()
    for k in range(1, len(left)):
        places = [i for i, stack in enumerate(after)
                  if stack == tuple(left[:k])]
        # the word keeping the next sentence's s must keep it first
        owner = bisect.bisect_right(starts, left[k]) - 1
        if not places or left[k] != starts[owner] + steps[owner][1]:
            return None
        cuts.add(places[-1])
        steps[owner] = (steps[owner][0], steps[owner][1] + 1)
    joined = []
    for i, step in enumerate(steps):
        joined.append(step)
        if i in cuts:
            joined.append((JOIN, 1))
    return joined


_START = _State(0.0, 0.0, None, '', 0, 0)
_RANK = itemgetter(0)


def _push(state: _State, category: str, cost: float,
          wait: bool = False) -> list[_State]:
    """Every way of pushing a word's simple types onto the stack (see
    :meth:`_Stacks.fill`); a right adjoint that cannot cancel drops the
    state: left on the stack it could never reduce, unless ``wait``
    (a verb phrase coordinator with ``n.rr`` follows) lets an ``n.r``
    wait for it (*she sings and dances*: ``sings`` keeps its ``n.r``).

    >>> noun = _push(_START, 'N', 0.0)[0]
    >>> [_STACKS.atoms(s.stack) for s in _push(noun, 'IV', 0.0)]
    [(('s', 0),)]
    >>> [s.wires()[1] for s in _push(noun, 'IV', 0.0, wait=True)]
    [[0, 1, 2], [2]]
    """
    moves = _STACKS.fill({}, state[5], category, wait)
    total = state[1] + cost
    return [_State(total + depth, total, state, category, j, after)
            for j, after, depth in moves]


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
            template = pregroup_diagram(
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


def _untagged(token: str) -> str:
    """``token`` without a pre-assigned category, case kept: taggers see
    capitals (*Bush* is a name).

    >>> _untagged('Woman_N'), _untagged('Tasty')
    ('Woman', 'Tasty')
    """
    word, sep, tag = token.rpartition('_')
    return word if sep and word and tag in CATEGORY_TYPES else token


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
    max_candidates:
        At most this many (cheapest) categories are tried per token.
    retry_max_tokens:
        Only sentences of at most this many tokens are retried with wider
        beams, so that the cost stays linear in the length.
    sentence_preference:
        With no target, an ``s`` parse wins unless an ``n`` parse is
        cheaper by more than this.
    skip_cost:
        The search may drop words (category SKIP, no wires) at this cost
        each; ``None`` never drops words.
    join_cost:
        Cost of joining a finished sentence to the words after it with the
        implicit coordinator ``<and>`` (category CONJS), as in *it 's
        funny , it 's smart* read as two sentences; ``None`` never joins.
    """

    def __init__(self, tagger: Tagger | None = None, beam_width: int = 24,
                 max_extra_cost: float = 5.0,
                 implicit_subject_cost: float | None = 2.0,
                 retry_widths: Sequence[int] = (64,),
                 max_candidates: int = 6,
                 retry_max_tokens: int = 40,
                 sentence_preference: float = 1.5,
                 skip_cost: float | None = 4.0,
                 join_cost: float | None = 3.0) -> None:
        self.tagger = tagger or LexiconTagger()
        self.beam_width = beam_width
        self.max_extra_cost = max_extra_cost
        self.implicit_subject_cost = implicit_subject_cost
        self.retry_widths = tuple(retry_widths)
        self.max_candidates = max_candidates
        self.retry_max_tokens = retry_max_tokens
        self.sentence_preference = sentence_preference
        self.skip_cost = skip_cost
        self.join_cost = join_cost
        #: Pushes (state x category) tried by searches so far.
        self.expanded = 0
        # The search depends only on the candidate lists: memoise it.
        self._searches: dict[tuple, tuple[list[str], list]] = {}

    #: The attributes that change this parser's answers (beside its code).
    SETTINGS = ('beam_width', 'max_extra_cost', 'implicit_subject_cost',
                'retry_widths', 'max_candidates', 'retry_max_tokens',
                'sentence_preference', 'skip_cost', 'join_cost')

    def settings(self) -> dict[str, Any]:
        """Tagger and search settings: what a parse cache is keyed by.

        >>> Parser().settings()['tagger']
        'LexiconTagger'
        """
        tagger = self.tagger
        return {'parser': type(self).__name__,
                'tagger': type(tagger).__name__,
                'pipeline': getattr(tagger, 'identity', None),  # spaCy's
                **{name: getattr(self, name) for name in self.SETTINGS}}

    def _candidates(self, tokens: list[str],
                    proposed: list[list[tuple[str, float]]] | None = None
                    ) -> list[list[tuple[str, float]]]:
        """Tagger candidates (``proposed`` if tagged already), with
        pre-tagged tokens fixed to their tag."""
        tags = [split_tag(token)[1] for token in tokens]
        if all(tag is not None for tag in tags):
            return [[(tag, 0.0)] for tag in tags]
        if proposed is None:
            proposed = self.tagger.tag([_untagged(t) for t in tokens])
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
        _targets(target)   # a bad target is refused before any work
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
        _targets(target)   # a bad target is refused before any work
        results: list[Parse | ParseError | None] = [None] * len(sentences)
        tokenised: list[tuple[int, list[str]]] = []
        for i, sentence in enumerate(sentences):
            try:
                tokenised.append((i, self._tokens(sentence)))
            except ParseError as error:
                results[i] = error
        readings = self._read_batch([tokens for _, tokens in tokenised])
        for (i, tokens), reading in zip(tokenised, readings):
            try:
                results[i] = self._analyse_reading(sentences[i], tokens,
                                                   target, reading)
            except ParseError as error:
                results[i] = error
        return results

    def _read_batch(self, batch: list[list[str]]) -> list[Any]:
        """What the tagger says of a batch of token lists at once: its
        ``tag_many`` candidates, or ``None`` per sentence (tagged one by
        one in :meth:`_analyse_reading`)."""
        tag_many = getattr(self.tagger, 'tag_many', None)
        if tag_many is None:
            return [None] * len(batch)
        return tag_many([[_untagged(t) for t in tokens] for tokens in batch])

    def _analyse_reading(self, sentence: str, tokens: list[str],
                         target: str | None, reading: Any) -> Parse:
        """The parse of one sentence of a batch from its ``reading``."""
        return self._analyse_tokens(sentence, tokens, target, reading)

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
        tokens_left = iter(tokens)
        words, kept = [], []
        for category in categories:
            if category in IMPLICIT_WORDS:
                word, category = IMPLICIT_WORDS[category]
            else:
                word = split_tag(next(tokens_left))[0]
            if category != 'SKIP':
                words.append(word)
                kept.append(category)
        return Parse(words, kept, cups)

    def _search_widening(self, sentence: str, tokens: list[str],
                         candidates: list[list[tuple[str, float]]],
                         target: str | None) -> tuple[list[str], list]:
        """Search with the beam width, then with wider beams on failure
        (short sentences only), letting words drop out at :attr:`skip_cost`
        each; the first error is the one raised.

        A wider search repeats the narrower one until the first token
        where the narrower beam had to drop states, so it resumes there
        (:meth:`_search`'s ``checkpoint``); when the narrower beam never
        dropped a state, a wider one would fail the same way, and the
        error is raised at once.
        """
        if len(_STACKS.below) > _STACKS.LIMIT:   # not while resuming
            _STACKS.clear()
        widths = [self.beam_width]
        if len(tokens) <= self.retry_max_tokens:   # keep long ones linear
            widths += [w for w in self.retry_widths if w > self.beam_width]
        first_error, checkpoint, previous = None, [], 0
        for width in widths:
            if width < previous:     # narrower again: start afresh
                checkpoint = []
            elif previous and not checkpoint:
                break                # nothing was dropped: same failure
            previous = width
            try:
                return self._search(sentence, tokens, candidates, target,
                                    width, self.skip_cost, checkpoint)
            except ParseError as error:
                first_error = first_error or error
        raise first_error

    def _options(self, options: list[tuple[str, float]],
                 skip: float | None = None) -> list[tuple[str, float]]:
        """A token's candidates worth trying: at most ``max_candidates``,
        none costing more than ``max_extra_cost`` above the cheapest, and
        SKIP at cost ``skip`` if given."""
        ranked = sorted(options, key=lambda option: option[1])
        limit = ranked[0][1] + self.max_extra_cost
        kept = [option for option in ranked[:self.max_candidates]
                if option[1] <= limit]
        if skip is not None and all(c != 'SKIP' for c, _ in kept):
            kept.append(('SKIP', skip))
        return kept

    def _search(self, sentence: str, tokens: list[str],
                candidates: list[list[tuple[str, float]]],
                target: str | None, width: int, skip: float | None = None,
                checkpoint: list | None = None) -> tuple[list[str], list]:
        """Beam search over reductions; the cheapest categories and cups.

        Each token expands at most ``width`` states by at most
        ``max_candidates`` categories, each push is one table look-up
        (:class:`_Stacks`), so the search is linear in the sentence's
        length; :attr:`expanded` counts the pushes tried.

        ``checkpoint``, if given, is filled with ``[position, ranked]``:
        the first token where the beam dropped states, and all states
        after it, best first. Until that token a wider search builds the
        same beams, so given a filled ``checkpoint`` (of a search no
        wider than this one) the search resumes after that token from the
        ``width`` best of ``ranked``, and the checkpoint then moves to
        this search's own first drop (empty if it drops none).

        A state is dead when its stack holds an atom that no later word
        can cancel (none of their categories has its right adjoint) and
        that may not end the parse (an ``s`` or ``n`` of the target): it
        could only fail, so it takes no place in the beam. Dead states of
        the last token where some died name the error if all fail.
        """
        if checkpoint is None:
            checkpoint = []
        pruned = [self._options(options, skip) for options in candidates]
        # An n.r may wait on the stack only for a later n.rr.
        waits, later = [], False
        for options in reversed(pruned):
            waits.append(later)
            later = later or any(c in _WAITS_FOR for c, _ in options)
        waits.reverse()
        if checkpoint:
            begin, ranked = checkpoint[0] + 1, checkpoint[1]
            beam = ranked[:width]
            if len(ranked) <= width:
                checkpoint.clear()
        else:
            begin = 0
            beam = [_START]
            if self.implicit_subject_cost is not None:
                beam += [state._replace(category=IMPLICIT) for state in
                         _push(_START, 'PRON', self.implicit_subject_cost)]
        # Per token: the atoms that no later word can cancel and that may
        # not end the parse; a state holding one can only fail.
        final = sum(1 << _CODE.get((base, 0), 0)
                    for base in _targets(target))
        dead, cancels = [0] * len(pruned), 0
        for position in range(len(pruned) - 1, -1, -1):
            dead[position] = ~(final | cancels)
            for category, _ in pruned[position]:
                cancels |= _CANCELS[category]
        mask, deaths = _STACKS.mask, None
        fill = _STACKS.fill
        for position in range(begin, len(pruned)):
            options, wait = pruned[position], waits[position]
            # A category of the same type as one before it (options are
            # sorted by cost) has the same moves at no lower cost: it
            # never wins a stack, and is not tried.
            tables, seen = [], set()
            for category, cost in options:
                table = _STACKS.table(category, wait)
                if id(table) not in seen:
                    seen.add(id(table))
                    tables.append((category, cost, table))
            self.expanded += len(beam) * len(tables)
            # Moves are scored first; the survivors are the beam's states
            # (plain tuples of the fields of _State). Equal type stacks
            # have equal futures: keep the cheapest.
            best: dict[int, tuple] = {}
            get = best.get
            for state in beam:
                number, spent = state[5], state[1]
                for category, cost, table in tables:
                    moves = table.get(number)
                    if moves is None:
                        moves = fill(table, number, category, wait)
                    total = spent + cost
                    for j, after, depth in moves:
                        old = get(after)
                        if old is None or total < old[1]:
                            # Rank by cost plus a charge per unreduced
                            # wire, so that cheap but hopeless stacks do
                            # not crowd out the reducible ones.
                            best[after] = (total + depth, total, state,
                                           category, j, after)
            if not best:
                raise ParseError("no reading of the words so far can "
                                 "still reduce", sentence, tokens[position],
                                 position)
            # A dead state (see above) could only fail: it takes no place
            # in the beam; the latest dead ones name the error, if any.
            doomed = dead[position]
            alive = [state for state in best.values()
                     if not mask[state[5]] & doomed]
            if len(alive) < len(best):
                deaths = (best, doomed)
            if not alive:
                self._fail_dead(sentence, tokens, target, deaths)
            ranked = sorted(alive, key=_RANK)   # stable
            if len(ranked) > width and not checkpoint:
                checkpoint[:] = [position, ranked]
            beam = ranked[:width]
        # Dropping every word is no parse.
        beam = [_State(*state) for state in beam if _keeps_a_word(state)]
        if not beam:
            if deaths is not None:
                self._fail_dead(sentence, tokens, target, deaths)
            raise ParseError("no reading keeps any word", sentence)
        return self._best(sentence, tokens, beam, target)

    def _fail_dead(self, sentence: str, tokens: list[str],
                   target: str | None, deaths: tuple[dict, int]) -> NoReturn:
        """Fail with the best of the latest dead states: ``deaths`` is
        the states after a token (stack -> state) and that token's mask
        of doomed atoms."""
        best, doomed = deaths
        fallen = min((state for state in best.values()
                      if _STACKS.mask[state[5]] & doomed), key=_RANK)
        self._fail(sentence, tokens, [_State(*fallen)], _targets(target))

    def _best(self, sentence: str, tokens: list[str], beam: list[_State],
              target: str | None) -> tuple[list[str], list]:
        """The cheapest finished parse of the final beam. With no
        ``target`` an ``s`` wins over a cheaper ``n`` unless the ``n`` is
        cheaper by more than :attr:`sentence_preference` (a finite verb
        makes a sentence). Sentences left side by side (``s @ s``) are
        joined at :attr:`join_cost` each (:func:`_joined`)."""
        targets = _targets(target)
        done: dict[str, tuple[float, list[tuple[str, int]]]] = {}
        for state in beam:
            stack = _STACKS.atoms(state.stack)
            if not stack or any(atom != (stack[0][0], 0) for atom in stack) \
                    or stack[0][0] not in targets:
                continue
            base, cost = stack[0][0], state.cost
            if len(stack) > 1:
                if base != 's' or self.join_cost is None:
                    continue
                cost += self.join_cost * (len(stack) - 1)
            if base in done and not cost < done[base][0]:
                continue                 # no cheaper: its path is not needed
            steps = state.path() if len(stack) == 1 else _joined(state.path())
            if steps is not None:
                done[base] = (cost, steps)
        if not done:
            self._fail(sentence, tokens, beam, targets)
        if len(done) == 2 and (done['s'][0]
                               > done['n'][0] + self.sentence_preference):
            steps = done['n'][1]
        else:
            steps = done.get('s', done.get('n'))[1]
        return [category for category, _ in steps], _wires(steps)[0]

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
        stack = _STACKS.atoms(state.stack)
        wires = state.wires()[1]
        # The first unreduced wire names the token where reduction failed.
        owner, start, position = 0, 0, 0
        for category in state.categories():
            width = len(_ATOMS[IMPLICIT_WORDS.get(category,
                                                  (None, category))[1]])
            if wires and start <= wires[0] < start + width:
                owner = position
            start += width
            position += category not in IMPLICIT_WORDS
        left = ' @ '.join(base + ('.l' * -z if z < 0 else '.r' * z)
                          for base, z in stack)
        raise ParseError(f"does not reduce to {' or '.join(targets)} "
                         f"(best attempt leaves {left or 'nothing'})",
                         sentence, tokens[owner], owner)


@dataclass
class BatchResult:
    """Diagrams of a batch and the indices that needed the fallback."""
    diagrams: list[Diagram]
    fallbacks: list[int]


_DEFAULT_PARSERS: dict[tuple[str, str], Parser] = {}


def make_tagger(name: str, spacy_pipeline: str = DEFAULT_PIPELINE
                ) -> Tagger:
    """A tagger by name: ``'lexicon'`` (bundled, offline) or ``'spacy'``
    (reading ``spacy_pipeline``: an installed pipeline package or a
    pipeline directory, :mod:`qnlp.spacy_pipeline`)."""
    if name == 'lexicon':
        return LexiconTagger()
    if name == 'spacy':
        from qnlp.parsing.spacy_tagger import SpacyTagger
        return SpacyTagger(spacy_pipeline)
    raise ConfigError(f"unknown tagger {name!r}; choose 'lexicon' or "
                      "'spacy'")


def make_parser(tagger: str = 'lexicon',
                spacy_pipeline: str = DEFAULT_PIPELINE) -> Parser:
    """A new parser by tagger name: ``'lexicon'`` (the beam search over
    the bundled lexicon's categories) or ``'spacy'`` (categories read off
    the dependency tree of spaCy pipeline ``spacy_pipeline``,
    :class:`~qnlp.parsing.dependency.DependencyParser`).

    >>> type(make_parser('lexicon')).__name__
    'Parser'
    """
    spacy_pipeline = checked(tagger, spacy_pipeline)
    if tagger == 'spacy':
        from qnlp.parsing.dependency import DependencyParser
        return DependencyParser(make_tagger(tagger, spacy_pipeline))
    return Parser(make_tagger(tagger))


def default_parser(tagger: str = 'lexicon',
                   spacy_pipeline: str = DEFAULT_PIPELINE) -> Parser:
    """The shared parser with the named tagger (and spaCy pipeline),
    built on first use by :func:`make_parser`, which refuses a pipeline
    other than the default with another tagger
    (:func:`~qnlp.spacy_pipeline.checked`): such a pair is never built,
    so never shared."""
    key = (tagger, spacy_pipeline)
    if key not in _DEFAULT_PARSERS:
        _DEFAULT_PARSERS[key] = make_parser(tagger, spacy_pipeline)
    return _DEFAULT_PARSERS[key]


def parse(sentence: str, target: str | None = None,
          tagger: str = 'lexicon',
          spacy_pipeline: str = DEFAULT_PIPELINE) -> Diagram:
    """Parse one sentence into a lambeq grammar diagram.

    ``target`` is ``'s'``, ``'n'`` or ``None`` (the cheaper of both);
    raises :class:`~qnlp.errors.ParseError` when nothing reduces.
    ``tagger`` and ``spacy_pipeline`` are those of :func:`make_parser`.

    >>> str(parse('woman cooks tasty meal').cod)
    's'
    """
    return default_parser(tagger, spacy_pipeline).parse(sentence, target)


def parse_many(sentences: Iterable[str], target: str | None = None,
               tagger: str = 'lexicon',
               fallback: Callable[[str], Diagram] | None = None,
               spacy_pipeline: str = DEFAULT_PIPELINE) -> BatchResult:
    """Parse a batch; with ``fallback`` failures are replaced and counted.

    >>> from lambeq import cups_reader
    >>> result = parse_many(['woman cooks meal', 'the the'], target='s',
    ...                     fallback=cups_reader.sentence2diagram)
    >>> len(result.diagrams), result.fallbacks
    (2, [1])
    """
    return default_parser(tagger, spacy_pipeline).parse_many(
        sentences, target, fallback)
