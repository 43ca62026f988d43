"""lambeq's models and a reader, evaluated by qnlp: switch with one import.

:class:`PytorchQuantumModel`, :class:`NumpyModel` and :class:`PytorchModel`
are lambeq's classes of the same names (same constructors,
``from_diagrams``, ``from_checkpoint``, weights, symbols and checkpoint
files) whose ``get_diagram_output`` runs on :class:`qnlp.engine.Engine`
instead of copying and contracting every diagram one by one. They work
inside lambeq's ``PytorchTrainer`` and ``QuantumTrainer``::

    from lambeq import PytorchTrainer, QuantumTrainer, SPSAOptimizer
    from qnlp.lambeq import NumpyModel, PytorchQuantumModel  # was: lambeq

A diagram the engine cannot simulate (a ``Measure`` or ``Encode`` box, a
box with several symbols) is evaluated by lambeq's own code for that
batch, with a warning naming the box. :class:`PregroupParser` stands in
for ``BobcatParser`` with lambeq's reader interface, offline.

>>> from lambeq import AtomicType, IQPAnsatz, RemoveCupsRewriter
>>> reader = PregroupParser()
>>> diagrams = reader.sentences2diagrams(['woman cooks tasty meal',
...                                       'man prepares software'])
>>> ansatz = IQPAnsatz({AtomicType.NOUN: 1, AtomicType.SENTENCE: 1},
...                    n_layers=1)
>>> circuits = [ansatz(RemoveCupsRewriter()(d)) for d in diagrams]
>>> model = NumpyModel.from_diagrams(circuits)
>>> model.initialise_weights()
>>> model(circuits).shape
(2, 2)
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch
from lambeq import NumpyModel as _LambeqNumpyModel
from lambeq import PytorchModel as _LambeqPytorchModel
from lambeq import PytorchQuantumModel as _LambeqPytorchQuantumModel
from lambeq.backend.grammar import Diagram as GrammarDiagram
from lambeq.core.globals import VerbosityLevel
from lambeq.text2diagram.base import Reader

from qnlp.engine import Engine
from qnlp.errors import CompileError, ParseError, UnknownSymbolError
from qnlp.spacy_pipeline import DEFAULT_PIPELINE

__all__ = ["NumpyModel", "PregroupParser", "PytorchModel",
           "PytorchQuantumModel"]


class _EngineOutput:
    """``get_diagram_output`` by a qnlp :class:`~qnlp.engine.Engine` over
    the model's ``symbols``; rebuilt when the symbols, the dtype or the
    device of the weights change (a loaded checkpoint, ``model.double()``).
    """

    _engine_key: tuple | None = None
    _engine: Engine | None = None

    def _engine_output(self, weights: torch.Tensor,
                       diagrams: Sequence[Any]) -> Any:
        """The engine's outputs for ``diagrams`` with flat ``weights``;
        ``None``, after a warning, when the engine cannot simulate one of
        them (the caller then asks lambeq's own code)."""
        key = (tuple(s.name for s in self.symbols), weights.dtype,
               weights.device)
        if self._engine_key != key:
            self._engine = Engine(self.symbols, dtype=weights.dtype,
                                  device=weights.device)
            self._engine_key = key
        try:
            batch = self._engine.prepare(diagrams)
        except UnknownSymbolError:
            raise
        except CompileError as error:
            warnings.warn(f"qnlp engine cannot simulate a diagram ({error});"
                          " lambeq evaluates this batch", stacklevel=3)
            return None
        return self._engine(weights, batch)


class PytorchQuantumModel(_EngineOutput, _LambeqPytorchQuantumModel):
    """lambeq's ``PytorchQuantumModel``, evaluated by qnlp's engine.

    Probabilities of pure circuits and normalised density matrices of
    mixed ones, differentiable in torch, in float64 as lambeq returns
    them (computed in the precision of the weights).

    >>> from lambeq.backend.quantum import Ket, Rx
    >>> from lambeq.backend.symbol import Symbol
    >>> circuits = [Ket(0) >> Rx(Symbol('a'))]
    >>> model = PytorchQuantumModel.from_diagrams(circuits)
    >>> model.initialise_weights()
    >>> with torch.no_grad():
    ...     _ = model.weights.fill_(0.5)
    >>> model(circuits).round(decimals=4)
    tensor([[0., 1.]], dtype=torch.float64, grad_fn=<RoundBackward1>)
    """

    def get_diagram_output(self, diagrams: list[Any]) -> torch.Tensor:
        output = self._engine_output(self.weights, diagrams)
        if output is None:
            return super().get_diagram_output(diagrams)
        return output.to(torch.float64)


class NumpyModel(_EngineOutput, _LambeqNumpyModel):
    """lambeq's ``NumpyModel``, evaluated by qnlp's engine.

    ``use_jit`` is accepted for lambeq's signature; no JAX compilation is
    needed. Returns a numpy array, as lambeq does.

    >>> from lambeq.backend.quantum import Ket, Ry, Bra
    >>> from lambeq.backend.symbol import Symbol
    >>> circuits = [Ket(0, 0) >> Ry(Symbol('a')) @ Ry(Symbol('b'))
    ...             >> Bra(0) @ Ry(0)]
    >>> model = NumpyModel.from_diagrams(circuits, use_jit=True)
    >>> model.weights = np.array([0.0, 0.5])
    >>> model(circuits).round(6)
    array([[0., 1.]])
    """

    def get_diagram_output(self, diagrams: list[Any]) -> np.ndarray:
        if len(self.weights) == 0 or not self.symbols:
            return super().get_diagram_output(diagrams)  # lambeq's error
        weights = torch.tensor(np.asarray(self.weights))
        with torch.no_grad():
            output = self._engine_output(weights, diagrams)
        if output is None:
            return super().get_diagram_output(diagrams)
        if isinstance(output, list):
            return np.array([o.numpy() for o in output])
        return output.numpy()


class PytorchModel(_EngineOutput, _LambeqPytorchModel):
    """lambeq's ``PytorchModel`` (tensor networks: ``SpiderAnsatz``,
    ``TensorAnsatz``, ``MPSAnsatz``), evaluated by qnlp's engine.

    Returns the raw contraction of every diagram, as lambeq does.

    >>> from lambeq import AtomicType, SpiderAnsatz
    >>> from lambeq.backend.tensor import Dim
    >>> diagram = PregroupParser().sentence2diagram('woman cooks meal')
    >>> ansatz = SpiderAnsatz({AtomicType.NOUN: Dim(2),
    ...                        AtomicType.SENTENCE: Dim(2)})
    >>> model = PytorchModel.from_diagrams([ansatz(diagram)])
    >>> model.initialise_weights()
    >>> model([ansatz(diagram)]).shape
    torch.Size([1, 2])
    """

    def get_diagram_output(self, diagrams: list[Any]) -> torch.Tensor:
        flat = torch.cat([w.reshape(-1) for w in self.weights])
        output = self._engine_output(flat, diagrams)
        if output is None:
            return super().get_diagram_output(diagrams)
        return output


class PregroupParser(Reader):
    """qnlp's offline pregroup parser behind lambeq's reader interface.

    Stands in for ``BobcatParser``: ``sentence2diagram`` and
    ``sentences2diagrams`` with ``tokenised`` and ``suppress_exceptions``
    (a sentence that does not parse becomes ``None``). ``planar`` and
    ``collapse_noun_phrases`` are accepted for ``BobcatParser``'s
    signature and change nothing: these diagrams are planar and noun
    phrases are ``n`` already.

    Parameters
    ----------
    tagger:
        ``'lexicon'`` (bundled, offline) or ``'spacy'`` (see
        :func:`qnlp.parsing.make_parser`).
    target:
        ``'s'``, ``'n'`` or ``None`` (the cheaper parse to either).
    spacy_pipeline:
        The spaCy pipeline of ``tagger='spacy'``: an installed package or
        a trained pipeline directory (the CLI's ``--spacy-pipeline``);
        refused, as a :class:`~qnlp.errors.ConfigError`, with another
        tagger unless it is the default.

    >>> reader = PregroupParser()
    >>> str(reader.sentence2diagram(['woman', 'cooks', 'meal'],
    ...                             tokenised=True).cod)
    's'
    >>> reader.sentences2diagrams(['woman cooks meal', ''],
    ...                           suppress_exceptions=True)[1] is None
    True
    """

    def __init__(self, tagger: str = 'lexicon', target: str | None = None,
                 verbose: str = VerbosityLevel.SUPPRESS.value,
                 spacy_pipeline: str = DEFAULT_PIPELINE) -> None:
        super().__init__(verbose)
        from qnlp.parsing import make_parser
        self.parser = make_parser(tagger, spacy_pipeline)
        self.target = target

    def sentence2diagram(self, sentence: str | list[str],
                         tokenised: bool = False, planar: bool = False,
                         collapse_noun_phrases: bool = True,
                         suppress_exceptions: bool = False
                         ) -> GrammarDiagram | None:
        """The diagram of one sentence (a string, or tokens with
        ``tokenised=True``); ``None`` on failure if
        ``suppress_exceptions``."""
        return self.sentences2diagrams(
            [sentence], tokenised=tokenised,
            suppress_exceptions=suppress_exceptions)[0]

    def sentences2diagrams(self, sentences: Sequence[str | list[str]],
                           tokenised: bool = False, planar: bool = False,
                           collapse_noun_phrases: bool = True,
                           suppress_exceptions: bool = False,
                           verbose: str | None = None
                           ) -> list[GrammarDiagram | None]:
        """The diagrams of ``sentences``, in order; raises
        :class:`~qnlp.errors.ParseError` on the first failure unless
        ``suppress_exceptions`` (then that entry is ``None``)."""
        texts = [_sentence_text(s, tokenised) for s in sentences]
        diagrams: list[GrammarDiagram | None] = []
        for result in self.parser.analyse_many(texts, self.target):
            if isinstance(result, ParseError):
                if not suppress_exceptions:
                    raise result
                diagrams.append(None)
            else:
                diagrams.append(result.diagram)
        return diagrams


def _sentence_text(sentence: Any, tokenised: bool) -> str:
    """One sentence as text, checked as lambeq's parsers check it."""
    if tokenised:
        if not (isinstance(sentence, (list, tuple))
                and all(isinstance(t, str) for t in sentence)):
            raise ValueError('`tokenised` set to `True`, but variable '
                             '`sentence` does not have type `list[str]`.')
        return ' '.join(sentence)
    if not isinstance(sentence, str):
        raise ValueError('`tokenised` set to `False`, but variable '
                         '`sentence` does not have type `str`.')
    return sentence
