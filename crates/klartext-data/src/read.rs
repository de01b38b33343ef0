//! Reading CSV (dialect sniffed), NDJSON and Parquet bytes, plain or gzip, into a [`Frame`].
//!
//! Reading is deterministic: the same bytes and [`ReadOptions`] give the same frame, so a
//! stored snapshot re-reads exactly as it was profiled.

use crate::error::{DataError, Result};
use klartext_core::{Column, ColumnData, Frame, StrColumn, MISSING_CODE};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Ndjson => "NDJSON",
            Format::Parquet => "Parquet",
        }
    }

    /// The format a file name promises, looking through a `.gz` suffix.
    pub fn from_name(name: &str) -> Result<Format> {
        let lower = name.to_ascii_lowercase();
        let base = lower.strip_suffix(".gz").unwrap_or(&lower);
        let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        match ext {
            "csv" | "tsv" | "txt" | "tab" | "inter" | "dat" => Ok(Format::Csv),
            "ndjson" | "jsonl" | "json" => Ok(Format::Ndjson),
            "parquet" | "pq" => Ok(Format::Parquet),
            _ => Err(DataError::UnknownFormat {
                file: name.to_owned(),
                extension: ext.to_owned(),
            }),
        }
    }
}

/// How a delimited text file is split into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delimiter {
    Char(u8),
    /// Runs of spaces or tabs, leading and trailing ones ignored (fixed-width-ish exports).
    Whitespace,
}

/// The dialect found (or given) for a file; stored with the snapshot to re-read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dialect {
    pub format: Format,
    pub gzip: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delimiter: Option<Delimiter>,
    #[serde(default)]
    pub header: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Force a format instead of the one the file name promises.
    pub format: Option<Format>,
    pub delimiter: Option<Delimiter>,
    pub header: Option<bool>,
}

/// What reading found out besides the frame.
#[derive(Debug, Clone)]
pub struct ReadInfo {
    pub dialect: Dialect,
    /// Type hints from `name:type` headers (RecBole style: token, float, token_seq).
    pub hints: Vec<Option<String>>,
}

/// Values that mean "missing", as pandas reads them by default.
const NA_VALUES: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

fn is_na(v: &[u8]) -> bool {
    v.len() <= 8 && NA_VALUES.iter().any(|na| na.as_bytes() == v)
}

/// Progress callback: bytes processed so far, of a total.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Read a whole file's bytes. `name` is used for the format and in errors.
pub fn read_bytes(
    name: &str,
    raw: &[u8],
    opts: &ReadOptions,
    progress: Option<Progress<'_>>,
) -> Result<(Frame, ReadInfo)> {
    let format = match opts.format {
        Some(f) => f,
        None => Format::from_name(name)?,
    };
    let gzip = raw.starts_with(&[0x1f, 0x8b]);
    let owned;
    let bytes: &[u8] = if gzip {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(raw)
            .read_to_end(&mut out)
            .map_err(|e| DataError::WrongFormat {
                file: name.to_owned(),
                expected: "gzip",
                detail: e.to_string(),
            })?;
        owned = out;
        &owned
    } else {
        raw
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DataError::Empty {
            file: name.to_owned(),
        });
    }
    let (frame, dialect, hints) = match format {
        Format::Csv => {
            let (f, delim, header, hints) = read_csv(name, bytes, opts, progress)?;
            (
                f,
                Dialect {
                    format,
                    gzip,
                    delimiter: Some(delim),
                    header,
                },
                hints,
            )
        }
        Format::Ndjson => {
            let f = read_ndjson(name, bytes)?;
            let n = f.n_cols();
            (
                f,
                Dialect {
                    format,
                    gzip,
                    delimiter: None,
                    header: false,
                },
                vec![None; n],
            )
        }
        Format::Parquet => {
            let f = read_parquet(name, bytes)?;
            let n = f.n_cols();
            (
                f,
                Dialect {
                    format,
                    gzip,
                    delimiter: None,
                    header: false,
                },
                vec![None; n],
            )
        }
    };
    if frame.n_rows == 0 {
        return Err(DataError::Empty {
            file: name.to_owned(),
        });
    }
    Ok((frame, ReadInfo { dialect, hints }))
}

// ---------------------------------------------------------------------------------------
// CSV

fn read_csv(
    name: &str,
    bytes: &[u8],
    opts: &ReadOptions,
    progress: Option<Progress<'_>>,
) -> Result<(Frame, Delimiter, bool, Vec<Option<String>>)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // Text never holds NUL bytes or many control characters; a legacy encoding such as
    // Windows-1252 is still text and gets a line-and-column error from the parser.
    let head = &bytes[..bytes.len().min(8192)];
    let control = head
        .iter()
        .filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b))
        .count();
    if head.contains(&0) || control * 20 > head.len() {
        return Err(DataError::WrongFormat {
            file: name.to_owned(),
            expected: "CSV",
            detail: "it holds binary data, not text".into(),
        });
    }
    let quoted = {
        use rayon::prelude::*;
        bytes
            .par_chunks(4 << 20)
            .any(|piece| memchr::memchr(b'"', piece).is_some())
    };
    if quoted {
        if let Some(line) = unclosed_quote(bytes) {
            return Err(DataError::Malformed {
                file: name.to_owned(),
                line,
                column: None,
                message: "a quote opened here is never closed".into(),
            });
        }
    }
    let delim = match opts.delimiter {
        Some(d) => d,
        None => sniff_delimiter(bytes),
    };

    // Split off the first record to decide on the header.
    let mut first_end = 0;
    let first = first_record(bytes, delim, &mut first_end);
    let header = opts.header.unwrap_or_else(|| !looks_like_data(&first));
    let (names, hints, body_start, body_line) = if header {
        let (names, hints) = column_names(&first);
        (names, hints, first_end, 2u64)
    } else {
        let names = (1..=first.len()).map(|i| format!("column_{i}")).collect();
        (names, vec![None; first.len()], 0, 1u64)
    };
    let body = &bytes[body_start..];
    let n_cols = names.len();

    // Quoted fields may hold newlines, so only split at newlines when there are no quotes.
    let n_threads = rayon::current_num_threads().max(1);
    // A quoted header alone (common in exports) leaves the body on the fast paths.
    let quoted = quoted && memchr::memchr(b'"', body).is_some();
    let chunks = if body.len() > (4 << 20) && n_threads > 1 && !quoted {
        split_lines(body, n_threads * 8)
    } else {
        vec![body]
    };
    // Line numbers (for errors) count from each chunk's start; a failing chunk adds the
    // lines before it.
    let lines_before = |k: usize| {
        body_line - 1
            + chunks[..k]
                .iter()
                .map(|c| memchr::memchr_iter(b'\n', c).count() as u64)
                .sum::<u64>()
    };
    let total = bytes.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(body_start as u64);
    use rayon::prelude::*;
    // Numbers go straight into their final columns: each chunk fills its own stretch,
    // sized by its line count (an upper bound on its rows), so no merge copies them.
    let counts: Vec<usize> = chunks
        .par_iter()
        .map(|c| {
            memchr::memchr_iter(b'\n', c).count()
                + usize::from(c.last().is_some_and(|&b| b != b'\n'))
        })
        .collect();
    let offsets: Vec<usize> = counts
        .iter()
        .scan(0, |acc, &n| {
            let at = *acc;
            *acc += n;
            Some(at)
        })
        .collect();
    let capacity: usize = counts.iter().sum();
    let mut finals: Vec<Vec<f64>> = (0..n_cols).map(|_| vec![0.0; capacity]).collect();
    let mut sinks: Vec<Vec<Sink<'_>>> = chunks.iter().map(|_| Vec::with_capacity(n_cols)).collect();
    for col in finals.iter_mut() {
        let mut rest: &mut [f64] = col;
        for (k, &n) in counts.iter().enumerate() {
            let (mine, after) = std::mem::take(&mut rest).split_at_mut(n);
            sinks[k].push(Sink::Into { out: mine, len: 0 });
            rest = after;
        }
    }
    let parts: Vec<Result<Vec<Filled>>> =
        chunks
            .par_iter()
            .zip(sinks)
            .enumerate()
            .map(|(k, (chunk, sinks))| {
                let mut reported = 0u64;
                let mut tick = |pos: u64| {
                    let now = done.fetch_add(pos - reported, std::sync::atomic::Ordering::Relaxed)
                        + (pos - reported);
                    reported = pos;
                    if let Some(p) = progress {
                        p(now, total);
                    }
                };
                let r = parse_chunk(name, chunk, delim, quoted, &names, 1, sinks, &mut tick)
                    .map_err(|e| match e {
                        DataError::Malformed {
                            file,
                            line,
                            column,
                            message,
                        } => DataError::Malformed {
                            file,
                            line: line + lines_before(k),
                            column,
                            message,
                        },
                        other => other,
                    });
                tick(chunk.len() as u64);
                r.map(|sinks| sinks.into_iter().map(Sink::done).collect())
            })
            .collect();
    // Chunk by chunk, then column by column: columns finish independently (in parallel).
    let mut per_column: Vec<Vec<Filled>> = (0..n_cols)
        .map(|_| Vec::with_capacity(parts.len()))
        .collect();
    for part in parts {
        for (col, b) in per_column.iter_mut().zip(part?) {
            col.push(b);
        }
    }
    let builders: Vec<Builder> = finals
        .into_par_iter()
        .zip(per_column)
        .map(|(mut out, filled)| {
            if filled.iter().all(|f| matches!(f, Filled::Slice(_))) {
                // All numbers: close the gaps left by blank lines, if any.
                let mut to = 0;
                for (f, &from) in filled.iter().zip(&offsets) {
                    let Filled::Slice(n) = *f else {
                        unreachable!("checked above")
                    };
                    if to != from {
                        out.copy_within(from..from + n, to);
                    }
                    to += n;
                }
                out.truncate(to);
                return Builder::Num(out);
            }
            let parts = filled
                .into_iter()
                .zip(&offsets)
                .map(|(f, &from)| match f {
                    Filled::Slice(n) => Builder::Num(out[from..from + n].to_vec()),
                    Filled::Own(b) => b,
                })
                .collect();
            Builder::concat(parts)
        })
        .collect();
    let n_rows = builders.first().map_or(0, Builder::len);
    let columns = into_columns(names, builders);
    Ok((Frame { n_rows, columns }, delim, header, hints))
}

