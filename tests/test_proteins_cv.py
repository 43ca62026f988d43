"""Proteins over seeds and folds: training on train + dev, and seed
ensembles scored by benchmarks/protein_cv.py (issue 23)."""
from __future__ import annotations

import math
import sys

import pytest
import torch
from hypothesis import given, settings, strategies as st

from qnlp.data.fasta import ProteinRecord, split_records
from tests.conftest import benchmark_module


protein_cv = benchmark_module('protein_cv')


@settings(max_examples=25, deadline=None)
@given(n=st.integers(10, 80), seed=st.integers(0, 50),
       fold=st.integers(-1, 4), dev=st.sampled_from([0.1, 0.15, 0.25]))
def test_train_on_dev_keeps_the_test_part(n, seed, fold, dev):
    """``--dev-fraction 0`` trains on train + dev of the same split or
    fold: the test part does not move, so the figures compare."""
    records = [ProteinRecord(str(i), 'M' * (1 + i % 7), str(i % 3 == 0))
               for i in range(n)]
    folds = 0 if fold < 0 else 5
    fold = max(0, fold)
    train, held, test = split_records(records, seed, 0.2, dev, folds, fold)
    pooled, empty, same = split_records(records, seed, 0.2, 0.0, folds,
                                        fold)
    assert empty == []
    assert [r.id for r in same] == [r.id for r in test]
    assert sorted(r.id for r in pooled) == sorted(r.id for r in train + held)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(st.sampled_from([i / 8 for i in range(9)]),
                         min_size=6, max_size=6), min_size=1, max_size=4))
def test_seed_ensemble_averages_probabilities(members):
    """The ensemble predicts the label of the larger mean probability of
    its runs (the first label on a tie), part by part, with their
    parameters and seconds summed (eighths: the sums are exact)."""
    cv = protein_cv
    test = [ProteinRecord(str(i), 'M' * (i + 1), 'ab'[i % 2])
            for i in range(6)]
    # the dev part: the same records, the probabilities the other way
    runs = [cv.Scored(seed, part, test, ['a', 'b'],
                      torch.tensor([[1 - p, p] for p in ones]), 10, 2.0,
                      test, torch.tensor([[p, 1 - p] for p in ones]))
            for part in ('split', 'fold0')
            for seed, ones in enumerate(members)]
    rows = cv.rows_of(runs, ensemble=True)
    key = '+'.join(str(s) for s in range(len(members)))
    assert set(rows) == {(key, 'split'), (key, 'fold0')}
    scored, parameters, seconds, dev, _ = rows[key, 'fold0']
    assert (parameters, seconds) == (10 * len(members), 2.0 * len(members))
    totals = [sum(ones[i] for ones in members) for i in range(6)]
    assert [c for _, c in dev] == [
        ('b' if t < len(members) / 2 else 'a') == test[i].label
        for i, t in enumerate(totals)]
    for i, (length, correct) in enumerate(scored):
        total = sum(ones[i] for ones in members)
        assert length == i + 1
        assert correct == (('b' if total > len(members) / 2 else 'a')
                           == test[i].label)
    assert len(cv.rows_of(runs)) == 2 * len(members)


@settings(max_examples=25, deadline=None)
@given(n_seeds=st.integers(1, 9), members=st.integers(1, 4),
       missing=st.sets(st.tuples(st.integers(0, 8),
                                 st.sampled_from(['split', 'fold0'])),
                       max_size=3),
       data=st.data())
