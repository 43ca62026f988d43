"""Proteins: FASTA validation, tokenisers, circuits vs the batched scan."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

from qnlp.baselines import CompositionClassifier, HydropathyClassifier
from qnlp.baselines.protein import KYTE_DOOLITTLE
from qnlp.cli import main
from qnlp.data.fasta import crop, deeploc_membrane_task, read_fasta
from qnlp.engine import Engine
from qnlp.errors import ConfigError, CorpusError
from qnlp.models import SequenceClassifier
from qnlp.parsing.protein import chain_circuit, tokenise_protein, tree_circuit
from qnlp.tasks.proteins import make_sequence_model
from tests.conftest import ROOT, assert_refused_in_one_line

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


def _variant(mode, sharing, qubits, block):
    if mode == 'chain':
        return lambda tokens: chain_circuit(tokens, layers=3 - qubits,
                                            qubits=qubits, sharing=sharing,
                                            block=block)
    return lambda tokens: tree_circuit(tokens, layers=3 - qubits,
                                       sharing=sharing, qubits=qubits)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.text('ACDK', min_size=1, max_size=5), min_size=1,
                max_size=3),
       st.sampled_from(['chain', 'tree']),
       st.sampled_from(['uniform', 'hierarchical']), st.integers(0, 99),
       st.sampled_from([1, 1, 2]), st.sampled_from([2, 3]))
def test_scan_matches_contracting_the_circuit(sequences, mode, sharing,
                                              seed, qubits, block):
    """The transfer-matrix scan and the level-by-level tree give the
    density matrix of contracting the lambeq circuit (1 or 2 qubits a
    wire), at random weights far from the identity start."""
    vocabulary = list('ACDK')
    model = SequenceClassifier(vocabulary, mode, sharing, layers=3 - qubits,
                               block=block, max_length=8, seed=seed,
                               qubits=qubits, init_scale=1.0)
    rho = model.density(model.prepare(
        [[vocabulary.index(c) for c in s] for s in sequences]))
    values = model.symbol_values()
    for row, sequence in enumerate(sequences):
        circuit = _variant(mode, sharing, qubits, block)(list(sequence))
        engine = Engine.from_diagrams([circuit])
        weights = torch.tensor([values[name] for name in engine.symbols],
                               dtype=torch.float64)
        out = engine(weights, [circuit])[0]
        d = 2 ** qubits
        # a mixed output is a density matrix, a pure one probabilities
        expected = (out.reshape(d, d).diagonal() if out.numel() == d * d
                    else out.reshape(d))
        ours = rho[row].diagonal().real
        torch.testing.assert_close(ours / ours.sum(),
                                   expected / expected.sum())


@pytest.mark.parametrize('qubits,block', [(1, 2), (1, 3), (2, 2), (2, 3)])
def test_chain_scan_and_pairwise_product_agree(qubits, block):
    """A batch with at least as many rows as steps is scanned; a single
    long row is reduced as a pairwise matrix product: same states."""
    model = SequenceClassifier(list('ACDK'), 'chain', 'hierarchical',
                               layers=1, block=block, max_length=8,
                               qubits=qubits, init_scale=1.0, seed=5)
    sequences = [[0, 1, 2, 3, 0, 1], [3, 2, 1], [2], [1, 1, 0, 3, 2],
                 [0, 0, 0, 0, 0, 0], [3, 1, 2, 0, 2, 1]]
    with torch.no_grad():
        batch = model.pauli_vectors(model.prepare(sequences))
        for row, sequence in enumerate(sequences):
            alone = model.pauli_vectors(model.prepare([sequence]))[0]
            torch.testing.assert_close(batch[row], alone)


def test_scan_gradients_reach_every_parameter():
    model = SequenceClassifier(list('ACDK'), 'tree', 'hierarchical', 2,
                               max_length=16)
    tokens = model.prepare([[0, 1, 2, 3, 0, 1, 2, 3, 0], [3, 2, 1]])
    model(tokens)[:, 1].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.parameters())


def test_proteins_cli_end_to_end(tmp_path, capsys, monkeypatch):
    threads = []
    monkeypatch.setattr(torch, 'set_num_threads', threads.append)
    out = tmp_path / 'run'
    assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                 str(out), '--epochs', '2', '--max-length', '80',
                 '--model', 'chain', '--quiet', '--threads', '1']) == 0
    assert threads == [1]       # --threads applies to every task
    assert (out / 'metrics.json').exists()
    assert 'test accuracy' in capsys.readouterr().out


def test_proteins_cli_cross_validation_fold(tmp_path, capsys):
    out = tmp_path / 'fold'
    assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                 str(out), '--epochs', '1', '--max-length', '60',
                 '--folds', '4', '--fold', '1', '--window', '0', '--quiet']) == 0
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['test_examples'] == 40          # a quarter of 160
    config = json.loads((out / 'config.json').read_text())
    assert config['settings']['window'] == 0      # one circuit a sequence
    # read-out 2, 21 tokens x 4 angles (2 qubits), 60 residues = 8 blocks
    # of 42 merge angles
    assert metrics['n_parameters'] == 2 + 21 * 4 + 8 * 42
    assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                 str(tmp_path / 'bad'), '--folds', '4', '--fold', '4',
                 '--quiet']) == 2
    assert 'fold must lie in 0..3' in capsys.readouterr().err


def test_composition_baseline_separates_bundled_proteins():
    data = read_fasta(PROTEINS / 'proteins.fasta').records
    train, test = data[:120], data[120:]
    model = CompositionClassifier().fit([r.sequence for r in train],
                                        [r.label for r in train])
    assert model.score([r.sequence for r in test],
                       [r.label for r in test]) >= 0.8


def test_hydropathy_scan_finds_the_most_hydrophobic_window():
    """The scan features against a direct computation."""
    model = HydropathyClassifier(window=4, threshold=2.0)
    sequence = 'DDDDIVLIDDDD' + 'KKKK'
    values = [KYTE_DOOLITTLE[a] for a in sequence]
    means = [sum(values[i:i + 4]) / 4 for i in range(len(values) - 3)]
    features = model._features([sequence])[0]
    assert features[:20].sum() == pytest.approx(1.0)
    assert features[20] == pytest.approx(max(means) / 4.5)
    assert features[21] == pytest.approx(math.log1p(sum(
        m > 2.0 for m in means)))
    data = read_fasta(PROTEINS / 'proteins.fasta').records
    fitted = HydropathyClassifier().fit([r.sequence for r in data[:120]],
                                        [r.label for r in data[:120]])
    assert fitted.score([r.sequence for r in data[120:]],
                        [r.label for r in data[120:]]) >= 0.8


def test_esm2_baseline_with_a_tiny_random_model():
    """The ESM-2 embedding path end to end, with a randomly initialised
    one-layer ESM-2 (real weights cannot be downloaded offline)."""
    esm = pytest.importorskip('esm')
    from qnlp.baselines import EsmEmbeddingClassifier
    torch.manual_seed(0)
    alphabet = esm.Alphabet.from_architecture('ESM-1b')
    encoder = esm.model.esm2.ESM2(num_layers=1, embed_dim=16,
                                  attention_heads=2, alphabet=alphabet)
    hydrophobic = ['AVLIVLAVLIVL', 'LLIVAVVLLIV', 'IVLAVLIVAL', 'VVLLIIAAVL']
    polar = ['DEKRDEKRDE', 'KDERKDEKRS', 'EKDRSTNQDE', 'RKDESTDEKR']
    model = EsmEmbeddingClassifier(encoder, alphabet, batch_size=3).fit(
        hydrophobic + polar, [1] * 4 + [0] * 4)
    assert model.predict_proba(['AVLIV', 'DEKRD']).shape == (2, 2)
    assert model.score(hydrophobic + polar, [1] * 4 + [0] * 4) == 1.0
    assert model.n_parameters == 17
    assert model.encoder_parameters > 1000


@settings(max_examples=15, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=20),
                min_size=1, max_size=4),
       st.sampled_from([(4, 1), (4, 2), (4, 4), (8, 2), (8, 4), (8, 8),
                        (6, 2), (8, 3), (8, 6), (12, 4)]),
       st.sampled_from(['uniform', 'hierarchical']), st.sampled_from([1, 2]),
       st.sampled_from(['z', 'xyz']))
def test_tree_windows_sharing_lower_levels_match_windows_alone(
        sequences, window_stride, sharing, qubits, axes):
    """The tree computes the levels that overlapping windows share once
    per sequence: every window's read-outs (one per axis) are still those
    of the window evaluated alone."""
    window, stride = window_stride
    model = SequenceClassifier(list('ACDK'), 'tree', sharing, layers=1,
                               max_length=16, seed=1, window=window,
                               stride=stride, qubits=qubits, init_scale=1.0,
                               axes=axes)
    tokens = model.prepare(sequences)
    with torch.no_grad():
        z, valid = model.window_readouts(tokens)
        windows = model.windows(tokens)
        for row in range(len(sequences)):
            for w in range(windows.shape[1]):
                if valid[row, w]:
                    alone = model._readout(windows[row, w][None])[0]
                    torch.testing.assert_close(z[row, w], alone)


@pytest.mark.parametrize('mode', ['chain', 'tree'])
def test_windows_are_read_out_one_by_one_and_pooled(mode):
    """Each window's read-out is the read-out of that window alone; the
    pooled score is a soft maximum over windows holding tokens."""
    model = SequenceClassifier(list('ACDK'), mode, 'hierarchical', layers=1,
                               block=2, max_length=8, seed=3, window=4,
                               stride=2, init_scale=1.0)
    tokens = model.prepare([[0, 1, 2, 3, 0, 1, 2], [3, 2]])
    with torch.no_grad():
        z, valid = model.window_readouts(tokens)
        assert valid.tolist() == [[True, True, True], [True, False, False]]
        assert torch.allclose(z[0, 1], model._readout(tokens[:1, 2:6])[0])
        assert torch.allclose(z[1, 0], model._readout(tokens[1:, :2])[0])
        probability = model(tokens)[:, 1]
        w_max, bias, log_t, w_min = model.readout
        t = log_t.exp()
        pooled = (w_max * t * torch.logsumexp(z[0] / t, 0)
                  - w_min * t * torch.logsumexp(-z[0] / t, 0))
        assert torch.allclose(probability[0], torch.sigmoid(pooled + bias))
        assert torch.allclose(probability[1], torch.sigmoid(
            (w_max + w_min) * z[1, 0] + bias))


def test_composition_readout_adds_a_linear_term_to_the_logit():
    """``composition=True``: the logit is the plain model's plus the
    token shares (padding not counted) times the trained weights."""
    tokens = torch.tensor([[0, 1, 1, 2, -1, -1], [2, 2, 0, 1, 0, 1]])
    plain = SequenceClassifier(list('AKL'), 'chain', window=4, seed=3)
    hybrid = SequenceClassifier(list('AKL'), 'chain', window=4, seed=3,
                                composition=True)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    with torch.no_grad():
        hybrid.composition_weights.copy_(weights)
    shares = torch.tensor([[1 / 4, 2 / 4, 1 / 4], [2 / 6, 2 / 6, 2 / 6]],
                          dtype=torch.float64)
    torch.testing.assert_close(hybrid.token_composition(tokens), shares)
    logit = torch.special.logit
    torch.testing.assert_close(logit(hybrid(tokens)[:, 1]),
                               logit(plain(tokens)[:, 1]) + shares @ weights)
    assert hybrid.n_parameters == plain.n_parameters + 3


def test_residue_features_start_from_the_plain_model_and_are_trained():
    from qnlp.data.fasta import residue_features
    vocabulary = list('AKLV') + ['<unk>']
    plain = SequenceClassifier(vocabulary, 'chain', 'hierarchical', block=2,
                               max_length=8, window=4, seed=1)
    features = residue_features(vocabulary, ['kd', 'charge', 'size'])
    model = SequenceClassifier(vocabulary, 'chain', 'hierarchical', block=2,
                               max_length=8, window=4, seed=1,
                               features=features)
    tokens = torch.tensor([[0, 1, 2, 3, 4, 0, 2]])
    torch.testing.assert_close(model(tokens), plain(tokens), rtol=0,
                               atol=1e-14)
    model(tokens)[0, 1].backward()
    assert model.feature_weights.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match='chain'):
        SequenceClassifier(vocabulary, 'tree', window=4, features=features)


def _scan_by_hand(values, window=19, threshold=1.6):
    """The hydropathy scan of one sequence, window by window."""
    values = values or [0.0]
    width = min(window, len(values))
    means = [sum(values[i:i + width]) / width
             for i in range(len(values) - width + 1)]
    # a mean within rounding of the threshold counts either way
    assume(all(abs(m - threshold) > 1e-9 for m in means))
    return [max(means) / 4.5, math.log1p(sum(m > threshold for m in means))]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text('AIKLDVX', min_size=1, max_size=45), min_size=1,
                max_size=4))
def test_scan_side_input_matches_the_scan_window_by_window(sequences):
    """``scan_values``: the two scan features of each row of a padded
    batch (tokens as the protein task makes them, unknown residues 0)
    are the hydropathy scan of that sequence alone, computed window by
    window; the logit is the plain model's plus their trained read-out."""
    vocabulary = list('AIKLDV') + ['<unk>']
    index = {t: i for i, t in enumerate(vocabulary)}
    kd = [KYTE_DOOLITTLE.get(t, 0.0) for t in vocabulary]
    plain = SequenceClassifier(vocabulary, 'chain', window=8, seed=2)
    model = SequenceClassifier(vocabulary, 'chain', window=8, seed=2,
                               scan_values=kd)
    tokens = model.prepare([[index.get(a, 6) for a in s] for s in sequences])
    expected = torch.tensor([_scan_by_hand([KYTE_DOOLITTLE.get(a, 0.0)
                                            for a in s]) for s in sequences],
                            dtype=torch.float64)
    torch.testing.assert_close(model.scan_features(tokens), expected)
    weights = torch.tensor([1.5, -0.7], dtype=torch.float64)
    with torch.no_grad():
        model.scan_weights.copy_(weights)
        logit = torch.special.logit
        torch.testing.assert_close(
            logit(model(tokens)[:, 1]),
            logit(plain(tokens)[:, 1]) + expected @ weights)