/// The line where a quoted field opens that no later quote closes. A doubled quote
/// inside a quoted field toggles twice, so plain counting is exact.
fn unclosed_quote(bytes: &[u8]) -> Option<u64> {
    let mut open_line = None;
    let mut line = 1u64;
    for at in memchr::memchr2_iter(b'"', b'\n', bytes) {
        if bytes[at] == b'\n' {
            line += 1;
        } else {
            open_line = match open_line {
                None => Some(line),
                Some(_) => None,
            };
        }
    }
    open_line
}

/// Split at newlines into about `n` pieces.
fn split_lines(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let step = body.len() / n + 1;
    let mut start = 0;
    while start < body.len() {
        let mut end = (start + step).min(body.len());
        if end < body.len() {
            end = match memchr::memchr(b'\n', &body[end..]) {
                Some(i) => end + i + 1,
                None => body.len(),
            };
        }
        out.push(&body[start..end]);
        start = end;
    }
    out
}

fn sniff_delimiter(bytes: &[u8]) -> Delimiter {
    let sample_end = {
        let cap = bytes.len().min(64 * 1024);
        if cap == bytes.len() {
            cap
        } else {
            memchr::memrchr(b'\n', &bytes[..cap]).map_or(cap, |i| i + 1)
        }
    };
    let sample = &bytes[..sample_end];
    let mut best: Option<(u8, usize)> = None;
    for &d in b",;\t|" {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(d)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample);
        let mut counts = Vec::new();
        let mut rec = csv::ByteRecord::new();
        while counts.len() < 50 {
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => counts.push(rec.len()),
                _ => break,
            }
        }
        if counts.is_empty() {
            continue;
        }
        let n = counts[0];
        // Every sampled record the same width; the last may be cut by the sample.
        let consistent = counts[..counts.len().saturating_sub(1).max(1)]
            .iter()
            .all(|&c| c == n);
        if n > 1 && consistent && best.is_none_or(|(_, bn)| n > bn) {
            best = Some((d, n));
        }
    }
    if let Some((d, _)) = best {
        return Delimiter::Char(d);
    }
    let widths: Vec<usize> = sample
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(50)
        .map(|l| {
            l.split(|b| *b == b' ' || *b == b'\t')
                .filter(|f| !f.is_empty())
                .count()
        })
        .collect();
    if widths.len() > 1 && widths[0] > 1 && widths.iter().all(|&w| w == widths[0]) {
        return Delimiter::Whitespace;
    }
    Delimiter::Char(b',')
}

/// The first record's fields (as text), and where the record ends.
fn first_record(bytes: &[u8], delim: Delimiter, end: &mut usize) -> Vec<String> {
    match delim {
        Delimiter::Char(d) => {
            let mut rdr = csv::ReaderBuilder::new()
                .delimiter(d)
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut rec = csv::ByteRecord::new();
            if let Ok(true) = rdr.read_byte_record(&mut rec) {
                *end = rdr.position().byte() as usize;
                rec.iter()
                    .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                    .collect()
            } else {
                *end = bytes.len();
                Vec::new()
            }
        }
        Delimiter::Whitespace => {
            let mut start = 0;
            loop {
                let stop =
                    memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
                let line = &bytes[start..stop];
                if !line.iter().all(u8::is_ascii_whitespace) || stop == bytes.len() {
                    *end = stop;
                    return split_ws(line)
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect();
                }
                start = stop;
            }
        }
    }
}

fn split_ws(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n')
        .filter(|f| !f.is_empty())
}

/// A first row is data rather than a header when one of its fields is a number.
fn looks_like_data(first: &[String]) -> bool {
    first.iter().any(|f| parse_number(f.as_bytes()).is_some())
}

/// Header names made unique and non-empty; `name:type` hints split off when every column has one.
fn column_names(first: &[String]) -> (Vec<String>, Vec<Option<String>>) {
    const HINTS: &[&str] = &["token", "float", "token_seq", "float_seq"];
    let typed = !first.is_empty()
        && first
            .iter()
            .all(|f| f.rsplit_once(':').is_some_and(|(_, t)| HINTS.contains(&t)));
    let mut names = Vec::with_capacity(first.len());
    let mut hints = Vec::with_capacity(first.len());
    for (i, f) in first.iter().enumerate() {
        let (base, hint) = match (typed, f.rsplit_once(':')) {
            (true, Some((b, t))) => (b.to_owned(), Some(t.to_owned())),
            _ => (f.clone(), None),
        };
        let base = if base.is_empty() {
            format!("column_{}", i + 1)
        } else {
            base
        };
        let mut unique = base.clone();
        let mut k = 2;
        while names.contains(&unique) {
            unique = format!("{base}_{k}");
            k += 1;
        }
        names.push(unique);
        hints.push(hint);
    }
    (names, hints)
}

