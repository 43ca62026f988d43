"""The lexicon tagger: bundled function words plus suffix heuristics.

:meth:`LexiconTagger.candidates` lists the categories a token may take,
each with a cost (lower is more likely). The parser then searches for
the cheapest assignment whose types reduce, so position is decided by the
grammar itself: in *fresh chef roasts bread* only ``fresh`` = ADJ reduces.

>>> tagger = LexiconTagger()
>>> tagger.candidates('that')[0]
('RELS', 0.0)
>>> min(tagger.candidates('skillful'), key=lambda c: c[1])[0]
'ADJ'
"""
from __future__ import annotations

from pathlib import Path

from qnlp.errors import CorpusError
from qnlp.parsing.types import CATEGORY_TYPES

FUNCTION_WORDS: dict[str, tuple[str, ...]] = {
    **{w: ('DET',) for w in 'a an the this that these those every each '
       'some any no my your his her its our their'.split()},
    **{w: ('RELS', 'RELO') for w in 'that which who whom'.split()},
}
# "that" is both a determiner and a relative pronoun; the search decides.
FUNCTION_WORDS['that'] = ('RELS', 'RELO', 'DET')

ADJECTIVE_SUFFIXES = ('ful', 'ous', 'ive', 'able', 'ible', 'ic', 'less',
                      'ish', 'ary', 'y')
VERB_SUFFIXES = ('ize', 'ise', 'ify', 'ate')
NOUN_SUFFIXES = ('tion', 'sion', 'ment', 'ness', 'ity', 'er', 'or', 'ist',
                 'ism', 'ance', 'ence', 'ship', 'ware')

#: Base cost of each open category before suffix hints.
_BASE_COST = {'N': 0.0, 'ADJ': 1.0, 'TV': 1.0, 'IV': 1.5}


def _third_person(word: str) -> bool:
    return (len(word) > 3 and word.endswith('s')
            and not word.endswith(('ss', 'us', 'is', 'ous')))


class LexiconTagger:
    """Tags tokens from the bundled lexicon, a user lexicon and suffixes.

    Parameters
    ----------
    user_lexicon:
        Extra ``word -> categories`` entries that override the bundled
        ones, or a path to a file of ``word CATEGORY [CATEGORY ...]`` lines.
    """

    def __init__(self, user_lexicon: dict[str, tuple[str, ...]] | str
                 | Path | None = None) -> None:
        self.lexicon: dict[str, tuple[str, ...]] = dict(FUNCTION_WORDS)
        if isinstance(user_lexicon, (str, Path)):
            user_lexicon = load_lexicon(user_lexicon)
        self.lexicon.update(user_lexicon or {})

    def candidates(self, token: str) -> list[tuple[str, float]]:
        """Categories ``token`` may take, with costs (lower is likelier)."""
        word = token.lower()
        if word in self.lexicon:
            return [(cat, 0.1 * rank)
                    for rank, cat in enumerate(self.lexicon[word])]
        cost = dict(_BASE_COST)
        if word.endswith(ADJECTIVE_SUFFIXES):
            cost['ADJ'] -= 0.8
            cost['N'] += 0.5
        if word.endswith(VERB_SUFFIXES):
            cost['TV'] -= 0.7
            cost['IV'] -= 0.7
        if word.endswith(NOUN_SUFFIXES):
            cost['N'] -= 0.2
            cost['ADJ'] += 0.5
        if _third_person(word):
            cost['TV'] -= 0.7
            cost['IV'] -= 0.7
            cost['N'] += 0.4
        return sorted(cost.items(), key=lambda item: item[1])


def load_lexicon(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read ``word CATEGORY [CATEGORY ...]`` lines (``#`` starts a comment)."""
    lexicon: dict[str, tuple[str, ...]] = {}
    text = Path(path).read_text(encoding='utf-8')
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        word, *categories = line.split()
        unknown = [c for c in categories if c not in CATEGORY_TYPES]
        if not categories or unknown:
            raise CorpusError(f"expected 'word CATEGORY...', categories from "
                              f"{sorted(CATEGORY_TYPES)}; got {line!r}",
                              str(path), number)
        lexicon[word.lower()] = tuple(categories)
    return lexicon
