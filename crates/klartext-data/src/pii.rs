//! Personal data in single values: detectors for e-mail, phone, IBAN, card and IP, a column
//! scan, and keyed pseudonymisation (HMAC-SHA256) that replaces such values before storage.
//!
//! Every detector matches the whole (trimmed) value and validates it as precisely as the
//! format allows (checksums, prefixes, lengths), because a false alarm on an order id or an
//! amount makes people ignore the real ones.

use crate::datetime::{parse_datetime, DateFormat};
use hmac::{Hmac, Mac};
use klartext_core::frame::{StrColumn, MISSING_CODE};
use klartext_core::report::PiiKind;
use sha2::Sha256;
use std::collections::HashMap;
use std::net::Ipv6Addr;

type HmacSha256 = Hmac<Sha256>;

/// Characters RFC 5322 allows unquoted in the local part (besides letters, digits, dots).
const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

/// An e-mail address `local@domain.tld`: local part of at most 64 unquoted characters
/// without leading, trailing or doubled dots; a domain of at least two labels (letters,
/// digits, inner hyphens) ending in an alphabetic top-level domain of two or more letters
/// (or a punycode `xn--` one). Quoted local parts and IP-literal domains are not accepted:
/// they do not occur in marketing data.
pub fn is_email(value: &str) -> bool {
    let s = value.trim();
    if s.len() > 254 {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.len() > 253 || domain.contains('@') {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    if !local
        .chars()
        .all(|c| c.is_alphanumeric() || c == '.' || LOCAL_SPECIALS.contains(c))
    {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if !labels.iter().all(|l| label_ok(l)) {
        return false;
    }
    let tld = labels[labels.len() - 1];
    tld.starts_with("xn--") || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
}

/// A phone number in one of the forms people write them:
/// - international with `+` (`+49 30 1234567`, `+49 (0)30 123-4567`, `+14155552671`),
/// - international with `00` (`0049 30 1234567`; without separators at least 11 digits),
/// - national with a trunk `0` (`030 1234567`, `0151/23456789`; without separators at
///   least 10 digits),
/// - North American `(415) 555-2671`, `415-555-2671`, `415.555.2671`, optionally `1-` first.
///
/// 7 to 15 digits in all (E.164), separators space, `-`, `.`, `/` and one pair of
/// parentheses. Plain integers without a leading `0` or `+` are never phones (ids,
/// amounts, postcodes), and dates, decimals, IP addresses and card numbers are rejected.
pub fn is_phone(value: &str) -> bool {
    let s = value.trim();
    if s.len() < 7 || s.len() > 40 {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || " -./()+".contains(c))
    {
        return false;
    }
    let (plus, body) = match s.strip_prefix('+') {
        Some(b) => (true, b.trim_start()),
        None => (false, s),
    };
    if body.contains('+') || !phone_structure(body) {
        return false;
    }
    let digits: Vec<u8> = body
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|c| c - b'0')
        .collect();
    let n = digits.len();
    if !(7..=15).contains(&n) {
        return false;
    }
    let plain = n == body.len();
    // "+1234567.89" or "01234567.89" is a decimal number, not a phone.
    if body.matches('.').count() == 1 && !body.contains([' ', '-', '/', '(']) {
        return false;
    }
    if plus {
        // A country code never starts with 0.
        return digits[0] != 0;
    }
    if looks_like_date(s) || is_ipv4(s) || is_credit_card(s) {
        return false;
    }
    let first_byte = body.as_bytes()[0];
    if body.starts_with("00") {
        // International access code: the country code that follows never starts with 0.
        return digits.get(2).is_some_and(|&d| d != 0) && (!plain || n >= 11);
    }
    if first_byte == b'0' {
        return digits[1] != 0 && (if plain { n >= 10 } else { n >= 8 });
    }
    is_nanp(body)
}

/// Separators between digit groups: never leading or trailing, at most one non-space
/// separator in a row, at most one pair of parentheses holding 1–5 digits, few groups.
fn phone_structure(body: &str) -> bool {
    let b = body.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !(first.is_ascii_digit() || first == b'(') || !last.is_ascii_digit() {
        return false;
    }
    let open = body.matches('(').count();
    let close = body.matches(')').count();
    if open > 1 || open != close {
        return false;
    }
    if open == 1 {
        let (Some(o), Some(c)) = (body.find('('), body.find(')')) else {
            return false;
        };
        if c < o || !(2..=6).contains(&(c - o)) {
            return false;
        }
        if !body[o + 1..c].bytes().all(|x| x.is_ascii_digit()) {
            return false;
        }
    }
    let mut groups = 0;
    let mut in_digits = false;
    let mut hard_seps = 0;
    for &c in b {
        if c.is_ascii_digit() {
            if !in_digits {
                groups += 1;
            }
            in_digits = true;
            hard_seps = 0;
        } else {
            in_digits = false;
            if matches!(c, b'-' | b'.' | b'/') {
                hard_seps += 1;
                if hard_seps > 1 {
                    return false;
                }
            }
        }
    }
    groups <= 7
}

/// North American numbering plan: area code and exchange start with 2–9.
fn is_nanp(body: &str) -> bool {
    let body = body
        .strip_prefix("1-")
        .or_else(|| body.strip_prefix("1 "))
        .or_else(|| body.strip_prefix("1."))
        .unwrap_or(body);
    let b = body.as_bytes();
    let (area, rest) = if b.first() == Some(&b'(') {
        if b.len() < 6 || b[4] != b')' {
            return false;
        }
        let rest = body[5..].strip_prefix(' ').unwrap_or(&body[5..]);
        (&body[1..4], rest)
    } else {
        if b.len() < 4 || !matches!(b[3], b'-' | b'.' | b' ') {
            return false;
        }
        (&body[..3], &body[4..])
    };
    let r = rest.as_bytes();
    if r.len() != 8 || !matches!(r[3], b'-' | b'.' | b' ') {
        return false;
    }
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    all_digits(area.as_bytes())
        && all_digits(&r[..3])
        && all_digits(&r[4..])
        && area.as_bytes()[0] >= b'2'
        && r[0] >= b'2'
}

fn looks_like_date(s: &str) -> bool {
    [
        DateFormat::Iso,
        DateFormat::YmdSlash,
        DateFormat::DmyDot,
        DateFormat::DmySlash,
        DateFormat::MdySlash,
        DateFormat::Compact,
    ]
    .into_iter()
    .any(|f| parse_datetime(s, f).is_some())
}

/// Registered IBAN lengths by country (SWIFT IBAN registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// An IBAN (ISO 13616): two-letter country code, two check digits (02–98), an
/// alphanumeric BBAN; the registered length for known countries (15–34 otherwise); the
/// mod-97 checksum equal to 1. Upper or lower case, with or without spaces.
pub fn is_iban(value: &str) -> bool {
    let s = value.trim();
    if s.len() > 50 || s.contains("  ") {
        return false;
    }
    let compact: Vec<u8> = s
        .bytes()
        .filter(|&c| c != b' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let n = compact.len();
    if !(15..=34).contains(&n) {
        return false;
    }
    let (country, check, bban) = (&compact[..2], &compact[2..4], &compact[4..]);
    if !country.iter().all(u8::is_ascii_uppercase)
        || !check.iter().all(u8::is_ascii_digit)
        || !bban.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let check_value = (check[0] - b'0') * 10 + (check[1] - b'0');
    if !(2..=98).contains(&check_value) {
        return false;
    }
    if let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| c.as_bytes() == country) {
        if n != len {
            return false;
        }
    }
    // Move the first four characters to the end, letters become 10..=35, remainder mod 97.
    let mut rem: u32 = 0;
    for &c in bban.iter().chain(country).chain(check) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(c - b'A') + 10) % 97;
        }
    }
    rem == 1
}

