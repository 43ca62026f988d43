"""The diagonal (Frobenius) ansatz: composing words by the grammar's cups
multiplies their amplitudes, so a sentence's class probabilities are the
normalised product of its words' cos^2 / sin^2 (a log-linear bag of
words), checked against that closed form."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import example, given, settings, strategies as st

from qnlp.compiler import make_ansatz
from qnlp.errors import ConfigError
from qnlp.models import DisCoCatClassifier, SentencePipeline

TEXTS = ['woman cooks tasty meal', 'man debugs useful program',
         'skilful woman prepares tasty dinner']


def _product_form(model: DisCoCatClassifier, symbols: list[str]
                  ) -> torch.Tensor:
    """p(c) proportional to the product of cos^2 or sin^2 of
    pi*(theta + 1/4) over the parameters named ``symbols``
    (unnormalised)."""
    values = model.parameter_values()
    factors = torch.ones(2, dtype=torch.float64)
    for symbol in symbols:
        angle = math.pi * (values[symbol] + 0.25)
        factors *= torch.tensor([math.cos(angle) ** 2, math.sin(angle) ** 2])
    return factors


def _word_symbols(model: DisCoCatClassifier, words: list[str]) -> list[str]:
    """The parameter of each word (one a word), read by name."""
    names = model.parameter_values()
    return [next(name for name in names if name.startswith(f'{word}__'))
            for word in words]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=11, max_size=11))
@example([0.25] * 10 + [-0.75])  # a bug of this test: both classes ~0
def test_sentence_probabilities_are_the_product_of_word_factors(angles):
    pipeline = SentencePipeline(ansatz='diagonal')
    circuits = pipeline.circuits(TEXTS)
    model = DisCoCatClassifier.from_circuits(circuits, seed=0,
                                             ansatz='diagonal')
    assert model.weights.numel() == len(angles)  # one parameter a word
    with torch.no_grad():
        model.weights.copy_(torch.tensor(angles, dtype=torch.float64))
    closed = model(circuits)                       # closed form
    general = model.engine(model.weights, circuits)  # the circuits' network
    for text, row, amplitudes in zip(TEXTS, closed, general):
        factors = _product_form(model, _word_symbols(model, text.split()))
        # Where both classes are (numerically) impossible, e.g. an angle of
        # 1/2 beside one of 0, the normalised answer is rounding noise.
        if factors.sum() > 1e-12:
            assert torch.allclose(row, factors / factors.sum(), atol=1e-10)
            assert torch.allclose(amplitudes / amplitudes.sum(), row,
                                  atol=1e-10)


def test_closed_form_gradients_equal_the_networks():
    """Long sentences with repeated words: values and gradients of the
    closed form equal the general contraction's (normalised)."""
    texts = ['woman cooks tasty meal and man cooks tasty dinner',
             'skilful woman prepares tasty meal and skilful man debugs '
             'useful program']
    pipeline = SentencePipeline(ansatz='diagonal')
    circuits = pipeline.circuits(texts)
    model = DisCoCatClassifier.from_circuits(circuits, seed=0,
                                             ansatz='diagonal')
    assert torch.all(model.weights == 0)   # every word starts neutral
    with torch.no_grad():
        model.weights.copy_(torch.linspace(-0.2, 0.3, model.weights.numel(),
                                           dtype=torch.float64))
    closed = model(model.prepare(circuits))
    (closed[:, 1] * torch.tensor([1.0, -2.0])).sum().backward()
    closed_grad, model.weights.grad = model.weights.grad, None
    general = model.engine(model.weights, circuits)
    general = general / general.sum(1, keepdim=True)
    (general[:, 1] * torch.tensor([1.0, -2.0])).sum().backward()
    assert torch.allclose(closed, general, atol=1e-12)
    assert torch.allclose(closed_grad, model.weights.grad, atol=1e-10)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.sampled_from(['woman', 'man', 'cooks', 'tasty', 'meal',
                                 'that', 'prepares', 'skilful', 'and',
                                 'dinner', 'program']),
                min_size=2, max_size=9),
       st.sampled_from(['iqp', 'sim14', 'diagonal']),
       st.booleans())
