//! Schema inference: the kind of every column, and its role from the use case.
//!
//! Text columns are judged by their distinct values (the dictionary), not row by row, so
//! inference costs little even on millions of rows. Columns that turn out to be dates or
//! decimal-comma numbers are converted to numbers in place.

use crate::datetime::{self, DateFormat};
use crate::error::{DataError, Result};
use klartext_core::{
    frame::format_number, Column, ColumnData, ColumnKind, ColumnRole, ColumnSchema, Frame, Schema,
    StrColumn, UseCase, MISSING_CODE,
};
use rustc_hash::FxHashMap;

/// Infer kinds (converting dates and decimal commas in place) and assign roles.
///
/// `hints` are per-column type hints from the file (may be empty); `uc` names the target,
/// id, time, protected and excluded columns, which must exist (except excluded ones).
pub fn infer(frame: &mut Frame, hints: &[Option<String>], uc: Option<&UseCase>) -> Result<Schema> {
    if let Some(uc) = uc {
        check_named_columns(frame, uc)?;
    }
    let id_col = uc.map(|u| u.data.id.as_str()).filter(|s| !s.is_empty());
    // Columns are judged (and converted) independently: in parallel, same result.
    let kinds: Vec<ColumnKind> = {
        use rayon::prelude::*;
        frame
            .columns
            .par_iter_mut()
            .enumerate()
            .map(|(i, col)| {
                let hint = hints.get(i).and_then(|h| h.as_deref());
                let forced_id = id_col == Some(col.name.as_str());
                infer_column(col, hint, forced_id)
            })
            .collect()
    };
    let mut columns = Vec::with_capacity(frame.n_cols());
    for (col, kind) in frame.columns.iter().zip(kinds) {
        let role = uc.map_or(ColumnRole::Feature, |u| role_of(&col.name, kind, u));
        let role = if uc.is_none() && matches!(kind, ColumnKind::Id | ColumnKind::Text) {
            ColumnRole::Excluded
        } else {
            role
        };
        columns.push(ColumnSchema {
            name: col.name.clone(),
            kind,
            role,
            pseudonymised: false,
        });
    }
    Ok(Schema { columns })
}

fn check_named_columns(frame: &Frame, uc: &UseCase) -> Result<()> {
    let d = &uc.data;
    let mut named: Vec<(&str, &'static str)> = vec![
        (d.target.as_str(), "the use case's `data.target`"),
        (d.id.as_str(), "the use case's `data.id`"),
        (d.time.as_str(), "the use case's `data.time`"),
    ];
    named.extend(
        d.protected
            .iter()
            .map(|p| (p.as_str(), "the use case's `data.protected`")),
    );
    named.extend(
        d.features
            .iter()
            .map(|p| (p.as_str(), "the use case's `data.features`")),
    );
    for (col, role) in named {
        if !col.is_empty() && frame.column(col).is_none() {
            let available: Vec<&str> = frame.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(DataError::MissingColumn {
                column: col.to_owned(),
                role,
                available: available.join(", "),
            });
        }
    }
    Ok(())
}

fn role_of(name: &str, kind: ColumnKind, uc: &UseCase) -> ColumnRole {
    let d = &uc.data;
    if name == d.target {
        ColumnRole::Target
    } else if name == d.id {
        ColumnRole::Id
    } else if name == d.time {
        ColumnRole::Time
    } else if d.protected.iter().any(|p| p == name) {
        ColumnRole::Protected
    } else if d.exclude.iter().any(|p| p == name)
        || (!d.features.is_empty() && !d.features.iter().any(|p| p == name))
        || matches!(kind, ColumnKind::Id | ColumnKind::Text)
    {
        ColumnRole::Excluded
    } else {
        ColumnRole::Feature
    }
}

fn name_says_id(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "id"
        || n.ends_with("_id")
        || n.ends_with("id") && n.len() > 2 && name.ends_with("Id")
        || n.ends_with(" id")
        || n == "uuid"
        || n == "rownames"
        || n == "row_id"
        || n == "index"
}

fn name_says_date(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("date") || n.contains("day") || n == "dt"
}

fn name_says_time(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("time") || n.ends_with("_at") || n.ends_with("_ts") || n == "ts"
}