def test_scan_side_input_starts_from_the_plain_model_and_is_restored():
    """``--scan-features``: two weights, starting at zero (the plain
    model's numbers), counted, trained, fingerprinted and restored."""
    from qnlp.tasks.proteins import ProteinSettings, ProteinTask
    settings = ProteinSettings(scan_features=True, window=4, qubits=1,
                               composition=True)
    vocabulary = list('AKLV') + ['<unk>']
    plain = make_sequence_model(vocabulary, ProteinSettings(
        window=4, qubits=1, composition=True))
    model = make_sequence_model(vocabulary, settings)
    tokens = torch.tensor([[0, 1, 2, 3, 4, 0, 2, 1, 1], [2] * 9])
    torch.testing.assert_close(model(tokens), plain(tokens), rtol=0, atol=0)
    assert model.n_parameters == plain.n_parameters + 2
    assert model.fingerprint()['scan_values'] == [1.8, -3.9, 3.8, 4.2, 0.0]
    model(tokens)[:, 1].sum().backward()
    assert model.scan_weights.grad.abs().sum().item() > 0
    with torch.no_grad():
        model.scan_weights.fill_(-3.0)
    restored = ProteinTask().restore(settings, {'vocabulary': vocabulary},
                                     model.state_dict(), None)
    torch.testing.assert_close(restored(tokens), model(tokens))
    with pytest.raises(ConfigError, match='one a vocabulary entry'):
        SequenceClassifier(vocabulary, 'chain', scan_values=[1.0])