def test_apply_ansatz_equals_lambeqs_functor(words, name, frobenius):
    from lambeq import RemoveCupsRewriter

    from qnlp.compiler import apply_ansatz
    from qnlp.compiler.ansatz import _FROBENIUS
    from qnlp.errors import ParseError
    from qnlp.parsing import parse
    try:
        diagram = parse(' '.join(words), target=None)
    except ParseError:
        return
    if frobenius:
        diagram = _FROBENIUS(diagram)
    if name != 'diagonal':
        diagram = RemoveCupsRewriter()(diagram)
    ansatz = make_ansatz(name)
    assert apply_ansatz(ansatz, diagram) == ansatz(diagram)
    assert apply_ansatz(ansatz, diagram) == ansatz(diagram)   # cached pieces


def test_more_than_one_qubit_a_wire_is_refused():
    with pytest.raises(ConfigError, match="'diagonal' takes one qubit"):
        make_ansatz('diagonal', sentence_qubits=2)
    with pytest.raises(ConfigError, match='layers 2'):
        make_ansatz('diagonal', layers=2)



def test_tiny_post_selected_norms_are_normalised_exactly():
    """A bug: read-outs were divided by max(norm, 1e-9), so a sentence
    whose post-selected norm fell below that (a factor of about 1/2 a
    cup: 30 cups and more) lost its probabilities."""
    from qnlp.engine.plan import read_out
    amplitudes = torch.tensor([[[3e-12], [4e-12]]], dtype=torch.complex128)
    probabilities = read_out(amplitudes, (2,), mixed=False)
    assert torch.allclose(probabilities, torch.tensor([[0.36, 0.64]],
                          dtype=torch.float64), atol=1e-12)
    zero = read_out(torch.zeros(1, 2, 1, dtype=torch.complex128), (2,),
                    mixed=False)
    assert torch.equal(zero, torch.zeros(1, 2, dtype=torch.float64))


def test_minibatches_select_from_the_prepared_batch():
    pipeline = SentencePipeline(ansatz='diagonal')
    circuits = pipeline.circuits(TEXTS)
    model = DisCoCatClassifier.from_circuits(circuits, seed=0,
                                             ansatz='diagonal')
    with torch.no_grad():
        model.weights.copy_(torch.linspace(-0.2, 0.3, model.weights.numel(),
                                           dtype=torch.float64))
    whole = model.prepare(circuits)
    picked = model(whole.select([2, 0]))
    assert torch.equal(picked, model(model.prepare([circuits[2],
                                                    circuits[0]])))


def test_cups_are_kept_where_lambeqs_cup_removal_fails(monkeypatch):
    """lambeq's RemoveCupsRewriter raised ValueError on a few valid
    diagrams (cup order), stopping a whole corpus; the circuit with its
    cups is the same map, so it is used instead."""
    import lambeq

    from qnlp.compiler import ansatz as ansatz_module
    from qnlp.engine import Engine
    from qnlp.parsing import parse

    diagram = parse('woman cooks tasty meal')
    iqp = make_ansatz('iqp')
    removed = ansatz_module.to_circuit(diagram, iqp)

    class Failing:
        def __call__(self, diagram):
            raise ValueError('cannot remove this cup')
    monkeypatch.setattr(ansatz_module, 'RemoveCupsRewriter', Failing)
    kept = ansatz_module.to_circuit(diagram, iqp)
    assert kept == iqp(diagram) != removed
    engine = Engine.from_diagrams([removed, kept])
    weights = torch.linspace(0.1, 0.9, engine.n_weights, dtype=torch.float64)
    first, second = engine(weights, [removed, kept])
    assert torch.allclose(first / first.sum(), second / second.sum(),
                          atol=1e-10)
    assert lambeq.RemoveCupsRewriter is not Failing


@settings(max_examples=4, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=9, max_size=9),
       st.booleans())
