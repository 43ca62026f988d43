"""`qnlp compare --variant NAME=OPTIONS` and cross-validation (`--folds`):
several quantum models in one table, every model on every fold of every
seed, resumable (issue 23, item 4)."""
from __future__ import annotations

import json
import random
import statistics

import pytest

from qnlp.cli import main
from qnlp.train import trainer
from tests.conftest import BUNDLED
from tests.test_proteins_cv import protein_cv

#: A small, fast protein model (the variants change it further).
TINY = ['--task', 'proteins', '--epochs', '2', '--window', '0',
        '--layers', '1', '--qubits', '1', '--sharing', 'uniform',
        '--max-length', '12', '--batch-size', '0', '--quiet']
CV = ['--folds', '2', '--seeds', '0,1', '--baselines', 'composition',
      '--ensemble',
      '--variant', 'plain=', '--variant', 'hybrid=--composition --lr 0.05']


@pytest.fixture(autouse=True)
def no_plots(monkeypatch):
    """Charts are not what is tested here (they cost 0.5-1 s each)."""
    for target in ('qnlp.tasks.compare.plot_comparison',
                   'qnlp.train.plots.plot_history'):   # imported when used
        monkeypatch.setattr(target, lambda *args, **kwargs: None)


@pytest.fixture(scope='module')
def fasta(tmp_path_factory):
    """24 records of 12 residues: hydrophobic = 1, charged = 0."""
    rng = random.Random(0)
    lines = []
    for i in range(24):
        alphabet = 'LIVFAMWGT' if i % 2 else 'DEKRNQSGT'
        lines += [f'>P{i} {i % 2}',
                  ''.join(rng.choice(alphabet) for _ in range(12))]
    path = tmp_path_factory.mktemp('fasta') / 'tiny.fasta'
    path.write_text('\n'.join(lines) + '\n')
    return path


def _interrupted_after(writes: int, args: list[str], monkeypatch) -> int:
    """``qnlp ARGS`` stopped (Ctrl-C) right after the ``writes``-th
    history write of its training runs."""
    real_write, calls = trainer.atomic_write_text, []

    def write(path, text):
        real_write(path, text)
        calls.append(path)
        if len(calls) == writes:
            raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(trainer, 'atomic_write_text', write)
        return main(args)


def test_variants_in_cross_validation_resume_and_table(
        fasta, tmp_path, monkeypatch, capsys):
    out = tmp_path / 'cmp'
    args = ['compare', str(fasta), '--out', str(out), *TINY, *CV]
    # Stopped in the second epoch of the third quantum run (seed 0,
    # fold 1, plain): two runs finished, one holds a checkpoint.
    assert _interrupted_after(6, args, monkeypatch) == 130
    runs = out / 'runs'
    finished = runs / 'plain-seed0-fold0' / 'metrics.json'
    before = finished.stat().st_mtime_ns
    assert (runs / 'hybrid-seed0-fold0' / 'metrics.json').exists()
    assert not (runs / 'plain-seed0-fold1' / 'metrics.json').exists()
    assert (runs / 'plain-seed0-fold1' / 'checkpoint.safetensors').exists()
    capsys.readouterr()

    assert main(args) == 0
    assert finished.stat().st_mtime_ns == before   # reused, not retrained
    history = (runs / 'plain-seed0-fold1' / 'history.jsonl').read_text()
    assert [json.loads(line)['epoch'] for line in history.splitlines()] \
        == [1, 2]                                   # resumed at epoch 2
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        f'{name}-seed{seed}-fold{fold}' for name in ('plain', 'hybrid')
        for seed in (0, 1) for fold in (0, 1))

    found = json.loads((out / 'comparison.json').read_text())
    assert set(found['models']) == {'plain', 'hybrid', 'composition',
                                    'plain x2', 'hybrid x2'}
    assert found['seeds'] == [0, 1] and found['folds'] == 2
    assert found['settings']['split_seed'] == 0    # folds fixed over seeds
    assert found['variants']['hybrid']['composition'] is True
    assert found['variants']['hybrid']['lr'] == 0.05
    for name, runs_of in found['runs'].items():
        assert [(r['seed'], r['fold']) for r in runs_of] == ([
            ('0+1', 0), ('0+1', 1)] if name.endswith('x2') else [
            (0, 0), (0, 1), (1, 0), (1, 1)])
        per_seed = [statistics.mean(r['accuracy'] for r in runs_of
                                    if r['seed'] == seed)
                    for seed in dict.fromkeys(r['seed'] for r in runs_of)]
        row = found['models'][name]
        assert row['accuracy_mean'] == pytest.approx(
            statistics.mean(per_seed))
        assert row['accuracy_std'] == pytest.approx(
            statistics.stdev(per_seed) if len(per_seed) > 1 else 0)
        assert row['fold_accuracy'] == pytest.approx([statistics.mean(
            r['accuracy'] for r in runs_of if r['fold'] == fold)
            for fold in (0, 1)])
    hybrid, plain = (found['models'][n]['parameters']
                     for n in ('hybrid', 'plain'))
    assert hybrid > plain        # the composition read-out's weights
    # The ensemble of both seeds, fold by fold, as protein_cv.py scores
    # it (a separate implementation), with the members' parameters.
    scored = protein_cv.rows_of([protein_cv.scored_run(str(run), fasta)
                                 for run in sorted(runs.glob('plain-*'))],
                                ensemble=True)
    assert [r['accuracy'] for r in found['runs']['plain x2']] == [
        pytest.approx(statistics.mean(hit for _, hit in
                                      scored['0+1', f'fold{fold}'][0]))
        for fold in (0, 1)]
    assert found['models']['plain x2']['parameters'] == 2 * plain
    # The same folds for both seeds: the deterministic baseline agrees.
    composition = found['runs']['composition']
    assert [r['accuracy'] for r in composition[:2]] == \
        [r['accuracy'] for r in composition[2:]]
    table = capsys.readouterr().out
    assert '2-fold cross-validation, folds of split seed 0' in table
    assert '| hybrid |' in table and '| model | fold 0 | fold 1 |' in table

    # A variant of the same name with other options is refused.
    changed = [*args[:-1], 'hybrid=--composition --lr 0.02']
    assert main(changed) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and 'hybrid-seed0-fold0: the run was made with ' \
        'other settings (differs in lr)' in error[0]


