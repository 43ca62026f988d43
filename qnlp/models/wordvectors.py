"""Word parameters from frozen word vectors (``--word-params embedding``).

A DisCoCat model normally trains each word's circuit parameters on their
own, so a rare word learns little and an unseen one is read as
``<unk>``. Here a word's parameters are computed from a frozen vector of
the word instead: one trained linear map per *role* (the pregroup type of
the word's box and the parameter's place in it, see
:func:`qnlp.compiler.symbol_word`), ``angle = W_role . x_word + b_role``,
optionally plus a trained per-word correction that starts at 0. A word
never seen in training gets its parameters from its vector.

:class:`WordVectors` is the table word -> vector of one embedding model
(:data:`EMBEDDERS`), kept on disk in the user cache
(:func:`qnlp.files.cache_dir`) so that each word is encoded once per
user; :class:`WordMap` is the part of
:class:`~qnlp.models.DisCoCatClassifier` that turns vectors into the
engine's flat parameter vector.

>>> import tempfile
>>> table = WordVectors('char-ngrams', folder=tempfile.mkdtemp())
>>> table(['cook', 'cooks']).shape
(2, 64)
>>> words = WordMap(table, seed=0)
>>> words.add(['cook__n_0', 'cook__n_1', 'cooks__n_0', 'cooks__n_1'], [1] * 4)
>>> words().shape, words.words, words.roles
(torch.Size([4]), ['cook', 'cooks'], [('__n_0', 0), ('__n_1', 0)])
"""
from __future__ import annotations

import math
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from qnlp.compiler import symbol_word
from qnlp.errors import ConfigError
from qnlp.files import atomic_path, cache_dir

#: A function from words to their vectors, one row per word.
Embedder = Callable[[Sequence[str]], np.ndarray]

def _minilm() -> Embedder:
    from qnlp.baselines.text import load_sentence_encoder
    encoder = load_sentence_encoder()
    return lambda words: encoder.encode(list(words), batch_size=256,
                                        show_progress_bar=False)


def char_ngrams(words: Sequence[str], dimension: int = 64) -> np.ndarray:
    """Hashed character 1- to 3-grams of each word (``<`` and ``>`` mark
    its ends): offline, no package, similar for words that share
    letters (*cook*, *cooks*).

    >>> vectors = char_ngrams(['cook', 'cooks', 'sky'])
    >>> bool(vectors[0] @ vectors[1] > vectors[0] @ vectors[2])
    True
    """
    import zlib
    out = np.zeros((len(words), dimension), dtype=np.float32)
    for row, word in enumerate(words):
        marked = f'<{word}>'
        for n in (1, 2, 3):
            for i in range(len(marked) - n + 1):
                out[row, zlib.crc32(marked[i:i + n].encode()) % dimension] += 1
    return out


#: Embedding model name -> a function that loads it (once per table)
#: and returns its :data:`Embedder`. Add an entry to use other vectors.
EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    'all-MiniLM-L6-v2': _minilm,
    'char-ngrams': lambda: char_ngrams,
}


def check_embedder(name: str) -> None:
    """ConfigError unless ``name`` is a key of :data:`EMBEDDERS`."""
    if name not in EMBEDDERS:
        raise ConfigError(f"word_vectors must be one of "
                          f"{', '.join(EMBEDDERS)}, got {name!r}")


class WordVectors:
    """Word -> frozen vector of the embedding model ``model``, cached.

    A call encodes the words it has not seen in one batch (the model is
    loaded then, once) and adds them to the file
    ``<cache>/word-vectors/<model>.npz`` (written atomically; a file that
    cannot be read or written is only a slower run), so a second run
    encodes nothing. ``folder`` replaces the user cache folder.
    """

    def __init__(self, model: str = 'all-MiniLM-L6-v2',
                 folder: str | Path | None = None) -> None:
        check_embedder(model)
        self.model = model
        self.path = Path(folder or cache_dir()) / 'word-vectors' / \
            f"{model.replace('/', '_')}.npz"
        self._embed: Embedder | None = None
        self._table: dict[str, np.ndarray] | None = None

    def _read(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path) as stored:
                return dict(zip(stored['words'].tolist(),
                                stored['vectors'].astype(np.float32)))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return {}

    def _save(self) -> None:
        table = {**self._read(), **self._table}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as temporary, \
                    open(temporary, 'wb') as handle:
                np.savez(handle, words=np.array(list(table), dtype=str),
                         vectors=np.stack(list(table.values())))
        except OSError as error:
            print(f"qnlp: warning: cannot cache word vectors in "
                  f"{self.path} ({error.strerror or error})",
                  file=sys.stderr)

    def remember(self, words: Sequence[str], vectors: Any) -> None:
        """Take these vectors as known (e.g. a run's own), without
        writing them to the cache."""
        table = self._table if self._table is not None else self._read()
        table.update(zip(words, np.asarray(vectors, dtype=np.float32)))
        self._table = table

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        """Vectors of ``words``, ``[len(words), dimension]`` float32."""
        if self._table is None:
            self._table = self._read()
        missing = sorted(set(words) - self._table.keys())
        if missing:
            if self._embed is None:
                self._embed = EMBEDDERS[self.model]()
            vectors = np.asarray(self._embed(missing), dtype=np.float32)
            self._table.update(zip(missing, vectors))
            self._save()
        return np.stack([self._table[w] for w in words])


