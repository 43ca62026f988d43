"""Federated training on Flower (qnlp.federated), with the in-process
engine: partitions, resume after a kill, a client that dies, FedProx,
the command line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip('flwr')

from qnlp.cli.main import main  # noqa: E402
from qnlp.errors import ConfigError, TrainingError  # noqa: E402
from qnlp.federated import FederatedSettings, Job, federate, partition  # noqa: E402
from qnlp.federated.core import FAIL_VARIABLE  # noqa: E402
from qnlp.train.run import RunDirectory  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

WORDS = {1: ('good', 'great', 'tasty', 'lovely', 'nice'),
         0: ('bad', 'awful', 'cold', 'stale', 'gross')}
SETTINGS = {'features': 'tfidf', 'components': 2, 'epochs': 2}


@pytest.fixture(autouse=True)
def no_curve(monkeypatch):
    """curve.png (matplotlib, half of a tiny run's time) is not what
    these tests check."""
    monkeypatch.setattr('qnlp.train.plots.plot_history',
                        lambda history, path: None)


@pytest.fixture(scope='module')
def reviews(tmp_path_factory):
    folder = tmp_path_factory.mktemp('reviews')
    rows = ['Review\tLiked'] + [f'{word} food {n}\t{label}'
                                for label, words in WORDS.items()
                                for word in words for n in range(4)]
    path = folder / 'reviews.tsv'
    path.write_text('\n'.join(rows) + '\n')
    return str(path)


def _job(reviews: str, **options) -> Job:
    return Job('sentiment', reviews, SETTINGS,
               FederatedSettings(**{'clients': 3, 'rounds': 3, **options}))


@settings(max_examples=25, deadline=None)
@given(labels=st.lists(st.integers(0, 2), min_size=4, max_size=60),
       clients=st.integers(1, 4), seed=st.integers(0, 5),
       scheme=st.sampled_from(['iid', 'dirichlet:0.3', 'dirichlet:5']))
def test_partitions_cover_every_example_once(labels, clients, seed, scheme):
    parts = partition(labels, clients, scheme, seed)
    assert sorted(i for part in parts for i in part) == \
        list(range(len(labels)))
    assert all(parts), 'every client gets data'
    assert parts == partition(labels, clients, scheme, seed)
    if scheme == 'iid':
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_dirichlet_skews_labels_and_iid_does_not():
    labels = [0] * 200 + [1] * 200

    def majority_share(scheme: str) -> float:
        parts = partition(labels, 5, scheme, seed=0)
        return sum(max(sum(labels[i] for i in p),
                       len(p) - sum(labels[i] for i in p))
                   for p in parts) / len(labels)
    assert majority_share('iid') < 0.6 < 0.7 < majority_share(
        'dirichlet:0.3')


@pytest.mark.parametrize('recipe', [
    {}, {'strategy': 'fedavgm', 'client_schedule': 'cosine'}])
def test_killed_run_resumes_to_the_same_weights(reviews, tmp_path, recipe):
    """Also with FedAvgM, whose server momentum is checkpointed."""
    whole = federate(_job(reviews, clients_per_round=2, **recipe),
                     tmp_path / 'whole')

    def kill_after_two(row):
        if row['round'] == 2:
            raise KeyboardInterrupt   # the server dies after round 2
    with pytest.raises(KeyboardInterrupt):
        federate(_job(reviews, clients_per_round=2, **recipe),
                 tmp_path / 'cut', on_round=kill_after_two)
    resumed = federate(_job(reviews, clients_per_round=2, **recipe),
                       tmp_path / 'cut', resume=True)
    first = RunDirectory(tmp_path / 'whole').read_weights()
    second = RunDirectory(tmp_path / 'cut').read_weights()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert resumed['test_accuracy'] == whole['test_accuracy']
    history = [json.loads(line) for line in
               (tmp_path / 'cut' / 'history.jsonl').read_text().splitlines()]
    assert [row['round'] for row in history] == [1, 2, 3]


@pytest.mark.parametrize('select, rank', [
    ('dev-accuracy', lambda row: (row['dev_accuracy'], -row['dev_loss'])),
    ('dev-loss', lambda row: (-row['dev_loss'], row['dev_accuracy'])),
    ('last', lambda row: (row['round'],))])
def test_the_run_keeps_the_round_its_select_rule_picks(reviews, tmp_path,
                                                       select, rank):
    """As ``qnlp train`` keeps its best dev epoch (``--select``): the
    written model scores what the selected round scored (the first of
    equals)."""
    job = _job(reviews, rounds=4)
    job = Job(job.task, job.data, {**SETTINGS, 'dev_fraction': 0.25,
                                   'epochs': 1, 'select': select},
              job.federated)
    metrics = federate(job, tmp_path / 'run')
    history = [json.loads(line) for line in
               (tmp_path / 'run' / 'history.jsonl').read_text().splitlines()]
    best = max(history, key=lambda row: (*rank(row), -row['round']))
    assert metrics['selected_round'] == best['round']
    for key in ('dev_accuracy', 'dev_loss', 'test_accuracy'):
        assert metrics[key] == pytest.approx(best[key], abs=1e-12)


def test_resume_refuses_other_federated_options(reviews, tmp_path):
    def stop(row):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        federate(_job(reviews), tmp_path / 'run', on_round=stop)
    with pytest.raises(Exception, match='another federated run'):
        federate(_job(reviews, strategy='fedprox'), tmp_path / 'run',
                 resume=True)



def test_a_run_of_an_earlier_version_resumes(reviews, tmp_path):
    """A checkpoint written before newer options existed (no client
    schedule, server momentum or split seed in its identity) resumes."""
    from qnlp.train.run import CHECKPOINT_FILE
    from qnlp.train.state import load_state, save_state

    def stop(row):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        federate(_job(reviews, rounds=2), tmp_path / 'run', on_round=stop)
    path = tmp_path / 'run' / CHECKPOINT_FILE
    state = load_state(path)
    for key in ('client_schedule', 'server_lr', 'server_momentum'):
        del state['identity']['federated'][key]
    del state['identity']['settings']['split_seed']
    save_state(path, state)
    metrics = federate(_job(reviews, rounds=2), tmp_path / 'run',
                       resume=True)
    assert metrics['rounds_run'] == 2

def test_a_client_that_dies_is_left_out_of_the_round(reviews, tmp_path,
                                                    monkeypatch):
    healthy = federate(_job(reviews, rounds=2), tmp_path / 'healthy')
    monkeypatch.setenv(FAIL_VARIABLE, '1:1')   # client 1 dies in round 1
    failed = federate(_job(reviews, rounds=2), tmp_path / 'failed')
    assert failed['rounds_run'] == 2
    weights = [RunDirectory(tmp_path / name).read_weights()['weights']
               for name in ('healthy', 'failed')]
    assert not torch.equal(*weights)
    monkeypatch.setenv(FAIL_VARIABLE, '0:1,1:1,2:1')   # all of them die
    with pytest.raises(TrainingError, match='every client failed'):
        federate(_job(reviews, rounds=2), tmp_path / 'dead')


def test_fedprox_pulls_clients_towards_the_global_model(reviews, tmp_path):
    """With a huge proximal weight the clients barely move."""
    start = federate(_job(reviews, rounds=1, strategy='fedprox',
                          proximal_mu=0.0), tmp_path / 'free')
    held = federate(_job(reviews, rounds=1, strategy='fedprox',
                         proximal_mu=1e4), tmp_path / 'held')
    assert start['train_loss'] != held['train_loss']
    from qnlp.tasks import get_task
    task = get_task('sentiment')
    settings_ = task.Settings.from_dict(SETTINGS)
    torch.manual_seed(settings_.seed)
    initial = task.build(settings_, task.load(reviews, settings_,
                                              progress=False),
                         torch.device('cpu')).weights.detach()
    moved = {name: (RunDirectory(tmp_path / name).read_weights()['weights']
                    - initial).norm().item() for name in ('free', 'held')}
    assert moved['held'] < moved['free'] / 4


def test_quiet_silences_flowers_log(reviews, tmp_path):
    """``--quiet`` leaves Flower's log out (it printed some 90 lines: the
    flwr logger's level was set before flwr's import reset it to DEBUG).
    A fresh process, so that flwr is imported there for the first time."""
    done = subprocess.run(
        [sys.executable, '-m', 'qnlp', 'federate', reviews, '--task',
         'sentiment', '--out', str(tmp_path / 'run'), '--clients', '2',
         '--rounds', '1', '--engine', 'local', '--features', 'tfidf',
         '--components', '2', '--epochs', '1', '--json', '--quiet'],
        capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert 'flwr' not in done.stderr and 'FedAvg' not in done.stderr


def test_command_line_trains_and_refuses_bad_options(reviews, tmp_path,
                                                     capsys):
    out = tmp_path / 'run'
    assert main(['federate', reviews, '--task', 'sentiment', '--out',
                 str(out), '--clients', '2', '--rounds', '1',
                 '--engine', 'local',
                 '--features', 'tfidf', '--components', '2', '--epochs',
                 '1', '--json', '--quiet']) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics['federated']['clients'] == 2
    assert main(['evaluate', str(out), reviews]) == 0
    assert main(['federate', reviews, '--task', 'sentiment', '--out',
                 str(tmp_path / 'bad'), '--partition', 'dirichlet:0',
                 '--engine', 'local',
                 '--quiet']) == 2
    assert '--partition must be iid or dirichlet:ALPHA' in \
        capsys.readouterr().err


def test_settings_refuse_more_sampled_clients_than_clients():
    with pytest.raises(ConfigError, match='--clients-per-round'):
        FederatedSettings(clients=2, clients_per_round=5)


@pytest.mark.parametrize('option, value, message', [
    ('client_schedule', 'onecycle', '--client-schedule must be one of'),
    ('server_lr', 0.0, '--server-lr must be positive'),
    ('server_momentum', 1.0, r'--server-momentum must be in \[0, 1\)'),
    ('strategy', 'fedadam', '--strategy must be one of')])
def test_settings_refuse_bad_recipes(option, value, message):
    with pytest.raises(ConfigError, match=message):
        FederatedSettings(**{option: value})


def test_client_schedules(reviews, tmp_path):
    """constant/cosine replace the task's schedule (cosine: decayed
    over the rounds); the server momentum moves the model further than
    plain averaging."""
    cosine = FederatedSettings(rounds=4, client_schedule='cosine')
    assert [cosine.client_lr(0.2, r) for r in (1, 2, 3, 4)] == \
        pytest.approx([0.2, 0.2 * (1 + 2 ** -0.5) / 2, 0.1,
                       0.2 * (1 - 2 ** -0.5) / 2])
    assert FederatedSettings(client_schedule='constant').client_lr(
        0.2, 9) == 0.2
    moved = {}
    for name, recipe in (('avg', {}), ('avgm', {'strategy': 'fedavgm'}),
                         ('cosine', {'client_schedule': 'cosine'})):
        federate(_job(reviews, rounds=2, **{'client_schedule': 'constant',
                                            **recipe}), tmp_path / name)
        moved[name] = RunDirectory(tmp_path / name).read_weights()['weights']
    assert not torch.equal(moved['avg'], moved['avgm'])
    assert not torch.equal(moved['avg'], moved['cosine'])


def test_deployment_server_reads_the_run_config():
    from qnlp.federated.app import job_from_run_config
    job = job_from_run_config({'task': 'sentiment', 'data': 'reviews.tsv',
                               'settings': '{"epochs": 3}', 'rounds': 4,
                               'partition': 'dirichlet:0.3',
                               'out': 'run'})
    assert job.settings['epochs'] == 3 and 'components' in job.settings
    assert (job.federated.rounds, job.federated.partition,
            job.federated.clients) == (4, 'dirichlet:0.3', 5)


def test_fedavgm_averages_running_statistics_without_momentum():
    """FedAvgM steps the parameters with server momentum, but the
    running statistics named ``averaged`` take the plain average: a
    momentum step would drive this running variance below zero."""
    from flwr.app import (ArrayRecord, ConfigRecord, Message, MetricRecord,
                          RecordDict)
    from flwr.common.constant import SUPERLINK_NODE_ID
    from flwr.supercore.task_identity import TaskIdentity

    from qnlp.federated.core import make_strategy
    TaskIdentity.task_id = TaskIdentity.run_id = 1
    TaskIdentity.node_id = SUPERLINK_NODE_ID   # the server sends

    def reply(node: int, weight: float, variance: float) -> Message:
        ask = Message(RecordDict({'config': ConfigRecord({})}),
                      dst_node_id=node, message_type='train')
        ask.metadata.__dict__['_message_id'] = str(node)
        TaskIdentity.node_id = node
        try:
            return Message(RecordDict({
                'arrays': ArrayRecord({'w': torch.full((2,), weight),
                                       'var': torch.full((2,), variance)}),
                'metrics': MetricRecord({'num-examples': 1,
                                         'train_loss': 0.5})}),
                reply_to=ask)
        finally:
            TaskIdentity.node_id = SUPERLINK_NODE_ID
    strategy = make_strategy(
        FederatedSettings(clients=2, strategy='fedavgm'), 0, {11: 0, 12: 1},
        averaged=['var'])
    strategy.current_arrays = ArrayRecord({'w': torch.zeros(2),
                                           'var': torch.ones(2)})
    for expected_w in (2.0, 3.8):   # 2 + 0.9 * 2: the momentum carries on
        arrays, _ = strategy.aggregate_train(
            1, [reply(12, 1.0, 0.5), reply(11, 3.0, 0.3)])
        assert arrays['w'].numpy() == pytest.approx([expected_w] * 2)
        assert arrays['var'].numpy() == pytest.approx([0.4, 0.4])


@pytest.mark.parametrize('option, value', [('--patience', '3'),
                                           ('--average-weights', '0.9')])
def test_options_that_select_within_one_run_are_refused(
        reviews, tmp_path, capsys, option, value):
    """A client keeps the last of its local epochs each round: early
    stopping and weight averaging would be ignored (patience was), so
    they are one line and exit 2, and nothing is written."""
    out = tmp_path / 'run'
    assert main(['federate', reviews, '--task', 'sentiment', '--out',
                 str(out), '--clients', '2', '--rounds', '1', '--engine',
                 'local', '--features', 'tfidf', '--components', '2',
                 option, value, '--quiet']) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert option[2:].replace('-', '_') in error and 'federate' in error
    assert not out.exists()
