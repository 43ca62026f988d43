"""qnlp.lambeq against lambeq's own models, trainers, checkpoints, readers.

The references are lambeq's classes of the same names. lambeq's
``PytorchQuantumModel`` builds its gates from ``torch.eye``, so it
computes in complex64 whatever the weights' dtype; the float64 checks
therefore run it with torch's default dtype set to float64.

In float32 the values agree with lambeq's to 1e-6; float32 gradients do
not agree to 1e-6 with anything, lambeq's own included (its float32
gradients are up to 1e-5 of the largest one away from the float64
truth), so ours are held to 1e-5 of the float64 truth.
"""
from __future__ import annotations

import copy
import warnings

import lambeq
import numpy as np
import pytest
import torch
from lambeq import (AtomicType, BinaryCrossEntropyLoss, Dataset, IQPAnsatz,
                    MPSAnsatz, PytorchTrainer, QuantumTrainer,
                    RemoveCupsRewriter, Sim14Ansatz, Sim15Ansatz,
                    SpiderAnsatz, SPSAOptimizer, StronglyEntanglingAnsatz,
                    TensorAnsatz, cups_reader, spiders_reader, stairs_reader)
from lambeq.backend.numerical_backend import backend
from lambeq.backend.quantum import Bra, Ket, Measure, Rx
from lambeq.backend.symbol import Symbol
from lambeq.backend.tensor import Dim

import qnlp
import qnlp.lambeq as ql
from qnlp.engine import Engine, network
from qnlp.errors import CompileError, ParseError

N, S = AtomicType.NOUN, AtomicType.SENTENCE
SENTENCES = ['woman cooks meal', 'man prepares software']
LABELS = [[1.0, 0.0], [0.0, 1.0]]
READERS = {'pregroup': ql.PregroupParser(), 'cups': cups_reader,
           'spiders': spiders_reader, 'stairs': stairs_reader}
QUANTUM = {'iqp': IQPAnsatz({N: 1, S: 1}, n_layers=1),
           'iqp-discard': IQPAnsatz({N: 1, S: 1}, n_layers=1, discard=True),
           'sim14': Sim14Ansatz({N: 1, S: 1}, n_layers=1),
           'sim15': Sim15Ansatz({N: 1, S: 1}, n_layers=1),
           'strong': StronglyEntanglingAnsatz({N: 1, S: 1}, n_layers=1)}
TENSOR = {'spider': SpiderAnsatz({N: Dim(2), S: Dim(2)}),
          'tensor': TensorAnsatz({N: Dim(2), S: Dim(2)}),
          'mps': MPSAnsatz({N: Dim(2), S: Dim(2)}, bond_dim=3)}


def diagrams(reader: str) -> list:
    return READERS[reader].sentences2diagrams(SENTENCES)


def circuits(reader: str, ansatz: str) -> list:
    """Circuits as lambeq's tutorials make them (cups removed from
    pregroup parses)."""
    found = diagrams(reader)
    if reader == 'pregroup':
        found = [RemoveCupsRewriter()(d) for d in found]
    return [QUANTUM[ansatz](d) for d in found]


def outputs_and_gradients(cls, items, weights, dtype):
    """Outputs and the gradient of their first column's sum."""
    model = cls.from_diagrams(items)
    model.initialise_weights()
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)   # lambeq's gates follow the default
    try:
        if isinstance(model.weights, torch.nn.ParameterList):
            model.weights = torch.nn.ParameterList(
                [w.to(dtype) for w in weights])
        else:
            model.weights = torch.nn.Parameter(weights.to(dtype))
        output = model(items)
        output[:, 0].sum().backward()
    finally:
        torch.set_default_dtype(previous)
    grads = [w.grad for w in model.parameters()]
    return output.detach().double(), torch.cat([g.reshape(-1) for g in grads])


def assert_matches(cls, theirs_cls, items, weights, dtype):
    """Outputs and gradients of ``cls`` against ``theirs_cls`` (see the
    module doc for the tolerances)."""
    values, grads = outputs_and_gradients(cls, items, weights, dtype)
    reference = outputs_and_gradients(theirs_cls, items, weights, dtype)
    if dtype == torch.float64:
        assert float((values - reference[0]).abs().max()) <= 1e-10
        assert float((grads - reference[1]).abs().max()) <= 1e-10
        return
    assert float((values - reference[0]).abs().max()) <= 1e-6
    truth = outputs_and_gradients(theirs_cls, items, weights, torch.float64)
    scale = max(1.0, float(truth[1].abs().max()))
    assert float((grads - truth[1]).abs().max()) <= 1e-5 * scale