@pytest.mark.parametrize('options,message', [
    (['--scan-features', '--tokens', 'kmer'], 'use --tokens residue'),
    (['--residue-features', 'kd,mass'], "unknown \\['mass'\\]"),
    (['--residue-features', 'kd', '--model', 'tree'], 'need --model chain'),
    (['--pooling', 'max-min-mean', '--window', '0'], 'give --window > 0'),
])
def test_residue_feature_options_are_checked(tmp_path, capsys, options,
                                             message):
    assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                 str(tmp_path / 'r'), '--quiet', *options]) == 2
    error = capsys.readouterr().err
    assert re.search(message, error) and error.count('\n') == 1


@settings(max_examples=8, deadline=None)
@given(lengths=st.lists(st.integers(1, 13), min_size=1, max_size=3),
       seed=st.integers(0, 20), axes=st.sampled_from(['z', 'xyz']),
       ends=st.booleans())
def test_mean_pooling_matches_a_window_by_window_loop(lengths, seed, axes,
                                                     ends):
    """``pooling='max-min-mean'``: for each read-out axis, the soft
    maximum minus the soft minimum plus ``w`` times the mean read-out over
    the windows that hold tokens, each window read out alone (a plain
    loop), plus with ``ends`` weights times the first and last windows'
    read-outs; the logit sums the axes."""
    generator = torch.Generator().manual_seed(seed)
    model = SequenceClassifier(list('ACDK'), 'chain', 'hierarchical',
                               layers=1, block=2, max_length=8, seed=seed,
                               window=4, stride=2, init_scale=1.0,
                               pooling='max-min-mean', axes=axes, ends=ends)
    with torch.no_grad():
        for weights in (model.readout, model.axis_readout, model.mean_weight,
                        model.end_weights):
            if weights is not None:
                weights.copy_(torch.randn(weights.shape, generator=generator,
                                          dtype=torch.float64))
    rows = [torch.randint(0, 4, (n,), generator=generator).tolist()
            for n in lengths]
    w_max, bias, log_t, w_min = model.readout.tolist()
    weights = [(w_max, log_t, w_min)] + (
        [] if model.axis_readout is None else model.axis_readout.tolist())
    with torch.no_grad():
        probability = model(model.prepare(rows))[:, 1]
    for row, p in zip(rows, probability.tolist()):
        logit = 0.0
        for axis, (w_max, log_t, w_min) in enumerate(weights):
            t, z = math.exp(log_t), []
            for start in range(0, max(1, len(row) - 2), 2):
                window = row[start:start + 4]
                with torch.no_grad():
                    z.append(model._readout(torch.tensor([window]))[0, axis]
                             .item())
            soft_max = t * math.log(sum(math.exp(v / t) for v in z))
            soft_min = t * math.log(sum(math.exp(-v / t) for v in z))
            logit += w_max * soft_max - w_min * soft_min \
                + model.mean_weight[axis].item() * sum(z) / len(z)
            if ends:
                first, last = model.end_weights[:, axis].tolist()
                logit += first * z[0] + last * z[-1]
        assert p == pytest.approx(1 / (1 + math.exp(-logit - bias)),
                                  rel=1e-9, abs=1e-12)


