"""Every script in examples/ runs to the end and prints what it promises."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXPECTED = {
    'sentences.py': 'test accuracy',
    'sentiment.py': 'quantum-kernel SVC test accuracy 1.000',
    'images.py': 'hqnn-parallel',
    'compile_zx.py': 'OPENQASM 2.0',
    'proteins.py': 'chain circuit of MKLV',
    'lambeq_mc.py': '2 epochs: final train loss',
}
#: Arguments that keep an example's test short.
ARGUMENTS = {'lambeq_mc.py': ['--epochs', '2']}


def test_every_example_is_listed():
    assert sorted(p.name for p in (ROOT / 'examples').glob('*.py')) == \
        sorted(EXPECTED)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_example_runs(name):
    result = subprocess.run([sys.executable, str(ROOT / 'examples' / name),
                             *ARGUMENTS.get(name, [])],
                            capture_output=True, text=True, timeout=600,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert EXPECTED[name] in result.stdout
