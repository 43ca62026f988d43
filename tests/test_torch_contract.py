"""The PyTorch contract: state dicts that know their symbols, and the
TensorBoard logs of training."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from qnlp.cli import main
from qnlp.errors import CheckpointError
from qnlp.models import DisCoCatClassifier, SentencePipeline
from qnlp.train.trainer import TENSORBOARD_SCALARS
from tests.conftest import BUNDLED, ROOT

NAMES = [f'w{i}__n_0' for i in range(6)]


def test_state_dict_carries_the_symbol_names_through_safetensors(tmp_path):
    model = DisCoCatClassifier(NAMES[:3], seed=0)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()},
              str(tmp_path / 'w.safetensors'))
    back = DisCoCatClassifier(NAMES[:3], seed=1)
    back.load_state_dict(load_file(str(tmp_path / 'w.safetensors')))
    assert back.parameter_values() == model.parameter_values()
    assert set(model.state_dict()) == {'weights', '_extra_state'}


@settings(max_examples=10, deadline=None)
@given(st.permutations(NAMES))
def test_reordered_symbols_load_by_name(order):
    model = DisCoCatClassifier(NAMES, seed=0)
    other = DisCoCatClassifier(order, seed=1)
    other.load_state_dict(model.state_dict())
    assert other.parameter_values() == model.parameter_values()
    assert other.engine.symbols == list(order)


def test_reordered_model_gives_the_same_outputs():
    pipeline = SentencePipeline()
    texts = ['woman cooks meal', 'man debugs program', 'man cooks meal']
    pipeline.fit_vocabulary(texts, min_count=1)
    circuits = pipeline.circuits(texts)
    model = DisCoCatClassifier.from_circuits(circuits, seed=0)
    reordered = DisCoCatClassifier(model.engine.symbols[::-1], seed=3)
    before = reordered(circuits)
    reordered.load_state_dict(model.state_dict())
    torch.testing.assert_close(reordered(circuits), model(circuits))
    assert not torch.allclose(before, model(circuits))


@pytest.mark.parametrize('symbols, first', [
    (NAMES[:2] + ['other__n_0'], "symbol 3 is 'w2__n_0' there, "
                                 "'other__n_0' here"),
    (NAMES[:2], "symbol 3 is 'w2__n_0' there, missing here"),
    (NAMES[:4], "symbol 4 is missing there, 'w3__n_0' here")])
def test_other_symbols_are_refused_naming_the_first(symbols, first):
    saved = DisCoCatClassifier(NAMES[:3], seed=0).state_dict()
    with pytest.raises(CheckpointError, match=first):
        DisCoCatClassifier(symbols).load_state_dict(saved)


def test_state_dict_without_names_loads_as_before():
    model = DisCoCatClassifier(NAMES[:3], seed=0)
    legacy = {'weights': model.state_dict()['weights']}
    back = DisCoCatClassifier(NAMES[:3], seed=1)
    back.load_state_dict(legacy)
    assert back.parameter_values() == model.parameter_values()


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the TensorBoard event files in ``folder``."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator)
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()['scalars']}


def _tiny_proteins(folder: Path) -> Path:
    """30 records of the bundled FASTA file (training is not the point:
    the logs are)."""
    records = (ROOT / 'corpora' / 'proteins' / 'proteins.fasta').read_text(
        ).split('>')[1:31]
    path = folder / 'proteins.fasta'
    path.write_text(''.join('>' + record for record in records))
    return path


def test_train_writes_tensorboard_scalars_of_every_epoch(tmp_path):
    """Through the command line; the logging is in the one training
    path of every task (:func:`qnlp.tasks.runner.train` -> ``fit``), so
    the smallest task shows it."""
    pytest.importorskip('tensorboard')
    logs = tmp_path / 'logs'
    assert main(['train', str(_tiny_proteins(tmp_path)), '--task',
                 'proteins', '--quiet', '--out', str(tmp_path / 'run'),
                 '--tensorboard', str(logs), '--epochs', '2',
                 '--max-length', '16', '--qubits', '1']) == 0
    scalars = _scalars(logs)
    history = [json.loads(line) for line in
               (tmp_path / 'run' / 'history.jsonl').read_text().splitlines()]
    for key, tag in TENSORBOARD_SCALARS.items():
        assert [step for step, _ in scalars[tag]] == [1, 2]
        assert [value for _, value in scalars[tag]] == pytest.approx(
            [row[key] for row in history], rel=1e-6)


def test_tensorboard_missing_is_one_line_and_exit_2(tmp_path, capsys,
                                                    monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', None)
    status = main(['train', str(BUNDLED), '--task', 'sentences',
                   '--out', str(tmp_path / 'run'), '--tensorboard',
                   str(tmp_path / 'logs'), '--epochs', '1'])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert 'pip install tensorboard' in err[0]
    assert not (tmp_path / 'run').exists()


def _image_model(entangler: str = 'ring', classes: int = 3) -> torch.nn.Module:
    from qnlp.models.images import ImageClassifier
    from qnlp.models.quantum_layers import ParallelQuantumLayer
    network = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(4, 8),
        ParallelQuantumLayer(2, 4, 1, entangler=entangler, seed=0),
        torch.nn.Linear(8, classes))
    return ImageClassifier(network, channels=1)


def _kernel_model(feature_map: str = 'angle') -> torch.nn.Module:
    from qnlp.models.kernel import KernelModel
    from qnlp.tasks.sentiment import SentimentSettings
    settings = SentimentSettings(model='qsvc', components=2,
                                 feature_map=feature_map)
    return KernelModel(settings.feature_map, settings.components,
                       settings.feature_reps, settings.entanglement,
                       np.zeros((3, 2)), np.ones(3), np.zeros(1))


def _protein_model(**options) -> torch.nn.Module:
    from qnlp.models.sequence import SequenceClassifier
    return SequenceClassifier(list('ACDE'), max_length=16, **options)


def _vqc_model(**options) -> torch.nn.Module:
    from qnlp.models.vqc import VQCModel
    return VQCModel(3, reps=1, **options)


@pytest.mark.parametrize('make, other, first', [
    (_protein_model, lambda: _protein_model(mode='chain'),
     'mode is "tree" there, "chain" here'),
    (_protein_model, lambda: _protein_model(qubits=2),
     'qubits is 1 there, 2 here'),
    (_image_model, lambda: _image_model(entangler='linear'),
     r'layer network.2 is "\.\.\..*entangler=ring.*" there, '
     r'"\.\.\..*entangler=linear.*" here'),
    (_image_model, lambda: _image_model(classes=4),
     r'layer network.3 is "Linear\(.*out_features=3.*" there, '
     r'"Linear\(.*out_features=4.*" here'),
    (_vqc_model, lambda: _vqc_model(readout='z'),
     r'readout is \[\["ZZZ", 1.0\]\] there, \[\["IIZ", 1.0\]\] here'),
    (_vqc_model, lambda: _vqc_model(feature_map='zz'),
     'feature map is "AngleEncoding'),
    (_kernel_model, lambda: _kernel_model(feature_map='zz'),
     'feature map is "angle" there, "zz" here')],
    ids=['protein-mode', 'protein-wires', 'image-entangler',
         'image-classes', 'vqc-readout', 'vqc-feature-map',
         'kernel-feature-map'])
def test_checkpoints_of_other_configurations_are_refused(make, other, first,
                                                         tmp_path):
    """Through a safetensors file, as the tasks save them; the same
    configuration loads, a state dict saved before fingerprints loads."""
    path = str(tmp_path / 'w.safetensors')
    save_file({k: v.contiguous() for k, v in make().state_dict().items()},
              path)
    saved = load_file(path)
    with pytest.raises(CheckpointError, match=first):
        other().load_state_dict(saved)
    make().load_state_dict(saved)
    legacy = {k: v for k, v in saved.items() if k != '_extra_state'}
    make().load_state_dict(legacy)