/// Finished builders under their column names.
fn into_columns(names: Vec<String>, builders: Vec<Builder>) -> Vec<Column> {
    names
        .into_iter()
        .zip(builders)
        .map(|(name, b)| Column {
            name,
            data: b.finish(),
        })
        .collect()
}

/// A number as a data file writes it. Leading zeros ("00042", zip codes, ids) and words
/// like "inf" stay text, because turning them into numbers loses what they mean.
#[inline]
pub(crate) fn parse_number(v: &[u8]) -> Option<f64> {
    // Fast path, in one scan: up to 15 digits with at most one dot (the bulk of any data
    // file), exactly as `parse_number_general` reads them.
    let (neg, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, v),
    };
    let (mut mant, mut i) = (0u64, 0usize);
    while let Some(&c) = digits.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 || i == 15 {
            break;
        }
        mant = mant * 10 + u64::from(d);
        i += 1;
    }
    let int_digits = i;
    let mut frac = 0;
    if digits.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = digits.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 || int_digits + frac == 15 {
                break;
            }
            mant = mant * 10 + u64::from(d);
            frac += 1;
            i += 1;
        }
    }
    if i == digits.len() && int_digits + frac > 0 {
        if int_digits > 1 && digits[0] == b'0' {
            return None;
        }
        // At most 15 digits: exact as i64 and as f64 (the signed conversion is one
        // instruction, the unsigned one several); whole numbers skip the division.
        let m = mant as i64 as f64;
        let x = if frac == 0 { m } else { m / POW10[frac] };
        return Some(if neg { -x } else { x });
    }
    parse_number_general(v)
}

/// Any number `parse_number` accepts, by the general rules.
fn parse_number_general(v: &[u8]) -> Option<f64> {
    // A leading `+` is how phone numbers are written; numbers in data files omit it.
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    match digits {
        [] => return None,
        [b'0', b'0'..=b'9', ..] => return None,
        [c, ..] if !(c.is_ascii_digit() || *c == b'.') => return None,
        _ => {}
    }
    if !digits
        .last()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
    {
        return None;
    }
    if let Some(x) = parse_simple_decimal(digits) {
        return Some(if v[0] == b'-' { -x } else { x });
    }
    // Whole numbers with more digits than a double holds exactly are identifiers (card
    // numbers, long ids): keep them as text rather than round them.
    if digits.len() > 15 && digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
}

