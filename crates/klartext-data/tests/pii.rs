//! PII detectors: true positives and the look-alikes they must not flag.

use klartext_core::frame::{StrColumn, MISSING_CODE};
use klartext_core::report::PiiKind;
use klartext_data::pii::*;

#[test]
fn emails() {
    for s in [
        "max.mustermann@example.com",
        "a@b.de",
        "first+tag@sub.domain.co.uk",
        "o'brien@example.ie",
        "user@xn--mller-kva.de",
        "jürgen@müller.de",
        "  padded@example.org ",
        "UPPER@EXAMPLE.COM",
    ] {
        assert!(is_email(s), "{s}");
    }
    for s in [
        "@example.com",
        "max@",
        "max@example",
        "max@@example.com",
        "max@exa@mple.com",
        "max..m@example.com",
        ".max@example.com",
        "max.@example.com",
        "max@-example.com",
        "max@example-.com",
        "max@example..com",
        "max@example.c",
        "max@example.123",
        "max mustermann@example.com",
        "mail me at max@example.com",
        "max@exa_mple.com",
        "2024-01-31",
        "",
        "@",
    ] {
        assert!(!is_email(s), "{s}");
    }
}

#[test]
fn phones() {
    for s in [
        "+49 30 1234567",
        "+49 (0)30 123-4567",
        "+14155552671",
        "+44 20 7946 0958",
        "+33 1 23 45 67 89",
        "0049 30 1234567",
        "00493012345678",
        "030 1234567",
        "030-123 45 67",
        "0151/23456789",
        "0301234567",
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "1-415-555-2671",
        "+1 (415) 555-2671",
    ] {
        assert!(is_phone(s), "{s}");
    }
    for s in [
        // dates
        "2024-01-31",
        "20240131",
        "31.01.2024",
        "01/31/2024",
        "2024/01/31",
        // amounts and plain integers: postcodes, order ids, customer numbers
        "1234.56",
        "+1234567.89",
        "01234567.89",
        "-1234567",
        "12345",
        "80331",
        "1234567",
        "123456789012",
        "0012345678",
        "0000000000",
        // other identifiers and formats
        "ORD-2024-00123",
        "1.2.3.4",
        "192.168.100.200",
        "4111 1111 1111 1111",
        "378282246310005",
        "3782 822463 10005",
        "DE89370400440532013000",
        "12:30:45",
        "555-1234",
        "1-2-3-4-5-6-7",
        "0 1 2 3 4 5 6 7 8",
        "030--1234567",
        "030 1234567-",
        "(030) (123) 4567",
        "+0 30 1234567",
        "+49 30 1234567 +1",
        "+1234567890123456",
        "+",
        "0",
        "",
    ] {
        assert!(!is_phone(s), "{s}");
    }
}

#[test]
fn ibans() {
    for s in [
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "DE89 3704 0044 0532 0130 00",
        "de89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "CH9300762011623852957",
        "AT611904300234573201",
        "NO9386011117947",
    ] {
        assert!(is_iban(s), "{s}");
    }
    for s in [
        "DE89370400440532013001",  // wrong checksum
        "DE8937040044053201300",   // too short for DE
        "DE893704004405320130000", // too long for DE
        "GB82WEST1234569876543X",  // checksum
        "DE00370400440532013000",  // check digits 00 are never issued
        "D889370400440532013000",
        "DE89-3704-0044-0532-0130-00", // only spaces separate groups
        "DE89370400440532013000!",
        "DE89",
        "",
        "4111111111111111",
    ] {
        assert!(!is_iban(s), "{s}");
    }
}

#[test]
fn credit_cards() {
    for s in [
        "4111111111111111",
        "5500005555555559",
        "378282246310005",
        "5555555555554444",
        "2223003122003222",
        "6011111111111117",
        "3530111333300000",
        "30569309025904",
        "4012888888881881",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "3782 822463 10005",
    ] {
        assert!(is_credit_card(s), "{s}");
    }
    for s in [
        "4111111111111112",    // Luhn
        "5500005555555558",    // Luhn
        "378282246310006",     // Luhn
        "9111111111111113",    // no issuer starts with 9
        "79927398713",         // Luhn-valid but 11 digits
        "3782822463100050",    // Amex prefix with 16 digits
        "4111 1111-1111 1111", // mixed separators
        "41 11 11 11 11 11 11 11",
        "4111  1111 1111 1111",
        "20240131",
        "1234.56",
        "",
    ] {
        assert!(!is_credit_card(s), "{s}");
    }
}

#[test]
fn ip_addresses() {
    for s in [
        "192.168.0.1",
        "8.8.8.8",
        "0.0.0.0",
        "255.255.255.255",
        "1.2.3.4", // also a version string: a single value cannot tell
        "::1",
        "2001:db8::8a2e:370:7334",
        "fe80::1",
        "::ffff:192.0.2.128",
    ] {
        assert!(is_ip(s), "{s}");
    }
    for s in [
        "999.1.1.1",
        "256.1.1.1",
        "01.2.3.4",
        "1.2.3",
        "1.2.3.4.5",
        "10.0.19041.1",
        "1.2.3.4a",
        "v1.2.3.4",
        "1.2.3.-4",
        "1..2.3",
        "12:30",
        "12:30:45",
        "::",
        "1234.56",
        "",
    ] {
        assert!(!is_ip(s), "{s}");
    }
}

