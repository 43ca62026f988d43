"""MC test set on qiskit-aer through the job-handle path, killed and resumed.

1. Trains a sentence run on the MC corpus (or reuses ``--run``).
2. Runs ``qnlp evaluate RUN MC --backend aer`` in a subprocess, watches
   ``RUN/backend/aer/jobs.json`` and SIGKILLs the process as soon as
   ``--kill-after`` batches are finished.
3. Reads the job store left by the killed process (batches finished,
   submitted but not retrieved), then resumes with the same command in a
   new process and reads its report: batches reused / recovered /
   resubmitted / newly submitted.
4. Runs the same command uninterrupted in a copy of the run (the peer:
   what a run without a job store pays, and the reference counts).

Prints the counts, the shots paid (killed + resumed vs uninterrupted vs
rerunning everything after the kill, as a run without stored handles
must), accuracy from shots vs the exact engine, and one JSON line last.

    python benchmarks/bench_backends.py [--data ../shared/data/text/mc]

Importable: :func:`run_backend_benchmark` returns the figures as a dict.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT)] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                       if p])
    env['PYTHONWARNINGS'] = 'ignore'
    return env


def _qnlp(*args: str) -> list[str]:
    return [sys.executable, '-m', 'qnlp', *args]


def _finished(jobs: Path) -> list[dict]:
    try:
        data = json.loads(jobs.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    return [b for b in data.get('batches', []) if b['status'] == 'finished']


def _store_summary(jobs: Path) -> dict[str, int]:
    data = json.loads(jobs.read_text())
    status = [b['status'] for b in data['batches']]
    # circuits of batches that had handles (were paid for) at the kill
    handed = sum(len(b['keys']) for b in data['batches']
                 if b['status'] in ('finished', 'submitted'))
    return {'batches': len(status), 'circuits_handed_in': handed,
            'finished': status.count('finished'),
            'submitted': status.count('submitted'),
            'submitting': status.count('submitting'),
            'circuits_with_counts': len(data['results'])}


def run_backend_benchmark(data: str | Path, run: str | Path | None = None,
                          shots: int = 8192, batch_size: int = 3,
                          kill_after: int = 3, epochs: int = 120,
                          seed: int = 0, workdir: str | Path | None = None,
                          in_flight: int | None = None,
                          report=print) -> dict:
    """Kill-and-resume figures of the MC test set on Aer (see the module
    docstring). ``data`` is the MC corpus directory."""
    work = Path(workdir or tempfile.mkdtemp(prefix='bench_backends_'))
    env = _environment()
    if run is None:
        run = work / 'run'
        start = time.perf_counter()
        subprocess.run(_qnlp('train', str(data), '--out', str(run),
                             '--epochs', str(epochs), '--seed', str(seed),
                             '--quiet'),
                       check=True, env=env, stdout=subprocess.DEVNULL)
        report(f"trained {run} in {time.perf_counter() - start:.1f} s")
    run = Path(run)
    killed_run = work / 'killed'
    whole_run = work / 'whole'
    for target in (killed_run, whole_run):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(run, target, ignore=shutil.ignore_patterns('backend'))
    options = ['--backend', 'aer', '--shots', str(shots), '--batch-size',
               str(batch_size), '--seed', str(seed), '--yes', '--quiet',
               '--json'] + (['--in-flight', str(in_flight)] if in_flight
                            else [])

    # 1. uninterrupted (the reference, and what a plain run pays)
    start = time.perf_counter()
    whole = json.loads(subprocess.run(
        _qnlp('evaluate', str(whole_run), str(data), *options), check=True,
        env=env, capture_output=True, text=True).stdout)
    whole_seconds = time.perf_counter() - start
    batches = whole['jobs']['batches']['submitted']
    circuits = whole['jobs']['circuits']['submitted']
    report(f"uninterrupted: {circuits} circuits in {batches} batches, "
           f"{whole_seconds:.1f} s")

    # 2. killed after kill_after finished batches
    jobs = killed_run / 'backend' / 'aer' / 'jobs.json'
    start = time.perf_counter()
    child = subprocess.Popen(_qnlp('evaluate', str(killed_run), str(data),
                                   *options),
                             env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    while child.poll() is None:
        if len(_finished(jobs)) >= kill_after:
            os.kill(child.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    child.wait()
    killed_seconds = time.perf_counter() - start
    killed = child.returncode == -signal.SIGKILL
    before = _store_summary(jobs)
    finished_ids = {b['id'] for b in _finished(jobs)}
    report(f"killed: {killed} (exit {child.returncode}) after "
           f"{killed_seconds:.1f} s; job store: {before}")

    # 3. resumed in a new process
    start = time.perf_counter()
    resumed = json.loads(subprocess.run(
        _qnlp('evaluate', str(killed_run), str(data), *options), check=True,
        env=env, capture_output=True, text=True).stdout)
    resumed_seconds = time.perf_counter() - start
    counts = resumed['jobs']['batches']
    report(f"resumed in {resumed_seconds:.1f} s: batches {counts}, "
           f"circuits {resumed['jobs']['circuits']}")

    same = [r['shots'] for r in resumed['sentences']] == \
        [r['shots'] for r in whole['sentences']]
    circuits_before = before['circuits_handed_in']
    resent = (resumed['jobs']['circuits']['resubmitted'] +
              resumed['jobs']['circuits']['submitted'])
    paid = {'uninterrupted': circuits * shots,
            'killed_and_resumed': (circuits_before + resent) * shots,
            'rerun_everything': (circuits_before + circuits) * shots}
    summary = resumed['summary']
    figures = {
        'benchmark': 'backends', 'backend': 'aer', 'shots': shots,
        'batch_size': batch_size, 'circuits': circuits, 'batches': batches,
        'in_flight': in_flight or 'default (1 on a local simulator)',
        'killed': killed, 'kill_after': kill_after,
        'finished_before_kill': before['finished'],
        'submitted_unretrieved_at_kill': before['submitted']
        + before['submitting'],
        'resume_batches': counts,
        'resume_circuits': resumed['jobs']['circuits'],
        # batches finished before the kill that were submitted again
        'finished_batches_resubmitted': sum(
            1 for b in json.loads(jobs.read_text())['batches']
            if b['id'] in finished_ids and b.get('attempts', 1) > 1),
        'same_counts_as_uninterrupted': same,
        'shots_paid': paid,
        'accuracy_exact': summary['accuracy_exact'],
        'accuracy_shots': summary['accuracy_shots'],
        'agreement': summary['agreement'],
        'mean_tvd': summary['mean_tvd'], 'max_tvd': summary['max_tvd'],
        'kept_fraction': summary['kept_fraction'],
        'expected_kept_fraction': summary['expected_kept_fraction'],
        'seconds': {'uninterrupted': whole_seconds,
                    'killed': killed_seconds, 'resumed': resumed_seconds},
        'machine': f"{platform.machine()}, {os.cpu_count()} cores",
        'load_average': os.getloadavg()[0]}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    default = Path(os.environ.get('QNLP_DATA_DIR', ROOT.parent / 'shared' /
                                  'data')) / 'text' / 'mc'
    parser.add_argument('--data', type=Path, default=default)
    parser.add_argument('--run', type=Path,
                        help='a trained MC run to reuse (default: train one)')
    parser.add_argument('--shots', type=int, default=8192)
    parser.add_argument('--batch-size', type=int, default=3)
    parser.add_argument('--kill-after', type=int, default=3,
                        help='SIGKILL once this many batches are finished')
    parser.add_argument('--in-flight', type=int,
                        help='batches submitted ahead of retrieval '
                             '(default: the CLI default, 1 on Aer)')
    parser.add_argument('--epochs', type=int, default=120)
    parser.add_argument('--workdir', type=Path)
    args = parser.parse_args()
    figures = run_backend_benchmark(args.data, args.run, args.shots,
                                    args.batch_size, args.kill_after,
                                    args.epochs, workdir=args.workdir,
                                    in_flight=args.in_flight)
    print(f"finished before the kill: {figures['finished_before_kill']} "
          f"batches; on resume reused {figures['resume_batches']['reused']}, "
          f"recovered {figures['resume_batches']['recovered']}, "
          f"resubmitted {figures['resume_batches']['resubmitted']}, "
          f"new {figures['resume_batches']['submitted']}; finished batches "
          f"resubmitted: {figures['finished_batches_resubmitted']}")
    paid = figures['shots_paid']
    print(f"shots paid: uninterrupted {paid['uninterrupted']:,}, killed + "
          f"resumed {paid['killed_and_resumed']:,} "
          f"({paid['killed_and_resumed'] / paid['uninterrupted']:.2f}x), "
          f"rerunning everything after the kill "
          f"{paid['rerun_everything']:,} "
          f"({paid['rerun_everything'] / paid['uninterrupted']:.2f}x)")
    print(f"accuracy: exact {figures['accuracy_exact']:.4f}, shots "
          f"{figures['accuracy_shots']:.4f} (same prediction "
          f"{100 * figures['agreement']:.1f} %), mean TVD "
          f"{figures['mean_tvd']:.4f}; same counts as uninterrupted: "
          f"{figures['same_counts_as_uninterrupted']}")
    print(json.dumps(figures))


if __name__ == '__main__':
    main()