@pytest.mark.parametrize('mode', ['chain', 'tree'])
def test_a_sequence_pools_the_same_windows_in_any_batch(mode):
    """Padding to a longer batch-mate adds no window: a sequence's
    probability is the one it has alone."""
    model = SequenceClassifier(list('ACDK'), mode, 'hierarchical', layers=1,
                               block=2, max_length=8, seed=1, window=4,
                               stride=2, init_scale=1.0)
    rows = [[0, 1, 2, 3, 1], [3, 2, 1, 0, 1, 2, 3, 0, 1], [2], [1, 2, 3]]
    with torch.no_grad():
        together = model(model.prepare(rows))
        # columns of padding only (beyond every sequence) change nothing
        wider = torch.nn.functional.pad(model.prepare(rows), (0, 7),
                                        value=-1)
        torch.testing.assert_close(model(wider), together)
        for row, probability in zip(rows, together):
            torch.testing.assert_close(probability,
                                       model(model.prepare([row]))[0])


def test_mean_pooling_starts_from_the_plain_model_and_is_restored():
    """The mean's weight starts at zero (the plain model's numbers), is
    counted, trained, in the fingerprint and in a restored model."""
    from qnlp.tasks.proteins import ProteinSettings, ProteinTask
    settings = ProteinSettings(pooling='max-min-mean', window=4, qubits=1)
    vocabulary = list('AKLV') + ['<unk>']
    plain = make_sequence_model(vocabulary, ProteinSettings(window=4,
                                                            qubits=1))
    model = make_sequence_model(vocabulary, settings)
    tokens = torch.tensor([[0, 1, 2, 3, 4, 0, 2, 1, 1], [3] * 9])
    torch.testing.assert_close(model(tokens), plain(tokens), rtol=0,
                               atol=0)
    assert model.n_parameters == plain.n_parameters + 1
    assert model.fingerprint()['pooling'] == 'max-min-mean'
    assert 'pooling' not in plain.fingerprint()
    model(tokens)[:, 1].sum().backward()
    assert model.mean_weight.grad.abs().item() > 0
    with torch.no_grad():
        model.mean_weight.fill_(-3.0)
    restored = ProteinTask().restore(settings, {'vocabulary': vocabulary},
                                     model.state_dict(), None)
    torch.testing.assert_close(restored(tokens), model(tokens))