class WordMap(torch.nn.Module):
    """The flat parameter vector of word symbols, from word vectors.

    Each symbol (``word``, ``role``) of size ``k`` takes ``k`` places of
    the vector; place ``j`` is ``maps[r] . x + bias[r]`` (+
    ``correction``), with ``r`` the row of ``(role, j)`` and ``x`` the
    word's vector scaled to length ``1/sqrt(dimension)`` (so that one
    Adam step on the map moves a word's angle by about the learning
    rate, as in per-word training). ``vectors``: words -> vectors (a
    :class:`WordVectors`); ``split``: symbol name -> ``(word, role)``.

    The biases start uniform in ``[0, 1)`` (the per-word
    initialisation), the maps and the correction at 0: every word starts
    at its roles' biases, and its vector moves it only as far as training
    moved the maps. A random start of the maps would give an unseen word
    noise that no training word ever corrected (RP, 18 dev sentences,
    6 runs: mean dev accuracy 0.94 with a random start, 1.0 with 0).
    """

    def __init__(self, vectors: Embedder, seed: int = 0,
                 correction: bool = False,
                 split: Callable[[str], tuple[str, str]] = symbol_word,
                 dtype: torch.dtype = torch.float64,
                 device: Any = None) -> None:
        super().__init__()
        self.vectors_of, self.split = vectors, split
        self.generator = torch.Generator().manual_seed(seed)
        self.words: list[str] = []
        self.roles: list[tuple[str, int]] = []
        self._word_rows: dict[str, int] = {}
        self._role_rows: dict[tuple[str, int], int] = {}
        empty = torch.zeros(0, dtype=dtype, device=device)
        self.register_buffer('vectors', empty.reshape(0, 0))
        self.register_buffer('word_index', torch.zeros(
            0, dtype=torch.long, device=device), persistent=False)
        self.register_buffer('role_index', torch.zeros(
            0, dtype=torch.long, device=device), persistent=False)
        self.maps = torch.nn.Parameter(empty.reshape(0, 0))
        self.bias = torch.nn.Parameter(empty)
        self.correction = torch.nn.Parameter(empty) if correction else None

    @property
    def dimension(self) -> int:
        return self.vectors.shape[1]

    def add(self, names: Sequence[str], sizes: Sequence[int],
            fill: float | None = None) -> None:
        """Append places for symbols ``names`` of ``sizes``: new words
        get their vectors (one call of ``vectors``), new roles a zero map
        and a bias of ``fill``, or the initialisation above when ``fill``
        is None and this is the first call (later: uniform in ``[0, 1)``
        from torch's global generator); the correction of new places
        is 0."""
        parts = [self.split(name) for name in names]
        new_words = list(dict.fromkeys(w for w, _ in parts
                                       if w not in self._word_rows))
        new_roles = list(dict.fromkeys(
            (role, j) for (_, role), size in zip(parts, sizes)
            for j in range(size) if (role, j) not in self._role_rows))
        if new_words:
            found = torch.as_tensor(np.asarray(self.vectors_of(new_words)))
            if self.words and found.shape[1] != self.dimension:
                raise ConfigError(f"word vectors of {found.shape[1]} numbers"
                                  f", the model's have {self.dimension}")
            rows = self.vectors if self.words else \
                self.vectors.new_zeros(0, found.shape[1])
            self.vectors = torch.cat([rows, found.to(rows)])
            for word in new_words:
                self._word_rows[word] = len(self.words)
                self.words.append(word)
        if new_roles:
            self._add_roles(len(new_roles), fill)
            for role in new_roles:
                self._role_rows[role] = len(self.roles)
                self.roles.append(role)
        words, roles = [], []
        for (word, role), size in zip(parts, sizes):
            words += [self._word_rows[word]] * size
            roles += [self._role_rows[role, j] for j in range(size)]
        like = self.word_index
        self.word_index = torch.cat([like, like.new_tensor(words)])
        self.role_index = torch.cat([self.role_index, like.new_tensor(roles)])
        if self.correction is not None:
            self.correction = torch.nn.Parameter(torch.cat([
                self.correction.detach(),
                self.correction.new_zeros(len(words))]))

    def _add_roles(self, count: int, fill: float | None) -> None:
        like = self.bias
        if fill is not None:
            bias = torch.full((count,), fill, dtype=torch.float64)
        else:
            bias = torch.rand(count, dtype=torch.float64, generator=None
                              if self.roles else self.generator)
        maps = torch.zeros(count, self.dimension, dtype=torch.float64)
        self.bias = torch.nn.Parameter(torch.cat([like.detach(),
                                                  bias.to(like)]))
        old = self.maps.detach() if self.roles else \
            like.new_zeros(0, self.dimension)
        self.maps = torch.nn.Parameter(torch.cat([old, maps.to(like)]))

    def features(self) -> torch.Tensor:
        """The words' vectors scaled to length ``1/sqrt(dimension)``
        (a zero vector stays zero)."""
        return torch.nn.functional.normalize(self.vectors, dim=1) / \
            math.sqrt(max(self.dimension, 1))

    def forward(self) -> torch.Tensor:
        """The flat parameter vector, in the order of :meth:`add`."""
        x = self.features()[self.word_index]
        flat = (self.maps[self.role_index] * x).sum(1) + \
            self.bias[self.role_index]
        if self.correction is not None:
            flat = flat + self.correction
        return flat
