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
from typing import Callable, Iterable, Protocol, Sequence

from lambeq.backend.grammar import Cup, Diagram, Word

from qnlp.errors import ParseError
from qnlp.parsing.lexicon import LexiconTagger
from qnlp.parsing.types import CATEGORY_TYPES

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*(?:_[A-Z]+)?|[^\sA-Za-z0-9]")
_PUNCTUATION = set(".,;:!?\"'()[]{}-")


class Tagger(Protocol):
    """Anything that proposes ``(category, cost)`` pairs for a token."""

    def candidates(self, token: str) -> list[tuple[str, float]]: ...


def tokenise(sentence: str) -> list[str]:
    """Split ``sentence`` into word tokens, dropping punctuation.

    >>> tokenise("The chef's soup, hot .")
    ['The', "chef's", 'soup', 'hot']
    """
    return [t for t in _TOKEN.findall(sentence) if t not in _PUNCTUATION]


@dataclass(frozen=True)
class _State:
    stack: tuple[tuple[str, int, int], ...]   # (base, adjoint z, wire)
    cost: float
    categories: tuple[str, ...]
    cups: tuple[tuple[int, int], ...]
    n_wires: int


def _push(state: _State, category: str, cost: float) -> _State:
    stack = list(state.stack)
    cups = list(state.cups)
    wire = state.n_wires
    for atom in CATEGORY_TYPES[category]:
        base, z = atom.name, atom.z
        if stack and stack[-1][0] == base and z == stack[-1][1] + 1:
            cups.append((stack[-1][2], wire))
            stack.pop()
        else:
            stack.append((base, z, wire))
        wire += 1
    return _State(tuple(stack), state.cost + cost,
                  state.categories + (category,), tuple(cups), wire)


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
        """The same grammar with other word names (e.g. ``<unk>``)."""
        boxes = [Word(word, CATEGORY_TYPES[category])
                 for word, category in zip(words, self.categories)]
        return Diagram.create_pregroup_diagram(
            boxes, [(Cup, left, right) for left, right in self.cups])


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
    """

    def __init__(self, tagger: Tagger | None = None,
                 beam_width: int = 64) -> None:
        self.tagger = tagger or LexiconTagger()
        self.beam_width = beam_width

    def _candidates(self, token: str) -> list[tuple[str, float]]:
        tag = split_tag(token)[1]
        if tag is not None:
            return [(tag, 0.0)]
        return self.tagger.candidates(token)

    def analyse(self, sentence: str, target: str | None = None) -> Parse:
        """Parse ``sentence`` and return tokens, categories and diagram.

        ``target`` is ``'s'``, ``'n'`` or ``None`` (either, ``s`` first).
        """
        tokens = tokenise(sentence)
        if not tokens:
            raise ParseError("no words to parse", sentence)
        beam = [_State((), 0.0, (), (), 0)]
        for token in tokens:
            options = self._candidates(token)
            best: dict[tuple, _State] = {}
            for state in beam:
                for category, cost in options:
                    new = _push(state, category, cost)
                    # Equal type stacks have equal futures: keep the best.
                    key = tuple(atom[:2] for atom in new.stack)
                    if key not in best or new.cost < best[key].cost:
                        best[key] = new
            # Rank by cost plus a charge per unreduced wire, so that cheap
            # but hopeless stacks do not crowd out the reducible ones.
            beam = sorted(best.values(),
                          key=lambda s: s.cost + len(s.stack))
            beam = beam[:self.beam_width]
        targets = ('s', 'n') if target is None else (target,)
        for goal in targets:
            done = [s for s in beam if len(s.stack) == 1
                    and s.stack[0][:2] == (goal, 0)]
            if done:
                state = min(done, key=lambda s: s.cost)
                return Parse([split_tag(t)[0] for t in tokens],
                             list(state.categories), list(state.cups))
        self._fail(sentence, tokens, beam, targets)

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
              targets: tuple[str, ...]) -> None:
        state = beam[0]
        # The first unreduced wire names the token where reduction failed.
        owner, start = 0, 0
        for position, category in enumerate(state.categories):
            width = len(CATEGORY_TYPES[category])
            if state.stack and start <= state.stack[0][2] < start + width:
                owner = position
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


_DEFAULT_PARSER: Parser | None = None


def parse(sentence: str, target: str | None = None) -> Diagram:
    """Parse one sentence with the default (lexicon) parser.

    >>> str(parse('woman cooks tasty meal').cod)
    's'
    """
    global _DEFAULT_PARSER
    if _DEFAULT_PARSER is None:
        _DEFAULT_PARSER = Parser()
    return _DEFAULT_PARSER.parse(sentence, target)
