"""Classical baselines, trained on the same splits as the quantum models."""
from qnlp.baselines.text import (BASELINES, BagOfWordsClassifier,
                                 BiLSTMClassifier, EmbeddingClassifier,
                                 load_sentence_encoder, make_baseline)

__all__ = ["BASELINES", "BagOfWordsClassifier", "BiLSTMClassifier",
           "EmbeddingClassifier", "load_sentence_encoder", "make_baseline"]
