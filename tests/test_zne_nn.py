"""The neural zero-noise extrapolator: what it corrects, its validation
split, and its errors."""
import numpy as np
import pytest

from qnlp.errors import ConfigError
from qnlp.noise.zne import NeuralExtrapolator, extrapolate, richardson_weights


def _family(n, seed):
    """Curves a + b*x + c*x**2 + d*x**3 in the noise x = level * scale:
    Richardson through three scales misses the cubic term exactly, by
    -6 d level**3; a network that sees the level and the differences can
    learn it."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(-1, 1, (3, n))
    d = -4 * b * c      # the cubic term a function of the lower ones
    level = rng.choice([0.02, 0.05, 0.1], n)
    x = level[:, None] * np.array([1.0, 2.0, 3.0])
    values = a[:, None] + b[:, None] * x + c[:, None] * x ** 2 \
        + d[:, None] * x ** 3
    return level, values, a


def test_richardson_weights_are_mitiqs():
    values = np.random.default_rng(1).uniform(size=(4, 3))
    for scales in ([1, 2, 3], [1, 3, 5]):
        assert values @ richardson_weights(scales) == pytest.approx(
            extrapolate(scales, values, 'richardson'), abs=1e-12)


def test_network_corrects_richardson_on_unseen_curves():
    level, values, clean = _family(200, 0)
    net = NeuralExtrapolator(steps=200, seeds=1, bases=('richardson',))
    net.fit(level, values, clean)
    level, values, clean = _family(100, 1)
    richardson = np.abs(extrapolate([1, 2, 3], values) - clean).mean()
    assert np.abs(net.predict(level, values) - clean).mean() < \
        0.5 * richardson


def test_groups_go_wholly_to_training_or_validation():
    level, values, clean = _family(40, 2)
    net = NeuralExtrapolator(steps=30, seeds=2)
    net.fit(level, values, clean, groups=np.arange(40) // 4)
    assert set(net.choice['candidates']) == {
        'richardson/order', 'richardson', 'lowest/order', 'lowest'}
    assert len(net.nets) == 2
    assert len(net.choice['validation_groups']) == 2     # of 10 groups
    assert set(net.choice['validation_groups']) <= set(range(10))
    assert net.predict(level[:3], values[:3]).shape == (3,)


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match='not trained'):
        NeuralExtrapolator().predict(0.01, np.ones((2, 3)))
    with pytest.raises(ConfigError, match='bases must be among'):
        NeuralExtrapolator(bases=('cubic',))
    level, values, clean = _family(20, 3)
    net = NeuralExtrapolator(steps=10, seeds=1).fit(level, values, clean)
    with pytest.raises(ConfigError, match='built for 3 scale factors'):
        net.predict(0.01, np.ones((2, 5)))