@pytest.mark.parametrize('option, window, added, weights, key', [
    ({'readout_axes': 'xyz'}, 0, 2, 'axis_readout', 'axes'),
    ({'readout_axes': 'xyz'}, 4, 6, 'axis_readout', 'axes'),
    ({'end_readouts': True}, 4, 2, 'end_weights', 'ends'),
    ({'end_readouts': True, 'readout_axes': 'xyz'}, 4, 12, 'end_weights',
     'ends')])
def test_added_readouts_start_from_the_plain_model_and_are_restored(
        option, window, added, weights, key):
    """``readout_axes='xyz'`` (<X> and <Y> weights: 3 each with windows,
    1 without) and ``end_readouts`` (first and last windows, an entry per
    axis): weights start at zero (the plain model's numbers), are
    counted, trained, in the fingerprint and in a restored model."""
    from qnlp.tasks.proteins import ProteinSettings, ProteinTask
    settings = ProteinSettings(window=window, qubits=1, **option)
    vocabulary = list('AKLV') + ['<unk>']
    plain = make_sequence_model(vocabulary, ProteinSettings(window=window,
                                                            qubits=1))
    model = make_sequence_model(vocabulary, settings)
    tokens = torch.tensor([[0, 1, 2, 3, 4, 0, 2, 1, 1], [3] * 9])
    torch.testing.assert_close(model(tokens), plain(tokens), rtol=0,
                               atol=0)
    assert model.n_parameters == plain.n_parameters + added
    assert key in model.fingerprint() and key not in plain.fingerprint()
    model(tokens)[:, 1].sum().backward()
    added_weights = getattr(model, weights)
    assert added_weights.grad[:, 0].abs().min() > 0
    with torch.no_grad():
        added_weights.normal_(generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(model(tokens), plain(tokens))
    restored = ProteinTask().restore(settings, {'vocabulary': vocabulary},
                                     model.state_dict(), None)
    torch.testing.assert_close(restored(tokens), model(tokens))


def test_readout_axes_from_the_cli(tmp_path, capsys):
    """``--readout-axes xyz`` trains, is recorded and counted; a value
    that is not a choice is one line naming the option, exit 2, nothing
    written."""
    runs = {}
    for axes in ('z', 'xyz'):
        runs[axes] = tmp_path / axes
        assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                     str(runs[axes]), '--epochs', '1', '--max-length', '40',
                     '--window', '8', '--qubits', '1', '--readout-axes',
                     axes, '--quiet']) == 0
    config = json.loads((runs['xyz'] / 'config.json').read_text())
    assert config['settings']['readout_axes'] == 'xyz'
    counts = [json.loads((runs[a] / 'metrics.json').read_text())
              ['n_parameters'] for a in ('z', 'xyz')]
    assert counts[1] == counts[0] + 6
    train = ['train', '--task', 'proteins', str(PROTEINS)]
    assert_refused_in_one_line([*train, '--readout-axes', 'xy'],
                               tmp_path / 'bad', capsys, 'readout_axes')
    assert_refused_in_one_line([*train, '--window', '0', '--end-readouts'],
                               tmp_path / 'bad', capsys, 'end_readouts')