const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// Plain decimals of at most 15 digits (the bulk of any data file), without a sign.
/// Both the digits as an integer and the power of ten are exact in f64, so one IEEE
/// division gives the correctly rounded value, as the general parser would (Clinger's
/// fast path). Anything else returns `None` for the general parser.
#[inline]
fn parse_simple_decimal(digits: &[u8]) -> Option<f64> {
    let (mut mant, mut ndig, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mant = mant * 10 + u64::from(c - b'0');
                ndig += 1;
                frac += usize::from(dot);
                if ndig > 15 {
                    return None;
                }
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    (ndig > 0).then(|| mant as f64 / POW10[frac])
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// A text field as a text column keeps it: numbers in their canonical form ("1.50"
/// becomes "1.5"), exactly as numbers read before a column turned to text, so the result
/// does not depend on where the file was split into chunks.
#[inline]
fn canonical<'v>(v: &'v [u8], buf: &'v mut String) -> &'v [u8] {
    if let Some(b'0'..=b'9' | b'-' | b'.') = v.first() {
        if let Some(x) = parse_number(v) {
            *buf = format!("{x}");
            return buf.as_bytes();
        }
    }
    v
}

const NOT_UTF8: &str = "the value is not valid UTF-8 text";

/// Distinct strings of a column, each stored once. The hash table holds, per level, its
/// code and the high half of its hash: a probe compares those before touching the text,
/// and growing the table needs no rehash of the texts.
#[derive(Default)]
struct Interner {
    table: hashbrown::HashTable<u64>,
    levels: Vec<String>,
}

fn hash_bytes(v: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(v)
}

/// The table's hash of an entry (or of a text's hash): its 32 hash bits, twice.
#[inline]
fn table_hash(e: u64) -> u64 {
    (e >> 32) | (e & 0xFFFF_FFFF_0000_0000)
}

impl Interner {
    /// The code of `v`, adding it when new; `Err` when a new value is not UTF-8.
    #[inline]
    fn intern(&mut self, v: &[u8]) -> std::result::Result<u32, ()> {
        let hi = hash_bytes(v) & 0xFFFF_FFFF_0000_0000;
        let levels = &self.levels;
        if let Some(&e) = self.table.find(table_hash(hi), |&e| {
            e & 0xFFFF_FFFF_0000_0000 == hi && levels[e as u32 as usize].as_bytes() == v
        }) {
            return Ok(e as u32);
        }
        let s = std::str::from_utf8(v).map_err(|_| ())?;
        Ok(self.add(hi, s.to_owned()))
    }

    /// Like `intern`, for a text already owned (no copy when it is new).
    fn intern_owned(&mut self, v: String) -> u32 {
        let hi = hash_bytes(v.as_bytes()) & 0xFFFF_FFFF_0000_0000;
        let levels = &self.levels;
        if let Some(&e) = self.table.find(table_hash(hi), |&e| {
            e & 0xFFFF_FFFF_0000_0000 == hi && levels[e as u32 as usize] == v
        }) {
            return e as u32;
        }
        self.add(hi, v)
    }

    fn add(&mut self, hi: u64, v: String) -> u32 {
        let c = self.levels.len() as u32;
        self.levels.push(v);
        self.table
            .insert_unique(table_hash(hi), hi | u64::from(c), |&e| table_hash(e));
        c
    }

    /// Room for `n` more levels.
    fn reserve(&mut self, n: usize) {
        self.levels.reserve(n);
        self.table.reserve(n, |&e| table_hash(e));
    }
}

/// From how many distinct values (summed over a column's parts) the parts are merged in
/// parallel.
const PARALLEL_MERGE_LEVELS: usize = 1 << 16;

/// A column while it is being read: numbers until the first value that is not one.
enum Builder {
    Num(Vec<f64>),
    Str {
        codes: Vec<u32>,
        interner: Interner,
    },
    /// Text where nearly every value is new (ids, keys), in row order (`None` missing):
    /// looking for repeats chunk by chunk would cost a hash table lookup per row for
    /// nothing, so [`Builder::concat_many_levels`] finds them once for the column.
    Unique(Vec<Option<String>>),
}

/// After this many values of a text column, a column whose values were nearly all new
/// becomes [`Builder::Unique`].
const UNIQUE_PROBE: usize = 4096;

impl Builder {
    fn with_capacity(n: usize) -> Builder {
        Builder::Num(Vec::with_capacity(n))
    }

    fn new() -> Builder {
        Builder::with_capacity(0)
    }

    fn len(&self) -> usize {
        match self {
            Builder::Num(v) => v.len(),
            Builder::Str { codes, .. } => codes.len(),
            Builder::Unique(v) => v.len(),
        }
    }

    /// Push one raw field; `Err` carries a message for a field that is not UTF-8.
    #[inline]
    fn push(&mut self, raw: &[u8]) -> std::result::Result<(), String> {
        let v = trim(raw);
        if let Builder::Num(nums) = self {
            // No missing-value marker parses as a number, so numbers are tried first.
            if let Some(x) = parse_number(v) {
                nums.push(x);
                return Ok(());
            }
            if is_na(v) {
                nums.push(f64::NAN);
                return Ok(());
            }
            self.make_text();
        }
        if let Builder::Unique(values) = self {
            if is_na(v) {
                values.push(None);
                return Ok(());
            }
            let mut buf = String::new();
            let v = std::str::from_utf8(canonical(v, &mut buf)).map_err(|_| NOT_UTF8)?;
            values.push(Some(v.to_owned()));
            return Ok(());
        }
        let Builder::Str { codes, interner } = self else {
            unreachable!("converted above")
        };
        if is_na(v) {
            codes.push(MISSING_CODE);
            return Ok(());
        }
        let mut buf = String::new();
        let c = interner
            .intern(canonical(v, &mut buf))
            .map_err(|()| NOT_UTF8.to_owned())?;
        codes.push(c);
        if codes.len() == UNIQUE_PROBE && interner.levels.len() * 100 >= UNIQUE_PROBE * 95 {
            let (codes, levels) = (std::mem::take(codes), std::mem::take(&mut interner.levels));
            let mut values = Vec::with_capacity(codes.capacity());
            values.extend(codes.iter().map(|&c| match c {
                MISSING_CODE => None,
                c => Some(levels[c as usize].clone()),
            }));
            *self = Builder::Unique(values);
            return Ok(());
        }
        // Mostly new values so far: make room for the rest at once rather than growing
        // the table step by step.
        if c == 4095 && codes.len() <= 6144 {
            interner.reserve(codes.capacity().saturating_sub(codes.len()));
        }
        Ok(())
    }

    /// Values of a [`Builder::Unique`] column as codes and levels, repeats found.
    fn intern_unique(values: Vec<Option<String>>) -> Builder {
        let mut codes = Vec::with_capacity(values.len());
        let mut interner = Interner::default();
        for v in values {
            codes.push(match v {
                None => MISSING_CODE,
                Some(v) => interner.intern_owned(v),
            });
        }
        Builder::Str { codes, interner }
    }

    /// Numbers read so far become text as they are usually written.
    fn make_text(&mut self) {
        if let Builder::Num(nums) = self {
            let mut codes = Vec::with_capacity(nums.capacity());
            let mut interner = Interner::default();
            for x in nums.iter() {
                if x.is_nan() {
                    codes.push(MISSING_CODE);
                } else {
                    codes.push(
                        interner
                            .intern(format!("{x}").as_bytes())
                            .expect("formatted numbers are UTF-8"),
                    );
                }
            }
            *self = Builder::Str { codes, interner };
        }
    }

    /// One column from its parts (in order), as if read in one piece.
    fn concat(mut parts: Vec<Builder>) -> Builder {
        if parts.len() <= 1 {
            return parts.pop().unwrap_or_else(Builder::new);
        }
        let total: usize = parts.iter().map(Builder::len).sum();
        if parts.iter().all(|p| matches!(p, Builder::Num(_))) {
            let mut parts = parts.into_iter();
            let Some(Builder::Num(mut out)) = parts.next() else {
                unreachable!("checked above")
            };
            out.reserve_exact(total - out.len());
            for p in parts {
                if let Builder::Num(v) = p {
                    out.extend_from_slice(&v);
                }
            }
            return Builder::Num(out);
        }
        let distinct: usize = parts
            .iter()
            .map(|p| match p {
                Builder::Str { interner, .. } => interner.levels.len(),
                Builder::Num(v) => v.len(),
                Builder::Unique(v) => v.len(),
            })
            .sum();
        if distinct >= PARALLEL_MERGE_LEVELS {
            return Builder::concat_many_levels(parts);
        }
        let parts = parts
            .into_iter()
            .map(|p| match p {
                Builder::Unique(v) => Builder::intern_unique(v),
                other => other,
            })
            .collect();
        Builder::concat_texts(parts, total)
    }

    /// `concat` for texts, one part after the other.
    fn concat_texts(parts: Vec<Builder>, total: usize) -> Builder {
        let mut parts = parts.into_iter();
        let mut acc = parts.next().expect("more than one part");
        acc.make_text();
        let Builder::Str { codes, interner } = &mut acc else {
            unreachable!("converted to text")
        };
        codes.reserve_exact(total - codes.len());
        for mut other in parts {
            other.make_text();
            let Builder::Str {
                codes: oc,
                interner: oi,
            } = other
            else {
                unreachable!("converted to text")
            };
            interner.reserve(oi.levels.len());
            let remap: Vec<u32> = oi
                .levels
                .into_iter()
                .map(|l| interner.intern_owned(l))
                .collect();
            codes.extend(oc.into_iter().map(|c| {
                if c == MISSING_CODE {
                    c
                } else {
                    remap[c as usize]
                }
            }));
        }
        acc
    }

    /// `concat` for texts with many distinct values (ids, keys): the parts' levels are
    /// split by hash into partitions that find repeats in parallel, each in a table small
    /// enough to stay in cache; then codes are given in order of first appearance, so the
    /// result is the same as `concat`'s. The returned interner holds the levels but no
    /// table: the column is finished next, never added to.
    fn concat_many_levels(mut parts: Vec<Builder>) -> Builder {
        use rayon::prelude::*;
        const PARTITIONS: usize = 8;
        parts.par_iter_mut().for_each(Builder::make_text);
        // Each part as codes into its levels, with the hash of every level: as its table
        // holds it, or (a part of unique values, one level per value) computed here.
        type Part = (Vec<u32>, Vec<String>);
        let (parts, hashes): (Vec<Part>, Vec<Vec<u64>>) = parts
            .into_par_iter()
            .map(|p| match p {
                Builder::Str { codes, interner } => {
                    let mut h = vec![0u64; interner.levels.len()];
                    for &e in &interner.table {
                        h[e as u32 as usize] = e & 0xFFFF_FFFF_0000_0000;
                    }
                    ((codes, interner.levels), h)
                }
                Builder::Unique(values) => {
                    let mut codes = Vec::with_capacity(values.len());
                    let mut levels = Vec::with_capacity(values.len());
                    for v in values {
                        codes.push(match v {
                            None => MISSING_CODE,
                            Some(v) => {
                                levels.push(v);
                                levels.len() as u32 - 1
                            }
                        });
                    }
                    let h = levels
                        .iter()
                        .map(|l| hash_bytes(l.as_bytes()) & 0xFFFF_FFFF_0000_0000)
                        .collect();
                    ((codes, levels), h)
                }
                Builder::Num(_) => unreachable!("converted to text"),
            })
            .unzip();
        // Multiplying mixes all 32 hash bits into the top ones, which pick the partition
        // (the tables index by the low ones).
        let partition = |h: u64| (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize;
        let total: usize = hashes.iter().map(Vec::len).sum();
        // Per partition: each repeated level (part, index) and its first appearance.
        let repeats: Vec<Vec<[u32; 4]>> = (0..PARTITIONS)
            .into_par_iter()
            .map(|p| {
                let mut seen: hashbrown::HashTable<(u64, u32, u32)> =
                    hashbrown::HashTable::with_capacity(total / PARTITIONS + total / 64);
                let mut repeats = Vec::new();
                for (k, h) in hashes.iter().enumerate() {
                    let levels = &parts[k].1;
                    for (i, &hi) in h.iter().enumerate() {
                        if partition(hi) != p {
                            continue;
                        }
                        let v = &levels[i];
                        match seen.find(table_hash(hi), |&(eh, ek, ei)| {
                            eh == hi && parts[ek as usize].1[ei as usize] == *v
                        }) {
                            Some(&(_, k0, i0)) => repeats.push([k as u32, i as u32, k0, i0]),
                            None => {
                                seen.insert_unique(
                                    table_hash(hi),
                                    (hi, k as u32, i as u32),
                                    |&(eh, _, _)| table_hash(eh),
                                );
                            }
                        }
                    }
                }
                repeats
            })
            .collect();
        drop(hashes);
        // Codes in order of first appearance; a repeat takes its first appearance's code
        // (earlier in order, so given one before repeats are resolved).
        const REPEAT: u32 = u32::MAX;
        let mut remap: Vec<Vec<u32>> = parts
            .iter()
            .map(|(_, levels)| vec![0; levels.len()])
            .collect();
        for r in repeats.iter().flatten() {
            remap[r[0] as usize][r[1] as usize] = REPEAT;
        }
        let mut firsts = vec![0usize; remap.len()];
        for r in repeats.iter().flatten() {
            firsts[r[0] as usize] += 1;
        }
        for (f, (_, part_levels)) in firsts.iter_mut().zip(&parts) {
            *f = part_levels.len() - *f;
        }
        let mut levels = vec![String::new(); firsts.iter().sum()];
        let mut code_parts = Vec::with_capacity(parts.len());
        let mut jobs = Vec::with_capacity(parts.len());
        let (mut rest, mut at): (&mut [String], usize) = (&mut levels, 0);
        for (((codes, part_levels), map), &n) in
            parts.into_iter().zip(remap.iter_mut()).zip(&firsts)
        {
            let (mine, after) = std::mem::take(&mut rest).split_at_mut(n);
            jobs.push((mine, at, map, part_levels));
            code_parts.push(codes);
            rest = after;
            at += n;
        }
        jobs.into_par_iter()
            .for_each(|(out, at, map, part_levels)| {
                let mut out = out.iter_mut();
                let mut code = at as u32;
                for (slot, level) in map.iter_mut().zip(part_levels) {
                    if *slot != REPEAT {
                        *slot = code;
                        code += 1;
                        *out.next().expect("counted") = level;
                    }
                }
            });
        let mut all_codes = Vec::with_capacity(code_parts.iter().map(Vec::len).sum());
        for r in repeats.iter().flatten() {
            remap[r[0] as usize][r[1] as usize] = remap[r[2] as usize][r[3] as usize];
        }
        all_codes.resize(all_codes.capacity(), MISSING_CODE);
        let mut rest: &mut [u32] = &mut all_codes;
        let mut jobs = Vec::with_capacity(code_parts.len());
        for (codes, map) in code_parts.iter().zip(&remap) {
            let (mine, after) = std::mem::take(&mut rest).split_at_mut(codes.len());
            jobs.push((mine, codes, map));
            rest = after;
        }
        jobs.into_par_iter().for_each(|(out, codes, map)| {
            for (o, &c) in out.iter_mut().zip(codes) {
                *o = if c == MISSING_CODE {
                    c
                } else {
                    map[c as usize]
                };
            }
        });
        Builder::Str {
            codes: all_codes,
            interner: Interner {
                table: hashbrown::HashTable::new(),
                levels,
            },
        }
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Num(v) => ColumnData::Num(v),
            Builder::Unique(v) => Builder::intern_unique(v).finish(),
            Builder::Str { codes, interner } => ColumnData::Str(StrColumn {
                codes,
                levels: interner.levels,
            }),
        }
    }
}

/// Where a chunk puts a column's values: numbers straight into its stretch of the final
/// column until the first value that is not one (or the stretch is full), then a
/// [`Builder`] of its own.
enum Sink<'a> {
    Into { out: &'a mut [f64], len: usize },
    Own(Builder),
}

/// What a chunk left of a column: how many numbers it wrote into its stretch, or its own
/// builder.
enum Filled {
    Slice(usize),
    Own(Builder),
}

impl Sink<'_> {
    #[inline]
    fn push(&mut self, raw: &[u8]) -> std::result::Result<(), String> {
        if let Sink::Into { out, len } = self {
            if let Some(slot) = out.get_mut(*len) {
                let v = trim(raw);
                if let Some(x) = parse_number(v) {
                    *slot = x;
                    *len += 1;
                    return Ok(());
                }
                if is_na(v) {
                    *slot = f64::NAN;
                    *len += 1;
                    return Ok(());
                }
            }
            // Room for the rest of the chunk's rows, as the text interner sizes itself by it.
            let mut nums = Vec::with_capacity(out.len() + 16);
            nums.extend_from_slice(&out[..*len]);
            *self = Sink::Own(Builder::Num(nums));
        }
        let Sink::Own(b) = self else {
            unreachable!("converted above")
        };
        b.push(raw)
    }

    fn done(self) -> Filled {
        match self {
            Sink::Into { len, .. } => Filled::Slice(len),
            Sink::Own(b) => Filled::Own(b),
        }
    }
}

/// Positions of a delimiter or a newline, in order, found eight bytes at a time.
struct Separators<'a> {
    bytes: &'a [u8],
    /// Start of the current word; `mask` has the high bit of each matching byte in it.
    base: usize,
    mask: u64,
    delim: u64,
}

