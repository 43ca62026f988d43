"""Noise, error mitigation and noise-aware evaluation.

:mod:`qnlp.noise.channels` names the channels (:class:`NoiseSpec`,
``--noise``), :mod:`qnlp.noise.density` simulates circuits exactly
under them (density matrices, torch, batched by shape).
"""
from qnlp.noise.channels import NoiseSpec, parse_noise
from qnlp.noise.density import NoisyBatch, NoisyCircuit

__all__ = ["NoiseSpec", "parse_noise", "NoisyBatch", "NoisyCircuit"]
