"""Protein model throughput, this checkout against an earlier commit.

The default protein model (``ProteinSettings()``: chain, hierarchical,
2 qubits a wire, windows of 32 every 8) on random sequences of
--length residues, forward + backward, batch --batch, torch threads
--threads. The earlier implementation is ``qnlp/models/sequence.py`` of
--against (default: the last commit before the grouped scan), loaded from
``git show`` into a temporary folder and given the same weights. Both
must give the same probabilities and gradients (to 1e-10, float64)
before anything is timed; then --repeats interleaved repetitions, and
the medians of sequences/s (wall) and of process CPU time per sequence.

    python benchmarks/bench_protein_throughput.py [--against REV]
        [--length 1000] [--batch 64] [--repeats 5] [--threads 2]

With ``--set KEY=VALUE`` (repeatable; protein settings, e.g. ``--set
qubits=1 --set composition=true --set residue_features=kd,charge,size``)
the default model of this checkout is timed against that variant
instead. A variant that only adds read-outs whose weights start at zero
(``readout_axes``, ``end_readouts``, ``n_terminus``, ``composition``,
``scan_features``, ``pooling=max-min-mean``, ``residue_features``) must
start from the default's probabilities (to 1e-12; the script stops if
not: the added part changed what it should only add to); for the others
(say ``qubits=1``) the models differ and only the times are compared.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from qnlp.tasks.proteins import ProteinSettings, make_sequence_model

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before the grouped scan.
BEFORE = '82fbaf7'
RESIDUES = list('ACDEFGHIKLMNPQRSTVWY')
#: Settings whose variants only add read-outs starting at zero: such a
#: variant starts from the default model's probabilities.
ADDED_READOUTS = {'readout_axes', 'end_readouts', 'n_terminus',
                  'composition', 'scan_features', 'pooling',
                  'residue_features'}


def earlier_model(rev: str, settings: ProteinSettings) -> torch.nn.Module:
    """The default model as ``qnlp/models/sequence.py`` of ``rev`` built
    it."""
    source = subprocess.run(
        ['git', 'show', f'{rev}:qnlp/models/sequence.py'], cwd=ROOT,
        check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / 'earlier_sequence.py'
    path.write_text(source)
    spec = importlib.util.spec_from_file_location('earlier_sequence', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SequenceClassifier(
        RESIDUES, settings.model, settings.sharing, settings.layers,
        settings.block, settings.max_length or 1024, settings.seed,
        settings.qubits, settings.init_scale, settings.window,
        settings.stride)


def forward_backward(model: torch.nn.Module, tokens: torch.Tensor
                     ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    probability = model(tokens)[:, 1]
    probability.sum().backward()
    return probability.detach(), [p.grad.clone() for p in model.parameters()]


def largest_differences(a: torch.nn.Module, b: torch.nn.Module,
                        tokens: torch.Tensor) -> tuple[float, float]:
    """Largest absolute difference of the probabilities and largest
    relative difference of the gradients (per parameter tensor)."""
    p_a, g_a = forward_backward(a, tokens)
    p_b, g_b = forward_backward(b, tokens)
    return (float((p_a - p_b).abs().max()),
            max(float((x - y).abs().max() / x.abs().max())
                for x, y in zip(g_a, g_b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--against', default=BEFORE)
    parser.add_argument('--length', type=int, default=1000)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--set', action='append', default=[],
                        metavar='KEY=VALUE')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = ProteinSettings()
    tokens = torch.randint(0, len(RESIDUES), (args.batch, args.length),
                           generator=torch.Generator().manual_seed(0))
    probability = gradient = None
    if args.set:
        variant = ProteinSettings.from_dict(
            {**settings.to_dict(), **dict(item.split('=', 1)
                                          for item in args.set)})
        models = {'before': make_sequence_model(RESIDUES, settings),
                  'now': make_sequence_model(RESIDUES, variant)}
        print(f"'before' = the default model, 'now' = {args.set} "
              f"({models['now'].n_parameters} parameters)")
        changed = {key for key, value in variant.to_dict().items()
                   if value != settings.to_dict()[key]}
        if changed <= ADDED_READOUTS:
            with torch.no_grad():
                probability = float((models['before'](tokens)
                                     - models['now'](tokens)).abs().max())
            print(f"the variant only adds read-outs starting at zero: "
                  f"initial probabilities differ by at most "
                  f"{probability:.1e}")
            if probability > 1e-12:
                sys.exit("the variant does not start from the default "
                         "model's probabilities")
    else:
        models = {'before': earlier_model(args.against, settings),
                  'now': make_sequence_model(RESIDUES, settings)}
        # the same weights; '_extra_state' (the model's fingerprint) is
        # newer than the earlier implementation
        models['before'].load_state_dict({
            name: value for name, value in models['now'].state_dict().items()
            if name != '_extra_state'})
        probability, gradient = largest_differences(*models.values(),
                                                    tokens)
        print(f"same weights: probabilities differ by at most "
              f"{probability:.1e}, gradients by at most {gradient:.1e} "
              "(relative)")
        if probability > 1e-10 or gradient > 1e-10:
            sys.exit("the two implementations disagree")
    load_before = os.getloadavg()
    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            forward_backward(model, tokens)
            wall[name].append(args.batch / (time.perf_counter() - start))
            cpu[name].append((time.process_time() - start_cpu) * 1e3
                             / args.batch)
    load_after = os.getloadavg()
    rates = {name: statistics.median(v) for name, v in wall.items()}
    cpu_ms = {name: statistics.median(v) for name, v in cpu.items()}
    for name in models:
        print(f"{name}: {rates[name]:.0f} sequences/s forward+backward "
              f"(repeats {', '.join(f'{r:.0f}' for r in wall[name])}), "
              f"{cpu_ms[name]:.2f} ms CPU a sequence")
    print(f"now / before: {rates['now'] / rates['before']:.2f}x sequences/s"
          f", {cpu_ms['before'] / cpu_ms['now']:.2f}x less CPU a sequence;"
          f" load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after")
    print(json.dumps({
        'benchmark': 'bench_protein_throughput',
        'against': args.set or args.against,
        'machine': f'{platform.machine()} {os.cpu_count()} cores',
        'torch': torch.__version__, 'threads': args.threads,
        'length': args.length, 'batch': args.batch,
        'max_probability_difference': probability,
        'max_gradient_relative_difference': gradient,
        'seq_per_s': rates, 'seq_per_s_repeats': wall,
        'cpu_ms_per_seq': cpu_ms, 'speedup': rates['now'] / rates['before'],
        'load_average': [load_before[0], load_after[0]]}))


if __name__ == '__main__':
    main()
