"""Grammar diagram -> parameterised circuit or tensor network.

The rewrite step removes cups (lambeq's ``RemoveCupsRewriter``: fewer
post-selected qubits); the ansatz step maps each word box to a circuit
(or tensor) with one symbol per parameter, named ``word__type_i``.

>>> from qnlp.parsing import parse
>>> circuit = to_circuit(parse('woman cooks tasty meal'), make_ansatz('iqp'))
>>> len(circuit.cod), sorted(circuit.free_symbols)[0].name
(1, 'cooks__n.r@s@n.l_0')
"""
from __future__ import annotations

import re
from typing import Any

from lambeq import (CircuitAnsatz, IQPAnsatz, MPSAnsatz, RemoveCupsRewriter,
                    Rewriter, Sim4Ansatz,
                    Sim14Ansatz, Sim15Ansatz, SpiderAnsatz,
                    StronglyEntanglingAnsatz, TensorAnsatz)
from lambeq.backend import quantum
from lambeq.backend.grammar import Diagram, Ty
from lambeq.backend.quantum import Id, Ry
from lambeq.backend.tensor import Dim

from qnlp.errors import CompileError, ConfigError
from qnlp.limits import MAX_LAYERS, MAX_WIRE_QUBITS, at_most

CIRCUIT_ANSATZE = {'iqp': IQPAnsatz, 'sim4': Sim4Ansatz, 'sim14': Sim14Ansatz,
                   'sim15': Sim15Ansatz,
                   'strongly-entangling': StronglyEntanglingAnsatz}
TENSOR_ANSATZE = {'tensor': TensorAnsatz, 'spider': SpiderAnsatz,
                  'mps': MPSAnsatz}


class DiagonalAnsatz(CircuitAnsatz):
    """Every word a weighted GHZ state: ``Ry(1/4 + theta)`` on its first
    qubit (a fixed ``Ry(1/4)`` then the trained ``Ry(theta)``), then CNOTs
    copying it to the others; one parameter a word, one qubit a wire.

    The grammar's cups are kept (``keeps_cups``: :func:`to_circuit` does
    not remove them), so composing the words multiplies their amplitudes:
    outcome ``c`` of the sentence wire has probability proportional to the
    product over words of ``cos(pi (theta + 1/4))**2`` (``c = 0``) or
    ``sin(pi (theta + 1/4))**2`` (``c = 1``). This is DisCoCat's Frobenius
    (commutative) reading of the grammar: a log-linear bag-of-words model
    written as post-selected circuits, which
    :mod:`qnlp.engine.products` evaluates in that closed form. At
    ``theta = 0`` (``initial_angle``) a word weighs both classes equally,
    so training starts from no opinion and weight decay pulls towards it.

    >>> from qnlp.parsing import parse
    >>> circuit = to_circuit(parse('woman cooks meal'), make_ansatz('diagonal'))
    >>> sorted(s.name for s in circuit.free_symbols)
    ['cooks__n.r@s@n.l_0', 'meal__n_0', 'woman__n_0']

    With ``share_types`` a word has one parameter whatever its
    grammatical type (``word__0``): *good* as an adjective and as a noun
    is one weight, trained by both uses.

    >>> shared = make_ansatz('diagonal', share_types=True)
    >>> circuit = to_circuit(parse('cooks cooks meal'), shared)
    >>> sorted(s.name for s in circuit.free_symbols)
    ['cooks__0', 'meal__0']
    """

    #: The grammar's cups stay: the words compose through them.
    keeps_cups = True
    #: Why the hardware compiler cannot run these circuits.
    hardware_refusal = ("keeps the grammar's cups, which the hardware "
                        "compiler removes")
    #: The trained angle at which a word weighs both classes equally.
    initial_angle = 0.0
    #: How models evaluate these circuits (:mod:`qnlp.engine.products`).
    closed_form = 'products'
    #: The fixed rotation before the trained one (turns).
    OFFSET = 0.25

    def __init__(self, ob_map: Any, share_types: bool = False) -> None:
        # lambeq builds one-qubit words from the rotations alone.
        super().__init__(ob_map, n_layers=1, n_single_qubit_params=1,
                         single_qubit_rotations=[self.rotation])
        self.share_types = share_types

    def _summarise_box(self, box: Any) -> str:
        # lambeq names a box's symbols by this summary: the word and its
        # type, or (share_types) the word alone.
        if not self.share_types:
            return super()._summarise_box(box)
        return f'{box.name}_'.translate({ord(c): f'\\{c}' for c in ':, '})

    @classmethod
    def rotation(cls, theta: Any) -> Any:
        """``Ry(1/4)`` then ``Ry(theta)``: a word's first qubit."""
        return Ry(cls.OFFSET) >> Ry(theta)

    def params_shape(self, n_qubits: int) -> tuple[int, ...]:
        return (1,)

    def circuit(self, n_qubits: int, params: Any) -> Any:
        circuit = Id(n_qubits) >> (self.rotation(params[0])
                                   @ Id(n_qubits - 1))
        for target in range(1, n_qubits):
            circuit = circuit.CX(0, target)
        return circuit