@pytest.mark.parametrize('variant, message', [
    ('q=--qubits 9', '--variant q: qubits must be at most 4, got 9'),
    ('q=--qbits 1', '--variant q: unrecognized arguments: --qbits 1'),
    ('q=--qubits', '--variant q: argument --qubits: expected one argument'),
    ('q=--tagger spacy', '--variant q: --tagger is not an option of --task '
                         'proteins'),
    ('q=--folds 3', '--variant q: --folds is set by the command for every '
                    'model'),
    ('q=--lr "0.1', '--variant q: No closing quotation'),
    ('q/1=--qubits 1', "variant name 'q/1': use letters, digits"),
    ('composition=', 'variant composition: also the name of a baseline'),
    ('--qubits 1', "--variant '--qubits 1': expected NAME=OPTIONS"),
])
def test_a_bad_variant_is_one_line_before_anything_trains(
        fasta, tmp_path, capsys, variant, message):
    out = tmp_path / 'cmp'
    assert main(['compare', str(fasta), '--out', str(out), *TINY,
                 '--seeds', '1', '--baselines', 'composition',
                 '--variant', 'ok=--lr 0.05', '--variant', variant]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith('qnlp: error: ')
    assert message in error[0]
    assert not (out / 'runs').exists()


@pytest.mark.parametrize('task, option, message', [
    ('sentences', ['--folds', '2'], '--folds is not an option of --task '
                                    'sentences'),
    ('proteins', ['--folds', '2', '--fold', '1'],
     '--fold: compare trains on every fold of --folds'),
    ('proteins', ['--ensemble'], 'an ensemble of seeds needs at least 2'),
    ('sentences', ['--ensemble', '--seeds', '2'],
     'an ensemble of seeds needs the same test examples for every seed: '
     'give --split-seed'),
])
def test_folds_and_ensembles_where_they_do_not_apply_are_refused(
        fasta, tmp_path, capsys, task, option, message):
    data = BUNDLED if task == 'sentences' else fasta
    assert main(['compare', str(data), '--task', task, '--out',
                 str(tmp_path), '--seeds', '1', '--epochs', '1',
                 *option]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_variants_of_another_task(tmp_path, capsys):
    """The option is the task contract's: sentences take it the same
    way (runs under runs/NAME-seedS without folds)."""
    out = tmp_path / 'cmp'
    assert main(['compare', str(BUNDLED), '--out', str(out), '--seeds',
                 '1', '--epochs', '1', '--baselines', 'bow', '--quiet',
                 '--variant', 'one=--layers 1',
                 '--variant', 'two=--layers 2']) == 0
    found = json.loads((out / 'comparison.json').read_text())
    assert set(found['models']) == {'one', 'two', 'bow'}
    assert found['folds'] == 0 and 'fold' not in found['runs']['one'][0]
    assert found['models']['two']['parameters'] > \
        found['models']['one']['parameters']
    assert sorted(p.name for p in (out / 'runs').iterdir()) == [
        'one-seed0', 'two-seed0']
    assert '| two |' in capsys.readouterr().out
