//! Shared fixtures for the integration tests: small seeded data sets.
#![allow(dead_code)]

use klartext_learn::data::{FeatureColumn, Features, MISSING_CODE};
use klartext_learn::rng::SplitMix64;

/// `n` rows, `n_num` numeric columns (some missing) and one categorical column
/// with `levels` levels; binary target when `binary`, else real target.
pub fn mixed(n: usize, n_num: usize, levels: u32, binary: bool, seed: u64) -> (Features, Vec<f64>) {
    let mut rng = SplitMix64::new(seed);
    let mut cols = Vec::new();
    let mut nums = Vec::new();
    for j in 0..n_num {
        let v: Vec<f64> = (0..n)
            .map(|_| {
                if j % 2 == 1 && rng.next_f64() < 0.1 {
                    f64::NAN
                } else {
                    (rng.next_f64() * 10.0).round() / 2.0
                }
            })
            .collect();
        nums.push(v.clone());
        cols.push(FeatureColumn::numeric(format!("x{j}"), v));
    }
    let codes: Vec<u32> = (0..n)
        .map(|_| {
            if rng.next_f64() < 0.05 {
                MISSING_CODE
            } else {
                rng.below(levels as usize) as u32
            }
        })
        .collect();
    cols.push(FeatureColumn::categorical("c", codes.clone(), levels));
    let y = (0..n)
        .map(|i| {
            let a = if nums[0][i].is_nan() { 1.0 } else { nums[0][i] };
            let b = if n_num > 1 && !nums[1][i].is_nan() {
                nums[1][i]
            } else {
                2.0
            };
            let c = if codes[i] == MISSING_CODE {
                0.5
            } else {
                (codes[i] % 3) as f64
            };
            let eta = 0.6 * a - 0.4 * b + c - 1.0 + (rng.next_f64() - 0.5);
            if binary {
                f64::from(u8::from(rng.next_f64() < 1.0 / (1.0 + (-eta).exp())))
            } else {
                eta
            }
        })
        .collect();
    (Features::new(cols).unwrap(), y)
}
