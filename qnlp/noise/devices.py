"""Device noise models from qiskit's offline fake backends.

``--noise fake:NAME`` names a calibration snapshot of a real IBM device
shipped with qiskit-ibm-runtime (``qiskit_ibm_runtime.fake_provider``;
no account or network): :func:`fake_noise_model` builds qiskit-aer's
``NoiseModel.from_backend`` of it, for the ``aer`` backend.

>>> fake_backend_name('fake:brisbane')
'FakeBrisbane'
>>> fake_noise_model('fake:atlantis')
Traceback (most recent call last):
...
qnlp.errors.ConfigError: --noise fake:atlantis: no such fake backend in qiskit_ibm_runtime.fake_provider (e.g. fake:brisbane, fake:kyiv, fake:sherbrooke, fake:torino)
"""
from __future__ import annotations

from typing import Any

from qnlp.errors import ConfigError

#: Prefix of ``--noise`` values naming a fake backend.
PREFIX = 'fake:'


def is_fake(noise: str | None) -> bool:
    """Whether ``--noise`` names a fake backend."""
    return bool(noise) and str(noise).startswith(PREFIX)


def fake_backend_name(noise: str) -> str:
    """``fake:brisbane`` -> ``FakeBrisbane`` (the class name)."""
    name = noise[len(PREFIX):].strip()
    if name.lower().startswith('fake'):
        name = name[4:]
    return 'Fake' + ''.join(part.capitalize() for part in
                            name.replace('-', '_').split('_'))


def fake_noise_model(noise: str) -> Any:
    """qiskit-aer's noise model of the fake backend ``fake:NAME``."""
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError:
        raise ConfigError("--noise fake:NAME needs qiskit-ibm-runtime: pip "
                          "install pytket-qiskit") from None
    cls = getattr(fake_provider, fake_backend_name(noise), None)
    if cls is None:
        raise ConfigError(f"--noise {noise}: no such fake backend in "
                          "qiskit_ibm_runtime.fake_provider (e.g. "
                          "fake:brisbane, fake:kyiv, fake:sherbrooke, "
                          "fake:torino)")
    from qiskit_aer.noise import NoiseModel
    return NoiseModel.from_backend(cls())
