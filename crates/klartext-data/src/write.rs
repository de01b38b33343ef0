//! Writing frames out as CSV (RFC 4180) and NDJSON, so that reading the file back gives
//! the same values.
//!
//! Numbers are printed with Rust's `Display` for `f64`, the shortest text that parses
//! back to the same number (never an exponent, no trailing ".0" for whole numbers).
//! Datetime columns (by the schema) are printed as ISO 8601, date-only when every value
//! is at midnight UTC.

use crate::datetime::{format_datetime, is_midnight};
use klartext_core::frame::{ColumnData, Frame, StrColumn};
use klartext_core::schema::{ColumnKind, Schema};
use std::io::{self, Write};

/// How one column is printed.
enum Out<'a> {
    Num(&'a [f64]),
    Date(&'a [f64], bool),
    Str(&'a StrColumn),
}

fn plan<'a>(frame: &'a Frame, schema: Option<&Schema>) -> Vec<Out<'a>> {
    frame
        .columns
        .iter()
        .map(|c| {
            let is_dt = schema
                .and_then(|s| s.column(&c.name))
                .is_some_and(|cs| cs.kind == ColumnKind::Datetime);
            match &c.data {
                ColumnData::Num(v) if is_dt => {
                    Out::Date(v, v.iter().all(|&x| x.is_nan() || is_midnight(x)))
                }
                ColumnData::Num(v) => Out::Num(v),
                ColumnData::Str(s) => Out::Str(s),
            }
        })
        .collect()
}

/// Append a number as shortest round-trip text; missing (`NaN`) appends nothing.
fn push_number(buf: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        return;
    }
    // Most values in real tables are whole or have a few decimals (money, rates): print
    // those without the float formatter, which is several times slower. `m / 10^k == x`
    // means the k-decimal text names the same real number the division rounded to x, so it
    // parses back to x; trying k = 0, 1, 2, 3 in order and trimming zeros keeps the text as
    // short as Display's. Below 1e15 distinct k-decimal values are distinct doubles.
    if x != 0.0 && x.abs() < 1e12 {
        for (k, scale) in [(0usize, 1.0), (1, 10.0), (2, 100.0), (3, 1000.0)] {
            // Nearest integer by a truncating cast (f64::round is a slow library call on
            // baseline x86-64); only a candidate, the equality below decides.
            let y = x * scale;
            let m = (y + 0.5f64.copysign(y)) as i64;
            if m as f64 / scale == x {
                push_decimal(buf, m, k);
                return;
            }
        }
    } else if x.fract() == 0.0 && x.abs() < 1e15 && x != 0.0 {
        push_decimal(buf, x as i64, 0);
        return;
    }
    // `write!` into a Vec cannot fail.
    let _ = write!(buf, "{x}");
}

/// Append `m / 10^k` in plain decimal notation without trailing fractional zeros.
fn push_decimal(buf: &mut Vec<u8>, m: i64, k: usize) {
    if m < 0 {
        buf.push(b'-');
    }
    let mut n = m.unsigned_abs();
    let mut tmp = [0u8; 24];
    let mut i = tmp.len();
    let mut written = 0;
    // Fraction digits first (right to left), skipping trailing zeros.
    let mut trailing = true;
    let mut frac_len = 0;
    while written < k {
        let d = (n % 10) as u8;
        n /= 10;
        written += 1;
        if trailing && d == 0 {
            continue;
        }
        trailing = false;
        i -= 1;
        tmp[i] = b'0' + d;
        frac_len += 1;
    }
    if frac_len > 0 {
        i -= 1;
        tmp[i] = b'.';
    }
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn csv_err(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// A value as one CSV field, quoted by the `csv` crate's rules (RFC 4180: only when it
/// holds a comma, quote or line break). Used once per header and per distinct text value,
/// so rows are written without the per-field cost of a CSV writer.
fn csv_field(value: &str) -> io::Result<Vec<u8>> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let mut wtr = csv::WriterBuilder::new().from_writer(Vec::with_capacity(value.len() + 3));
    wtr.write_field(value).map_err(csv_err)?;
    wtr.write_record(None::<&[u8]>).map_err(csv_err)?;
    let mut out = wtr
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    out.pop(); // the record terminator
    Ok(out)
}

/// Write `frame` as CSV with a header row. Missing values are empty fields; fields are
/// quoted only when needed (RFC 4180, the `csv` crate's rules). `schema` marks datetime
/// columns; without it every number column is printed as a number.
pub fn write_csv(frame: &Frame, schema: Option<&Schema>, w: impl Write) -> io::Result<()> {
    let cols = plan(frame, schema);
    let mut levels: Vec<Vec<Vec<u8>>> = Vec::with_capacity(cols.len());
    for c in &cols {
        let quoted = match c {
            Out::Str(s) => s
                .levels
                .iter()
                .map(|l| csv_field(l))
                .collect::<io::Result<_>>()?,
            _ => Vec::new(),
        };
        levels.push(quoted);
    }
    let mut out = io::BufWriter::with_capacity(1 << 16, w);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    for (k, c) in frame.columns.iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(&csv_field(&c.name)?);
    }
    end_record(&mut buf, cols.len());
    out.write_all(&buf)?;
    for i in 0..frame.n_rows {
        buf.clear();
        for (k, col) in cols.iter().enumerate() {
            if k > 0 {
                buf.push(b',');
            }
            // Numbers and ISO datetimes never contain a character that needs quoting.
            match col {
                Out::Num(v) => push_number(&mut buf, v.get(i).copied().unwrap_or(f64::NAN)),
                Out::Date(v, date_only) => {
                    let x = v.get(i).copied().unwrap_or(f64::NAN);
                    if !x.is_nan() {
                        buf.extend_from_slice(format_datetime(x, *date_only).as_bytes());
                    }
                }
                Out::Str(s) => {
                    if let Some(l) = s.codes.get(i).and_then(|&c| levels[k].get(c as usize)) {
                        buf.extend_from_slice(l);
                    }
                }
            }
        }
        end_record(&mut buf, cols.len());
        out.write_all(&buf)?;
    }
    out.flush()
}

