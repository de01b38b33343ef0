//! TreeSHAP against brute-force Shapley values of the path-dependent
//! ("cover-weighted") conditional expectation, on small trained ensembles.

mod common;

use klartext_learn::data::Task;
use klartext_learn::ensemble::{Node, TreeEnsemble};
use klartext_learn::gbdt::{GbdtModel, GbdtParams};

/// E[f(x) | x_S] as TreeSHAP defines it: follow x where the split feature is in
/// S, else average the children weighted by cover.
fn cond_exp(e: &TreeEnsemble, node: usize, x: &[f64], in_s: &[bool]) -> f64 {
    let n = &e.nodes[node];
    if n.is_leaf() {
        return n.value;
    }
    if in_s[n.feature as usize] {
        return cond_exp(e, e.next_node(node, x), x, in_s);
    }
    let (l, r) = (n.left as usize, n.right as usize);
    let (cl, cr) = (e.nodes[l].cover, e.nodes[r].cover);
    (cl * cond_exp(e, l, x, in_s) + cr * cond_exp(e, r, x, in_s)) / (cl + cr)
}

fn value(e: &TreeEnsemble, x: &[f64], mask: u32) -> f64 {
    let m = e.n_features;
    let in_s: Vec<bool> = (0..m).map(|j| mask >> j & 1 == 1).collect();
    e.base_score
        + e.roots
            .iter()
            .map(|&r| cond_exp(e, r as usize, x, &in_s))
            .sum::<f64>()
}

fn brute_force_shap(e: &TreeEnsemble, x: &[f64]) -> Vec<f64> {
    let m = e.n_features;
    let fact = |k: usize| (1..=k).map(|v| v as f64).product::<f64>();
    let mut phi = vec![0.0; m];
    for (i, p) in phi.iter_mut().enumerate() {
        for mask in 0u32..(1 << m) {
            if mask >> i & 1 == 1 {
                continue;
            }
            let s = mask.count_ones() as usize;
            let w = fact(s) * fact(m - s - 1) / fact(m);
            *p += w * (value(e, x, mask | 1 << i) - value(e, x, mask));
        }
    }
    phi
}

fn check(e: &TreeEnsemble, rows: &[Vec<f64>]) {
    let ev = e.expected_value();
    assert!(
        (ev - value(e, &rows[0], 0)).abs() < 1e-9,
        "expected value is E[f | {{}}]"
    );
    for x in rows {
        let fast = e.shap_values(x);
        let slow = brute_force_shap(e, x);
        for (a, b) in fast.iter().zip(&slow) {
            assert!(
                (a - b).abs() < 1e-9,
                "TreeSHAP {fast:?} vs brute force {slow:?}"
            );
        }
        let sum = ev + fast.iter().sum::<f64>();
        assert!((sum - e.predict_raw(x)).abs() < 1e-9);
    }
}

#[test]
fn hand_built_tree_with_repeated_feature() {
    // Feature 0 is split twice on one path: exercises the unwind step.
    let mut e = TreeEnsemble::new(3, 0.25);
    e.push_tree(
        vec![
            Node::numeric(0, 0.5, false, 1, 2, 100.0),
            Node::numeric(1, 0.0, true, 3, 4, 60.0),
            Node::leaf(4.0, 40.0),
            Node::numeric(0, -1.0, false, 5, 6, 35.0),
            Node::leaf(-2.0, 25.0),
            Node::leaf(1.0, 5.0),
            Node::numeric(2, 3.0, false, 7, 8, 30.0),
            Node::leaf(0.5, 10.0),
            Node::leaf(-0.5, 20.0),
        ],
        &[],
    );
    e.validate().unwrap();
    let rows: Vec<Vec<f64>> = vec![
        vec![-2.0, -1.0, 0.0],
        vec![0.0, -1.0, 5.0],
        vec![0.0, 1.0, 5.0],
        vec![1.0, f64::NAN, 0.0],
        vec![f64::NAN, f64::NAN, f64::NAN],
    ];
    check(&e, &rows);
}

#[test]
fn trained_regression_ensemble_matches_brute_force() {
    let (x, y) = common::mixed(400, 5, 7, false, 11);
    let cfg = GbdtParams {
        num_iterations: 6,
        num_leaves: 12,
        min_data_in_leaf: 5,
        min_data_per_group: 10,
        cat_smooth: 2.0,
        learning_rate: 0.3,
        ..Default::default()
    }
    .check()
    .unwrap();
    let m = GbdtModel::fit(&cfg, Task::Regression, &x, &y).unwrap();
    assert!(
        m.ensemble.nodes.iter().any(|n| n.cat_len > 0),
        "uses a categorical split"
    );
    let rows: Vec<Vec<f64>> = (0..25).map(|i| x.row(i)).collect();
    check(&m.ensemble, &rows);
}

#[test]
fn trained_binary_ensemble_with_bagging_matches_brute_force() {
    let (x, y) = common::mixed(500, 5, 4, true, 5);
    let cfg = GbdtParams {
        num_iterations: 5,
        num_leaves: 10,
        min_data_in_leaf: 5,
        bagging_fraction: 0.7,
        feature_fraction: 0.8,
        seed: 9,
        ..Default::default()
    }
    .check()
    .unwrap();
    let m = GbdtModel::fit(&cfg, Task::BinaryClassification, &x, &y).unwrap();
    let mut rows: Vec<Vec<f64>> = (0..20).map(|i| x.row(i)).collect();
    rows.push(vec![f64::NAN; 6]);
    rows.push(vec![100.0, -5.0, 2.5, 3.0, f64::NAN, 99.0]); // unseen category code
    check(&m.ensemble, &rows);
    // Batch SHAP equals single-row SHAP; last column is the expected value.
    let batch = m.ensemble.shap_values_batch(&x);
    let w = x.n_features() + 1;
    for i in 0..20 {
        let single = m.ensemble.shap_values(&x.row(i));
        assert_eq!(&batch[i * w..i * w + w - 1], &single[..]);
        assert_eq!(batch[i * w + w - 1], m.ensemble.expected_value());
    }
}