def test_disjoint_seed_groups_are_separate_ensembles(n_seeds, members,
                                                     missing, data):
    """``members=N`` scores seeds 0..N-1, N..2N-1, ... as separate
    ensembles, each exactly the ensemble of its runs alone; a group with
    a run missing on a part is not scored there, and a group left short
    by the seed count is not scored at all. (Its first version cut the
    groups from every seed drawn, also one with no run at all: hypothesis
    found that case after the merge.)"""
    cv = protein_cv
    test = [ProteinRecord(str(i), 'M' * (i + 1), 'ab'[i % 2])
            for i in range(5)]
    probability = st.lists(st.sampled_from([i / 8 for i in range(9)]),
                           min_size=5, max_size=5)
    seeds = [2 * s + 1 for s in range(n_seeds)]    # not 0.., not dense
    runs = [cv.Scored(seed, part, test, ['a', 'b'],
                      torch.tensor([[1 - p, p] for p in data.draw(probability)]),
                      10, 1.0)
            for part in ('split', 'fold0') for seed in seeds
            if (seeds.index(seed), part) not in missing]
    rows = cv.rows_of(runs, ensemble=True, members=members)
    expected = {}
    # the groups are cut from the seeds that have a run on some part (a
    # seed missing on every part is not one of them)
    present = sorted({run.seed for run in runs})
    for start in range(0, len(present) - members + 1, members):
        group = present[start:start + members]
        for part in ('split', 'fold0'):
            alone = [r for r in runs if r.part == part and r.seed in group]
            if len(alone) == members:
                expected.update(cv.rows_of(alone, ensemble=True))
    assert rows == expected


def test_two_runs_of_one_seed_on_a_part_are_refused():
    """A glob that catches two runs of the same seed and part is an
    error, not a silent pick."""
    cv = protein_cv
    test = [ProteinRecord('a', 'MK', 'a')]
    run = cv.Scored(0, 'split', test, ['a', 'b'], torch.tensor([[.6, .4]]),
                    10, 1.0)
    try:
        cv.rows_of([run, run], ensemble=True, members=1)
    except ValueError as error:
        assert 'two runs of seed 0' in str(error)
    else:
        raise AssertionError('no error')


def test_an_ensemble_of_no_runs_has_no_rows():
    """An ``--ensemble`` glob with no finished run gives no rows (so the
    script's one-line error), not ``range()``'s 'arg 3 must not be
    zero'."""
    assert protein_cv.rows_of([], ensemble=True) == {}


@settings(max_examples=25, deadline=None)
@given(chains=st.integers(1, 7), hybrids=st.integers(1, 5),
       size_chains=st.integers(1, 3), size_hybrids=st.integers(1, 3),
       data=st.data())
def test_a_mixed_ensemble_is_the_ensemble_of_its_members(
        chains, hybrids, size_chains, size_hybrids, data):
    """``--ensemble 'GLOB:k,GLOB:m'``: ensemble ``i`` averages the
    ``i``-th group of k seeds of the one glob and of m seeds of the
    other (the same seed numbers in both), exactly as one ensemble of
    those k + m runs; there are as many as the fewer groups."""
    cv = protein_cv
    test = [ProteinRecord(str(i), 'M' * (i + 1), 'ab'[i % 2])
            for i in range(5)]
    probability = st.lists(st.sampled_from([i / 8 for i in range(9)]),
                           min_size=5, max_size=5)

    def runs(count, parameters):
        return [cv.Scored(seed, part, test, ['a', 'b'],
                          torch.tensor([[1 - p, p] for p in
                                        data.draw(probability)]),
                          parameters, 1.0)
                for part in ('split', 'fold0') for seed in range(count)]
    chain_runs, hybrid_runs = runs(chains, 10), runs(hybrids, 13)
    rows = cv.ensemble_rows([(chain_runs, size_chains),
                             (hybrid_runs, size_hybrids)])
    count = min(chains // size_chains, hybrids // size_hybrids)
    assert len(rows) == 2 * count
    for i in range(count):
        chain_seeds = range(i * size_chains, (i + 1) * size_chains)
        hybrid_seeds = range(i * size_hybrids, (i + 1) * size_hybrids)
        # the hybrids' seeds moved out of the chains' way: one source
        alone = [r for r in chain_runs if r.seed in chain_seeds] + [
            cv.Scored(100 + r.seed, r.part, r.test, r.labels,
                      r.probabilities, r.parameters, r.seconds)
            for r in hybrid_runs if r.seed in hybrid_seeds]
        expected = cv.rows_of(alone, ensemble=True)
        name = (f"{'+'.join(map(str, chain_seeds))} & "
                f"{'+'.join(map(str, hybrid_seeds))}")
        for part in ('split', 'fold0'):
            assert rows[name, part] == next(
                row for (_, p), row in expected.items() if p == part)
            assert rows[name, part][1] == (10 * size_chains
                                           + 13 * size_hybrids)


def test_members_of_other_splits_are_refused():
    """Runs whose test parts hold other records (made with other split
    settings) are not averaged: an error, not a silent mismatch."""
    cv = protein_cv
    one = [ProteinRecord('a', 'MK', 'a')]
    other = [ProteinRecord('b', 'MK', 'a')]
    runs = [cv.Scored(0, 'split', records, ['a', 'b'],
                      torch.tensor([[.6, .4]]), 10, 1.0)
            for records in (one, other)]
    try:
        cv.ensemble_rows([(runs[:1], 1), (runs[1:], 1)])
    except ValueError as error:
        assert 'test parts differ' in str(error)
    else:
        raise AssertionError('no error')


def test_members_with_other_dev_parts_have_no_ensemble_dev_figure():
    """Members that held out different dev parts (``--dev-fold``) are
    averaged on their shared test part; they share no dev record, so the
    ensemble reports no dev figure rather than a mismatched one."""
    cv = protein_cv
    test = [ProteinRecord('t', 'MK', 'a')]
    devs = ([ProteinRecord('d0', 'MK', 'a')], [ProteinRecord('d1', 'MK', 'b')])
    runs = [cv.Scored(0, 'split', test, ['a', 'b'], torch.tensor([[p, 1 - p]]),
                      10, 1.0, dev, torch.tensor([[.9, .1]]))
            for p, dev in zip((.8, .1), devs)]
    rows = cv.ensemble_rows([(runs[:1], 1), (runs[1:], 1)])
    (scored, parameters, _, dev, losses), = rows.values()
    assert scored == [(2, False)]          # mean p(a) 0.45: predicts b
    assert parameters == 20 and dev == [] and losses == []
    same = cv.ensemble_rows([(runs[:1], 1), (
        [cv.Scored(0, 'split', test, ['a', 'b'], torch.tensor([[.1, .9]]),
                   10, 1.0, devs[0], torch.tensor([[.5, .5]]))], 1)])
    (_, _, _, dev, losses), = same.values()
    assert dev == [(2, True)] and losses == [pytest.approx(-math.log(.7))]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(20, 120), seed=st.integers(0, 50),
       fold=st.integers(-1, 4), dev=st.sampled_from([0.1, 0.15, 0.25]))