#: Every reader and every ansatz at least once, in both dtypes.
QUANTUM_CASES = [('pregroup', 'iqp', torch.float32),
                 ('cups', 'sim14', torch.float64),
                 ('spiders', 'sim15', torch.float32),
                 ('stairs', 'strong', torch.float64),
                 ('pregroup', 'iqp-discard', torch.float64)]


@pytest.mark.parametrize('reader, ansatz, dtype', QUANTUM_CASES)
def test_quantum_model_matches_lambeq(reader, ansatz, dtype):
    items = circuits(reader, ansatz)
    size = len(lambeq.PytorchQuantumModel.from_diagrams(items).symbols)
    weights = torch.rand(size, generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64)
    assert_matches(ql.PytorchQuantumModel, lambeq.PytorchQuantumModel,
                   items, weights, dtype)
    if dtype == torch.float64:   # lambeq's NumpyModel: numpy float64
        numpy_ours = ql.NumpyModel.from_diagrams(items)
        numpy_theirs = lambeq.NumpyModel.from_diagrams(items)
        numpy_ours.weights = numpy_theirs.weights = weights.numpy()
        assert np.abs(numpy_ours(items)
                      - numpy_theirs(items)).max() <= 1e-10


#: lambeq's PytorchModel fails on spider boxes in float64 ("both inputs
#: should have same dtype"), so those run in float32 only.
TENSOR_CASES = [('pregroup', 'mps', torch.float64),
                ('cups', 'spider', torch.float64),
                ('spiders', 'spider', torch.float32),
                ('stairs', 'tensor', torch.float64),
                ('pregroup', 'tensor', torch.float32)]


@pytest.mark.parametrize('reader, ansatz, dtype', TENSOR_CASES)
def test_tensor_model_matches_lambeq(reader, ansatz, dtype):
    # lambeq's PytorchModel cannot contract RemoveCupsRewriter's daggered
    # boxes; with the cups in place both can.
    items = [TENSOR[ansatz](d) for d in diagrams(reader)]
    symbols = lambeq.PytorchModel.from_diagrams(items).symbols
    generator = torch.Generator().manual_seed(0)
    weights = [2 * torch.rand(s.size, generator=generator,
                              dtype=torch.float64) - 1 for s in symbols]
    values, grads = outputs_and_gradients(ql.PytorchModel, items, weights,
                                          dtype)
    reference = outputs_and_gradients(lambeq.PytorchModel, items, weights,
                                      dtype)
    tolerance = 1e-10 if dtype == torch.float64 else 1e-6
    assert float((values - reference[0]).abs().max()) <= tolerance
    assert float((grads - reference[1]).abs().max()) <= tolerance


@pytest.mark.parametrize('ansatz', sorted(TENSOR))
def test_tensor_model_after_cup_removal_matches_lambeq_eval(ansatz):
    """lambeq's PytorchModel fails on these daggered boxes (it moves the
    axes of the flat weights); lambeq's ``eval`` with the weights in the
    box's shape is the reference."""
    items = [TENSOR[ansatz](RemoveCupsRewriter()(d))
             for d in diagrams('pregroup')]
    model = ql.PytorchModel.from_diagrams(items)
    model.initialise_weights()
    model.double()
    values = {s: w.detach().numpy() for s, w in zip(model.symbols,
                                                     model.weights)}
    for item, output in zip(items, model(items).detach().numpy()):
        layers = []
        for layer in item.layers:
            left, box, right = layer.unpack()
            if isinstance(box.data, Symbol):
                dims = (box.cod, box.dom) if isinstance(
                    box, lambeq.backend.tensor.Daggered) else (box.dom,
                                                               box.cod)
                box = copy.copy(box)
                box.data = values[box.data].reshape(dims[0].dim
                                                    + dims[1].dim)
            layers.append(type(layer)(left, box, right))
        reference = type(item)(item.dom, item.cod, layers).eval()
        np.testing.assert_allclose(output, reference, atol=1e-12)


