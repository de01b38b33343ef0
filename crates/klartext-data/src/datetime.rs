//! Date and time text to Unix seconds (UTC, `f64`) and back, without a date crate.
//!
//! Calendar arithmetic uses Howard Hinnant's days-from-civil algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>), exact for the proleptic
//! Gregorian calendar. Years are limited to four digits (0000–9999), which every format
//! here writes anyway and which keeps all arithmetic far from overflow.

/// A textual date layout. Every layout except [`DateFormat::Compact`] may be followed by a
/// time of day (`T` or a space, then `HH:MM[:SS[.fff]]`) and an optional UTC offset
/// (`Z`, `±HH:MM`, `±HHMM` or `±HH`); without an offset the time is taken as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateFormat {
    /// `YYYY-MM-DD` (ISO 8601).
    Iso,
    /// `YYYY/MM/DD`.
    YmdSlash,
    /// `DD.MM.YYYY` (German and much of Europe).
    DmyDot,
    /// `DD/MM/YYYY` (UK, France, ...).
    DmySlash,
    /// `MM/DD/YYYY` (US).
    MdySlash,
    /// `YYYYMMDD`, date only. Never picked by [`detect_format`]: eight digits are an
    /// integer in most files, so only a caller with a reason (a column named like a date)
    /// should try it, e.g. through [`parse_compact_number`].
    Compact,
}

impl DateFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DateFormat::Iso => "YYYY-MM-DD",
            DateFormat::YmdSlash => "YYYY/MM/DD",
            DateFormat::DmyDot => "DD.MM.YYYY",
            DateFormat::DmySlash => "DD/MM/YYYY",
            DateFormat::MdySlash => "MM/DD/YYYY",
            DateFormat::Compact => "YYYYMMDD",
        }
    }
}

const SECS_PER_DAY: i64 = 86_400;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range four-digit years cover.
const MIN_SECS: f64 = -62_167_219_200.0;
const MAX_SECS: f64 = 253_402_300_799.0;

pub use klartext_core::calendar::{civil_from_days, days_from_civil};

pub fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn valid_date(y: i64, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
}

/// Parse `text` under `format` to Unix seconds (UTC). `None` when the text does not
/// follow the format or names no real calendar date or time. Surrounding whitespace is
/// ignored.
pub fn parse_datetime(text: &str, format: DateFormat) -> Option<f64> {
    let b = text.trim().as_bytes();
    let (y, m, d, rest) = match format {
        DateFormat::Iso => ymd(b, b'-')?,
        DateFormat::YmdSlash => ymd(b, b'/')?,
        DateFormat::DmyDot => dmy(b, b'.', false)?,
        DateFormat::DmySlash => dmy(b, b'/', false)?,
        DateFormat::MdySlash => dmy(b, b'/', true)?,
        DateFormat::Compact => {
            if b.len() != 8 {
                return None;
            }
            (
                digits(&b[0..4])?,
                digits(&b[4..6])? as u32,
                digits(&b[6..8])? as u32,
                &b[8..],
            )
        }
    };
    if !valid_date(y, m, d) {
        return None;
    }
    let day_secs = days_from_civil(y, m, d) * SECS_PER_DAY;
    if rest.is_empty() {
        return Some(day_secs as f64);
    }
    if format == DateFormat::Compact {
        return None;
    }
    let (time, offset) = time_of_day(rest)?;
    Some((day_secs - offset) as f64 + time)
}

/// Parse ISO 8601 text (`YYYY-MM-DD`, optionally with time and offset).
pub fn parse_iso(text: &str) -> Option<f64> {
    parse_datetime(text, DateFormat::Iso)
}

/// A number read from an integer column as a `YYYYMMDD` date, e.g. `20240131.0`.
pub fn parse_compact_number(x: f64) -> Option<f64> {
    if !(10_000_101.0..=99_991_231.0).contains(&x) || x.fract() != 0.0 {
        return None;
    }
    let n = x as i64;
    let (y, m, d) = (n / 10_000, (n / 100 % 100) as u32, (n % 100) as u32);
    valid_date(y, m, d).then(|| (days_from_civil(y, m, d) * SECS_PER_DAY) as f64)
}