# found by CI: tasty at 0.75 and woman at 0.25 make both classes of two
# sentences ~1e-32, where the closed form and the network disagree in
# rounding noise; such sentences are left out (the old guard read the
# network's normalised output, so it never left any out)
@example(angles=[0.0] * 6 + [0.75, 0.25, 0.0], share=False)
def test_shared_types_and_bias_closed_form_equals_the_network(angles,
                                                               share):
    """``--share-types`` and ``--bias``: the closed form still equals the
    general contraction of the same circuits (normalised), and the bias
    multiplies every sentence's classes by the same factors (sentences
    whose both classes are below 1e-12 are rounding noise and left
    out)."""
    texts = ['woman cooks tasty meal', 'tasty meal cooks tasty meal',
             'skilful woman prepares tasty dinner']
    pipeline = SentencePipeline(ansatz='diagonal', share_types=share,
                                bias=True)
    circuits = pipeline.circuits(texts)
    model = DisCoCatClassifier.from_circuits(circuits, seed=0,
                                             ansatz='diagonal')
    assert ('<bias>__0' if share else '<bias>__s.r@s_0') in \
        model.engine.symbols
    count = model.weights.numel()
    with torch.no_grad():
        model.weights.copy_(torch.tensor(angles[:count],
                                         dtype=torch.float64))
    closed = model(circuits)
    general = model.engine(model.weights, circuits)
    norms = general.sum(1, keepdim=True)
    # both classes below 1e-12: rounding noise in any evaluation
    keep = torch.tensor([_product_form(model, [
        str(symbol) for box in circuit.boxes for symbol in box.free_symbols
    ]).max() > 1e-12 for circuit in circuits])
    assert torch.allclose(closed[keep], (general / norms)[keep], atol=1e-10)
    plain = SentencePipeline(ansatz='diagonal', share_types=share)
    bias_angle = math.pi * (model.parameter_values()[
        '<bias>__0' if share else '<bias>__s.r@s_0'] + 0.25)
    factor = torch.tensor([math.cos(bias_angle) ** 2,
                           math.sin(bias_angle) ** 2], dtype=torch.float64)
    unbiased = model(plain.circuits(texts))
    expected = unbiased * factor
    expected = expected / expected.sum(1, keepdim=True)
    assert torch.allclose(closed[keep], expected[keep], atol=1e-10)


def test_a_word_used_with_two_types_has_one_shared_parameter():
    """*run* as a noun and as a verb: one symbol, read by both gates, in
    the closed form as in the network."""
    from lambeq.backend.grammar import Cup, Id, Ty, Word

    from qnlp.compiler import to_circuit
    n, s = Ty('n'), Ty('s')
    diagram = (Word('run', n) @ Word('run', n.r @ s)) >> (Cup(n, n.r) @ Id(s))
    circuit = to_circuit(diagram, make_ansatz('diagonal', share_types=True))
    assert [s.name for s in circuit.free_symbols] == ['run__0']
    model = DisCoCatClassifier.from_circuits([circuit], ansatz='diagonal')
    with torch.no_grad():
        model.weights.fill_(0.1)
    angle = math.pi * 0.35
    factors = torch.tensor([math.cos(angle) ** 4, math.sin(angle) ** 4],
                           dtype=torch.float64)
    general = model.engine(model.weights, [circuit])
    assert torch.allclose(model([circuit])[0], factors / factors.sum(),
                          atol=1e-12)
    assert torch.allclose(general / general.sum(), factors / factors.sum(),
                          atol=1e-12)


def test_sharing_types_needs_the_diagonal_ansatz():
    from qnlp.tasks.sentences import SentenceSettings
    with pytest.raises(ConfigError, match='--share-types needs --ansatz '
                                          'diagonal'):
        SentenceSettings(share_types=True)
    with pytest.raises(ConfigError, match="needs ansatz 'diagonal'"):
        make_ansatz('iqp', share_types=True)


def test_shared_types_know_a_word_by_any_of_its_types():
    """With ``share_types`` the vocabulary is of words: a word trained as
    a noun keeps its parameter when it comes as a verb (not ``<unk>``),
    and min_count counts its uses of every type."""
    from qnlp.parsing.parser import Parse
    pipeline = SentencePipeline(ansatz='diagonal', share_types=True)
    noun = Parse(['runs', 'end'], ['N', 'IV'], [(0, 1)])
    verb = Parse(['dogs', 'runs'], ['N', 'IV'], [(0, 1)])
    pipeline.remember({'runs end': noun, 'dogs runs': verb})
    pipeline.fit_vocabulary(['runs end', 'dogs runs'], min_count=2)
    (diagram,) = pipeline.diagrams(['dogs runs'])
    assert [box.name for box in diagram.boxes][:2] == ['<unk>', 'runs']