/// Terminate a record. A record of one empty field is written `""`, as the `csv` crate
/// does, because a reader skips an empty line and the row would be lost.
fn end_record(buf: &mut Vec<u8>, n_cols: usize) {
    if n_cols == 1 && buf.is_empty() {
        buf.extend_from_slice(b"\"\"");
    }
    buf.push(b'\n');
}

/// Write `frame` as NDJSON: one JSON object per row with the columns in order, numbers
/// as JSON numbers, text and datetimes as strings, missing (and infinite) values as `null`.
pub fn write_ndjson(frame: &Frame, schema: Option<&Schema>, w: impl Write) -> io::Result<()> {
    let cols = plan(frame, schema);
    let json = |s: &str| serde_json::to_string(s).map_err(io::Error::other);
    // Keys and text levels are escaped once, not once per row.
    let mut keys = Vec::with_capacity(cols.len());
    for (k, c) in frame.columns.iter().enumerate() {
        let sep = if k == 0 { "{" } else { "," };
        keys.push(format!("{sep}{}:", json(&c.name)?));
    }
    let mut levels: Vec<Vec<String>> = Vec::with_capacity(cols.len());
    for c in &cols {
        let escaped = match c {
            Out::Str(s) => s
                .levels
                .iter()
                .map(|l| json(l))
                .collect::<io::Result<_>>()?,
            _ => Vec::new(),
        };
        levels.push(escaped);
    }
    let mut out = io::BufWriter::with_capacity(1 << 16, w);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    for i in 0..frame.n_rows {
        buf.clear();
        for (k, col) in cols.iter().enumerate() {
            buf.extend_from_slice(keys[k].as_bytes());
            match col {
                Out::Num(v) => match v.get(i) {
                    Some(&x) if x.is_finite() => push_number(&mut buf, x),
                    _ => buf.extend_from_slice(b"null"),
                },
                Out::Date(v, date_only) => match v.get(i) {
                    Some(&x) if !x.is_nan() => {
                        let text = format_datetime(x, *date_only);
                        buf.extend_from_slice(json(&text)?.as_bytes());
                    }
                    _ => buf.extend_from_slice(b"null"),
                },
                Out::Str(s) => match s.codes.get(i).and_then(|&c| levels[k].get(c as usize)) {
                    Some(l) => buf.extend_from_slice(l.as_bytes()),
                    None => buf.extend_from_slice(b"null"),
                },
            }
        }
        if cols.is_empty() {
            buf.push(b'{');
        }
        buf.extend_from_slice(b"}\n");
        out.write_all(&buf)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> String {
        let mut b = Vec::new();
        push_number(&mut b, x);
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn numbers_print_shortest() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(-42.0), "-42");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.0), "-0");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(49.99), "49.99");
        assert_eq!(num(1e15), "1000000000000000");
        assert_eq!(num(-999_999_999_999_999.0), "-999999999999999");
        assert_eq!(num(f64::NAN), "");
        assert_eq!(num(-0.001), "-0.001");
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(-12.25), "-12.25");
        assert_eq!(num(100.10), "100.1");
        // The fast paths print exactly what Display prints.
        let mut state = 0x1234_5678_9abc_def0u64;
        for i in 0..200_000u32 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 11) as f64 / (1u64 << 53) as f64;
            let x = match i % 5 {
                0 => ((r - 0.5) * 2e6).round() / 100.0,
                1 => ((r - 0.5) * 2e4).round() / 1000.0,
                2 => ((r - 0.5) * 1e16).round() / 10.0,
                3 => (r - 0.5) * 1e3,
                _ => f64::from_bits(state),
            };
            if !x.is_nan() {
                assert_eq!(num(x), format!("{x}"), "{x:?}");
            }
        }
        for x in [
            0.1 + 0.2,
            1e-300,
            1e300,
            123_456_789.123_456_79,
            -2.5e-7,
            f64::MAX,
        ] {
            assert_eq!(num(x).parse::<f64>().ok(), Some(x));
        }
    }
}
