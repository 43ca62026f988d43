"""Exact, batched, differentiable simulation of lambeq diagrams.

See :class:`Engine` for the entry point, :mod:`qnlp.engine.network` for
how a diagram becomes a tensor network and :mod:`qnlp.engine.plan` for
how one circuit shape is compiled and evaluated in batch;
:mod:`qnlp.engine.backends` and :mod:`qnlp.engine.jobs` run circuits with
shots on pytket backends, resumably.
"""
from qnlp.engine.backends import get_backend
from qnlp.engine.engine import (Engine, PreparedBatch, collect_symbols,
                                unique_symbols)
from qnlp.engine.jobs import JobStore, run_jobs
from qnlp.engine.network import Network, build_network, shape_key
from qnlp.engine.plan import Plan, compile_plan
from qnlp.engine.shots import aer_backend, counts_to_distribution, run_shots
from qnlp.engine.statevector import Statevector, basis_bits

__all__ = ["Engine", "PreparedBatch", "collect_symbols", "unique_symbols", "Network", "Plan",
           "build_network", "compile_plan", "shape_key", "aer_backend",
           "counts_to_distribution", "run_shots", "Statevector", "basis_bits",
           "get_backend", "JobStore", "run_jobs"]
