"""The gate library against plain references: ``expm`` of each gate's
generator, qiskit's gate matrices (qiskit orders qubits the other way),
and the simulators that take their gates from it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.linalg import expm

from qnlp.engine import gates
from qnlp.engine.circuit_ops import apply_gate
from qnlp.engine.statevector import Statevector, wire
from qnlp.errors import ConfigError

PAULI = {name: np.array(gates.FIXED[name], dtype=complex) for name in 'IXYZ'}
#: Each parametrised gate as ``expm(-i theta G / 2)`` for its generator G.
GENERATORS = {
    'RX': PAULI['X'], 'RY': PAULI['Y'], 'RZ': PAULI['Z'],
    'P': np.diag([0, -2]).astype(complex),   # P(l) = expm(i l |1><1|)
    'RXX': np.kron(PAULI['X'], PAULI['X']),
    'RYY': np.kron(PAULI['Y'], PAULI['Y']),
    'RZZ': np.kron(PAULI['Z'], PAULI['Z']),
}
angles = st.floats(-4 * math.pi, 4 * math.pi, allow_nan=False)


def assert_unitary(matrix: torch.Tensor) -> None:
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype)
    torch.testing.assert_close(matrix @ matrix.conj().transpose(-1, -2),
                               eye.expand_as(matrix), atol=1e-12, rtol=0)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(GENERATORS)), angles)
def test_parametrised_gates_are_exponentials_of_their_generators(name,
                                                                 theta):
    matrix = gates.gate(name, torch.tensor(theta, dtype=torch.float64))
    assert matrix.dtype == torch.complex128
    assert_unitary(matrix)
    np.testing.assert_allclose(matrix.numpy(),
                               expm(-0.5j * theta * GENERATORS[name]),
                               atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(angles, angles, angles)
def test_rot_and_rotation_products(phi, theta, omega):
    a = torch.tensor([phi, theta, omega], dtype=torch.float64)
    direct = gates.rz(a[2]) @ gates.ry(a[1]) @ gates.rz(a[0])
    torch.testing.assert_close(gates.rot(*a), direct, atol=1e-12, rtol=0)
    torch.testing.assert_close(gates.rotation(a, 'xyz'),
                               gates.rz(a[2]) @ gates.ry(a[1]) @ gates.rx(a[0]))
    assert_unitary(gates.rotation(a, 'xyz'))


@pytest.mark.parametrize('name', sorted(gates.FIXED))
def test_fixed_gates_are_unitary(name):
    assert_unitary(gates.gate(name))


@pytest.mark.parametrize('dtype,expected', [
    (torch.float32, torch.complex64), (torch.float64, torch.complex128)])
@pytest.mark.parametrize('name', sorted(gates.PARAMETRISED))
def test_batch_shape_dtype_and_gradients(name, dtype, expected):
    n_angles = 3 if name == 'ROT' else 1
    theta = torch.rand(n_angles, 4, 3, dtype=dtype, requires_grad=True)
    matrix = gates.gate(name, *theta)
    size = 4 if name in ('RXX', 'RYY', 'RZZ') else 2
    assert matrix.shape == (4, 3, size, size) and matrix.dtype == expected
    matrix.real.sum().backward()
    assert theta.grad is not None and theta.grad.abs().sum() > 0


def test_qiskit_matrices_in_the_reversed_order():
    lib = pytest.importorskip('qiskit.circuit.library')
    theta = 0.7
    pairs = {'CX': lib.CXGate(), 'CZ': lib.CZGate(), 'SWAP': lib.SwapGate(),
             'H': lib.HGate(), 'S': lib.SGate(), 'T': lib.TGate(),
             'SDG': lib.SdgGate(), 'Y': lib.YGate()}
    for name, reference in pairs.items():
        np.testing.assert_allclose(
            gates.reverse_wires(gates.gate(name)).numpy(),
            reference.to_matrix(), atol=1e-12, err_msg=name)
    for name, reference in {'RX': lib.RXGate(theta), 'P': lib.PhaseGate(theta),
                            'RXX': lib.RXXGate(theta),
                            'RYY': lib.RYYGate(theta),
                            'RZZ': lib.RZZGate(theta)}.items():
        np.testing.assert_allclose(
            gates.reverse_wires(gates.gate(name, theta)).numpy(),
            reference.to_matrix(), atol=1e-12, err_msg=name)


ONE_QUBIT = ('h', 'x', 'rx', 'ry', 'rz', 'p')


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.data())
def test_statevector_in_qiskit_order_matches_qiskit(n, data):
    """Random circuits on :class:`Statevector` (qiskit's order, gates of
    the library on :func:`wire`) give qiskit's states; a one-qubit gate
    on qiskit's qubit ``q`` is the library's gate on wire ``wire(q, n)``
    of the same amplitudes."""
    quantum_info = pytest.importorskip('qiskit.quantum_info')
    from qiskit import QuantumCircuit
    circuit, state = QuantumCircuit(n), Statevector.zeros(1, n)
    two_qubit = ('cx', 'cz') if n > 1 else ()
    for _ in range(data.draw(st.integers(1, 8))):
        name = data.draw(st.sampled_from(ONE_QUBIT + two_qubit))
        if name in ('cx', 'cz'):
            qubits = data.draw(st.permutations(range(n)))[:2]
        else:
            qubits = [data.draw(st.integers(0, n - 1))]
        theta = [data.draw(angles)] if name[0] in 'rp' else []
        getattr(circuit, name)(*theta, *qubits)
        getattr(state, name)(*theta, *qubits)
    expected = quantum_info.Statevector.from_instruction(circuit).data
    np.testing.assert_allclose(state.amplitudes[0].numpy(), expected,
                               atol=1e-12)
    qubit, theta = data.draw(st.integers(0, n - 1)), data.draw(angles)
    amplitudes = state.amplitudes
    torch.testing.assert_close(
        state.ry(theta, qubit).amplitudes,
        apply_gate(amplitudes, gates.ry(theta), wire(qubit, n), n))


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 4), st.data())
def test_permutations_and_embedding_match_dense_matrices(n, data):
    control, target = data.draw(st.permutations(range(n)))[:2]
    state = torch.randn(2 ** n, dtype=torch.complex128)
    # CX on (control, target) as a dense matrix, wire 0 most significant
    projector = [np.diag([1, 0]), np.diag([0, 1])]
    dense = sum(
        _kron_all([projector[bit] if w == control else
                   (PAULI['X'] if (w == target and bit) else PAULI['I'])
                   for w in range(n)]) for bit in (0, 1))
    perm = gates.cx_permutation(control, target, n)
    np.testing.assert_allclose(state[perm].numpy(), dense @ state.numpy(),
                               atol=1e-12)
    first = data.draw(st.integers(0, n - 2))
    embedded = gates.embed(gates.gate('CZ'), first, n)
    expected = _kron_all([PAULI['I']] * first
                         + [np.array(gates.FIXED['CZ'])]
                         + [PAULI['I']] * (n - first - 2))
    np.testing.assert_allclose(embedded.numpy(), expected)


def _kron_all(matrices):
    result = np.eye(1)
    for m in matrices:
        result = np.kron(result, m)
    return result


@settings(max_examples=20, deadline=None)
@given(angles)
def test_rotated_kets_are_the_gates_on_their_kets(theta):
    plus = gates.gate('H')[:, 0]
    zero = gates.gate('I')[:, 0]
    for name, ket, start in (('RY', '0', zero), ('RX', '0', zero),
                             ('RZ', '+', plus), ('RY', '+', plus)):
        torch.testing.assert_close(gates.rotated_ket(name, theta, ket),
                                   gates.gate(name, theta) @ start,
                                   atol=1e-15, rtol=0)


def test_entangler_kinds_and_errors():
    assert gates.entangler_pairs('reverse_linear', 3) == [(1, 2), (0, 1)]
    assert gates.entangler_pairs('none', 4) == []
    assert gates.entangler_pairs('ring', 1) == []
    with pytest.raises(ConfigError, match='unknown entangler'):
        gates.entangler_pairs('star', 3)
    with pytest.raises(ConfigError, match='unknown gate'):
        gates.gate('RX')            # an angle is missing
