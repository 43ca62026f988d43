"""Proteins: FASTA validation, tokenisers, circuits vs the batched scan."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnlp.baselines import CompositionClassifier
from qnlp.cli import main
from qnlp.data.fasta import crop, deeploc_membrane_task, read_fasta
from qnlp.engine import Engine
from qnlp.errors import CorpusError
from qnlp.models import SequenceClassifier
from qnlp.parsing.protein import chain_circuit, tokenise_protein, tree_circuit
from tests.conftest import ROOT

PROTEINS = ROOT / 'corpora' / 'proteins'


@pytest.mark.parametrize('text,message', [
    ('>A x\nMKB1L\n', "line 2.*invalid residue '1' at column 4|2: invalid"),
    ('>A x\n>B y\nMK\n', 'empty sequence'),
    ('>A\nMK\n', 'no label'),
    ('>A x\nMK\n>A y\nLL\n', "duplicate ID 'A'"),
    ('MK\n>A x\nLL\n', 'before the first'),
])
def test_fasta_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / 'bad.fasta'
    path.write_text(text)
    with pytest.raises(CorpusError, match=message):
        read_fasta(path)


def test_label_patterns_and_deeploc_task(tmp_path):
    path = tmp_path / 'd.fasta'
    path.write_text('>P1 Cell.membrane-M\nMK\n>P2 Cytoplasm-S\nLL\n'
                    '>P3 Cytoplasm-Nucleus-U\nAA\n>P4 Nucleus-U\nGG\n')
    data = deeploc_membrane_task([path])
    assert [(r.id, r.label) for r in data.records] == [('P1', '1'),
                                                       ('P2', '0')]
    assert data.skipped == 2


def test_crop_and_tokenisers():
    assert crop('ABCDEFGHIJ', 4, 'ends') == 'ABIJ'
    assert tokenise_protein('MKLVAD', 'kmer', 3) == ['MKL', 'VAD']
    assert tokenise_protein('MKD', 'hp') == ['h', 'p', 'p']


def _variant(mode, sharing):
    if mode == 'chain':
        return lambda tokens: chain_circuit(tokens, layers=2,
                                            sharing=sharing, block=3)
    return lambda tokens: tree_circuit(tokens, layers=2, sharing=sharing)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.text('ACDK', min_size=1, max_size=7), min_size=1,
                max_size=3),
       st.sampled_from(['chain', 'tree']),
       st.sampled_from(['uniform', 'hierarchical']), st.integers(0, 99))
def test_scan_matches_contracting_the_circuit(sequences, mode, sharing,
                                              seed):
    vocabulary = list('ACDK')
    model = SequenceClassifier(vocabulary, mode, sharing, layers=2, block=3,
                               max_length=8, seed=seed)
    rho = model.density(model.prepare(
        [[vocabulary.index(c) for c in s] for s in sequences]))
    values = model.symbol_values()
    for row, sequence in enumerate(sequences):
        circuit = _variant(mode, sharing)(list(sequence))
        engine = Engine.from_diagrams([circuit])
        weights = torch.tensor([values[name] for name in engine.symbols],
                               dtype=torch.float64)
        out = engine(weights, [circuit])[0]
        expected = out if out.dim() == 1 else out.diagonal()
        ours = rho[row].diagonal().real
        torch.testing.assert_close(ours / ours.sum(),
                                   expected / expected.sum())


def test_scan_gradients_reach_every_parameter():
    model = SequenceClassifier(list('ACDK'), 'tree', 'hierarchical', 2,
                               max_length=16)
    tokens = model.prepare([[0, 1, 2, 3, 0, 1, 2, 3, 0], [3, 2, 1]])
    model(tokens)[:, 1].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.parameters())


def test_proteins_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / 'run'
    assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                 str(out), '--epochs', '2', '--max-length', '80',
                 '--model', 'chain', '--quiet']) == 0
    assert (out / 'metrics.json').exists()
    assert 'test accuracy' in capsys.readouterr().out


def test_composition_baseline_separates_bundled_proteins():
    data = read_fasta(PROTEINS / 'proteins.fasta').records
    train, test = data[:120], data[120:]
    model = CompositionClassifier().fit([r.sequence for r in train],
                                        [r.label for r in train])
    assert model.score([r.sequence for r in test],
                       [r.label for r in test]) >= 0.8
