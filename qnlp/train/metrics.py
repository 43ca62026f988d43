"""Classification metrics: accuracy, precision, recall, F1, confusion.

>>> report = classification_report([0, 1, 1, 0], [0, 1, 0, 0], ['a', 'b'])
>>> report['accuracy'], report['confusion_matrix']
(0.75, [[2, 0], [1, 1]])
>>> round(report['per_class']['b']['recall'], 2)
0.5
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix,
                             precision_recall_fscore_support)


def classification_report(y_true: Sequence[int], y_pred: Sequence[int],
                          labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1, confusion matrix, per class."""
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0)
    return {
        'accuracy': float(accuracy_score(y_true, y_pred)),
        'precision': float(np.mean(precision)),
        'recall': float(np.mean(recall)),
        'f1': float(np.mean(f1)),
        'confusion_matrix': confusion_matrix(
            y_true, y_pred, labels=indices).tolist(),
        'labels': list(labels),
        'per_class': {label: {'precision': float(p), 'recall': float(r),
                              'f1': float(f), 'support': int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall,
                                                    f1, support)},
    }


def format_report(report: dict[str, Any]) -> str:
    """A plain-text rendering of :func:`classification_report`."""
    lines = [f"accuracy  {report['accuracy']:.4f}",
             f"precision {report['precision']:.4f}  recall "
             f"{report['recall']:.4f}  F1 {report['f1']:.4f} (macro)", '',
             f"{'class':<12}{'precision':>10}{'recall':>10}{'F1':>10}"
             f"{'support':>10}"]
    for label, row in report['per_class'].items():
        lines.append(f"{label:<12}{row['precision']:>10.4f}"
                     f"{row['recall']:>10.4f}{row['f1']:>10.4f}"
                     f"{row['support']:>10}")
    lines += ['', 'confusion matrix (rows: true, columns: predicted)',
              '  '.join(f'{label:>8}' for label in [''] + report['labels'])]
    for label, row in zip(report['labels'], report['confusion_matrix']):
        lines.append('  '.join(f'{v:>8}' for v in [label] + row))
    return '\n'.join(lines)
