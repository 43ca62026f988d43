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


def _product_form(model: DisCoCatClassifier, words: list[str]
                  ) -> torch.Tensor:
    """p(c) proportional to the product of cos^2 or sin^2 of pi*theta
    (unnormalised)."""
    values = model.parameter_values()
    factors = torch.ones(2, dtype=torch.float64)
    for word in words:
        (theta,) = [v for name, v in values.items()
                    if name.startswith(f'{word}__')]
        factors *= torch.tensor([math.cos(math.pi * theta) ** 2,
                                 math.sin(math.pi * theta) ** 2])
    return factors


@settings(max_examples=10, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=11, max_size=11))
@example([0.0] * 10 + [-0.5])  # a bug of this test: both classes ~0
def test_sentence_probabilities_are_the_product_of_word_factors(angles):
    pipeline = SentencePipeline(ansatz='diagonal')
    circuits = pipeline.circuits(TEXTS)
    model = DisCoCatClassifier.from_circuits(circuits, seed=0)
    assert model.weights.numel() == len(angles)  # one parameter a word
    with torch.no_grad():
        model.weights.copy_(torch.tensor(angles, dtype=torch.float64))
    probabilities = model(circuits)
    for text, row in zip(TEXTS, probabilities):
        factors = _product_form(model, text.split())
        # Where both classes are (numerically) impossible, e.g. an angle of
        # 1/2 beside one of 0, the normalised answer is rounding noise.
        if factors.sum() > 1e-12:
            assert torch.allclose(row, factors / factors.sum(), atol=1e-10)


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