const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// High bit set in each byte of `w` equal to the byte repeated in `pat` (exact).
#[inline]
fn bytes_equal(w: u64, pat: u64) -> u64 {
    let x = w ^ pat;
    !(((x & LO7).wrapping_add(LO7)) | x | LO7)
}

impl<'a> Separators<'a> {
    fn new(bytes: &'a [u8], delim: u8) -> Separators<'a> {
        let mut s = Separators {
            bytes,
            base: 0,
            mask: 0,
            delim: u64::from_ne_bytes([delim; 8]),
        };
        s.seek(0);
        s
    }

    #[inline]
    fn word_mask(&self, at: usize) -> u64 {
        let w = match self.bytes.get(at..at + 8) {
            Some(w) => u64::from_le_bytes(w.try_into().expect("eight bytes")),
            None => {
                // The tail, padded with zero bytes (never a separator).
                let mut w = [0u8; 8];
                let tail = &self.bytes[at.min(self.bytes.len())..];
                w[..tail.len()].copy_from_slice(tail);
                u64::from_le_bytes(w)
            }
        };
        bytes_equal(w, self.delim) | bytes_equal(w, u64::from_ne_bytes([b'\n'; 8]))
    }

    /// Continue from `pos` (separators before it are skipped).
    fn seek(&mut self, pos: usize) {
        self.base = pos & !7;
        self.mask = if self.base < self.bytes.len() {
            self.word_mask(self.base) & (u64::MAX << ((pos & 7) * 8))
        } else {
            0
        };
    }

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 8;
            if self.base >= self.bytes.len() {
                return None;
            }
            self.mask = self.word_mask(self.base);
        }
        let at = self.base + self.mask.trailing_zeros() as usize / 8;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

fn parse_chunk<'a>(
    name: &str,
    chunk: &[u8],
    delim: Delimiter,
    // Whether the body holds a quote anywhere (known from one scan of all of it).
    quoted: bool,
    names: &[String],
    first_line: u64,
    mut builders: Vec<Sink<'a>>,
    tick: &mut dyn FnMut(u64),
) -> Result<Vec<Sink<'a>>> {
    let n_cols = names.len();
    let bad_utf8 = |line: u64, col: usize, msg: String| DataError::Malformed {
        file: name.to_owned(),
        line,
        column: Some(names[col].clone()),
        message: msg,
    };
    let wrong_width = |line: u64, found: usize| DataError::Malformed {
        file: name.to_owned(),
        line,
        column: None,
        message: format!("expected {n_cols} fields (as in the first row), found {found}"),
    };
    match delim {
        // Without quotes a field is the bytes between delimiters: slice the input directly
        // instead of copying every record through the general CSV state machine.
        // The same, one separator at a time from a word-at-a-time scan (no per-line and
        // per-field searches, no field list).
        Delimiter::Char(d) if d != b'\n' && d != b'\r' && !quoted => {
            let mut seps = Separators::new(chunk, d);
            let mut start = 0usize;
            let mut line = first_line;
            while start < chunk.len() {
                if chunk[start].is_ascii_whitespace() {
                    // Maybe a blank line (skipped, as pandas does): look at all of it.
                    let end =
                        memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |i| start + i);
                    if chunk[start..end].iter().all(u8::is_ascii_whitespace) {
                        if (line - first_line) % 65_536 == 65_535 {
                            tick(end as u64);
                        }
                        line += 1;
                        start = end + 1;
                        seps.seek(start);
                        continue;
                    }
                }
                let (mut col, mut from, mut bad) = (0usize, start, None);
                let end = loop {
                    let at = seps.next().unwrap_or(chunk.len());
                    let last = at == chunk.len() || chunk[at] == b'\n';
                    let mut f = &chunk[from..at];
                    if last {
                        if let [rest @ .., b'\r'] = f {
                            f = rest;
                        }
                    }
                    if let Some(b) = builders.get_mut(col) {
                        if let (Err(m), None) = (b.push(f), &bad) {
                            bad = Some((col, m));
                        }
                    }
                    col += 1;
                    from = at + 1;
                    if last {
                        break at;
                    }
                };
                // A wrong width is reported before a bad value, as when splitting first.
                if col != n_cols {
                    return Err(wrong_width(line, col));
                }
                if let Some((i, m)) = bad {
                    return Err(bad_utf8(line, i, m));
                }
                if (line - first_line) % 65_536 == 65_535 {
                    tick(end as u64);
                }
                line += 1;
                start = end + 1;
            }
        }
        Delimiter::Char(d) if !quoted => {
            let mut start = 0usize;
            let mut line = first_line;
            let mut fields: Vec<&[u8]> = Vec::with_capacity(n_cols);
            while start < chunk.len() {
                let end = memchr::memchr(b'\n', &chunk[start..]).map_or(chunk.len(), |i| start + i);
                let mut l = &chunk[start..end];
                if let [rest @ .., b'\r'] = l {
                    l = rest;
                }
                if !l.iter().all(u8::is_ascii_whitespace) {
                    fields.clear();
                    let mut from = 0;
                    for at in memchr::memchr_iter(d, l) {
                        fields.push(&l[from..at]);
                        from = at + 1;
                    }
                    fields.push(&l[from..]);
                    if fields.len() != n_cols {
                        return Err(wrong_width(line, fields.len()));
                    }
                    for (i, (b, f)) in builders.iter_mut().zip(&fields).enumerate() {
                        b.push(f).map_err(|m| bad_utf8(line, i, m))?;
                    }
                }
                if (line - first_line) % 65_536 == 65_535 {
                    tick(end as u64);
                }
                line += 1;
                start = end + 1;
            }
        }
        Delimiter::Char(d) => {
            let mut rdr = csv::ReaderBuilder::new()
                .delimiter(d)
                .has_headers(false)
                .flexible(true)
                .from_reader(chunk);
            let mut rec = csv::ByteRecord::new();
            loop {
                match rdr.read_byte_record(&mut rec) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        let line = e
                            .position()
                            .map_or(first_line, |p| first_line + p.line() - 1);
                        return Err(DataError::Malformed {
                            file: name.to_owned(),
                            line,
                            column: None,
                            message: e.to_string(),
                        });
                    }
                }
                let line = || first_line + rec.position().map_or(1, |p| p.line()) - 1;
                if rec.position().is_some_and(|p| p.line() % 65_536 == 0) {
                    tick(rdr.position().byte());
                }
                if rec.len() != n_cols {
                    // A blank line reads as one empty field: skip it, as pandas does.
                    if rec.len() == 1 && trim(&rec[0]).is_empty() {
                        continue;
                    }
                    return Err(wrong_width(line(), rec.len()));
                }
                for (i, (b, f)) in builders.iter_mut().zip(rec.iter()).enumerate() {
                    b.push(f).map_err(|m| bad_utf8(line(), i, m))?;
                }
            }
        }
        Delimiter::Whitespace => {
            for (k, l) in chunk.split(|&b| b == b'\n').enumerate() {
                let line = first_line + k as u64;
                let n = split_ws(l).count();
                if n == 0 {
                    continue;
                }
                if n != n_cols {
                    return Err(wrong_width(line, n));
                }
                for (i, (b, f)) in builders.iter_mut().zip(split_ws(l)).enumerate() {
                    b.push(f).map_err(|m| bad_utf8(line, i, m))?;
                }
            }
        }
    }
    Ok(builders)
}