def test_dev_folds_are_disjoint_beside_the_same_test_part(n, seed, fold, dev):
    """``--dev-fold J``: the test part is the plain split's (or fold's);
    the dev folds cut the rest into disjoint, stratified parts that
    together hold every non-test record once."""
    from qnlp.data.fasta import dev_fold_count
    records = [ProteinRecord(str(i), 'M' * (1 + i % 7), str(i % 3 == 0))
               for i in range(n)]
    folds = 0 if fold < 0 else 5
    fold = max(0, fold)
    train, held, test = split_records(records, seed, 0.2, dev, folds, fold)
    count = dev_fold_count(dev, 0.2, folds)
    parts = [split_records(records, seed, 0.2, dev, folds, fold, j)
             for j in range(count)]
    rest = sorted(r.id for r in train + held)
    seen: list[str] = []
    for part_train, part_dev, part_test in parts:
        assert [r.id for r in part_test] == [r.id for r in test]
        assert sorted(r.id for r in part_train + part_dev) == rest
        seen += [r.id for r in part_dev]
        for label in ('True', 'False'):
            among = sum(r.label == label for r in train + held)
            assert abs(sum(r.label == label for r in part_dev)
                       - among / count) < 1
    assert sorted(seen) == rest


def test_dev_fold_refusals(tmp_path, capsys):
    """A dev fold beyond the count, or without a dev part, is refused in
    one line naming the option; nothing is written."""
    from tests.conftest import assert_refused_in_one_line
    fasta = tmp_path / 'p.fasta'
    fasta.write_text(''.join(f'>s{i} {i % 2}\nMKV{"L" * i}\n'
                             for i in range(20)))
    for extra, name in ((['--dev-fold', '8'], 'dev_fold'),
                        (['--dev-fold', '0', '--dev-fraction', '0'],
                         'dev_fraction')):
        out = tmp_path / 'run'
        assert_refused_in_one_line(
            ['train', str(fasta), '--task', 'proteins', *extra], out,
            capsys, name)


