//! The synthetic churn generator: determinism, ground truth, bias and drift knobs.

use klartext_core::frame::{ColumnData, Frame};
use klartext_core::report::PiiKind;
use klartext_core::schema::{ColumnKind, ColumnRole};
use klartext_core::UseCase;
use klartext_data::generate::{generate, GenerateParams, EXAMPLE_USECASE};
use klartext_data::pii::{scan_values, PII_SHARE_THRESHOLD};

fn params(rows: usize) -> GenerateParams {
    GenerateParams {
        rows,
        ..Default::default()
    }
}

fn num<'a>(f: &'a Frame, name: &str) -> &'a [f64] {
    match &f.column(name).expect("column").data {
        ColumnData::Num(v) => v,
        ColumnData::Str(_) => panic!("{name} is text"),
    }
}

fn churned(f: &Frame) -> Vec<bool> {
    let ColumnData::Str(s) = &f.column("churn").expect("churn").data else {
        panic!()
    };
    (0..f.n_rows).map(|i| s.get(i) == Some("Yes")).collect()
}

fn rate(flags: impl Iterator<Item = bool>) -> f64 {
    let (mut n, mut k) = (0usize, 0usize);
    for b in flags {
        n += 1;
        k += usize::from(b);
    }
    k as f64 / n as f64
}

