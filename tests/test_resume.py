"""Resume refuses other settings, corrupt checkpoints and missing runs
(kill -9 then resume, bit-identical, is tested for every task in
test_tasks.py)."""
from __future__ import annotations

from qnlp.cli import main
from tests.conftest import BUNDLED


def test_resume_with_other_settings_or_corrupt_checkpoint(tmp_path, capsys):
    run = tmp_path / 'run'
    assert main(['train', str(BUNDLED), '--out', str(run), '--epochs', '2',
                 '--quiet']) == 0
    assert main(['train', str(BUNDLED), '--resume', str(run), '--epochs',
                 '3', '--lr', '0.5', '--quiet']) == 2
    assert 'other settings' in capsys.readouterr().err
    (run / 'checkpoint.safetensors').write_bytes(b'not a checkpoint')
    assert main(['train', str(BUNDLED), '--resume', str(run), '--epochs',
                 '2', '--quiet']) == 2
    assert 'corrupt checkpoint' in capsys.readouterr().err
    (run / 'weights.safetensors').write_bytes(b'garbage')
    assert main(['predict', str(run), 'chef roasts soup']) == 2
    assert 'corrupt weights' in capsys.readouterr().err


def test_resume_without_checkpoint(tmp_path, capsys):
    assert main(['train', str(BUNDLED), '--resume', str(tmp_path / 'none'),
                 '--quiet']) == 2
    assert 'nothing to resume' in capsys.readouterr().err
