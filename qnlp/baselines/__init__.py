"""Classical baselines, trained on the same splits as the quantum models."""
from qnlp.baselines.features import (FEATURE_CLASSIFIERS, full_features,
                                     text_features)
from qnlp.baselines.protein import (PROTEIN_BASELINES, CompositionClassifier,
                                    ConvClassifier, EsmEmbeddingClassifier,
                                    HydropathyClassifier, load_esm2)
from qnlp.baselines.text import (BASELINES, BagOfWordsClassifier,
                                 BiLSTMClassifier, EmbeddingClassifier,
                                 load_sentence_encoder, make_baseline)

__all__ = ["FEATURE_CLASSIFIERS", "full_features", "text_features",
           "BASELINES", "CompositionClassifier", "ConvClassifier",
           "EsmEmbeddingClassifier", "HydropathyClassifier", "load_esm2",
           "PROTEIN_BASELINES", "BagOfWordsClassifier", "BiLSTMClassifier",
           "EmbeddingClassifier", "load_sentence_encoder", "make_baseline"]