def make_ansatz(name: str = 'iqp', noun_qubits: int = 1,
                sentence_qubits: int = 1, layers: int = 1,
                single_qubit_params: int = 3, dimension: int = 2,
                share_types: bool = False) -> Any:
    """A lambeq ansatz by name, for the basic types ``n`` and ``s``.

    Circuit ansätze (``iqp``, ``sim4``, ``sim14``, ``sim15``,
    ``strongly-entangling``) take qubit counts and layers; tensor ansätze
    (``tensor``, ``spider``, ``mps``) take the wire ``dimension``;
    ``share_types`` (``diagonal`` only) gives a word one parameter for all
    its grammatical types. Layers
    past :data:`~qnlp.limits.MAX_LAYERS` and qubits per wire past
    :data:`~qnlp.limits.MAX_WIRE_QUBITS` are refused:

    >>> make_ansatz('iqp', layers=100_000)
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: ansatz layers 100000 is above the limit of 64
    """
    n, s = Ty('n'), Ty('s')
    if share_types and name != 'diagonal':
        raise ConfigError(f"sharing a word's parameters across its types "
                          f"needs ansatz 'diagonal', not {name!r}")
    at_most(layers, MAX_LAYERS, 'ansatz layers')
    at_most(noun_qubits, MAX_WIRE_QUBITS, 'noun qubits')
    at_most(sentence_qubits, MAX_WIRE_QUBITS, 'sentence qubits')
    if name in CIRCUIT_ANSATZE:
        ob_map = {n: noun_qubits, s: sentence_qubits}
        if name == 'strongly-entangling':
            return StronglyEntanglingAnsatz(ob_map, n_layers=layers)
        return CIRCUIT_ANSATZE[name](ob_map, n_layers=layers,
                                     n_single_qubit_params=single_qubit_params)
    if name == 'diagonal':
        if (noun_qubits, sentence_qubits, layers) != (1, 1, 1):
            raise ConfigError("ansatz 'diagonal' takes one qubit a wire and "
                              "one layer (two classes); got noun qubits "
                              f"{noun_qubits}, sentence qubits "
                              f"{sentence_qubits}, layers {layers}")
        return DiagonalAnsatz({n: 1, s: 1}, share_types)
    if name in TENSOR_ANSATZE:
        ob_map = {n: Dim(dimension), s: Dim(dimension)}
        if name == 'mps':
            return MPSAnsatz(ob_map, bond_dim=dimension)
        return TENSOR_ANSATZE[name](ob_map)
    known = ', '.join([*CIRCUIT_ANSATZE, 'diagonal', *TENSOR_ANSATZE])
    raise ConfigError(f"unknown ansatz {name!r}; choose one of {known}")


#: Ansätze that cut a word box into numbered pieces (``that_1__n@n.l.l``).
PIECEWISE_ANSATZE = ('spider', 'mps')


def symbol_word(name: str, ansatz: str = 'iqp') -> tuple[str, str]:
    """``(word, role)`` of a parameter symbol made by ansatz ``ansatz``:
    the word of its box, and the rest of its name, which says the box's
    pregroup type and the parameter's place in the box; every word of
    that type has a symbol of that role.

    >>> symbol_word('cooks__n.r@s@n.l_1')
    ('cooks', '__n.r@s@n.l_1')
    >>> symbol_word('that_2__n.l.l@s.l', 'spider')
    ('that', '_2__n.l.l@s.l')
    >>> symbol_word('covid_19__n', 'tensor')
    ('covid_19', '__n')
    >>> symbol_word('theta')
    Traceback (most recent call last):
    ...
    qnlp.errors.CompileError: symbol 'theta' is not the symbol of a word box (word__type)
    """
    head = name.rpartition('__')[0]
    if ansatz in PIECEWISE_ANSATZE:
        head = re.sub(r'_\d+$', '', head)
    if not head:
        raise CompileError(f"symbol {name!r} is not the symbol of a word "
                           "box (word__type)")
    return head, name[len(head):]


def circuit_ansatz(ansatz: Any = 'iqp', **options: Any) -> Any:
    """A circuit ansatz: :func:`make_ansatz` of a name (with ``options``),
    or a lambeq ansatz object as it is; a tensor ansatz, which makes
    tensor networks rather than circuits, is a ConfigError.

    >>> type(circuit_ansatz('sim4', layers=2)).__name__
    'Sim4Ansatz'
    >>> circuit_ansatz('spider')
    Traceback (most recent call last):
    ...
    qnlp.errors.ConfigError: ansatz 'spider' makes tensor networks, not circuits; compile with one of iqp, sim4, sim14, sim15, strongly-entangling
    """
    made = make_ansatz(ansatz, **options) if isinstance(ansatz, str) \
        else ansatz
    if isinstance(made, TensorAnsatz):
        name = ansatz if isinstance(ansatz, str) else type(made).__name__
        raise ConfigError(f"ansatz {name!r} makes tensor networks, not "
                          "circuits; compile with one of "
                          f"{', '.join(CIRCUIT_ANSATZE)}")
    return made