// ---------------------------------------------------------------------------------------
// NDJSON

fn read_ndjson(name: &str, bytes: &[u8]) -> Result<Frame> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first != Some(b'{') {
        return Err(DataError::WrongFormat {
            file: name.to_owned(),
            expected: "NDJSON",
            detail: "each line must be a JSON object starting with `{`".into(),
        });
    }
    let mut names: Vec<String> = Vec::new();
    let mut pos: FxHashMap<String, usize> = FxHashMap::default();
    let mut builders: Vec<Builder> = Vec::new();
    let mut n_rows = 0usize;
    let mut seen = Vec::new();
    for (k, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = k as u64 + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line)
            .map_err(|e| DataError::Malformed {
                file: name.to_owned(),
                line: line_no,
                column: None,
                message: format!("column {}: {}", e.column(), strip_position(&e.to_string())),
            })?;
        seen.clear();
        seen.resize(builders.len(), false);
        for (key, value) in obj {
            let i = match pos.get(&key) {
                Some(&i) => i,
                None => {
                    let mut b = Builder::new();
                    for _ in 0..n_rows {
                        b.push(b"").expect("empty is UTF-8");
                    }
                    builders.push(b);
                    seen.push(false);
                    names.push(key.clone());
                    pos.insert(key.clone(), names.len() - 1);
                    names.len() - 1
                }
            };
            let text = match &value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => {
                    if s.trim().is_empty() {
                        String::new()
                    } else {
                        s.clone()
                    }
                }
                other => {
                    return Err(DataError::Malformed {
                        file: name.to_owned(),
                        line: line_no,
                        column: Some(key),
                        message: format!(
                            "expected a string, number, boolean or null, found {}",
                            if other.is_array() {
                                "an array"
                            } else {
                                "an object"
                            }
                        ),
                    })
                }
            };
            if seen[i] {
                continue;
            }
            seen[i] = true;
            // Strings that look like numbers stay strings only if the writer quoted them
            // in a column of strings; the builder decides by content, as for CSV.
            builders[i]
                .push(text.as_bytes())
                .expect("JSON strings are UTF-8");
        }
        for (i, b) in builders.iter_mut().enumerate() {
            if !seen[i] {
                b.push(b"").expect("empty is UTF-8");
            }
        }
        n_rows += 1;
    }
    let columns = into_columns(names, builders);
    Ok(Frame { n_rows, columns })
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Parquet

