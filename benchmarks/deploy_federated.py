"""A Flower deployment of ``qnlp federate`` on this machine: one SuperLink
and N SuperNodes as separate processes over localhost, the run submitted
with ``flwr run`` (issue 22).

Starts ``flower-superlink --insecure`` and ``--clients`` ``flower-supernode
--insecure`` processes (each on its own Runtime API port, holding
partition ``k`` of ``--clients`` through ``--node-config``), waits until
every node is registered, submits ``examples/federated`` with ``flwr run
... --stream`` and reads the run directory the ServerApp wrote. Then it
runs the same job with the in-process engine (``qnlp.federated.federate
(engine='local')``) and checks that both end with the same weights. Every
process it started is stopped at the end (its own process groups only).
``FLWR_HOME`` is a temporary folder, so nothing of the user's Flower
configuration is read or changed.

The data is by default a small review file written into the temporary
folder (the tests' 40 reviews, TF-IDF features); ``--data`` and
``--settings`` run another sentiment file or task settings.

    python benchmarks/deploy_federated.py [--clients 2] [--rounds 2]
        [--port 9200] [--task sentiment] [--data FILE] [--settings JSON]

Prints what happened; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / 'examples' / 'federated'
SETTINGS = {'features': 'tfidf', 'components': 2, 'epochs': 2}
WORDS = {1: ('good', 'great', 'tasty', 'lovely', 'nice'),
         0: ('bad', 'awful', 'cold', 'stale', 'gross')}


def write_reviews(path: Path) -> Path:
    """The tests' 40 tiny reviews, tab-separated."""
    rows = ['Review\tLiked'] + [f'{word} food {n}\t{label}'
                                for label, words in WORDS.items()
                                for word in words for n in range(4)]
    path.write_text('\n'.join(rows) + '\n')
    return path


def _start(command: list[str], log: Path, env: dict[str, str]
           ) -> subprocess.Popen:
    """``command`` in its own process group, output to ``log``."""
    return subprocess.Popen(command, stdout=log.open('w'),
                            stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM, then SIGKILL, to the process groups this script started
    (a SuperNode's SuperExec and ClientApp processes are in its group)."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    end = time.time() + 15
    for process in processes:
        try:
            process.wait(max(0.1, end - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_nodes(log: Path, clients: int, timeout: float) -> float:
    """Seconds until the SuperLink's log shows ``clients`` activated
    nodes."""
    start = time.time()
    while log.read_text().count('Activated node_id') < clients:
        if time.time() - start > timeout:
            raise SystemExit(f"{log}: {clients} SuperNodes not registered "
                             f"after {timeout:.0f} s")
        time.sleep(0.5)
    return time.time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clients', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--port', type=int, default=9200,
                        help='SuperLink port; SuperNode k uses PORT+1+k')
    parser.add_argument('--task', default='sentiment')
    parser.add_argument('--data', help='default: a small review file')
    parser.add_argument('--settings', default=json.dumps(SETTINGS),
                        help='the task settings as a JSON object')
    parser.add_argument('--timeout', type=float, default=1800)
    args = parser.parse_args()
    if args.clients < 1 or args.rounds < 1:
        print("deploy_federated.py: --clients and --rounds must be positive",
              file=sys.stderr)
        return 2
    from qnlp.federated import FederatedSettings, Job, federate
    from qnlp.train.run import RunDirectory
    result: dict = {'benchmark': 'federated deployment', 'date':
                    time.strftime('%Y-%m-%d'), 'machine':
                    f"{platform.machine()}, {os.cpu_count()} cores",
                    'load_start': os.getloadavg()[0],
                    'clients': args.clients, 'rounds': args.rounds}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = Path(args.data).resolve() if args.data \
            else write_reviews(work / 'reviews.tsv')
        home = work / 'flwr-home'
        home.mkdir()
        (home / 'config.toml').write_text(
            '[superlink]\ndefault = "local"\n[superlink.local]\n'
            f'address = "127.0.0.1:{args.port}"\ninsecure = true\n')
        env = {**os.environ, 'FLWR_HOME': str(home),
               'PYTHONPATH': os.pathsep.join(
                   [str(ROOT)] + [p for p in os.environ.get(
                       'PYTHONPATH', '').split(os.pathsep) if p])}
        processes = [_start(['flower-superlink', '--insecure', '--port',
                             str(args.port),
                             '--disable-runtime-dependency-installation'],
                            work / 'superlink.log', env)]
        try:
            start = time.time()
            for k in range(args.clients):
                processes.append(_start(
                    ['flower-supernode', '--insecure', '--superlink',
                     f'127.0.0.1:{args.port}', '--port',
                     str(args.port + 1 + k), '--node-config',
                     f'partition-id={k} num-partitions={args.clients} '
                     f'data="{data}"'], work / f'supernode{k}.log', env))
            result['seconds_to_register'] = _wait_for_nodes(
                work / 'superlink.log', args.clients, 300)
            print(f"SuperLink on 127.0.0.1:{args.port}, {args.clients} "
                  f"SuperNodes registered after "
                  f"{result['seconds_to_register']:.1f} s", flush=True)
            out = work / 'deployed'
            settings = json.loads(args.settings)
            run_config = (f'task="{args.task}" data="{data}" out="{out}" '
                          f'clients={args.clients} rounds={args.rounds} '
                          f"settings='{json.dumps(settings)}'")
            submitted = time.time()
            flwr = subprocess.run(
                ['flwr', 'run', str(APP), 'local', '--stream',
                 '--run-config', run_config], env=env, capture_output=True,
                text=True, timeout=args.timeout)
            result['flwr_run_seconds'] = time.time() - submitted
            result['flwr_run_status'] = flwr.returncode
            if not (out / 'metrics.json').is_file():
                tail = (flwr.stdout + flwr.stderr)[-2000:]
                print(f"flwr run ended ({flwr.returncode}) without a "
                      f"finished run directory:\n{tail}", file=sys.stderr)
                for log in sorted(work.glob('*.log')):
                    print(f"--- {log.name}\n{log.read_text()[-1500:]}",
                          file=sys.stderr)
                return 1
            deployed = json.loads((out / 'metrics.json').read_text())
            result['deployed'] = {key: deployed[key] for key in (
                'rounds_run', 'test_accuracy', 'seconds_per_round')}
            result['seconds_total'] = time.time() - start
        finally:
            _stop(processes)
        errors = sum(log.read_text().count('authentication failed')
                     for log in work.glob('*.log'))
        result['authentication_failures_in_logs'] = errors
        logging.getLogger('flwr').setLevel(logging.WARNING)
        job = Job(args.task, str(data), settings,
                  FederatedSettings(clients=args.clients, rounds=args.rounds))
        local = federate(job, work / 'local', engine='local')
        weights = [RunDirectory(work / name).read_weights()
                   for name in ('deployed', 'local')]
        result['same_weights_as_local_engine'] = \
            weights[0].keys() == weights[1].keys() and all(
                bool((weights[0][k] == weights[1][k]).all())
                for k in weights[0])
        result['local_test_accuracy'] = local['test_accuracy']
    result['load_end'] = os.getloadavg()[0]
    print(f"flwr run: {result['deployed']['rounds_run']} rounds, test "
          f"accuracy {result['deployed']['test_accuracy']:.3f}, "
          f"{result['deployed']['seconds_per_round']:.1f} s per round "
          f"(status {result['flwr_run_status']}); same weights as the "
          f"in-process engine: {result['same_weights_as_local_engine']}; "
          f"'authentication failed' in the logs: {errors}", flush=True)
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
