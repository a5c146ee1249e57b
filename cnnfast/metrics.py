"""Classification metrics in NumPy: accuracy and the tie-aware ROC AUC (used by python -m cnnfast.train)."""
import numpy as np

__all__ = ["accuracy", "roc_auc"]


def _labels_and_scores(y_true, y_score):
    y = np.asarray(y_true)
    s = np.asarray(y_score)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D (or (N, 1)), got shape {y.shape}")
    if s.ndim != 1:
        raise ValueError(f"y_score must be 1-D, got shape {s.shape}")
    if y.shape[0] != s.shape[0]:
        raise ValueError(f"y_true and y_score must have the same length, got {y.shape[0]} and {s.shape[0]}")
    return y, s


def roc_auc(y_true, y_score):
    """Area under the ROC curve for binary labels (1 = positive) and scores (higher = more positive).

    Equals the probability that a random positive scores above a random negative, ties counted as
    one half (the Mann-Whitney U statistic over n_pos * n_neg), computed from average ranks in
    O(N log N). ValueError when a class is absent or a score is NaN."""
    y, s = _labels_and_scores(y_true, y_score)
    if y.dtype == bool:
        y = y.astype(np.int64)
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise TypeError(f"y_true must hold numbers, got dtype {y.dtype}")
    if not np.issubdtype(s.dtype, np.number) or np.issubdtype(s.dtype, np.complexfloating):
        raise TypeError(f"y_score must hold real numbers, got dtype {s.dtype}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must hold only 0 and 1, got {np.unique(y)[:5].tolist()}")
    if np.isnan(s.astype(np.float64)).any():
        raise ValueError("y_score contains NaN")
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = y.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_auc needs both classes, got {n_pos} positive and {n_neg} negative samples")
    # average rank (1-based) of each distinct score: tied scores share the mean of their ranks
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    average_rank = upper - (counts - 1) / 2.0
    rank_sum = average_rank[inverse.ravel()][positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def accuracy(y_true, y_pred):
    """Fraction of equal labels."""
    y, p = _labels_and_scores(y_true, y_pred)
    if y.shape[0] == 0:
        raise ValueError("accuracy of an empty set")
    return float(np.mean(y == p))