/// The format every non-empty value of a sample parses under, or `None` when there is
/// none, no non-empty value, or the sample cannot tell `DD/MM/YYYY` from `MM/DD/YYYY`.
///
/// ISO comes first. Slash dates with the day first or the month first are told apart by a
/// value with a part above 12; when no value has one the sample is ambiguous and `None`
/// is returned, because silently swapping day and month corrupts every date.
/// [`DateFormat::Compact`] is never returned (see its documentation).
pub fn detect_format<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<DateFormat> {
    const CANDIDATES: [DateFormat; 5] = [
        DateFormat::Iso,
        DateFormat::YmdSlash,
        DateFormat::DmyDot,
        DateFormat::DmySlash,
        DateFormat::MdySlash,
    ];
    let mut ok = [true; 5];
    let mut any = false;
    for v in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        any = true;
        for (i, f) in CANDIDATES.iter().enumerate() {
            if ok[i] && parse_datetime(v, *f).is_none() {
                ok[i] = false;
            }
        }
        if !ok.contains(&true) {
            return None;
        }
    }
    if !any {
        return None;
    }
    let (dmy, mdy) = (ok[3], ok[4]);
    if dmy && mdy {
        // Neither order was ever contradicted: the sample cannot decide.
        return CANDIDATES[..3]
            .iter()
            .zip(ok)
            .find(|(_, o)| *o)
            .map(|(f, _)| *f);
    }
    CANDIDATES.iter().zip(ok).find(|(_, o)| *o).map(|(f, _)| *f)
}

/// Unix seconds back to ISO 8601: `YYYY-MM-DD` when `date_only`, otherwise
/// `YYYY-MM-DDTHH:MM:SSZ` (with up to six fractional digits when the value has them, so
/// that writing and reading back keeps the value). Missing (`NaN`) gives an empty string;
/// values outside the years 0000–9999 are printed as plain numbers.
pub fn format_datetime(secs: f64, date_only: bool) -> String {
    if secs.is_nan() {
        return String::new();
    }
    if !(MIN_SECS..=MAX_SECS + 1.0).contains(&secs) {
        return format!("{secs}");
    }
    let mut whole = secs.floor() as i64;
    let mut micros = ((secs - secs.floor()) * 1e6).round() as i64;
    if micros >= 1_000_000 {
        whole += 1;
        micros -= 1_000_000;
    }
    let days = whole.div_euclid(SECS_PER_DAY);
    let tod = whole.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    if date_only {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    let (hh, mm, ss) = (tod / 3600, tod / 60 % 60, tod % 60);
    if micros == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        let frac = format!("{micros:06}");
        let frac = frac.trim_end_matches('0');
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac}Z")
    }
}

/// True when the instant is 00:00:00 UTC.
pub fn is_midnight(secs: f64) -> bool {
    secs.is_finite() && secs.rem_euclid(SECS_PER_DAY as f64) == 0.0
}

/// All ASCII digits → their value; empty or anything else → `None`.
fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut n = 0i64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(c - b'0');
    }
    Some(n)
}

/// `YYYY<sep>MM<sep>DD` at the start of `b`; month and day have exactly two digits.
fn ymd(b: &[u8], sep: u8) -> Option<(i64, u32, u32, &[u8])> {
    if b.len() < 10 || b[4] != sep || b[7] != sep {
        return None;
    }
    let y = digits(&b[0..4])?;
    let m = digits(&b[5..7])? as u32;
    let d = digits(&b[8..10])? as u32;
    Some((y, m, d, &b[10..]))
}

/// `DD<sep>MM<sep>YYYY` (or month first) at the start of `b`. Day and month may have one
/// or two digits (`1.2.2024` is common), the year exactly four.
fn dmy(b: &[u8], sep: u8, month_first: bool) -> Option<(i64, u32, u32, &[u8])> {
    let p1 = b.iter().take(3).position(|&c| c == sep)?;
    let rest = &b[p1 + 1..];
    let p2 = rest.iter().take(3).position(|&c| c == sep)?;
    let year_part = &rest[p2 + 1..];
    if year_part.len() < 4 {
        return None;
    }
    let a = digits(&b[..p1])? as u32;
    let c = digits(&rest[..p2])? as u32;
    let y = digits(&year_part[..4])?;
    let tail = &year_part[4..];
    if tail.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let (m, d) = if month_first { (a, c) } else { (c, a) };
    Some((y, m, d, tail))
}

