"""Pregroup diagrams from words and cups, built in linear time.

lambeq's ``Diagram.create_pregroup_diagram`` composes the diagram one box
at a time, retyping the whole width at every step; on real corpora, where
nearly every sentence has its own grammar, that was most of the time
spent between parsing and training (SST-2: about 0.1 s a sentence).
:func:`pregroup_diagram` lays the same layers down directly, from one flat
list of atomic types, and gives an equal (``==``) diagram.

>>> from lambeq.backend.grammar import Cup, Diagram, Ty, Word
>>> n, s = Ty('n'), Ty('s')
>>> words = [Word('woman', n), Word('cooks', n.r @ s @ n.l), Word('meal', n)]
>>> cups = [(Cup, 0, 1), (Cup, 3, 4)]
>>> pregroup_diagram(words, cups) == Diagram.create_pregroup_diagram(words, cups)
True
"""
from __future__ import annotations

from typing import Any, Sequence

from lambeq.backend.grammar import Cup, Diagram, Layer, Swap, Ty


def pregroup_diagram(words: Sequence[Any],
                     morphisms: Sequence[tuple[Any, int, int]]) -> Diagram:
    """The diagram of ``words`` side by side, then each of ``morphisms``
    (``(Cup or Swap, left, right)``, positions in the words' joint
    type), as ``Diagram.create_pregroup_diagram`` makes it."""
    atoms: list[Ty] = []
    boxes: list[tuple[Any, int]] = []
    for word in words:
        boxes.append((word, len(atoms)))
        atoms.extend(word.cod)
    for index, (kind, start, end) in enumerate(morphisms):
        if kind not in (Cup, Swap):
            raise ValueError(f'Unknown morphism type: {kind}')
        # Offsets count the wires still open: earlier cups to the left
        # have taken two each.
        offset = start - 2 * sum(1 for earlier, left, _ in morphisms[:index]
                                 if earlier == Cup and left < start)
        boxes.append((kind(atoms[start], atoms[end]), offset))
    layers = []
    cod: list[Ty] = []
    for box, offset in boxes:
        width = len(box.dom)
        left, right = cod[:offset], cod[offset + width:]
        layers.append(Layer(Ty._fromiter(left), box, Ty._fromiter(right)))
        cod = left + list(box.cod) + right
    return Diagram(Ty(), Ty._fromiter(cod), layers)
