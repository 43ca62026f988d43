"""``qnlp federate``: federated training of any task on Flower.

Command-line glue only; the work is done by :mod:`qnlp.federated`.
"""
from __future__ import annotations

import argparse
import logging
from typing import Any

from qnlp.cli.options import add_run_options, run_directory
from qnlp.errors import ConfigError

#: Federated options -> FederatedSettings fields (None: not given).
OPTIONS = ('clients', 'rounds', 'strategy', 'proximal_mu', 'partition',
           'clients_per_round', 'client_schedule', 'server_lr',
           'server_momentum')


def add_federate_parser(commands: Any, data_help: str) -> argparse.ArgumentParser:
    """The ``federate`` subcommand (its run options are added by the
    caller, as for ``train``)."""
    from qnlp.federated.core import CLIENT_SCHEDULES, ENGINES, STRATEGIES
    command = commands.add_parser(
        'federate', help='federated training of any task on Flower',
        description='Train the model of --task on DATA with N Flower '
                    'clients, each on its partition of the training split '
                    '(the task\'s --epochs are local epochs per round); '
                    'the server averages their weights (FedAvg or FedProx)'
                    ', evaluates the global model after every round and '
                    'checkpoints it into RUN_DIR, which ends like a qnlp '
                    'train run (qnlp evaluate/predict read it).')
    command.add_argument('data', metavar='DATA', nargs='?',
                         help=f'the data ({data_help})')
    add_run_options(command, 'continue an interrupted federated run from '
                             'its last round')
    group = command.add_argument_group('federation')
    group.add_argument('--clients', type=int, metavar='N',
                       help='clients (partitions of the training split; '
                            'default 5)')
    group.add_argument('--rounds', type=int, help='rounds (default 10)')
    group.add_argument('--strategy', choices=STRATEGIES,
                       help="Flower's strategy (default fedavg; fedavgm: "
                            'FedAvg with server momentum)')
    group.add_argument('--proximal-mu', type=float, metavar='MU',
                       help='FedProx proximal weight (default 0.01)')
    group.add_argument('--partition', metavar='SCHEME',
                       help='iid or dirichlet:ALPHA label skew (default '
                            'iid)')
    group.add_argument('--client-schedule', choices=CLIENT_SCHEDULES,
                       help="a client's learning rate: task (the task's "
                            'schedule, restarted every round; default), '
                            "constant (the task's --lr), cosine (constant "
                            'in a round, decayed over the rounds)')
    group.add_argument('--server-lr', type=float, metavar='LR',
                       help='fedavgm: server learning rate (default 1)')
    group.add_argument('--server-momentum', type=float, metavar='BETA',
                       help='fedavgm: server momentum (default 0.9)')
    group.add_argument('--clients-per-round', type=int, metavar='K',
                       help='clients sampled each round (default all)')
    group.add_argument('--engine', choices=ENGINES, default='ray',
                       help="ray: Flower's simulation engine; local: the "
                            'clients in turn in this process (default ray)')
    group.add_argument('--cpus-per-client', type=float, default=1.0,
                       help='ray engine: cores per client actor (default 1)')
    return command


def run_federate(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from qnlp.cli.main import _report_metrics, _task_and_settings, _threads
    from qnlp.federated.core import FederatedSettings, Job, federate
    out, saved = run_directory(args)
    federated: dict[str, Any] = {}
    if saved is not None:
        if 'federated' not in saved:
            raise ConfigError(f"{out}: is not a federated run (resume it "
                              "with qnlp train --resume)")
        federated.update(saved['federated'])
    federated.update({name: getattr(args, name) for name in OPTIONS
                      if getattr(args, name) is not None})
    task, data, settings = _task_and_settings(args, saved)
    if data is None:
        raise ConfigError("no DATA given (argument, 'data' in --config, or "
                          "--resume of a run)")
    job = Job(task, str(data), settings.to_dict(),
              FederatedSettings(**federated))
    if args.quiet:
        import flwr  # noqa: F401 - importing flwr sets its logger to DEBUG
        logging.getLogger('flwr').setLevel(logging.ERROR)
    _threads(args)
    metrics = federate(job, out, engine=args.engine,
                       resume=bool(args.resume), overwrite=args.overwrite,
                       cpus_per_client=args.cpus_per_client)
    _report_metrics(metrics, out, args.json)
    if not args.json:
        fed = metrics['federated']
        print(f"{metrics['rounds_run']} rounds of {fed['clients']} clients "
              f"({fed['strategy']}, {fed['partition']}), "
              f"{metrics['seconds_per_round']:.2f} s per round")
    return 0