fn infer_column(col: &mut Column, hint: Option<&str>, forced_id: bool) -> ColumnKind {
    let kind = match &mut col.data {
        ColumnData::Num(values) => {
            let (kind, compact_dates) = num_kind(&col.name, values, hint, forced_id);
            if compact_dates {
                for x in values.iter_mut() {
                    *x = datetime::parse_compact_number(*x).unwrap_or(f64::NAN);
                }
            }
            kind
        }
        ColumnData::Str(s) => infer_text(&col.name, s, forced_id),
    };
    // Categories and ids read as numbers are labels: keep them as text.
    if matches!(kind, ColumnKind::Categorical | ColumnKind::Id) {
        if let ColumnData::Num(v) = &col.data {
            col.data = ColumnData::Str(numbers_to_text(v));
        }
    }
    if kind == ColumnKind::Datetime || kind == ColumnKind::Numeric {
        if let ColumnData::Str(s) = &col.data {
            if let Some(nums) = text_to_numbers(&col.name, s) {
                col.data = ColumnData::Num(nums);
            }
        }
    }
    kind
}

/// The kind of a column read as numbers, and whether it holds compact dates (`20240131`)
/// to convert. Reads the values without copying them.
fn num_kind(name: &str, values: &[f64], hint: Option<&str>, forced_id: bool) -> (ColumnKind, bool) {
    let n = values.len();
    let present = || values.iter().copied().filter(|x| !x.is_nan());
    let n_present = present().count();
    let integral = present().all(|x| x.fract() == 0.0);
    // Counting distinct values costs a hash per row: only when the answer matters.
    let says_id = integral && name_says_id(name);
    let distinct = if says_id || hint == Some("token") {
        count_distinct(present())
    } else {
        0
    };
    let kind = if forced_id
        || (says_id && (distinct == n_present || distinct > 20) && n > 1)
        || (hint == Some("token") && distinct * 2 > n_present && n > 1)
    {
        ColumnKind::Id
    } else if hint == Some("token") {
        ColumnKind::Categorical
    } else if n_present == 0 {
        ColumnKind::Numeric
    } else if integral && present().all(|x| x == 0.0 || x == 1.0) {
        ColumnKind::Boolean
    } else if integral
        && name_says_date(name)
        && present().all(|x| datetime::parse_compact_number(x).is_some())
    {
        return (ColumnKind::Datetime, true);
    } else if name_says_time(name) && present().all(|x| (1e8..4e9).contains(&x)) {
        ColumnKind::Datetime
    } else if integral {
        ColumnKind::Integer
    } else {
        ColumnKind::Numeric
    };
    (kind, false)
}

fn count_distinct(present: impl Iterator<Item = f64>) -> usize {
    let mut seen = rustc_hash::FxHashSet::default();
    for x in present {
        seen.insert(x.to_bits());
    }
    seen.len()
}

const TRUE_WORDS: &[&str] = &["yes", "true", "y", "t", "ja", "j", "oui", "si", "1"];
const FALSE_WORDS: &[&str] = &["no", "false", "n", "f", "nein", "non", "0"];

fn is_bool_word(v: &str) -> bool {
    let l = v.trim().to_ascii_lowercase();
    TRUE_WORDS.contains(&l.as_str()) || FALSE_WORDS.contains(&l.as_str())
}

/// Decimal-comma number ("3,14", "-0,5"), as German and French exports write them.
fn parse_decimal_comma(v: &str) -> Option<f64> {
    let v = v.trim();
    let (int, frac) = v.split_once(',')?;
    let int_digits = int.strip_prefix('-').unwrap_or(int);
    if int_digits.is_empty()
        || !int_digits.bytes().all(|b| b.is_ascii_digit())
        || frac.is_empty()
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    format!("{int}.{frac}").parse().ok()
}

fn infer_text(name: &str, s: &StrColumn, forced_id: bool) -> ColumnKind {
    let present = s.codes.len() - s.missing();
    let levels = &s.levels;
    if forced_id {
        return ColumnKind::Id;
    }
    if levels.is_empty() {
        return ColumnKind::Categorical;
    }
    if levels.len() <= 2 && levels.iter().all(|l| is_bool_word(l)) {
        return ColumnKind::Boolean;
    }
    if datetime::detect_format(levels.iter().map(String::as_str)).is_some() {
        return ColumnKind::Datetime;
    }
    if levels
        .iter()
        .all(|l| parse_decimal_comma(l).is_some() || l.parse::<f64>().is_ok())
        && levels.iter().any(|l| l.contains(','))
    {
        return ColumnKind::Numeric;
    }
    let all_distinct = levels.len() == present && present > 1;
    let spaced = levels.iter().filter(|l| l.trim().contains(' ')).count();
    let mean_len =
        levels.iter().map(|l| l.chars().count()).sum::<usize>() as f64 / levels.len() as f64;
    if mean_len >= 30.0
        || (spaced * 2 >= levels.len() && levels.len() * 2 > present && present >= 20)
    {
        return ColumnKind::Text;
    }
    // Keys like customer_id or session_id identify; they are not features even when
    // they repeat (transactions per customer).
    if (all_distinct && (name_says_id(name) || (present >= 50 && spaced == 0)))
        || (name_says_id(name) && levels.len() > 20)
    {
        return ColumnKind::Id;
    }
    ColumnKind::Categorical
}