/// `[T ]HH:MM[:SS[.fff]][Z|±HH[:MM]]` → (seconds into the day, offset in seconds).
fn time_of_day(b: &[u8]) -> Option<(f64, i64)> {
    let b = match b.first()? {
        b'T' | b't' | b' ' => &b[1..],
        _ => return None,
    };
    if b.len() < 5 || b[2] != b':' {
        return None;
    }
    let h = digits(&b[0..2])?;
    let mi = digits(&b[3..5])?;
    let mut rest = &b[5..];
    let mut secs = 0.0;
    if rest.first() == Some(&b':') {
        if rest.len() < 3 {
            return None;
        }
        let s = digits(&rest[1..3])?;
        if s > 59 {
            return None;
        }
        secs = s as f64;
        rest = &rest[3..];
        if matches!(rest.first(), Some(b'.' | b',')) {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            // Only the first nine digits matter (nanoseconds); more are accepted and ignored.
            let used = n.min(9);
            let frac = digits(&rest[1..1 + used])? as f64 / 10f64.powi(used as i32);
            secs += frac;
            rest = &rest[1 + n..];
        }
    }
    if h > 23 || mi > 59 {
        return None;
    }
    let offset = offset(rest)?;
    Some(((h * 3600 + mi * 60) as f64 + secs, offset))
}

