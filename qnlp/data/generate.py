"""Generate the bundled corpora: *meaning* sentences and *proteins*.

The *meaning* corpus is cooking versus computing.

A small grammar in the style of the MC corpus, with its own vocabulary:
people (neutral) do things to food (class 1) or to software (class 0).
Run ``python -m qnlp.data.generate corpora/meaning`` (and ``--proteins
corpora/proteins``) to rebuild them; the output is a pure function of the
seed.

>>> rows = generate_meaning(seed=0, sizes=(6, 2, 2))
>>> [len(r) for r in rows], rows[0][0][0] in ('0', '1')
([6, 2, 2], True)
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

SUBJECTS = ['chef', 'student', 'engineer', 'teacher', 'analyst', 'baker']
TOPICS = {
    '1': {'verbs': ['roasts', 'grills', 'serves', 'tastes'],
          'objects': ['soup', 'bread', 'pasta', 'salad', 'cake'],
          'adjectives': ['fresh', 'delicious', 'spicy']},
    '0': {'verbs': ['compiles', 'deploys', 'tests', 'installs'],
          'objects': ['database', 'server', 'website', 'script', 'laptop'],
          'adjectives': ['secure', 'reliable', 'portable']},
}
PEOPLE_ADJECTIVES = ['busy', 'careful', 'clever']


def _sentence(rng: random.Random, label: str) -> str:
    topic = TOPICS[label]
    words = []
    if rng.random() < 0.35:
        words.append(rng.choice(PEOPLE_ADJECTIVES))
    words.append(rng.choice(SUBJECTS))
    words.append(rng.choice(topic['verbs']))
    if rng.random() < 0.5:
        words.append(rng.choice(topic['adjectives']))
    words.append(rng.choice(topic['objects']))
    return ' '.join(words) + ' .'


def generate_meaning(seed: int = 0, sizes: tuple[int, int, int] = (100, 30, 30)
                     ) -> list[list[tuple[str, str]]]:
    """Distinct ``(label, sentence)`` rows for train, dev and test."""
    rng = random.Random(seed)
    seen: set[str] = set()
    splits = []
    for size in sizes:
        rows: list[tuple[str, str]] = []
        while len(rows) < size:
            label = '1' if len(rows) % 2 == 0 else '0'
            sentence = _sentence(rng, label)
            if sentence not in seen:
                seen.add(sentence)
                rows.append((label, sentence))
        rng.shuffle(rows)
        splits.append(rows)
    return splits


HYDROPHOBIC = 'AVLIMFWC'
SOLUBLE = 'GSTNQDEKRHPY'
EVERY = 'ACDEFGHIKLMNPQRSTVWY'


def generate_proteins(seed: int = 0, count: int = 160) -> str:
    """A FASTA text of synthetic membrane-like and soluble sequences.

    Membrane-like sequences (label ``membrane``) carry one or two
    transmembrane-like stretches of 18-22 hydrophobic residues at random
    places; soluble ones (``soluble``) are rich in polar residues. Lengths
    run from 60 to 300.

    >>> text = generate_proteins(seed=0, count=4)
    >>> text.count('>'), 'membrane' in text and 'soluble' in text
    (4, True)
    """
    rng = random.Random(seed)
    lines = []
    for index in range(count):
        membrane = index % 2 == 0
        length = rng.randint(60, 300)
        residues = [rng.choice(SOLUBLE if rng.random() < 0.7 else EVERY)
                    for _ in range(length)]
        if membrane:
            for _ in range(rng.randint(1, 2)):
                width = rng.randint(18, 22)
                start = rng.randint(0, length - width)
                for i in range(start, start + width):
                    residues[i] = rng.choice(HYDROPHOBIC)
        label = 'membrane' if membrane else 'soluble'
        sequence = ''.join(residues)
        lines.append(f'>SYN{index:04d} {label}')
        lines += [sequence[i:i + 60] for i in range(0, len(sequence), 60)]
    return '\n'.join(lines) + '\n'


def main(argv: list[str] | None = None) -> None:
    """Write the bundled corpora: sentences, or with --proteins a FASTA."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folder', type=Path)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--proteins', action='store_true',
                        help='write proteins.fasta instead of sentences')
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.proteins:
        (args.folder / 'proteins.fasta').write_text(
            generate_proteins(args.seed), encoding='utf-8')
        return
    for name, rows in zip(('train', 'dev', 'test'),
                          generate_meaning(args.seed)):
        lines = ''.join(f'{label} {sentence}\n' for label, sentence in rows)
        (args.folder / f'{name}.txt').write_text(lines, encoding='utf-8')


if __name__ == '__main__':
    main()
