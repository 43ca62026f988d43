"""The README's Python examples run as written."""
from __future__ import annotations

import re

from tests.conftest import ROOT


def test_readme_python_blocks_run():
    text = (ROOT / 'README.md').read_text()
    blocks = re.findall(r'```python\n(.*?)```', text, flags=re.S)
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, 'README.md', 'exec'), namespace)
    assert namespace['probabilities'].shape == (4, 2)
    assert namespace['model'](namespace['circuits']).argmax(1).tolist() == [
        1, 0, 1, 0]