/// A payment card number: 13–19 digits, optionally in groups (first group of four,
/// groups of 3–6, one kind of separator: space or dash), a known issuer prefix with a
/// length that issuer uses, and a valid Luhn checksum.
pub fn is_credit_card(value: &str) -> bool {
    let s = value.trim();
    if s.len() > 30
        || !s
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b' ' || c == b'-')
    {
        return false;
    }
    if s.contains(' ') && s.contains('-') {
        return false;
    }
    let groups: Vec<&str> = s.split([' ', '-']).collect();
    if groups.len() > 1
        && (groups[0].len() != 4 || !groups.iter().all(|g| (3..=6).contains(&g.len())))
    {
        return false;
    }
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|c| c - b'0')
        .collect();
    let n = digits.len();
    if !(13..=19).contains(&n) || !card_prefix_ok(&digits) {
        return false;
    }
    luhn(&digits)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Issuer identification numbers and the lengths each network issues.
fn card_prefix_ok(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |k: usize| {
        d.iter()
            .take(k)
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
    match p1 {
        // Visa
        4 => matches!(n, 13 | 16 | 19),
        // Mastercard 51–55 and 2221–2720
        5 if (51..=55).contains(&p2) => n == 16,
        2 if (2221..=2720).contains(&p4) => n == 16,
        // American Express
        3 if p2 == 34 || p2 == 37 => n == 15,
        // JCB
        3 if (3528..=3589).contains(&p4) => (16..=19).contains(&n),
        // Diners Club
        3 if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 => {
            (14..=19).contains(&n)
        }
        // Discover 6011, 644–649, 65, 622126–622925; UnionPay 62; Maestro 6304, 6759, 676770
        6 if p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 => (16..=19).contains(&n),
        6 if p2 == 62 => (16..=19).contains(&n),
        6 if p4 == 6304 || p4 == 6759 || p6 == 676_770 || p6 == 676_774 => (13..=19).contains(&n),
        // Maestro 50, 56–58
        5 if p2 == 50 || (56..=58).contains(&p2) => (13..=19).contains(&n),
        _ => false,
    }
}

/// An IP address: IPv4 as a dotted quad of decimal octets 0–255 without leading zeros
/// (`010.1.1.1` is octal to some parsers and a version or id to people), or IPv6 as the
/// standard library parses it (at least one `:` and one hex digit). Note that a version
/// string like `1.2.3.4` is also a valid IPv4 address; only the column scan can tell.
pub fn is_ip(value: &str) -> bool {
    let s = value.trim();
    is_ipv4(s) || is_ipv6(s)
}

fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|c| c.is_ascii_digit())
                && !(p.len() > 1 && p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

fn is_ipv6(s: &str) -> bool {
    s.contains(':') && s.bytes().any(|c| c.is_ascii_hexdigit()) && s.parse::<Ipv6Addr>().is_ok()
}

/// The kind of personal data a single value is, most specific check first: e-mail
/// (has an `@`), IBAN and card (checksums), IP, then phone.
pub fn detect(value: &str) -> Option<PiiKind> {
    if is_email(value) {
        Some(PiiKind::Email)
    } else if is_iban(value) {
        Some(PiiKind::Iban)
    } else if is_credit_card(value) {
        Some(PiiKind::CreditCard)
    } else if is_ip(value) {
        Some(PiiKind::IpAddress)
    } else if is_phone(value) {
        Some(PiiKind::Phone)
    } else {
        None
    }
}

/// Smallest share of a column's non-empty distinct values that must match one kind for
/// the column to count as holding it. A half: a real e-mail or phone column keeps a
/// majority of valid values even with test entries, "n/a" and typos, while a comment or
/// free-text column that mentions one address in a thousand values stays far below.
pub const PII_SHARE_THRESHOLD: f64 = 0.5;

/// Scan a column's distinct values (at most `sample_limit` non-empty ones, in order) and
/// return the kind matched by the largest share of them when that share reaches
/// [`PII_SHARE_THRESHOLD`]. Ties go to the more specific kind (the order of [`detect`]).
pub fn scan_values<'a>(
    values: impl Iterator<Item = &'a str>,
    sample_limit: usize,
) -> Option<(PiiKind, f64)> {
    const KINDS: [PiiKind; 5] = [
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::CreditCard,
        PiiKind::IpAddress,
        PiiKind::Phone,
    ];
    let mut counts = [0usize; 5];
    let mut seen = 0usize;
    for v in values.filter(|v| !v.trim().is_empty()).take(sample_limit) {
        seen += 1;
        if let Some(k) = detect(v) {
            if let Some(i) = KINDS.iter().position(|&x| x == k) {
                counts[i] += 1;
            }
        }
    }
    if seen == 0 {
        return None;
    }
    let mut best = 0;
    for i in 1..KINDS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    let share = counts[best] as f64 / seen as f64;
    (counts[best] > 0 && share >= PII_SHARE_THRESHOLD).then_some((KINDS[best], share))
}