@pytest.mark.parametrize('window', [0, 4])
def test_n_terminus_starts_from_the_plain_model_and_is_restored(window):
    """``n_terminus``: its merge block and weight are counted and drawn
    after the rest (the other parameters are the plain model's); the
    weight starts at zero (the plain model's numbers), is trained, and the
    logit adds it times :meth:`terminus_readout`; in the fingerprint and
    in a restored model."""
    from qnlp.parsing.protein import n_merge_angles
    from qnlp.tasks.proteins import ProteinSettings, ProteinTask
    settings = ProteinSettings(window=window, qubits=1, n_terminus=3)
    vocabulary = list('AKLV') + ['<unk>']
    plain = make_sequence_model(vocabulary, ProteinSettings(window=window,
                                                            qubits=1))
    model = make_sequence_model(vocabulary, settings)
    tokens = torch.tensor([[0, 1, 2, 3, 4, 0, 2, 1, 1], [3, 2] + [-1] * 7])
    torch.testing.assert_close(model(tokens), plain(tokens), rtol=0,
                               atol=0)
    assert model.n_parameters == plain.n_parameters + n_merge_angles(1, 2) + 1
    assert model.fingerprint()['n_terminus'] == 3
    assert 'n_terminus' not in plain.fingerprint()
    model(tokens)[:, 1].sum().backward()
    assert model.terminus_weight.grad.abs().item() > 0
    with torch.no_grad():
        model.terminus_weight.fill_(0.7)
        z = model.terminus_readout(tokens)
        p_plain = plain(tokens)[:, 1]
        expected = torch.sigmoid(torch.logit(p_plain) + 0.7 * z)
        torch.testing.assert_close(model(tokens)[:, 1], expected)
    assert not torch.allclose(z[0], z[1])
    restored = ProteinTask().restore(settings, {'vocabulary': vocabulary},
                                     model.state_dict(), None)
    torch.testing.assert_close(restored(tokens), model(tokens))