fn median(v: &[f64]) -> f64 {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rank AUC of scores against labels.
fn auc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0, 0.0);
    for (r, &i) in idx.iter().enumerate() {
        if labels[i] {
            rank_sum += (r + 1) as f64;
            pos += 1.0;
        }
    }
    let neg = scores.len() as f64 - pos;
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Frames equal value for value, with NaN (missing) equal to NaN.
fn same_column(a: &ColumnData, b: &ColumnData) -> bool {
    match (a, b) {
        (ColumnData::Num(x), ColumnData::Num(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        }
        (ColumnData::Str(x), ColumnData::Str(y)) => x == y,
        _ => false,
    }
}

fn same_frame(a: &Frame, b: &Frame) -> bool {
    a.n_rows == b.n_rows
        && a.columns.len() == b.columns.len()
        && a.columns
            .iter()
            .zip(&b.columns)
            .all(|(x, y)| x.name == y.name && same_column(&x.data, &y.data))
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = generate(&GenerateParams {
        extra_features: 4,
        pii: true,
        ..params(2000)
    });
    let b = generate(&GenerateParams {
        extra_features: 4,
        pii: true,
        ..params(2000)
    });
    assert!(same_frame(&a.frame, &b.frame));
    assert_eq!(a.schema, b.schema);
    assert_eq!(a.truth, b.truth);
    let c = generate(&GenerateParams {
        seed: 7,
        extra_features: 4,
        pii: true,
        ..params(2000)
    });
    assert!(!same_frame(&a.frame, &c.frame));
    assert_ne!(a.truth, c.truth);
}

#[test]
fn shape_kinds_and_roles() {
    let g = generate(&GenerateParams {
        extra_features: 13,
        ..params(500)
    });
    assert_eq!(g.frame.n_cols(), 30);
    assert_eq!(g.schema.columns.len(), 30);
    assert_eq!(g.truth.len(), 500);
    for (c, s) in g.frame.columns.iter().zip(&g.schema.columns) {
        assert_eq!(c.name, s.name);
        assert_eq!(c.data.len(), 500);
        let want = match s.name.as_str() {
            "customer_id" => ColumnRole::Id,
            "churn" => ColumnRole::Target,
            _ => ColumnRole::Feature,
        };
        assert_eq!(s.role, want, "{}", s.name);
    }
    let kind = |n: &str| g.schema.column(n).map(|c| c.kind);
    assert_eq!(kind("customer_id"), Some(ColumnKind::Id));
    assert_eq!(kind("signup_date"), Some(ColumnKind::Datetime));
    assert_eq!(kind("tenure_months"), Some(ColumnKind::Integer));
    assert_eq!(kind("monthly_charges"), Some(ColumnKind::Numeric));
    assert_eq!(kind("contract"), Some(ColumnKind::Categorical));
    assert_eq!(kind("female"), Some(ColumnKind::Boolean));
    assert_eq!(kind("newsletter"), Some(ColumnKind::Boolean));
    assert_eq!(kind("churn"), Some(ColumnKind::Boolean));
    assert_eq!(
        g.frame.columns[0].data.display(0).as_deref(),
        Some("C0000001")
    );

    // Realistic missingness: new customers have no total yet.
    let tenure = num(&g.frame, "tenure_months");
    let total = num(&g.frame, "total_charges");
    assert!(tenure
        .iter()
        .zip(total)
        .all(|(t, c)| *t != 0.0 || c.is_nan()));
    assert!(total.iter().any(|x| x.is_nan()));
    // Seniors are exactly the customers aged 65 and over.
    let age = num(&g.frame, "age");
    let senior = num(&g.frame, "senior_citizen");
    assert!(age
        .iter()
        .zip(senior)
        .all(|(a, s)| (*a >= 65.0) == (*s == 1.0)));
    // Charges carry two decimals at most.
    assert!(num(&g.frame, "monthly_charges")
        .iter()
        .all(|x| ((x * 100.0).round() - x * 100.0).abs() < 1e-6));
}

#[test]
fn extras_and_pii_do_not_change_the_base_columns() {
    let base = generate(&params(1000));
    let wide = generate(&GenerateParams {
        extra_features: 5,
        pii: true,
        ..params(1000)
    });
    assert_eq!(base.truth, wide.truth);
    for c in &base.frame.columns {
        let other = wide.frame.column(&c.name).expect("column kept");
        assert!(same_column(&c.data, &other.data), "{}", c.name);
    }
}

#[test]
fn positive_rate_and_truth_track_each_other() {
    let g = generate(&params(20_000));
    let y = churned(&g.frame);
    let r = rate(y.iter().copied());
    assert!((0.2..=0.3).contains(&r), "positive rate {r}");
    assert!(g.truth.iter().all(|&p| p > 0.0 && p < 1.0));
    let mean_truth = g.truth.iter().sum::<f64>() / g.truth.len() as f64;
    assert!(
        (r - mean_truth).abs() < 0.015,
        "rate {r} vs truth {mean_truth}"
    );
    // The truth separates well enough that min_auc = 0.75 is reachable.
    let a = auc(&g.truth, &y);
    assert!(a > 0.78, "truth AUC {a}");
}

#[test]
fn bias_raises_the_female_churn_rate_only() {
    let fair = generate(&params(20_000));
    let biased = generate(&GenerateParams {
        bias: 1.0,
        ..params(20_000)
    });
    let female = num(&fair.frame, "female").to_vec();
    let group_rate = |g: &klartext_data::generate::Generated, want: f64| {
        let y = churned(&g.frame);
        rate(
            female
                .iter()
                .zip(y)
                .filter(|(f, _)| **f == want)
                .map(|(_, y)| y),
        )
    };
    let (f0, f1) = (group_rate(&fair, 1.0), group_rate(&biased, 1.0));
    assert!(f1 > f0 + 0.1, "female churn {f0} -> {f1}");
    assert_eq!(group_rate(&fair, 0.0), group_rate(&biased, 0.0));
    // Without bias the groups churn alike.
    assert!((group_rate(&fair, 1.0) - group_rate(&fair, 0.0)).abs() < 0.03);
}

#[test]
fn drift_shortens_tenure_and_raises_charges() {
    let base = generate(&params(20_000));
    let drifted = generate(&GenerateParams {
        drift: 1.0,
        ..params(20_000)
    });
    let (t0, t1) = (
        median(num(&base.frame, "tenure_months")),
        median(num(&drifted.frame, "tenure_months")),
    );
    assert!(t1 < t0, "tenure median {t0} -> {t1}");
    let (m0, m1) = (
        median(num(&base.frame, "monthly_charges")),
        median(num(&drifted.frame, "monthly_charges")),
    );
    assert!(m1 > m0 + 5.0, "charges median {m0} -> {m1}");
    assert!(rate(churned(&drifted.frame).into_iter()) > rate(churned(&base.frame).into_iter()));
}

#[test]
fn pii_columns_are_detected() {
    let g = generate(&GenerateParams {
        pii: true,
        ..params(3000)
    });
    for (name, kind) in [("email", PiiKind::Email), ("phone", PiiKind::Phone)] {
        let ColumnData::Str(s) = &g.frame.column(name).expect("pii column").data else {
            panic!()
        };
        let (k, share) = scan_values(s.levels.iter().map(String::as_str), 10_000).expect(name);
        assert_eq!(k, kind);
        assert!(
            share == 1.0 && share >= PII_SHARE_THRESHOLD,
            "{name}: {share}"
        );
        assert!(s.missing() > 0);
    }
}

#[test]
fn example_usecase_loads() {
    let uc = UseCase::parse("usecases/churn.toml", EXAMPLE_USECASE, Some("churn")).expect("loads");
    assert_eq!(uc.data.target, "churn");
    assert_eq!(uc.data.id, "customer_id");
    assert_eq!(
        uc.data.protected,
        vec!["female".to_owned(), "senior_citizen".to_owned()]
    );
    assert_eq!(uc.gates.number("min_auc"), Some(0.75));
    let g = generate(&params(10));
    for c in uc
        .data
        .protected
        .iter()
        .chain([&uc.data.target, &uc.data.id])
    {
        assert!(g.frame.column(c).is_some(), "{c}");
    }
}

#[test]
fn zero_rows_and_odd_params_do_not_panic() {
    let g = generate(&GenerateParams {
        rows: 0,
        extra_features: 3,
        pii: true,
        ..Default::default()
    });
    assert_eq!(g.frame.n_rows, 0);
    assert!(g.truth.is_empty());
    let g = generate(&GenerateParams {
        rows: 50,
        bias: f64::NAN,
        drift: 7.0,
        ..Default::default()
    });
    assert!(g.truth.iter().all(|p| p.is_finite()));
}