#[cfg(feature = "parquet")]
fn read_parquet(name: &str, bytes: &[u8]) -> Result<Frame> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    if bytes.len() < 12 || !bytes.starts_with(b"PAR1") || !bytes.ends_with(b"PAR1") {
        return Err(DataError::WrongFormat {
            file: name.to_owned(),
            expected: "Parquet",
            detail: "it does not start and end with the `PAR1` marker".into(),
        });
    }
    let wrong = |e: parquet::errors::ParquetError| DataError::WrongFormat {
        file: name.to_owned(),
        expected: "Parquet",
        detail: e.to_string(),
    };
    let reader = SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes)).map_err(wrong)?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let mut builders: Vec<Builder> = names.iter().map(|_| Builder::new()).collect();
    let mut n_rows = 0usize;
    for (k, row) in reader.get_row_iter(None).map_err(wrong)?.enumerate() {
        let row = row.map_err(wrong)?;
        for (i, (_, field)) in row.get_column_iter().enumerate().take(builders.len()) {
            let text = match field {
                Field::Null => String::new(),
                Field::Bool(b) => b.to_string(),
                Field::Byte(v) => v.to_string(),
                Field::Short(v) => v.to_string(),
                Field::Int(v) => v.to_string(),
                Field::Long(v) => v.to_string(),
                Field::UByte(v) => v.to_string(),
                Field::UShort(v) => v.to_string(),
                Field::UInt(v) => v.to_string(),
                Field::ULong(v) => v.to_string(),
                Field::Float(v) => v.to_string(),
                Field::Double(v) => v.to_string(),
                Field::Str(s) => s.clone(),
                other => other.to_string().trim_matches('"').to_owned(),
            };
            builders[i]
                .push(text.as_bytes())
                .map_err(|m| DataError::Malformed {
                    file: name.to_owned(),
                    line: k as u64 + 1,
                    column: Some(names[i].clone()),
                    message: m,
                })?;
        }
        n_rows += 1;
    }
    let columns = into_columns(names, builders);
    Ok(Frame { n_rows, columns })
}

