"""Grouped folds (toolkit.folds): exactly the scikit-learn splitters' folds, for every caller."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from toolkit import classify, folds, hirability, training
from toolkit.training import TrainConfig


def _items(n_groups=23, per_group=(2, 9), seed=0):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(*per_group, n_groups)
    groups = np.repeat([f"g{i:02d}" for i in range(n_groups)], sizes)
    label = (rng.random(groups.size) < 0.3).astype(int)
    return groups, label


def _direct(cv, groups, label):
    """Fold ids from the splitter called directly, as every caller did before toolkit.folds."""
    fold = np.full(groups.size, -1)
    for k, (_, test) in enumerate(cv.split(np.zeros(groups.size), label, groups)):
        fold[test] = k
    return fold


@pytest.mark.parametrize("seed", [0, 1, 7, 1003])
@pytest.mark.parametrize("n_splits", [2, 3, 5])
def test_fold_ids_are_the_splitters_own(seed, n_splits):
    groups, label = _items(seed=seed)
    stratified = folds.fold_ids(groups, n_splits, seed, label=label)
    direct = _direct(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed), groups, label)
    np.testing.assert_array_equal(stratified, direct)
    grouped = folds.fold_ids(groups, n_splits, seed)
    np.testing.assert_array_equal(grouped, _direct(GroupKFold(n_splits, shuffle=True, random_state=seed), groups,
                                                   label))
    # train_test gives the very arrays split() yields, in order
    for (train, test), (train_d, test_d) in zip(
            folds.train_test(grouped),
            GroupKFold(n_splits, shuffle=True, random_state=seed).split(np.zeros(groups.size), label, groups),
            strict=True):
        np.testing.assert_array_equal(train, train_d)
        np.testing.assert_array_equal(test, test_d)


def test_splitter_is_shuffled_and_seeded():
    s = folds.splitter(3, 4)
    assert type(s) is GroupKFold and repr(s) == repr(GroupKFold(3, shuffle=True, random_state=4))
    s = folds.splitter(3, 4, stratified=True)
    assert type(s) is StratifiedGroupKFold
    assert repr(s) == repr(StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=4))


def test_a_group_is_never_split_and_every_fold_is_used():
    groups, label = _items()
    for fold in (folds.fold_ids(groups, 5, 3), folds.fold_ids(groups, 5, 3, label=label)):
        assert (pd.Series(fold).groupby(groups).nunique() == 1).all()
        assert set(fold) == set(range(5))


def test_checks_and_messages():
    with pytest.raises(ValueError, match="3 candidates cannot fill 5 folds"):
        folds.fold_ids(["a", "b", "c", "a"], 5, group_name="candidate")
    with pytest.raises(ValueError, match="needs at least 5 positions, got 3"):
        folds.fold_ids(["a", "a", "b", "b", "c", "c"], 5, label=[0, 1, 0, 1, 0, 1], group_name="position")
    # a training part with a single label is refused only when asked
    groups = ["a", "b", "c", "d"]
    label = [1, 0, 0, 0]
    folds.fold_ids(groups, 2, label=label)
    with pytest.raises(ValueError, match="its training candidates all have label 0; a classifier cannot be "
                                         r"trained \(too few positions with both labels\)"):
        folds.fold_ids(groups, 2, label=label, group_name="position", item_name="candidate",
                       check_training_labels=True)
    with pytest.raises(ValueError, match="needs a label"):
        folds.fold_ids(groups, 2, stratified=True)


# --------------------------------------------------------------------------- every caller keeps its folds

def test_classify_folds_are_group_kfold_by_candidate():
    groups, label = _items(n_groups=30)
    for seed in (0, 5):
        ours = classify._splits(groups, 5, seed)
        direct = list(GroupKFold(5, shuffle=True, random_state=seed).split(np.zeros(groups.size), label, groups))
        assert len(ours) == len(direct)
        for (a, b), (c, d) in zip(ours, direct):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)


def test_hirability_outer_folds_are_stratified_group_kfold_by_position():
    groups, label = _items(n_groups=17, seed=2)
    for seed in (0, 3):
        direct = _direct(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed), groups, label)
        np.testing.assert_array_equal(hirability.outer_folds(label, groups, n_splits=5, seed=seed), direct)


def test_training_folds_are_stratified_group_kfold_by_position():
    groups, label = _items(n_groups=12, seed=4)

    class Data:  # the two fields of training._Data the folds read
        positions = groups
        labels = label

    for seed in (0, 2):
        config = TrainConfig(folds=4, seed=seed)
        outer = training._outer_folds(Data, config)
        np.testing.assert_array_equal(
            outer, _direct(StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=seed), groups, label))
        for k in range(4):
            candidates = np.flatnonzero(outer != k)
            train, val = training._inner_split(Data, candidates, config, k)
            inner = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed + 1000 + k)
            train_d, val_d = next(inner.split(np.zeros(candidates.size), label[candidates], groups[candidates]))
            np.testing.assert_array_equal(train, candidates[train_d])
            np.testing.assert_array_equal(val, candidates[val_d])
