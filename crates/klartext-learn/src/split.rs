//! Seeded data splits: stratified train/test and stratified k-fold, driven by the
//! crate's own PRNG so results never change with a dependency's version.

use crate::data::Task;
use crate::error::{LearnError, Result};
use crate::rng::SplitMix64;

/// Row groups to split: one per class for classification, one for regression.
fn strata(task: Task, y: &[f64]) -> Vec<Vec<usize>> {
    match task {
        Task::BinaryClassification => {
            let neg = (0..y.len()).filter(|&i| y[i] != 1.0).collect();
            let pos = (0..y.len()).filter(|&i| y[i] == 1.0).collect();
            vec![neg, pos]
        }
        Task::Regression => vec![(0..y.len()).collect()],
    }
}

/// Splits rows into (train, test), each sorted ascending. Classification splits
/// every class in the same proportion (`round(test_fraction * class size)` rows of
/// each class go to test).
pub fn train_test_split(
    task: Task,
    y: &[f64],
    test_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(LearnError::invalid_param(
            "test_fraction",
            test_fraction,
            "a number in (0, 1)",
        ));
    }
    if y.len() < 2 {
        return Err(LearnError::EmptyData(
            "need at least 2 rows to split".into(),
        ));
    }
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (k, mut group) in strata(task, y).into_iter().enumerate() {
        SplitMix64::derive(seed, k as u64).shuffle(&mut group);
        let n_test = (test_fraction * group.len() as f64).round() as usize;
        test.extend_from_slice(&group[..n_test]);
        train.extend_from_slice(&group[n_test..]);
    }
    if train.is_empty() || test.is_empty() {
        return Err(LearnError::EmptyData(
            "split leaves an empty train or test part".into(),
        ));
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok((train, test))
}

/// Assigns rows to `k` folds; returns each fold's validation rows, sorted. Each
/// class is shuffled and dealt round-robin, continuing where the previous class
/// stopped, so fold sizes differ by at most one and class shares match.
pub fn stratified_kfold(task: Task, y: &[f64], k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    if k < 2 {
        return Err(LearnError::invalid_param("k", k, "an integer >= 2"));
    }
    if y.len() < k {
        return Err(LearnError::EmptyData(format!(
            "{} rows cannot fill {k} folds",
            y.len()
        )));
    }
    let mut folds = vec![Vec::new(); k];
    let mut next = 0usize;
    for (s, mut group) in strata(task, y).into_iter().enumerate() {
        SplitMix64::derive(seed, 0x4B + s as u64).shuffle(&mut group);
        for r in group {
            folds[next % k].push(r);
            next += 1;
        }
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    Ok(folds)
}

/// The rows not in `fold` (the training part of a CV round), sorted.
pub fn complement(n_rows: usize, fold: &[usize]) -> Vec<usize> {
    let mut mark = vec![false; n_rows];
    for &i in fold {
        mark[i] = true;
    }
    (0..n_rows).filter(|&i| !mark[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_split_keeps_class_shares() {
        let y: Vec<f64> = (0..1000)
            .map(|i| if i % 10 == 0 { 1.0 } else { 0.0 })
            .collect();
        let (tr, te) = train_test_split(Task::BinaryClassification, &y, 0.25, 42).unwrap();
        assert_eq!(tr.len() + te.len(), 1000);
        assert_eq!(te.iter().filter(|&&i| y[i] == 1.0).count(), 25);
        assert_eq!(te.len(), 250);
        let again = train_test_split(Task::BinaryClassification, &y, 0.25, 42).unwrap();
        assert_eq!(again.1, te);
    }

    #[test]
    fn kfold_partitions_rows() {
        let y: Vec<f64> = (0..103)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let folds = stratified_kfold(Task::BinaryClassification, &y, 5, 1).unwrap();
        let mut all: Vec<usize> = folds.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        for f in &folds {
            assert!(f.len() == 20 || f.len() == 21);
            let pos = f.iter().filter(|&&i| y[i] == 1.0).count();
            assert!((6..=7).contains(&pos));
        }
        assert_eq!(complement(103, &folds[0]).len(), 103 - folds[0].len());
    }
}