#[cfg(not(feature = "parquet"))]
fn read_parquet(name: &str, _bytes: &[u8]) -> Result<Frame> {
    Err(DataError::Invalid(format!(
        "{name}: this build of klartext was made without Parquet support (cargo feature `parquet`)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, text: &str) -> Result<(Frame, ReadInfo)> {
        read_bytes(name, text.as_bytes(), &ReadOptions::default(), None)
    }

    /// Parts of one column as chunks would leave them: ids mostly new, some repeated in
    /// later parts, some missing, one part still all numbers.
    fn id_parts(seed: u64) -> Vec<Builder> {
        let mut rng = seed;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut parts = Vec::new();
        for k in 0..7u64 {
            let mut b = Builder::new();
            for i in 0..3000u64 {
                let r = next();
                let v = match r % 10 {
                    0 => String::new(),
                    1 => format!("C{}", r % 5000),
                    _ => format!("C{}", k * 10_000 + i),
                };
                b.push(v.as_bytes()).unwrap();
            }
            parts.push(b);
        }
        let mut nums = Builder::new();
        for i in 0..500 {
            nums.push(format!("{}", i % 300).as_bytes()).unwrap();
        }
        parts.insert(3, nums);
        parts
    }

    fn finished(b: Builder) -> (Vec<u32>, Vec<String>) {
        match b.finish() {
            ColumnData::Str(s) => (s.codes, s.levels),
            ColumnData::Num(_) => panic!("expected text"),
        }
    }

    #[test]
    fn parallel_merge_of_many_levels_equals_the_serial_one() {
        for seed in [1, 7, 42] {
            let total = id_parts(seed).iter().map(Builder::len).sum();
            let serial = finished(Builder::concat_texts(id_parts(seed), total));
            let parallel = finished(Builder::concat_many_levels(id_parts(seed)));
            assert_eq!(serial.1.len(), parallel.1.len());
            assert_eq!(serial, parallel, "seed {seed}");
            assert!(serial.0.contains(&MISSING_CODE));
        }
    }

    /// Parts as chunks of an id column leave them: nearly all values new, so each part
    /// turns `Unique`; some values repeat within a part and across parts.
    fn unique_parts() -> Vec<Builder> {
        (0..5u32)
            .map(|k| {
                let mut b = Builder::new();
                for i in 0..6000u32 {
                    let v = match i % 100 {
                        7 => String::new(),
                        8 => format!("id{}", i / 2),
                        9 => format!("id{}", (k + 1) * 3 % 5 * 100_000 + i),
                        _ => format!("id{}", k * 100_000 + i),
                    };
                    b.push(v.as_bytes()).unwrap();
                }
                assert!(matches!(b, Builder::Unique(_)), "part {k} not unique");
                b
            })
            .collect()
    }

    #[test]
    fn unique_parts_merge_like_interned_ones() {
        let total = unique_parts().iter().map(Builder::len).sum();
        let interned: Vec<Builder> = unique_parts()
            .into_iter()
            .map(|p| match p {
                Builder::Unique(v) => Builder::intern_unique(v),
                other => other,
            })
            .collect();
        let serial = finished(Builder::concat_texts(interned, total));
        let parallel = finished(Builder::concat_many_levels(unique_parts()));
        assert_eq!(serial, parallel);
        assert!(serial.0.contains(&MISSING_CODE));
        assert!(serial.1.len() < total - 5 * 60, "repeats were found");
        // One part alone finishes the same as through a merge.
        let mut parts = unique_parts();
        let alone = finished(parts.remove(0));
        let interned = finished(Builder::concat_texts(
            vec![Builder::new(), unique_parts().remove(0)]
                .into_iter()
                .map(|p| match p {
                    Builder::Unique(v) => Builder::intern_unique(v),
                    other => other,
                })
                .collect(),
            6000,
        ));
        assert_eq!(alone, interned);
    }

    #[test]
    fn a_large_id_column_reads_back_row_by_row() {
        // Over 4 MiB: read in chunks on all cores, and the ids turn `Unique` in each.
        let mut text = String::from("customer,x\n");
        for i in 0..300_000u32 {
            let id = match i % 1000 {
                999 => format!("customer-{:08}", i / 7),
                500 => String::new(),
                _ => format!("customer-{i:08}"),
            };
            text.push_str(&format!("{id},{}\n", i % 10));
        }
        assert!(text.len() > 4 << 20);
        let (f, _) = read("x.csv", &text).unwrap();
        let ColumnData::Str(ids) = &f.columns[0].data else {
            panic!("ids are text")
        };
        let mut distinct = std::collections::HashSet::new();
        for (i, line) in text.lines().skip(1).enumerate() {
            let id = line.split(',').next().unwrap();
            assert_eq!(ids.get(i), (!id.is_empty()).then_some(id), "row {i}");
            if !id.is_empty() {
                distinct.insert(id);
            }
        }
        assert_eq!(ids.levels.len(), distinct.len());
    }

    #[test]
    fn sniffs_semicolons_and_header() {
        let (f, info) = read("a.csv", "a;b;c\n1;x;2.5\n2;y;\n").unwrap();
        assert_eq!(info.dialect.delimiter, Some(Delimiter::Char(b';')));
        assert!(info.dialect.header);
        assert_eq!(f.n_rows, 2);
        assert_eq!(f.columns[2].data.display(0).as_deref(), Some("2.5"));
        assert_eq!(f.columns[2].data.display(1), None);
    }

    #[test]
    fn whitespace_aligned_files_read() {
        let (f, info) = read(
            "c.txt",
            " id  date n\r\n 00001 19970101  1\r\n 00002 19970112  2\r\n",
        )
        .unwrap();
        assert_eq!(info.dialect.delimiter, Some(Delimiter::Whitespace));
        assert_eq!(f.columns[0].name, "id");
        // leading zeros keep ids as text
        assert_eq!(f.columns[0].data.display(0).as_deref(), Some("00001"));
        assert_eq!(f.columns[2].data, ColumnData::Num(vec![1.0, 2.0]));
    }

    #[test]
    fn no_header_when_first_row_is_data() {
        let (f, info) = read("x.csv", "1,2\n3,4\n").unwrap();
        assert!(!info.dialect.header);
        assert_eq!(f.columns[1].name, "column_2");
        assert_eq!(f.n_rows, 2);
    }

    #[test]
    fn wrong_width_names_the_line() {
        let err = read("x.csv", "a,b\n1,2\n3\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "x.csv, line 3: expected 2 fields (as in the first row), found 1"
        );
    }

    #[test]
    fn typed_headers_give_hints() {
        let (f, info) = read(
            "m.inter",
            "user_id:token\titem_id:token\trating:float\n1\t2\t3\n",
        )
        .unwrap();
        assert_eq!(f.columns[0].name, "user_id");
        assert_eq!(info.hints[2].as_deref(), Some("float"));
    }

    #[test]
    fn numbers_are_strict() {
        assert_eq!(parse_number(b"12.5"), Some(12.5));
        assert_eq!(parse_number(b"-3"), Some(-3.0));
        assert_eq!(parse_number(b"+49301234560"), None);
        assert_eq!(parse_number(b"4111111111111111"), None);
        assert_eq!(parse_number(b"123456789012345"), Some(123456789012345.0));
        assert_eq!(parse_number(b"0.5"), Some(0.5));
        assert_eq!(parse_number(b"0"), Some(0.0));
        assert_eq!(parse_number(b"1e3"), Some(1000.0));
        for v in [
            &b"007"[..],
            b"inf",
            b"NaN",
            b"1,5",
            b"12a",
            b"",
            b"-",
            b"e5",
            b"1e",
            b"1.2.3",
        ] {
            assert_eq!(parse_number(v), None, "{}", String::from_utf8_lossy(v));
        }
        for na in NA_VALUES {
            assert_eq!(parse_number(na.as_bytes()), None, "{na}");
        }
    }

    #[test]
    fn fast_decimals_equal_the_general_parser() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let digits = (state % 15 + 1) as usize;
            let mant = state % 10u64.pow(digits as u32);
            let frac = (state >> 40) as usize % (digits + 1);
            let mut text = format!("{mant:0digits$}");
            text.insert(digits - frac, '.');
            if i % 3 == 0 {
                text.insert(0, '-');
            }
            let text = text.trim_start_matches('0').to_owned();
            let Some(fast) = parse_number(text.as_bytes()) else {
                continue;
            };
            assert_eq!(
                fast.to_bits(),
                text.parse::<f64>().unwrap().to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn unquoted_lines_split_like_the_csv_reader() {
        let text = "a,b,c\r\n1, x ,\r\n\r\n  \n2,y,5\n \t\n 3,z,6";
        let (f, _) = read("x.csv", text).unwrap();
        // The same file with a quoted field goes through the general CSV reader.
        let (g, _) = read("x.csv", &text.replace("2,y", "2,\"y\"")).unwrap();
        assert_eq!(format!("{f:?}"), format!("{g:?}"));
        // Quotes in the header only: the body keeps the fast path, with the same result.
        let (h, _) = read("x.csv", &text.replacen("a,b,c", "\"a\",\"b\",c", 1)).unwrap();
        assert_eq!(format!("{f:?}"), format!("{h:?}"));
        // A quoted field across lines is one value.
        let (q, _) = read("x.csv", "a,b\n1,\"two\nlines\"\n2,x\n").unwrap();
        assert_eq!(q.n_rows, 2);
        assert_eq!(q.columns[1].data.display(0).as_deref(), Some("two\nlines"));
        assert_eq!(f.n_rows, 3);
        assert_eq!(f.columns[0].data, ColumnData::Num(vec![1.0, 2.0, 3.0]));
        assert_eq!(f.columns[1].data.display(0).as_deref(), Some("x"));
        assert_eq!(f.columns[2].data.display(0), None);
        for (bad, line) in [("a,b\n1,2\n\n3\n", 4), ("a,b\n1,2\n3,4,5", 3)] {
            let err = read("x.csv", bad).unwrap_err().to_string();
            assert!(err.contains(&format!("line {line}:")), "{err}");
        }
        let err = read_bytes("x.csv", b"a,b\n\xfc,2,3\n", &ReadOptions::default(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected 2 fields"), "{err}");
    }

    #[test]
    fn fast_path_agrees_with_the_general_rules() {
        let cases = [
            "0",
            "-0",
            "00",
            "007",
            "0.5",
            "00.5",
            "-0.5",
            ".5",
            "5.",
            ".",
            "-.",
            "-",
            "",
            "123456789012345",
            "1234567890123456",
            "12345678901234.5",
            "1234567890.123456",
            "0.000000000000001",
            "0.0000000000000001",
            "1e3",
            "1.5e-3",
            "1,5",
            "1.2.3",
            "12a",
            "+1",
            "--1",
            "-007",
            "-0.0",
            "9007199254740993",
            "123.",
            "0000",
            "0.",
            "0.0",
        ];
        for c in cases {
            let (a, b) = (
                parse_number(c.as_bytes()),
                parse_number_general(c.as_bytes()),
            );
            assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{c}");
        }
    }

    #[test]
    fn mixed_columns_become_text() {
        let (f, _) = read("x.csv", "a\n1\n2\nx\n").unwrap();
        match &f.columns[0].data {
            ColumnData::Str(s) => assert_eq!(s.levels, vec!["1", "2", "x"]),
            other => panic!("{other:?}"),
        }
    }

    /// Regression: numbers after the switch to text kept their raw spelling while those
    /// before it were reformatted, so the levels depended on the chunking (thread count).
    #[test]
    fn numbers_in_mixed_columns_are_spelled_one_way() {
        let (f, _) = read("x.csv", "a\n1.50\nx\n1.50\n007\n").unwrap();
        match &f.columns[0].data {
            ColumnData::Str(s) => assert_eq!(s.levels, vec!["1.5", "x", "007"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ndjson_reads_and_reports_position() {
        let (f, _) = read(
            "x.ndjson",
            "{\"a\":1,\"b\":\"x\"}\n{\"a\":null,\"c\":true}\n",
        )
        .unwrap();
        assert_eq!(f.n_rows, 2);
        assert_eq!(f.n_cols(), 3);
        let err = read("x.ndjson", "{\"a\":1}\n{\"a\":}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.ndjson, line 2: column 6:"), "{err}");
        let err = read("x.ndjson", "a,b\n1,2\n").unwrap_err().to_string();
        assert!(err.contains("is not a NDJSON file"), "{err}");
    }

    #[test]
    fn unclosed_quotes_name_their_line() {
        let err = read("x.csv", "a,b\n1,\"ok\"\n2,\"no\n3,x\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "x.csv, line 3: a quote opened here is never closed");
        assert!(read("x.csv", "a,b\n1,\"say \"\"hi\"\"\"\n").is_ok());
    }

    #[test]
    fn latin1_is_text_with_a_located_error() {
        let err = read_bytes(
            "x.csv",
            b"a,b\n1,M\xfcnchen\n",
            &ReadOptions::default(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("x.csv, line 2, column `b`: the value is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn binary_is_not_csv() {
        let err =
            read_bytes("x.csv", b"PAR1\0\0\x01\x02", &ReadOptions::default(), None).unwrap_err();
        assert!(err.to_string().contains("is not a CSV file"), "{err}");
    }

    #[test]
    fn empty_and_header_only_files_are_empty() {
        assert!(matches!(read("x.csv", ""), Err(DataError::Empty { .. })));
        assert!(matches!(
            read("x.csv", "a,b\n"),
            Err(DataError::Empty { .. })
        ));
    }
}