/// Convert a text column of dates or decimal-comma numbers to numbers (seconds for dates).
fn text_to_numbers(_name: &str, s: &StrColumn) -> Option<Vec<f64>> {
    let level_values: Vec<f64> =
        if let Some(fmt) = datetime::detect_format(s.levels.iter().map(String::as_str)) {
            parse_levels(&s.levels, |l| datetime::parse_datetime(l, fmt))?
        } else {
            parse_levels(&s.levels, |l| {
                parse_decimal_comma(l).or_else(|| l.trim().parse().ok())
            })?
        };
    Some(
        s.codes
            .iter()
            .map(|&c| {
                if c == MISSING_CODE {
                    f64::NAN
                } else {
                    level_values[c as usize]
                }
            })
            .collect(),
    )
}

fn parse_levels(levels: &[String], f: impl Fn(&str) -> Option<f64>) -> Option<Vec<f64>> {
    levels.iter().map(|l| f(l)).collect()
}

fn numbers_to_text(v: &[f64]) -> StrColumn {
    let mut index: FxHashMap<u64, u32> = FxHashMap::default();
    let mut levels = Vec::new();
    let codes = v
        .iter()
        .map(|&x| {
            if x.is_nan() {
                return MISSING_CODE;
            }
            *index.entry(x.to_bits()).or_insert_with(|| {
                levels.push(format_number(x));
                (levels.len() - 1) as u32
            })
        })
        .collect();
    StrColumn { codes, levels }
}

/// The date format a text column was read with, for the report.
pub fn date_format_of(s: &StrColumn) -> Option<DateFormat> {
    datetime::detect_format(s.levels.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{read_bytes, ReadOptions};

    fn kinds(text: &str) -> Vec<(String, ColumnKind)> {
        let (mut f, info) =
            read_bytes("t.csv", text.as_bytes(), &ReadOptions::default(), None).unwrap();
        let s = infer(&mut f, &info.hints, None).unwrap();
        s.columns.into_iter().map(|c| (c.name, c.kind)).collect()
    }

    #[test]
    fn kinds_are_inferred() {
        let mut csv = String::from("customer_id,signup,age,spend,plan,churn,flag,note,day_date\n");
        for i in 0..60 {
            csv.push_str(&format!(
                "{i},2024-01-{:02},{},{}.5,{},{},{},\"free text number {i} with words\",202401{:02}\n",
                i % 28 + 1,
                20 + i % 50,
                i * 3,
                ["basic", "pro"][i % 2],
                ["Yes", "No"][i % 3 % 2],
                i % 2,
                i % 28 + 1
            ));
        }
        let k = kinds(&csv);
        let want = [
            ("customer_id", ColumnKind::Id),
            ("signup", ColumnKind::Datetime),
            ("age", ColumnKind::Integer),
            ("spend", ColumnKind::Numeric),
            ("plan", ColumnKind::Categorical),
            ("churn", ColumnKind::Boolean),
            ("flag", ColumnKind::Boolean),
            ("note", ColumnKind::Text),
            ("day_date", ColumnKind::Datetime),
        ];
        for ((name, kind), (wn, wk)) in k.iter().zip(want) {
            assert_eq!((name.as_str(), *kind), (wn, wk));
        }
    }

    #[test]
    fn decimal_commas_become_numbers() {
        let (mut f, info) = read_bytes(
            "t.csv",
            "a;b\n1,5;x\n2,25;y\n".as_bytes(),
            &ReadOptions::default(),
            None,
        )
        .unwrap();
        let s = infer(&mut f, &info.hints, None).unwrap();
        assert_eq!(s.columns[0].kind, ColumnKind::Numeric);
        assert_eq!(f.columns[0].data, ColumnData::Num(vec![1.5, 2.25]));
    }

    #[test]
    fn dates_convert_to_seconds() {
        let (mut f, info) = read_bytes(
            "t.csv",
            "when,x\n1970-01-02,1\n,2\n".as_bytes(),
            &ReadOptions::default(),
            None,
        )
        .unwrap();
        infer(&mut f, &info.hints, None).unwrap();
        match &f.columns[0].data {
            ColumnData::Num(v) => {
                assert_eq!(v[0], 86400.0);
                assert!(v[1].is_nan());
            }
            other => panic!("{other:?}"),
        }
    }
}