/// Prefix of every pseudonym, so that stored values say what they are.
pub const PSEUDONYM_PREFIX: &str = "ps_";

/// Keyed pseudonymisation: `ps_` + the first 16 bytes of HMAC-SHA256(key, value) in hex.
/// Deterministic for a key, so joins and repeat customers still work, and not reversible
/// or recomputable without the key (a plain hash of an e-mail is not: it can be guessed).
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: HmacSha256,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("Pseudonymiser { .. }")
    }
}

impl Pseudonymiser {
    /// Any key length works (HMAC pads or hashes it); use at least 32 random bytes.
    pub fn new(key: &[u8]) -> Self {
        let mac = match HmacSha256::new_from_slice(key) {
            Ok(m) => m,
            // Unreachable: HMAC accepts keys of every length. Keep a keyed fallback anyway
            // rather than panicking on user input.
            Err(_) => {
                let mut m = HmacSha256::new(&Default::default());
                m.update(key);
                m
            }
        };
        Pseudonymiser { mac }
    }

    /// The pseudonym of `value` (exact bytes, no trimming or case folding). A value that
    /// already is a pseudonym is returned unchanged, so pseudonymising twice (e.g. when a
    /// pseudonymised export is loaded again) keeps ids joinable.
    pub fn pseudonymise(&self, value: &str) -> String {
        if is_pseudonym(value) {
            return value.to_owned();
        }
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(PSEUDONYM_PREFIX.len() + 32);
        out.push_str(PSEUDONYM_PREFIX);
        out.push_str(&hex::encode(&tag[..16]));
        out
    }

