//! CSV loading shared by the real-data examples (realdata, cv_bench): typed
//! columns with missing values, categorical levels in sorted order.

use std::path::Path;

use klartext_learn::data::{FeatureColumn, Features, MISSING_CODE};

/// Reads a CSV into features + 0/1 target. Columns whose every present value
/// parses as a number are numeric; others are categorical with levels in sorted
/// order. Empty and `NA` cells are missing. A `rownames` column is dropped.
pub fn load(
    path: &Path,
    target: &str,
    positive: &str,
) -> Result<(Features, Vec<f64>), Box<dyn std::error::Error>> {
    let mut rdr = csv::Reader::from_path(path)?;
    let headers: Vec<String> = rdr.headers()?.iter().map(str::to_string).collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    for rec in rdr.records() {
        let rec = rec?;
        for (j, v) in rec.iter().enumerate() {
            cells[j].push(v.trim().to_string());
        }
    }
    let missing = |s: &str| s.is_empty() || s == "NA";
    let mut cols = Vec::new();
    let mut y = Vec::new();
    for (name, vals) in headers.iter().zip(&cells) {
        if name == target {
            y = vals
                .iter()
                .map(|v| f64::from(u8::from(v == positive)))
                .collect();
            continue;
        }
        if name == "rownames" || name.is_empty() {
            continue;
        }
        let numeric = vals.iter().all(|v| missing(v) || v.parse::<f64>().is_ok());
        if numeric {
            let v = vals
                .iter()
                .map(|v| {
                    if missing(v) {
                        f64::NAN
                    } else {
                        v.parse().expect("checked")
                    }
                })
                .collect();
            cols.push(FeatureColumn::numeric(name.clone(), v));
        } else {
            let mut levels: Vec<&String> = vals.iter().filter(|v| !missing(v)).collect();
            levels.sort();
            levels.dedup();
            let codes = vals
                .iter()
                .map(|v| {
                    if missing(v) {
                        MISSING_CODE
                    } else {
                        levels.binary_search(&v).expect("level") as u32
                    }
                })
                .collect();
            cols.push(FeatureColumn::categorical(
                name.clone(),
                codes,
                levels.len() as u32,
            ));
        }
    }
    Ok((Features::new(cols)?, y))
}
