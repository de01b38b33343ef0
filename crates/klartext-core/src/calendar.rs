//! Calendar arithmetic (proleptic Gregorian, UTC): days since 1970-01-01 to and from
//! dates, and the date of a time in milliseconds, for every crate that prints or reads
//! dates.

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
/// `m` is 1..=12 and `d` 1..=31; other values give a meaningless but panic-free result.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let (m, d) = (i64::from(m.clamp(1, 12)), i64::from(d.min(31)));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0, so the leap day is the last day of the year
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01 (Hinnant's
/// `civil_from_days`). Valid for any count whose year fits comfortably in `i64`.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub const DAY_MS: i64 = 86_400_000;

/// `YYYY-MM-DD` (UTC) of Unix milliseconds.
pub fn date_of_ms(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM UTC` of Unix milliseconds.
pub fn minute_of_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        date_of_ms(ms),
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Unix milliseconds of midnight (UTC) of a `YYYY-MM-DD` date; `None` for anything else.
pub fn parse_date_ms(text: &str) -> Option<i64> {
    let mut it = text.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(date_of_ms(0), "1970-01-01");
        assert_eq!(date_of_ms(951_782_400_000), "2000-02-29");
        assert_eq!(date_of_ms(-1), "1969-12-31");
        assert_eq!(minute_of_ms(1_795_907_169_327), "2026-11-28 23:06 UTC");
        for days in [-800_000, -1, 0, 59, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date_ms("2000-02-29"), Some(951_782_400_000));
        assert_eq!(parse_date_ms("2000-13-01"), None);
        assert_eq!(parse_date_ms("soon"), None);
    }
}