def test_each_glob_of_an_ensemble_has_its_member_count(tmp_path):
    """``'GLOB:3,GLOB'``: 3 members of the first, ``--members`` of the
    second (a glob with no finished run has no runs)."""
    found = protein_cv.sources_of(f'{tmp_path}/w*:3,{tmp_path}/s*', 5,
                                  tmp_path)
    assert found == [([], 3), ([], 5)]


def test_baselines_are_fitted_unless_dev_only(monkeypatch, capsys):
    """``--baselines`` rows are in the table (the first --dev-only version
    dropped them from every table), and --dev-only fits none: they have
    no dev part."""
    cv = protein_cv
    fitted = []

    def fake_rows(name, data, patterns, seeds, folds):
        fitted.append(name)
        return {(0, 'split'): ([(10, True), (20, False)], 23, 0.1, [],
                               [])}
    monkeypatch.setattr(cv, 'baseline_rows', fake_rows)
    for argv, expected in ((['--baselines', 'hydro', '--folds', '0'],
                            ['hydro']),
                           (['--baselines', 'hydro', '--dev-only'], [])):
        fitted.clear()
        monkeypatch.setattr(sys, 'argv', ['protein_cv.py', *argv])
        cv.main()
        assert fitted == expected
        assert ('| hydro | 23 |' in capsys.readouterr().out) == bool(expected)


def test_runs_shared_by_candidates_are_predicted_once(tmp_path,
                                                      monkeypatch):
    """Several ``--ensemble`` candidates over one pool of runs: each run
    is predicted once (the cache), and every candidate gets it."""
    cv = protein_cv
    for name in ('w20_s0', 'w20_s1', 'scan_s0', 'w10_s0'):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'metrics.json').write_text('{}')
    (tmp_path / 'w10_s1').mkdir()              # unfinished: no metrics
    predicted = []

    def fake_run(path, data, test=True):
        predicted.append(path)
        return cv.Scored(int(path[-1]), 'split', [], ['0'], None, 1, 1.0)
    monkeypatch.setattr(cv, 'scored_run', fake_run)
    cache: dict = {}
    first = cv.sources_of(f'{tmp_path}/w20_s*:1,{tmp_path}/scan_s*:1', 0,
                          tmp_path, cache=cache)
    second = cv.sources_of(f'{tmp_path}/w20_s*:2,{tmp_path}/w10_s*:1', 0,
                           tmp_path, cache=cache)
    assert sorted(predicted) == sorted(str(tmp_path / n) for n in
                                       ('w20_s0', 'w20_s1', 'scan_s0',
                                        'w10_s0'))
    assert second[0][0] == first[0][0] and second[0][1] == 2
    assert [run.seed for run in second[1][0]] == [0]
    cv.sources_of(f'{tmp_path}/w20_s*', 0, tmp_path)     # no cache given
    assert len(predicted) == 6


def test_dev_log_loss_is_that_of_the_ensembles_mean_probabilities():
    """The pooled dev log-loss of an ensemble: ``-log`` of the averaged
    probability of each dev record's label, pooled over parts."""
    from qnlp.data.fasta import ProteinRecord
    cv = protein_cv
    dev = [ProteinRecord('a', 'MK', '0'), ProteinRecord('b', 'ML', '1')]

    def run(seed, part, p):
        return cv.Scored(seed, part, [], ['0', '1'], None, 10, 1.0, dev,
                         torch.tensor(p, dtype=torch.float64))
    runs = [run(s, part, p) for part in ('fold0', 'fold1')
            for s, p in ((0, [[.9, .1], [.6, .4]]),
                         (1, [[.5, .5], [.2, .8]]))]
    rows = cv.rows_of(runs, ensemble=True)
    result = cv.summary(rows, 2)
    # mean probabilities of the labels: 0.7 ('a' is 0), 0.6 ('b' is 1)
    expected = -(math.log(0.7) + math.log(0.6)) / 2
    assert result['dev_log_loss'] == pytest.approx([expected])
    assert result['dev_pooled'] == [1.0]
    single = cv.summary(cv.rows_of(runs), 2)   # seed 0 misreads 'b'
    assert single['dev_pooled'] == [0.5, 1.0]
    assert single['dev_log_loss'] == pytest.approx(
        [-(math.log(.9) + math.log(.4)) / 2,
         -(math.log(.5) + math.log(.8)) / 2])