/// `` (none), `Z`, `±HH`, `±HHMM` or `±HH:MM` → seconds east of UTC.
fn offset(b: &[u8]) -> Option<i64> {
    let sign = match b.first() {
        None => return Some(0),
        Some(b'Z' | b'z') if b.len() == 1 => return Some(0),
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    let b = &b[1..];
    let (h, m) = match b.len() {
        2 => (digits(b)?, 0),
        4 => (digits(&b[0..2])?, digits(&b[2..4])?),
        5 if b[2] == b':' => (digits(&b[0..2])?, digits(&b[3..5])?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(parse_iso("1970-01-01"), Some(0.0));
        assert_eq!(parse_iso("1970-01-02"), Some(DAY));
        assert_eq!(parse_iso("1969-12-31"), Some(-DAY));
        assert_eq!(parse_iso("2000-03-01"), Some(951_868_800.0));
        assert_eq!(parse_iso("2024-01-31T12:30:15Z"), Some(1_706_704_215.0));
        assert_eq!(parse_iso("0000-01-01"), Some(MIN_SECS));
        assert_eq!(parse_iso("9999-12-31T23:59:59"), Some(MAX_SECS));
    }

    #[test]
    fn leap_years() {
        assert!(parse_iso("2000-02-29").is_some());
        assert!(parse_iso("2024-02-29").is_some());
        assert!(parse_iso("1900-02-29").is_none());
        assert!(parse_iso("2023-02-29").is_none());
        assert!(parse_iso("2023-04-31").is_none());
        assert!(parse_iso("2023-13-01").is_none());
        assert!(parse_iso("2023-00-10").is_none());
        assert!(parse_iso("2023-01-00").is_none());
        assert_eq!(
            parse_iso("2000-02-29")
                .map(|s| format_datetime(s, true))
                .as_deref(),
            Some("2000-02-29")
        );
    }

    #[test]
    fn times_and_offsets() {
        let base = parse_iso("2024-01-31T12:00:00Z").unwrap();
        assert_eq!(parse_iso("2024-01-31 12:00"), Some(base));
        assert_eq!(parse_iso("2024-01-31T12:00:00"), Some(base));
        assert_eq!(parse_iso("2024-01-31T13:00:00+01:00"), Some(base));
        assert_eq!(parse_iso("2024-01-31T13:00:00+0100"), Some(base));
        assert_eq!(parse_iso("2024-01-31T13:00+01"), Some(base));
        assert_eq!(parse_iso("2024-01-31T07:30:00-04:30"), Some(base));
        assert_eq!(parse_iso("2024-02-01T00:30:00+12:30"), Some(base));
        assert_eq!(parse_iso("2024-01-31T12:00:00.250Z"), Some(base + 0.25));
        assert_eq!(parse_iso(" 2024-01-31T12:00:00z "), Some(base));
        for bad in [
            "2024-01-31T24:00:00",
            "2024-01-31T12:60",
            "2024-01-31T12:00:61",
            "2024-01-31T12",
            "2024-01-31T12:00:00+25:00",
            "2024-01-31T12:00:00.Z",
            "2024-01-31X12:00",
            "2024-01-31T12:00:00 Z",
            "2024-1-31",
            "24-01-31",
            "2024-01-3",
            "",
            "2024-01-31T",
            "2024-01-31Tü",
            "ü024-01-31",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    #[test]
    fn other_layouts() {
        let d = parse_iso("2024-01-31").unwrap();
        assert_eq!(parse_datetime("2024/01/31", DateFormat::YmdSlash), Some(d));
        assert_eq!(parse_datetime("31.01.2024", DateFormat::DmyDot), Some(d));
        assert_eq!(parse_datetime("31.1.2024", DateFormat::DmyDot), Some(d));
        assert_eq!(parse_datetime("31/01/2024", DateFormat::DmySlash), Some(d));
        assert_eq!(parse_datetime("01/31/2024", DateFormat::MdySlash), Some(d));
        assert_eq!(parse_datetime("01/31/2024", DateFormat::DmySlash), None);
        assert_eq!(parse_datetime("20240131", DateFormat::Compact), Some(d));
        assert_eq!(parse_datetime("20240230", DateFormat::Compact), None);
        assert_eq!(parse_datetime("2024013", DateFormat::Compact), None);
        assert_eq!(parse_datetime("31.01.20245", DateFormat::DmyDot), None);
        assert_eq!(
            parse_datetime("31.01.2024 14:30", DateFormat::DmyDot),
            Some(d + 52_200.0)
        );
        assert_eq!(parse_compact_number(20_240_131.0), Some(d));
        assert_eq!(parse_compact_number(20_241_331.0), None);
        assert_eq!(parse_compact_number(1234.0), None);
        assert_eq!(parse_compact_number(f64::NAN), None);
        // Compact is never detected from text.
        assert_eq!(detect_format(["20240131", "20240201"]), None);
    }

    #[test]
    fn detection() {
        assert_eq!(
            detect_format(["2024-01-31", "", "2024-02-01T10:00:00Z"]),
            Some(DateFormat::Iso)
        );
        assert_eq!(detect_format(["2024/01/31"]), Some(DateFormat::YmdSlash));
        assert_eq!(
            detect_format(["31.01.2024", "1.2.2024"]),
            Some(DateFormat::DmyDot)
        );
        assert_eq!(
            detect_format(["01/02/2024", "25/02/2024"]),
            Some(DateFormat::DmySlash)
        );
        assert_eq!(
            detect_format(["01/02/2024", "02/25/2024"]),
            Some(DateFormat::MdySlash)
        );
        assert_eq!(detect_format(["01/02/2024", "02/03/2024"]), None);
        assert_eq!(detect_format(["13/13/2024"]), None);
        assert_eq!(detect_format(["2024-01-31", "hello"]), None);
        assert_eq!(detect_format(["", " "]), None);
        assert_eq!(detect_format(Vec::<&str>::new()), None);
        assert_eq!(detect_format(["2024"]), None);
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_datetime(0.0, true), "1970-01-01");
        assert_eq!(format_datetime(0.0, false), "1970-01-01T00:00:00Z");
        assert_eq!(format_datetime(-1.0, false), "1969-12-31T23:59:59Z");
        assert_eq!(format_datetime(1.5, false), "1970-01-01T00:00:01.5Z");
        assert_eq!(format_datetime(f64::NAN, false), "");
        assert_eq!(format_datetime(f64::INFINITY, false), "inf");
        assert_eq!(format_datetime(1e300, true), format!("{}", 1e300));
        for s in [
            "2024-02-29T23:59:59Z",
            "1900-03-01T00:00:00Z",
            "0001-01-01T01:02:03Z",
        ] {
            assert_eq!(format_datetime(parse_iso(s).unwrap(), false), s);
        }
        // Every day of four centuries round-trips through civil_from_days.
        for z in days_from_civil(1800, 1, 1)..days_from_civil(2200, 1, 1) {
            let (y, m, d) = civil_from_days(z);
            assert!(valid_date(y, m, d));
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert!(is_midnight(DAY * 3.0));
        assert!(is_midnight(-DAY));
        assert!(!is_midnight(DAY + 1.0));
        assert!(!is_midnight(f64::NAN));
    }
}
