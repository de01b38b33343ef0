//! Writing CSV and NDJSON: what is written reads back to the same values.

use klartext_core::frame::{Column, ColumnData, Frame, StrColumn, MISSING_CODE};
use klartext_core::schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};
use klartext_data::datetime::parse_iso;
use klartext_data::generate::{generate, GenerateParams};
use klartext_data::write::{write_csv, write_ndjson};

fn col(name: &str, data: ColumnData) -> Column {
    Column {
        name: name.into(),
        data,
    }
}

fn schema_for(frame: &Frame, datetimes: &[&str]) -> Schema {
    Schema {
        columns: frame
            .columns
            .iter()
            .map(|c| ColumnSchema {
                name: c.name.clone(),
                kind: if datetimes.contains(&c.name.as_str()) {
                    ColumnKind::Datetime
                } else if matches!(c.data, ColumnData::Num(_)) {
                    ColumnKind::Numeric
                } else {
                    ColumnKind::Categorical
                },
                role: ColumnRole::Feature,
                pseudonymised: false,
            })
            .collect(),
    }
}

fn sample() -> Frame {
    let day = 86_400.0;
    Frame {
        n_rows: 5,
        columns: vec![
            col(
                "int",
                ColumnData::Num(vec![1.0, -42.0, 0.0, f64::NAN, 1e15]),
            ),
            col(
                "real",
                ColumnData::Num(vec![0.1 + 0.2, -2.5e-7, 1e300, 49.99, -0.0]),
            ),
            col(
                "text, quoted \"name\"",
                ColumnData::Str(StrColumn {
                    codes: vec![0, 1, 2, MISSING_CODE, 3],
                    levels: vec![
                        "a,b".into(),
                        "say \"hi\"".into(),
                        "line\nbreak ü".into(),
                        " spaced ".into(),
                    ],
                }),
            ),
            col(
                "day",
                ColumnData::Num(vec![0.0, day, f64::NAN, 19_753.0 * day, -day]),
            ),
            col(
                "stamp",
                ColumnData::Num(vec![0.0, 1.5, 1_706_704_215.0, f64::NAN, 59.0]),
            ),
        ],
    }
}

fn read_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[test]
fn csv_round_trips() {
    let f = sample();
    let schema = schema_for(&f, &["day", "stamp"]);
    let mut out = Vec::new();
    write_csv(&f, Some(&schema), &mut out).expect("write");
    let (header, rows) = read_csv(&out);
    assert_eq!(
        header,
        f.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>()
    );
    assert_eq!(rows.len(), f.n_rows);
    for (i, row) in rows.iter().enumerate() {
        for (c, field) in f.columns.iter().zip(row) {
            match (&c.data, c.name.as_str()) {
                (ColumnData::Num(v), "day" | "stamp") => {
                    let back = if field.is_empty() {
                        f64::NAN
                    } else {
                        parse_iso(field).expect(field)
                    };
                    assert_eq!(
                        back.to_bits(),
                        v[i].to_bits(),
                        "{} row {i}: {field}",
                        c.name
                    );
                }
                (ColumnData::Num(v), _) => {
                    let back = if field.is_empty() {
                        f64::NAN
                    } else {
                        field.parse().expect(field)
                    };
                    assert_eq!(
                        back.to_bits(),
                        v[i].to_bits(),
                        "{} row {i}: {field}",
                        c.name
                    );
                }
                (ColumnData::Str(s), _) => assert_eq!(s.get(i).unwrap_or(""), field),
            }
        }
    }
    // Whole numbers without ".0", midnight-only datetime columns as dates.
    assert_eq!(rows[0][0], "1");
    assert_eq!(rows[4][0], "1000000000000000");
    assert_eq!(rows[0][3], "1970-01-01");
    assert_eq!(rows[3][3], "2024-01-31");
    assert_eq!(rows[4][3], "1969-12-31");
    assert_eq!(rows[2][4], "2024-01-31T12:30:15Z");
    assert_eq!(rows[1][4], "1970-01-01T00:00:01.5Z");
}

#[test]
fn without_a_schema_datetimes_are_numbers() {
    let f = sample();
    let mut out = Vec::new();
    write_csv(&f, None, &mut out).expect("write");
    let (_, rows) = read_csv(&out);
    assert_eq!(rows[1][3], "86400");
}

#[test]
fn single_column_with_missing_values_keeps_its_rows() {
    let f = Frame {
        n_rows: 3,
        columns: vec![col("x", ColumnData::Num(vec![1.0, f64::NAN, 3.0]))],
    };
    let mut out = Vec::new();
    write_csv(&f, None, &mut out).expect("write");
    let (_, rows) = read_csv(&out);
    assert_eq!(
        rows,
        vec![
            vec!["1".to_owned()],
            vec![String::new()],
            vec!["3".to_owned()]
        ]
    );
}