def bce(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A torch loss for PytorchTrainer (lambeq's BinaryCrossEntropyLoss
    computes in numpy or jax)."""
    return torch.nn.functional.binary_cross_entropy(y_hat, y.to(y_hat))


def test_pytorch_trainer_trains_as_with_lambeq(tmp_path):
    """PytorchTrainer switches lambeq to its pytorch backend in ``fit``."""
    items = circuits('pregroup', 'iqp')
    losses = []
    for cls in (ql.PytorchQuantumModel, lambeq.PytorchQuantumModel):
        model = cls.from_diagrams(items)
        model.initialise_weights()
        with torch.no_grad():
            model.weights.copy_(torch.linspace(0.1, 0.9, len(model.weights)))
        trainer = PytorchTrainer(model, bce, epochs=2,
                                 optimizer=torch.optim.Adam,
                                 learning_rate=0.1, verbose='suppress',
                                 seed=0, log_dir=tmp_path / cls.__module__)
        trainer.fit(Dataset(items, LABELS, batch_size=1, shuffle=False))
        losses.append(trainer.train_epoch_costs)
    assert len(losses[0]) == 2
    np.testing.assert_allclose(losses[0], losses[1], atol=1e-5)


def test_quantum_trainer_trains_as_with_lambeq(tmp_path):
    """QuantumTrainer keeps lambeq's numpy backend; SPSA draws the same
    perturbations, so the weights after 2 epochs agree."""
    items = circuits('pregroup', 'iqp')
    weights = []
    for cls in (ql.NumpyModel, lambeq.NumpyModel):
        model = cls.from_diagrams(items)
        model.weights = np.linspace(0.1, 0.9, len(model.symbols))
        trainer = QuantumTrainer(
            model, BinaryCrossEntropyLoss(), epochs=2,
            optimizer=SPSAOptimizer,
            optim_hyperparams={'a': 0.05, 'c': 0.06, 'A': 0.002},
            verbose='suppress', seed=0, log_dir=tmp_path / cls.__module__)
        trainer.fit(Dataset(items, LABELS, batch_size=1, shuffle=False))
        weights.append(np.asarray(model.weights))
    assert not np.allclose(weights[0], np.linspace(0.1, 0.9, len(weights[0])))
    np.testing.assert_allclose(weights[0], weights[1], atol=1e-10)


@pytest.mark.parametrize('numerical_backend', ['numpy', 'pytorch'])
def test_numpy_model_under_any_lambeq_backend(numerical_backend,
                                              monkeypatch):
    monkeypatch.setattr(network, '_COEFFICIENTS', {})   # probe afresh
    items = circuits('cups', 'iqp')
    ours = ql.NumpyModel.from_diagrams(items)
    ours.weights = np.linspace(0.1, 0.9, len(ours.symbols))
    expected = lambeq.NumpyModel.from_diagrams(items)
    expected.weights = ours.weights
    with backend(numerical_backend):
        output = ours(items)
    np.testing.assert_allclose(output, expected(items), atol=1e-10)


def test_checkpoints_load_in_either_library(tmp_path):
    items = circuits('pregroup', 'iqp')
    model = ql.PytorchQuantumModel.from_diagrams(items)
    model.initialise_weights()
    PytorchTrainer(model, bce, epochs=1,
                   verbose='suppress', seed=0, log_dir=tmp_path).fit(
        Dataset(items, LABELS, batch_size=1))
    expected = model(items).detach()
    for cls in (ql.PytorchQuantumModel, lambeq.PytorchQuantumModel):
        loaded = cls.from_checkpoint(tmp_path / 'model.lt')
        assert [s.name for s in loaded.symbols] == \
            [s.name for s in model.symbols]
        torch.testing.assert_close(loaded(items).detach().float(),
                                   expected.float(), atol=1e-6, rtol=0)
    # NumpyModel: saved by lambeq, loaded by qnlp.
    theirs = lambeq.NumpyModel.from_diagrams(items)
    theirs.initialise_weights()
    theirs.save(tmp_path / 'numpy.lt')
    ours = ql.NumpyModel.from_checkpoint(tmp_path / 'numpy.lt')
    np.testing.assert_allclose(ours(items), theirs(items), atol=1e-10)


def test_reader_interface():
    reader = ql.PregroupParser()
    diagram = reader.sentence2diagram('woman cooks tasty meal')
    assert diagram == qnlp.parse('woman cooks tasty meal')
    assert reader.sentence2diagram(['woman', 'cooks', 'tasty', 'meal'],
                                   tokenised=True) == diagram
    assert reader.sentences2diagrams(['woman cooks tasty meal', 'the the'],
                                     suppress_exceptions=True) == \
        [diagram, None]
    with pytest.raises(ParseError, match="the the"):
        reader.sentences2diagrams(['the the'])
    with pytest.raises(ValueError, match='list\\[str\\]'):
        reader.sentence2diagram('woman cooks', tokenised=True)
    with pytest.raises(ValueError, match='type `str`'):
        reader.sentence2diagram(['woman', 'cooks'])
    assert str(ql.PregroupParser(target='n').sentence2diagram(
        'person that teacher teach').cod) == 'n'


def test_reader_and_parse_take_a_spacy_pipeline(tmp_path):
    """The CLI's --spacy-pipeline through the Python API: passed on to
    the parser, refused with the lexicon tagger (also once the shared
    lexicon parser is built)."""
    from qnlp.errors import ConfigError
    pytest.importorskip('spacy')
    gone = str(tmp_path / 'gone')
    with pytest.raises(ConfigError, match=f'{gone}: no such directory'):
        ql.PregroupParser(tagger='spacy', spacy_pipeline=gone)
    with pytest.raises(ConfigError, match='needs --tagger spacy'):
        ql.PregroupParser(spacy_pipeline='en_core_web_trf')
    qnlp.parse('woman cooks meal')
    with pytest.raises(ConfigError, match='needs --tagger spacy'):
        qnlp.parse('woman cooks meal', spacy_pipeline='en_core_web_trf')
    with pytest.raises(ConfigError, match='needs --tagger spacy'):
        qnlp.compile('woman cooks meal', spacy_pipeline='en_core_web_trf')
    with pytest.raises(ConfigError, match=f'{gone}: no such directory'):
        qnlp.parsing.parse_many(['woman cooks meal'], tagger='spacy',
                                spacy_pipeline=gone)


def test_diagrams_without_parameters_evaluate():
    from discopy.quantum import gates
    closed = [Ket(0) >> Rx(0.25) >> Bra(0), gates.Ket(0) >> gates.Rx(0.25)
              >> gates.Bra(0)]
    engine = Engine()
    expected = np.cos(np.pi / 4) ** 2     # lambeq's Rx(p) turns by pi p
    assert engine(torch.zeros(0), closed).tolist() == pytest.approx(
        [expected, expected], abs=1e-12)
    open_circuit = [Ket(0) >> Rx(0.5), Ket(1) >> Rx(0)]
    np.testing.assert_allclose(engine(torch.zeros(0), open_circuit),
                               [[0.0, 1.0], [0.0, 1.0]], atol=1e-12)


def test_discopy_circuits_evaluate_as_lambeqs():
    import sympy
    from discopy.quantum import gates
    a, b = sympy.Symbol('a'), sympy.Symbol('b')
    ours = (gates.Ket(0, 0) >> gates.H @ gates.Rx(a) >> gates.CRz(b)
            >> gates.Ry(2 * a) @ gates.Bra(0))
    reference = (Ket(0, 0) >> lambeq.backend.quantum.H @ Rx(Symbol('a'))
                 >> lambeq.backend.quantum.CRz(Symbol('b'))
                 >> lambeq.backend.quantum.Ry(2 * Symbol('a'))
                 @ Bra(0))
    engine = Engine.from_diagrams([ours])
    assert engine.symbols == ['a', 'b']
    weights = torch.tensor([0.3, 0.7], dtype=torch.float64)
    torch.testing.assert_close(engine(weights, [ours]),
                               engine(weights, [reference]),
                               atol=1e-12, rtol=0)


def test_discopy_diagrams_that_are_not_circuits_are_refused():
    from discopy.grammar.pregroup import Ty, Word
    with pytest.raises(CompileError, match='apply an ansatz first'):
        Engine()(torch.zeros(0), [Word('meal', Ty('n'))])
    import sympy
    from discopy.quantum import gates
    product = gates.Ket(0) >> gates.Rx(sympy.Symbol('a') * sympy.Symbol('b'))
    with pytest.raises(CompileError, match='one symbol times a number'):
        Engine(['a', 'b'])(torch.zeros(2), [product])


def test_what_the_engine_cannot_simulate_falls_back_to_lambeq():
    items = [Ket(0, 0) >> Rx(Symbol('a')) @ Rx(Symbol('b'))
             >> Measure() @ Bra(0)]
    ours, theirs = (cls.from_diagrams(items)
                    for cls in (ql.NumpyModel, lambeq.NumpyModel))
    ours.weights = theirs.weights = np.array([0.2, 0.4])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        output = ours(items)
    assert any('lambeq evaluates this batch' in str(w.message)
               for w in caught)
    np.testing.assert_allclose(output, theirs(items), atol=1e-12)