def test_n_terminus_from_the_cli(tmp_path, capsys):
    """``--n-terminus N`` trains, is recorded and counted; a negative N is
    one line naming the option, exit 2, nothing written."""
    from qnlp.parsing.protein import n_merge_angles
    counts = []
    for n_terminus in ('0', '12'):
        run = tmp_path / n_terminus
        assert main(['train', '--task', 'proteins', str(PROTEINS), '--out',
                     str(run), '--epochs', '1', '--max-length', '40',
                     '--window', '8', '--qubits', '1', '--n-terminus',
                     n_terminus, '--quiet']) == 0
        counts.append(json.loads((run / 'metrics.json').read_text())
                      ['n_parameters'])
    config = json.loads((run / 'config.json').read_text())
    assert config['settings']['n_terminus'] == 12
    assert counts[1] == counts[0] + n_merge_angles(1, 2) + 1
    assert_refused_in_one_line(['train', '--task', 'proteins', str(PROTEINS),
                                '--n-terminus', '-1'], tmp_path / 'bad',
                               capsys, 'n_terminus')
    with pytest.raises(ConfigError, match='n_terminus'):
        SequenceClassifier(['A'], 'chain', n_terminus=-2)


def test_unknown_readout_axes_and_ends_without_windows_are_refused():
    with pytest.raises(ConfigError, match="read-out axes 'xy'"):
        SequenceClassifier(['A'], 'chain', window=4, axes='xy')
    with pytest.raises(ConfigError, match="give a window"):
        SequenceClassifier(['A'], 'chain', window=0, ends=True)


def test_split_seed_fixes_the_folds_across_model_seeds():
    from qnlp.tasks.proteins import ProteinSettings, load_protein_split
    ids = [[r.id for r in load_protein_split(PROTEINS, ProteinSettings(
        seed=seed, split_seed=0, folds=4, fold=1))[2]] for seed in (0, 1)]
    assert ids[0] == ids[1]
    other = load_protein_split(PROTEINS, ProteinSettings(seed=1, folds=4,
                                                         fold=1))[2]
    assert [r.id for r in other] != ids[0]