    /// Replace every level of a text column by its pseudonym; codes stay as they are.
    /// Distinct values stay distinct (up to a 2^-128 collision chance).
    pub fn pseudonymise_column(&self, col: &mut StrColumn) {
        for level in &mut col.levels {
            *level = self.pseudonymise(level);
        }
    }

    /// A number column that holds personal data (phone numbers or customer numbers read
    /// as numbers) as a text column of pseudonyms. Whole numbers are printed without
    /// ".0", so `4915123456789.0` hashes like the text `4915123456789`; but a leading `0`
    /// or `+` lost when the file was read cannot be restored, so such values will not match
    /// pseudonyms made from the original text. `NaN` stays missing.
    pub fn pseudonymise_num_column(&self, values: &[f64]) -> StrColumn {
        let mut index: HashMap<u64, u32> = HashMap::new();
        let mut col = StrColumn {
            codes: Vec::with_capacity(values.len()),
            levels: Vec::new(),
        };
        for &x in values {
            if x.is_nan() {
                col.codes.push(MISSING_CODE);
                continue;
            }
            // -0.0 and 0.0 are the same number and must share a pseudonym.
            let key = if x == 0.0 { 0u64 } else { x.to_bits() };
            let code = *index.entry(key).or_insert_with(|| {
                col.levels.push(self.pseudonymise(&number_text(x)));
                (col.levels.len() - 1) as u32
            });
            col.codes.push(code);
        }
        col
    }
}

/// `ps_` followed by exactly 32 lower-case hex digits.
pub fn is_pseudonym(value: &str) -> bool {
    value.strip_prefix(PSEUDONYM_PREFIX).is_some_and(|h| {
        h.len() == 32
            && h.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    })
}

/// Whole numbers without ".0" (exactly, up to 2^53), everything else as Rust prints it.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_text_is_integer_like() {
        assert_eq!(number_text(4_915_123_456_789.0), "4915123456789");
        assert_eq!(number_text(-0.0), "0");
        assert_eq!(number_text(1.5), "1.5");
    }

    #[test]
    fn luhn_basics() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