#[test]
fn short_columns_and_empty_frames_do_not_panic() {
    let f = Frame {
        n_rows: 3,
        columns: vec![
            col("a", ColumnData::Num(vec![1.0])),
            col(
                "b",
                ColumnData::Str(StrColumn {
                    codes: vec![5],
                    levels: vec![],
                }),
            ),
        ],
    };
    let mut out = Vec::new();
    write_csv(&f, None, &mut out).expect("write");
    assert_eq!(String::from_utf8(out).expect("utf8"), "a,b\n1,\n,\n,\n");
    let mut out = Vec::new();
    write_ndjson(&f, None, &mut out).expect("write");
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "{\"a\":1,\"b\":null}\n{\"a\":null,\"b\":null}\n{\"a\":null,\"b\":null}\n"
    );
    let empty = Frame {
        n_rows: 2,
        columns: vec![],
    };
    let mut out = Vec::new();
    write_ndjson(&empty, None, &mut out).expect("write");
    assert_eq!(String::from_utf8(out).expect("utf8"), "{}\n{}\n");
}

#[test]
fn ndjson_round_trips() {
    let mut f = sample();
    f.columns[1].data = ColumnData::Num(vec![0.1 + 0.2, f64::INFINITY, 1e300, 49.99, -0.0]);
    let schema = schema_for(&f, &["day", "stamp"]);
    let mut out = Vec::new();
    write_ndjson(&f, Some(&schema), &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), f.n_rows);
    for (i, line) in lines.iter().enumerate() {
        let obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).expect(line);
        let keys: Vec<&String> = obj.keys().collect();
        assert_eq!(keys.len(), f.columns.len());
        for c in &f.columns {
            let v = &obj[&c.name];
            match (&c.data, c.name.as_str()) {
                (ColumnData::Num(x), "day" | "stamp") => match v.as_str() {
                    Some(s) => assert_eq!(parse_iso(s), Some(x[i])),
                    None => assert!(v.is_null() && x[i].is_nan()),
                },
                (ColumnData::Num(x), _) => match v.as_f64() {
                    Some(y) => assert_eq!(y, x[i], "{} row {i}", c.name),
                    None => assert!(v.is_null() && !x[i].is_finite()),
                },
                (ColumnData::Str(s), _) => assert_eq!(v.as_str(), s.get(i)),
            }
        }
    }
    assert!(
        lines[0].starts_with("{\"int\":1,\"real\":0.30000000000000004,"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("\"day\":\"1970-01-01\""));
}

#[test]
fn generated_data_round_trips_through_csv() {
    let g = generate(&GenerateParams {
        rows: 300,
        extra_features: 3,
        pii: true,
        ..Default::default()
    });
    let mut out = Vec::new();
    write_csv(&g.frame, Some(&g.schema), &mut out).expect("write");
    let (header, rows) = read_csv(&out);
    assert_eq!(header.len(), g.frame.n_cols());
    assert_eq!(rows.len(), 300);
    let signup = g.frame.column_index("signup_date").expect("signup_date");
    for (i, row) in rows.iter().enumerate() {
        for (k, c) in g.frame.columns.iter().enumerate() {
            let field = &row[k];
            match &c.data {
                ColumnData::Num(v) if k == signup => {
                    assert_eq!(field.len(), 10, "date only: {field}");
                    assert_eq!(parse_iso(field), Some(v[i]));
                }
                ColumnData::Num(v) => {
                    let back = if field.is_empty() {
                        f64::NAN
                    } else {
                        field.parse().expect(field)
                    };
                    assert_eq!(back.to_bits(), v[i].to_bits());
                }
                ColumnData::Str(s) => assert_eq!(s.get(i).unwrap_or(""), field),
            }
        }
    }
}

/// `cargo test --release -p klartext-data --test write -- --ignored --nocapture`
#[test]
#[ignore = "timing run for benchmarks"]
fn million_rows_timing() {
    let t = std::time::Instant::now();
    let params = GenerateParams {
        rows: 1_000_000,
        extra_features: 13,
        ..Default::default()
    };
    let g = generate(&params);
    let gen = t.elapsed();
    let t = std::time::Instant::now();
    let file = tempfile::tempfile().expect("temp file");
    write_csv(&g.frame, Some(&g.schema), std::io::BufWriter::new(file)).expect("write");
    let csv = t.elapsed();
    let t = std::time::Instant::now();
    write_ndjson(&g.frame, Some(&g.schema), std::io::sink()).expect("write");
    println!(
        "{} columns: generate {gen:?}, write_csv {csv:?}, write_ndjson {:?}",
        g.frame.n_cols(),
        t.elapsed()
    );
}