#: Replaces relative pronoun boxes by the Frobenius (spider) construction.
_FROBENIUS = Rewriter(['subject_rel_pronoun', 'object_rel_pronoun'])


def to_circuit(diagram: Diagram, ansatz: Any, remove_cups: bool = True,
               frobenius: bool = False) -> Any:
    """Rewrite ``diagram`` and apply ``ansatz`` to it.

    Cups are kept when the ansatz says so (``keeps_cups``, as
    :class:`DiagonalAnsatz` does: its words compose by them). With
    ``frobenius=True`` relative pronouns (*that*, *which*, *who*) become
    spiders and caps (Sadrzadeh, Clark and Coecke 2013) with no
    parameters of their own, instead of trainable word boxes. The circuit
    is the one lambeq's ansatz makes, built faster
    (:func:`apply_ansatz`).
    """
    if frobenius:
        diagram = _FROBENIUS(diagram)
    if remove_cups and not getattr(ansatz, 'keeps_cups', False):
        try:
            diagram = RemoveCupsRewriter()(diagram)
        except ValueError:
            # lambeq's rewriter fails on a few valid diagrams, depending
            # on the order of their cups; the diagram with its cups is the
            # same map (more post-selected qubits), so it is used as is.
            pass
    return apply_ansatz(ansatz, diagram)


def apply_ansatz(ansatz: Any, diagram: Diagram) -> Any:
    """``ansatz(diagram)``, built layer by layer from each box's circuit.

    lambeq's functor composes the circuit one box at a time, retyping
    the whole width at each step (quadratic in the sentence's length),
    and copies every cached box on reuse. Here each distinct box is
    mapped once per ansatz (the pieces are kept on it) and its layers are
    laid beside the others with precomputed qubit types; the result is
    equal (``==``) to lambeq's. Tensor ansätze and diagrams with frames
    go through lambeq as they are.

    >>> from qnlp.parsing import parse
    >>> diagram = RemoveCupsRewriter()(parse('woman cooks tasty meal'))
    >>> ansatz = make_ansatz('iqp')
    >>> apply_ansatz(ansatz, diagram) == ansatz(diagram)
    True
    """
    if not isinstance(ansatz, CircuitAnsatz) or diagram.has_frames:
        return ansatz(diagram)
    pieces = ansatz.__dict__.setdefault('_qnlp_pieces', {})
    widths = ansatz.__dict__.setdefault('_qnlp_widths', {})
    powers = ansatz.__dict__.setdefault('_qnlp_powers', [quantum.Ty()])

    def width(ty: Any) -> int:   # qubits of a type: its atoms' sum
        total = 0
        for atom in ty:
            if atom not in widths:
                widths[atom] = len(ansatz.functor(atom))
            total += widths[atom]
        return total

    def power(n: int) -> Any:
        while len(powers) <= n:
            powers.append(powers[-1] @ quantum.qubit)
        return powers[n]

    layers = []
    for layer in diagram.layers:
        left, box, right = layer.unpack()
        piece = pieces.get(box)
        if piece is None:
            piece = pieces[box] = [
                (len(inner.left), inner.box, len(inner.right))
                for inner in ansatz.functor(box).layers]
        before, after = width(left), width(right)
        layers.extend(quantum.Layer(power(before + inner_left), inner_box,
                                    power(inner_right + after))
                      for inner_left, inner_box, inner_right in piece)
    return quantum.Diagram(power(width(diagram.dom)),
                           power(width(diagram.cod)), layers)


#: Every ansatz by name.
ANSATZ_CLASSES = {**CIRCUIT_ANSATZE, 'diagonal': DiagonalAnsatz,
                  **TENSOR_ANSATZE}


def hardware_refusal(name: str) -> str | None:
    """Why ansatz ``name`` cannot run on quantum backends, or ``None``.

    >>> hardware_refusal('iqp') is None
    True
    >>> hardware_refusal('spider')
    'is a tensor network, not a circuit'
    """
    made = ANSATZ_CLASSES[name]
    if issubclass(made, TensorAnsatz):
        return 'is a tensor network, not a circuit'
    return getattr(made, 'hardware_refusal', None)


def initial_angle(name: str) -> float | None:
    """The angle every word of ansatz ``name`` starts at, or ``None`` for
    lambeq's uniform draw in ``[0, 1)``.

    >>> initial_angle('diagonal'), initial_angle('iqp')
    (0.0, None)
    """
    return getattr(ANSATZ_CLASSES.get(name), 'initial_angle', None)
