"""Training loops, run directories, comparison and estimators."""
from qnlp.files import atomic_write_json, atomic_write_text
from qnlp.train.checkpoint import load_run, save_run
from qnlp.train.estimator import DisCoCatEstimator
from qnlp.train.trainer import Split, TrainConfig, evaluate, fit, nll
from qnlp.train.vqc import VQCClassifier

__all__ = ["DisCoCatEstimator", "Split", "TrainConfig", "atomic_write_json",
           "atomic_write_text", "evaluate", "fit", "load_run", "nll",
           "save_run", "VQCClassifier"]
