//! Text rendering for people: aligned tables and the data-quality report.

use klartext_core::frame::format_number;
use klartext_core::report::Severity;
use klartext_core::QualityReport;
use std::fmt::Write;

pub use klartext_core::text::table;

/// 12345 → "12,345".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "1 row", "2,000 rows".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

pub fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn short(x: f64) -> String {
    if x.abs() >= 1e6 {
        let sign = if x < 0.0 { "-" } else { "" };
        format!("{sign}{}", thousands(x.abs().round() as u64))
    } else if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:.3e}")
    } else if x.fract() == 0.0 {
        format_number(x)
    } else {
        format!("{x:.2}")
    }
}

/// The report as a person reads it.
pub fn report(r: &QualityReport) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>> = r
        .columns
        .iter()
        .map(|c| {
            let summary = if let Some(s) = &c.numeric {
                if c.kind == klartext_core::ColumnKind::Datetime {
                    format!(
                        "{} to {}",
                        klartext_data::datetime::format_datetime(
                            s.min,
                            klartext_data::datetime::is_midnight(s.min)
                                && klartext_data::datetime::is_midnight(s.max)
                        ),
                        klartext_data::datetime::format_datetime(
                            s.max,
                            klartext_data::datetime::is_midnight(s.min)
                                && klartext_data::datetime::is_midnight(s.max)
                        ),
                    )
                } else if c.kind == klartext_core::ColumnKind::Boolean {
                    top_values(c, r.rows)
                } else {
                    format!(
                        "min {}, median {}, mean {}, max {}",
                        short(s.min),
                        short(s.p50),
                        short(s.mean),
                        short(s.max)
                    )
                }
            } else {
                top_values(c, r.rows)
            };
            vec![
                c.name.clone(),
                c.kind.to_string(),
                c.role.as_str().to_owned(),
                pct(c.missing_share),
                thousands(c.distinct as u64),
                summary,
            ]
        })
        .collect();
    out.push_str(&table(
        &["column", "kind", "role", "missing", "distinct", "summary"],
        &rows,
    ));

    out.push('\n');
    if let Some(t) = &r.target {
        let total: usize = t.classes.iter().map(|c| c.count).sum();
        if t.classes.is_empty() {
            let _ = writeln!(out, "Target `{}`: numeric", t.column);
        } else {
            let classes: Vec<String> = t
                .classes
                .iter()
                .map(|c| {
                    format!(
                        "{} {} ({})",
                        c.value,
                        thousands(c.count as u64),
                        pct(c.count as f64 / total.max(1) as f64)
                    )
                })
                .collect();
            let _ = writeln!(out, "Target `{}`: {}", t.column, classes.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "Duplicates: {}{}",
        count(r.duplicate_rows, "row", "rows"),
        r.duplicate_ids
            .map(|d| format!(", {}", count(d, "id", "ids")))
            .unwrap_or_default()
    );
    if r.leakage_suspects.is_empty() {
        let _ = writeln!(out, "Leakage suspects: none");
    } else {
        let l: Vec<String> = r
            .leakage_suspects
            .iter()
            .map(|l| {
                format!(
                    "{} ({} {:.3})",
                    l.column,
                    l.measure.replace('_', " "),
                    l.value
                )
            })
            .collect();
        let _ = writeln!(out, "Leakage suspects: {}", l.join(", "));
    }
    if r.pii.is_empty() {
        let _ = writeln!(out, "Personal data found: none");
    } else {
        let p: Vec<String> = r
            .pii
            .iter()
            .map(|p| {
                format!(
                    "{} ({}, {} of values{})",
                    p.column,
                    p.kind.as_str(),
                    pct(p.share),
                    if p.pseudonymised {
                        ", pseudonymised"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let _ = writeln!(out, "Personal data found: {}", p.join(", "));
    }
    for p in &r.protected {
        let g: Vec<String> = p
            .groups
            .iter()
            .map(|g| match g.target_rate {
                Some(rate) => format!(
                    "{} = {}: {} rows, {} positive",
                    p.column,
                    g.group,
                    thousands(g.rows as u64),
                    pct(rate)
                ),
                None => format!(
                    "{} = {}: {} rows",
                    p.column,
                    g.group,
                    thousands(g.rows as u64)
                ),
            })
            .collect();
        let _ = writeln!(out, "Protected `{}`: {}", p.column, g.join("; "));
    }
    if !r.warnings.is_empty() {
        out.push_str("\nFindings\n");
        for f in &r.warnings {
            let tag = match f.severity {
                Severity::Problem => "problem",
                Severity::Warning => "warning",
                Severity::Info => "info   ",
            };
            let _ = writeln!(out, "  {tag}  {}", f.message);
        }
    }
    out
}

fn top_values(c: &klartext_core::report::ColumnProfile, rows: usize) -> String {
    let present = (rows - c.missing).max(1);
    let parts: Vec<String> = c
        .top
        .iter()
        .take(3)
        .map(|v| {
            format!(
                "{} {}",
                ellipsis(&v.value, 24),
                pct(v.count as f64 / present as f64)
            )
        })
        .collect();
    let more = c.distinct.saturating_sub(parts.len());
    if parts.is_empty() {
        String::new()
    } else if more > 0 {
        format!("{}, +{} more", parts.join(", "), thousands(more as u64))
    } else {
        parts.join(", ")
    }
}

fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time_ms(ms: i64) -> String {
    klartext_data::datetime::format_datetime((ms / 1000) as f64, false)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_owned()
        + " UTC"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separates() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn tables_align() {
        let t = table(
            &["a", "n"],
            &[
                vec!["xx".into(), "1".into()],
                vec!["y".into(), "100".into()],
            ],
        );
        assert_eq!(t, "  a     n\n  xx    1\n  y   100\n");
    }
}
