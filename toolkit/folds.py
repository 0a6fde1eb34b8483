"""Which items are tested together? Grouped cross-validation folds, the one home of every fold builder.

Every cross-validation of the toolkit is *grouped*: a group (a candidate, a position) never has
items in both the training and the test part of a fold. It is shuffled by a seed, and stratified
by label where the label is rare enough to leave a fold without one class.

- :func:`splitter`: the scikit-learn splitter itself (``GroupKFold`` or ``StratifiedGroupKFold``,
  shuffled), for the inner cross-validations of a hyper-parameter search.
- :func:`fold_ids`: the fold of each item, with the checks that turn a corpus too small for the
  folds into a clear message.
- :func:`train_test`: the (training, test) indices of each fold, in fold order.

The folds are exactly those of the splitter called directly with the same arguments
(``tests/test_folds.py`` pins this), so moving a caller here never changes a result.
"""
from __future__ import annotations

import numpy as np

__all__ = ["splitter", "fold_ids", "train_test"]


def splitter(n_splits: int, seed: int = 0, stratified: bool = False):
    """A shuffled grouped splitter.

    Parameters
    ----------
    n_splits : int
    seed : int
        Its ``random_state``.
    stratified : bool
        :class:`~sklearn.model_selection.StratifiedGroupKFold` (each fold keeps the label's share as
        well as groups allow) instead of :class:`~sklearn.model_selection.GroupKFold`.

    Returns
    -------
    sklearn.model_selection.GroupKFold or sklearn.model_selection.StratifiedGroupKFold
        ``shuffle=True, random_state=seed``.
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    if stratified:
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)


def fold_ids(groups, n_splits: int = 5, seed: int = 0, label=None, stratified: bool | None = None,
             group_name: str = "group", item_name: str = "item", check_training_labels: bool = False) -> np.ndarray:
    """Fold of each item (0 .. ``n_splits - 1``): grouped, optionally stratified, shuffled by ``seed``.

    Parameters
    ----------
    groups : array-like
        One group per item (``candidate_id``, ``position_id``); a group lies in a single fold.
    n_splits : int
    seed : int
    label : array-like of 0/1, optional
        One label per item; needed to stratify or to check the training folds.
    stratified : bool, optional
        Stratify by ``label`` (default: when a label is given).
    group_name, item_name : str
        What a group and an item are, for the messages (``"position"``, ``"candidate"``).
    check_training_labels : bool
        Refuse folds whose training part (every other fold) holds a single label.

    Returns
    -------
    numpy.ndarray of int

    Raises
    ------
    ValueError
        With fewer groups than folds, or (``check_training_labels``) when a training fold would
        hold a single class.
    """
    groups = np.asarray(groups)
    if stratified is None:
        stratified = label is not None
    if (stratified or check_training_labels) and label is None:
        raise ValueError("fold_ids: stratifying or checking the training labels needs a label")
    y = np.zeros(groups.size, int) if label is None else np.asarray(label).astype(int)
    if y.size != groups.size:
        raise ValueError(f"fold_ids: {y.size} labels for {groups.size} groups")
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise ValueError(f"{n_groups} {group_name}s cannot fill {n_splits} folds: {n_splits}-fold cross-validation "
                         f"grouped by {group_name} needs at least {n_splits} {group_name}s, got {n_groups}")
    fold = np.full(groups.size, -1)
    cv = splitter(n_splits, seed, stratified=stratified)
    for k, (_, test) in enumerate(cv.split(np.zeros(groups.size), y, groups)):
        fold[test] = k
    if check_training_labels:
        for k in range(n_splits):
            train = y[fold != k]
            if train.min() == train.max():
                raise ValueError(f"fold {k}: its training {item_name}s all have label {train[0]}; a classifier "
                                 f"cannot be trained (too few {group_name}s with both labels)")
    return fold


def train_test(fold) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (training, test) indices of each fold of :func:`fold_ids`, in fold order.

    The same arrays, in the same order, as the splitter's own ``split`` yields.
    """
    fold = np.asarray(fold)
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(int(fold.max()) + 1)]
