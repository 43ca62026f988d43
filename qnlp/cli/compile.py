"""``qnlp compile``: sentences or corpora to circuits, stats and exports.

Command-line glue only; the work is done by :mod:`qnlp.compiler`.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from qnlp.errors import ConfigError
from qnlp.files import (atomic_write_text, check_writable_file,
                        check_writable_folder, reported_write)
from qnlp.limits import MAX_STATEVECTOR_QUBITS


def _random_values(symbols: list[str], seed: int) -> dict[str, float]:
    generator = random.Random(seed)
    return {name: generator.random() for name in sorted(symbols)}


def _setup(args: argparse.Namespace) -> tuple[Any, Any, dict | None]:
    """(compiler, text -> circuits function, trained values or None)."""
    from qnlp.compiler import Compiler
    from qnlp.parsing import default_parser
    candidates = [c for c in args.candidates.split(',') if c]
    if args.run:
        from qnlp.tasks.sentences import load_sentence_run
        trained = load_sentence_run(args.run)
        compiler = Compiler(trained.model.pipeline.ansatz, candidates=candidates,
                            frobenius=trained.model.pipeline.frobenius)

        def circuits(texts: list[str]) -> list[Any]:
            result = trained.model.pipeline.circuits(texts)
            trained.model.extend_symbols(result, fill=0.0)
            return result
        return compiler, circuits, trained.model.parameter_values()
    compiler = Compiler(args.ansatz, layers=args.layers,
                        noun_qubits=args.noun_qubits,
                        sentence_qubits=args.sentence_qubits,
                        candidates=candidates, frobenius=args.frobenius,
                        parser=default_parser(args.tagger,
                                               args.spacy_pipeline))
    return compiler, lambda texts: [compiler.circuit(t) for t in texts], None


def _values_for(circuit: Any, args: argparse.Namespace,
                trained: dict | None) -> dict | None:
    if trained is not None:
        return trained
    if args.seed is not None:
        return _random_values([s.name for s in circuit.free_symbols],
                              args.seed)
    return None


def _sentence(args: argparse.Namespace) -> int:
    if args.shots and args.seed is None and not args.run:
        raise ConfigError("--shots needs bound values: give --seed or --run")
    compiler, circuits, trained = _setup(args)
    [circuit] = circuits([args.input])
    compiled = compiler.compile(circuit, _values_for(circuit, args, trained))
    if args.format == 'stats':
        info = {**compiled.stats, 'postselect': compiled.postselect,
                'outputs': compiled.outputs}
        if not compiled.symbols and not compiled.simulable:
            info['exact_simulation'] = (
                f"skipped: {compiled.circuit.n_qubits} qubits, above the "
                f"limit of {MAX_STATEVECTOR_QUBITS} of pytket's simulator")
        elif not compiled.symbols:
            info['success_probability'] = compiled.success_probability()
            info['shots_for_0.01'] = compiled.shots_needed(0.01)
            info['exact_distribution'] = compiled.probabilities().tolist()
        if args.shots and not compiled.symbols:
            dist, kept = compiled.run_shots(args.shots, seed=0)
            info['shots'] = {'shots': args.shots, 'kept': kept,
                             'distribution': dist.tolist()}
        text = json.dumps(info, indent=2, default=str) + '\n'
    elif args.format == 'qasm':
        text = compiled.to_qasm()
    elif args.format == 'tket':
        text = ''.join(f'{cmd}\n' for cmd in compiled.to_tket()
                       .get_commands())
    elif args.format == 'qiskit':
        text = str(compiled.to_qiskit().draw(output='text')) + '\n'
    else:
        text = json.dumps(compiled.to_dict(), indent=2, default=str) + '\n'
    if args.out:
        with reported_write(args.out):
            atomic_write_text(args.out, text)
        print(f"written to {args.out}")
    else:
        print(text, end='')
    return 0


def _corpus(args: argparse.Namespace) -> int:
    from qnlp.compiler import corpus_stats, export_circuits
    from qnlp.data import load_corpus, read_corpus_file
    path = Path(args.input)
    if path.is_dir():
        corpus = load_corpus(path)
        examples = corpus.train + corpus.dev + corpus.test
    else:
        examples = read_corpus_file(path)
    texts = [e.text for e in examples]
    compiler, circuits, trained = _setup(args)
    items = circuits(texts)
    if not args.quiet:
        from tqdm import tqdm
        items = tqdm(items, desc='compile', unit='circuit')
    compiled = [compiler.compile(c, _values_for(c, args, trained))
                for c in items]
    for text, circuit in zip(texts, compiled):
        s = circuit.stats
        print(f"{s['qubits']:>3} qubits {s['postselected_qubits']:>3} "
              f"post-selected {s['two_qubit_gates']:>4} CX "
              f"{s['one_qubit_gates']:>4} 1q depth {s['depth']:>4} "
              f"{s['candidate']:<14} {text}")
    total = corpus_stats(compiled)
    total['shapes'] = compiler.n_shapes
    print(json.dumps(total, indent=2))
    if args.out:
        with reported_write(args.out):
            manifest = export_circuits(compiled, texts, args.out)
        print(f"circuits and {manifest.name} written to {args.out}")
    return 0


def run_compile(args: argparse.Namespace) -> int:
    """Handle ``qnlp compile`` (sentence or corpus); ``--out`` is checked
    before any work."""
    if args.run and args.seed is not None:
        raise ConfigError("give --run or --seed, not both")
    if args.input.strip() and Path(args.input).exists():
        if args.out:
            check_writable_folder(args.out)
        return _corpus(args)
    if args.out:
        check_writable_file(args.out)
    return _sentence(args)