#[test]
fn detect_picks_the_specific_kind() {
    assert_eq!(detect("max@example.com"), Some(PiiKind::Email));
    assert_eq!(detect("DE89 3704 0044 0532 0130 00"), Some(PiiKind::Iban));
    assert_eq!(detect("378282246310005"), Some(PiiKind::CreditCard));
    assert_eq!(detect("3782 822463 10005"), Some(PiiKind::CreditCard));
    assert_eq!(detect("10.0.0.1"), Some(PiiKind::IpAddress));
    assert_eq!(detect("+49 151 23456789"), Some(PiiKind::Phone));
    for s in [
        "2024-01-31",
        "1234.56",
        "C000123",
        "Berlin",
        "yes",
        "",
        "42",
        "\u{0}\u{ffff}",
    ] {
        assert_eq!(detect(s), None, "{s}");
    }
}

#[test]
fn column_scan_needs_a_majority() {
    // An e-mail column with some junk is flagged...
    let col = ["a@x.de", "b@x.de", "n/a", "c@x.de", "", "test"];
    let (kind, share) = scan_values(col.into_iter(), 100).expect("e-mail column");
    assert_eq!(kind, PiiKind::Email);
    assert!((share - 0.6).abs() < 1e-12);
    // ...a comment column that mentions one address is not.
    let comments: Vec<String> = (0..20).map(|i| format!("call back on day {i}")).collect();
    let with_mail = comments
        .iter()
        .map(String::as_str)
        .chain(["info@example.com"]);
    assert_eq!(scan_values(with_mail, 100), None);
    // The sample limit counts non-empty values only.
    assert_eq!(
        scan_values(["x", "", "y", "a@b.de", "c@d.de"].into_iter(), 2),
        None
    );
    assert_eq!(
        scan_values(["", "a@b.de"].into_iter(), 1).map(|r| r.0),
        Some(PiiKind::Email)
    );
    assert_eq!(scan_values(["a@b.de"].into_iter(), 0), None);
    assert_eq!(scan_values(std::iter::empty(), 10), None);
    assert_eq!(scan_values(["", "  "].into_iter(), 10), None);
    let ips = ["10.0.0.1", "10.0.0.2", "fe80::1", "unknown"];
    assert_eq!(
        scan_values(ips.into_iter(), 10),
        Some((PiiKind::IpAddress, 0.75))
    );
}

#[test]
fn pseudonyms_are_keyed_and_deterministic() {
    // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
    let p = Pseudonymiser::new(b"Jefe");
    assert_eq!(
        p.pseudonymise("what do ya want for nothing?"),
        "ps_5bdcc146bf60754e6a042426089575c7"
    );
    let a = p.pseudonymise("max@example.com");
    assert_eq!(a.len(), 35);
    assert!(is_pseudonym(&a));
    assert_eq!(
        a,
        Pseudonymiser::new(b"Jefe").pseudonymise("max@example.com")
    );
    assert_ne!(
        a,
        Pseudonymiser::new(b"other key").pseudonymise("max@example.com")
    );
    assert_ne!(a, p.pseudonymise("max@example.de"));
    assert_eq!(
        p.pseudonymise(&a),
        a,
        "pseudonymising twice changes nothing"
    );
    assert!(!format!("{p:?}").contains("Jefe"));
    // Empty and very long keys work.
    assert!(is_pseudonym(&Pseudonymiser::new(b"").pseudonymise("")));
    assert!(is_pseudonym(
        &Pseudonymiser::new(&[7u8; 1000]).pseudonymise("x")
    ));
    assert!(!is_pseudonym("ps_5BDCC146BF60754E6A042426089575C7"));
    assert!(!is_pseudonym("ps_123"));
}

#[test]
fn columns_are_pseudonymised_in_place() {
    let p = Pseudonymiser::new(b"key");
    let mut col = StrColumn {
        codes: vec![0, 1, MISSING_CODE, 0],
        levels: vec!["a@x.de".into(), "b@x.de".into()],
    };
    p.pseudonymise_column(&mut col);
    assert_eq!(col.codes, vec![0, 1, MISSING_CODE, 0]);
    assert_eq!(
        col.levels,
        vec![p.pseudonymise("a@x.de"), p.pseudonymise("b@x.de")]
    );

    let num = p.pseudonymise_num_column(&[
        4_915_123_456_789.0,
        f64::NAN,
        4_915_123_456_789.0,
        1.5,
        -0.0,
        0.0,
    ]);
    assert_eq!(num.codes, vec![0, MISSING_CODE, 0, 1, 2, 2]);
    assert_eq!(num.levels[0], p.pseudonymise("4915123456789"));
    assert_eq!(num.levels[1], p.pseudonymise("1.5"));
    assert_eq!(num.levels[2], p.pseudonymise("0"));
    assert!(p.pseudonymise_num_column(&[]).codes.is_empty());
}

#[test]
fn arbitrary_text_never_panics() {
    use klartext_data::datetime::{parse_datetime, DateFormat};
    let alphabet: Vec<char> = "0123456789+-./() :@aZeTxü,_\u{0}".chars().collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    for _ in 0..50_000 {
        let len = next() % 32;
        let s: String = (0..len)
            .map(|_| alphabet[next() % alphabet.len()])
            .collect();
        let _ = detect(&s);
        let _ = is_phone(&s);
        for f in [
            DateFormat::Iso,
            DateFormat::DmyDot,
            DateFormat::MdySlash,
            DateFormat::Compact,
        ] {
            let _ = parse_datetime(&s, f);
        }
    }
}
