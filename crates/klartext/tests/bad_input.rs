//! Bad input to `data add` and bad use-case files: each fails with a non-zero exit and one
//! line on stderr naming the problem (line, column or field), and registers nothing.

mod common;

use common::{gzip, Project, SMALL_CSV};

/// `data add` of `name` with `bytes` fails; nothing is left behind; returns the error line.
fn add_fails(p: &Project, name: &str, bytes: &[u8], usecase: &str) -> String {
    let file = p.file(name, bytes);
    let err = p.add(&file, usecase, &[]).one_line_error();
    p.assert_nothing_registered();
    err
}

fn assert_mentions(err: &str, parts: &[&str]) {
    for part in parts {
        assert!(err.contains(part), "error should mention `{part}`: {err}");
    }
}

#[test]
fn a_row_with_the_wrong_field_count_names_its_line() {
    let p = Project::with_churn();
    let csv = "customer_id,age,plan,churn\nC001,34,basic,yes\nC002,45,pro,no\nC003,29,no\nC004,52,premium,yes\n";
    let err = add_fails(&p, "short_row.csv", csv.as_bytes(), "churn");
    assert_mentions(
        &err,
        &["short_row.csv", "line 4", "expected 4 fields", "found 3"],
    );

    let csv = "customer_id,age,plan,churn\nC001,34,basic,yes\nC002,45,pro,no,extra\n";
    let err = add_fails(&p, "long_row.csv", csv.as_bytes(), "churn");
    assert_mentions(&err, &["line 3", "found 5"]);
}

#[test]
fn an_unclosed_quote_mid_row_names_its_line() {
    let p = Project::with_churn();
    // The quote opened on line 3 swallows the rest of the file into one field.
    let csv = "customer_id,age,plan,churn\nC001,34,basic,yes\nC002,\"45,pro,no\nC003,29,basic,no\n";
    let err = add_fails(&p, "quote.csv", csv.as_bytes(), "churn");
    assert_mentions(&err, &["quote.csv", "line 3"]);
}

#[test]
fn an_unclosed_quote_in_the_last_field_is_an_error() {
    let p = Project::with_churn();
    // Line 3 opens a quote that never closes: the csv reader takes the rest of the file
    // as one value, so 3 rows become 1 and the file registers without complaint.
    let csv = "customer_id,age,plan,churn\nC001,34,basic,yes\nC002,45,pro,\"no\nC003,29,basic,no\nC004,52,premium,yes\n";
    let err = add_fails(&p, "quote_last.csv", csv.as_bytes(), "churn");
    assert_mentions(&err, &["quote_last.csv", "line 3", "quote"]);
}

#[test]
fn invalid_utf8_in_a_field_names_line_and_column() {
    let p = Project::with_churn();
    // Past the first 4 KB, so the file is clearly text; one Latin-1 byte on line 302.
    let mut csv = String::from("customer_id,age,city,churn\n");
    for i in 0..300 {
        csv.push_str(&format!(
            "C{i:04},{},Berlin,{}\n",
            20 + i % 40,
            ["yes", "no"][i % 2]
        ));
    }
    let mut bytes = csv.into_bytes();
    assert!(bytes.len() > 4096);
    bytes.extend_from_slice(b"C0300,33,M\xfcnchen,no\nC0301,35,Berlin,yes\n");
    let err = add_fails(&p, "latin1_late.csv", &bytes, "churn");
    assert_mentions(
        &err,
        &["latin1_late.csv", "line 302", "column `city`", "UTF-8"],
    );
}

#[test]
fn invalid_utf8_early_in_the_file_names_line_and_column() {
    let p = Project::with_churn();
    // A typical Windows-1252 export: one `ü` on line 3. This is text, not binary.
    let bytes = b"customer_id,age,city,churn\nC001,34,Berlin,yes\nC002,45,M\xfcnchen,no\nC003,29,Hamburg,no\n";
    let err = add_fails(&p, "latin1.csv", bytes, "churn");
    assert_mentions(&err, &["latin1.csv", "line 3", "column `city`", "UTF-8"]);
}

#[test]
fn an_empty_file_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "empty.csv", b"", "churn");
    assert_mentions(&err, &["empty.csv", "empty"]);
    let err = add_fails(&p, "blank.csv", b"\n  \n\n", "churn");
    assert_mentions(&err, &["blank.csv", "empty"]);
}

#[test]
fn a_header_only_file_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "header.csv", b"customer_id,age,plan,churn\n", "churn");
    assert_mentions(&err, &["header.csv", "no data rows"]);
}

#[test]
fn a_missing_target_column_is_named() {
    let p = Project::with_churn();
    let csv = SMALL_CSV.replace(",churn\n", ",churned\n");
    let err = add_fails(&p, "no_target.csv", csv.as_bytes(), "churn");
    assert_mentions(&err, &["`churn`", "data.target", "churned"]);
}

#[test]
fn a_parquet_file_that_is_csv_text_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "customers.parquet", SMALL_CSV.as_bytes(), "churn");
    assert_mentions(&err, &["customers.parquet", "not a Parquet file"]);
}

/// Bytes that are clearly not text: NUL bytes and high bytes in a fixed pattern.
fn binary_bytes() -> Vec<u8> {
    (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

#[test]
fn a_csv_file_that_is_binary_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "data.csv", &binary_bytes(), "churn");
    assert_mentions(&err, &["data.csv", "not a CSV file"]);
}

#[test]
fn a_csv_file_that_is_gzip_of_binary_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "data.csv", &gzip(&binary_bytes()), "churn");
    assert_mentions(&err, &["data.csv", "not a CSV file"]);
    // A truncated gzip stream is named as such.
    let gz = gzip(SMALL_CSV.as_bytes());
    let err = add_fails(&p, "cut.csv.gz", &gz[..gz.len() / 2], "churn");
    assert_mentions(&err, &["cut.csv.gz", "gzip"]);
}

#[test]
fn an_ndjson_file_that_is_csv_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "customers.ndjson", SMALL_CSV.as_bytes(), "churn");
    assert_mentions(&err, &["customers.ndjson", "not a NDJSON file"]);
}

#[test]
fn a_bad_ndjson_line_is_named() {
    let p = Project::with_churn();
    let text = "{\"customer_id\":\"C1\",\"churn\":\"yes\"}\n{\"customer_id\":\"C2\",\"churn\":}\n";
    let err = add_fails(&p, "events.ndjson", text.as_bytes(), "churn");
    assert_mentions(&err, &["events.ndjson", "line 2"]);
}

#[test]
fn an_unknown_file_type_is_refused() {
    let p = Project::with_churn();
    let err = add_fails(&p, "customers.xlsx", SMALL_CSV.as_bytes(), "churn");
    assert_mentions(&err, &["customers.xlsx", "unknown file type"]);
}

#[test]
fn a_missing_input_file_is_named() {
    let p = Project::with_churn();
    let missing = p.tmp().join("nowhere.csv");
    let err = p.add(&missing, "churn", &[]).one_line_error();
    assert_mentions(&err, &["nowhere.csv"]);
    p.assert_nothing_registered();
}

#[test]
fn an_unknown_use_case_is_named() {
    let p = Project::with_churn();
    let err = add_fails(&p, "customers.csv", SMALL_CSV.as_bytes(), "leads");
    assert_mentions(&err, &["use case `leads` does not exist", "churn"]);
}

const BAD_KEY: &str = "id = \"typo\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"classification\"\nowner = \"o@example.com\"\nrisk = \"limited\"\n\n[data]\ntarget = \"churn\"\n\n[gates]\nmin_acu = 0.7\n";
const BAD_TYPE: &str = "id = \"typed\"\ntitle = \"t\"\ngoal = \"g\"\nkind = \"classification\"\nowner = \"o@example.com\"\nrisk = \"limited\"\n\n[data]\ntarget = \"churn\"\nexclude = \"rownames\"\n";

#[test]
fn usecase_check_names_file_line_and_column_of_an_unknown_key() {
    let p = Project::with_churn();
    p.usecase("typo", BAD_KEY);
    let r = p.run(&["usecase", "check"]);
    let err = r.one_line_error();
    assert_mentions(&err, &["typo.toml:12:1", "unknown field `min_acu`"]);
    // The good file is still reported as ok on stdout.
    assert!(r.stdout.contains("churn.toml"), "{}", r.stdout);

    // data add with the broken use case fails the same way and registers nothing.
    let err = add_fails(&p, "customers.csv", SMALL_CSV.as_bytes(), "typo");
    assert_mentions(&err, &["typo.toml:12:1", "min_acu"]);
}

#[test]
fn usecase_check_names_file_line_and_column_of_a_wrong_type() {
    let p = Project::new();
    p.usecase("typed", BAD_TYPE);
    let r = p.run(&["usecase", "check", "--json"]);
    let err = r.one_line_error();
    assert_mentions(
        &err,
        &["typed.toml:10:11", "invalid type", "expected a sequence"],
    );
    // --json still prints its document on stdout.
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("usecase check --json");
    assert_eq!(v["checked"], 1);
    assert_eq!(v["ok"], 0);
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("typed.toml:10:11"),
        "{v}"
    );
}

#[test]
fn a_use_case_whose_id_does_not_match_its_file_is_refused() {
    let p = Project::new();
    p.usecase(
        "leads",
        &common::CHURN_USECASE.replace("id = \"churn\"", "id = \"churn\"  "),
    );
    let err = p.run(&["usecase", "check"]).one_line_error();
    assert_mentions(&err, &["leads.toml:1:", "does not match the file name"]);
}

#[test]
fn pseudonymising_a_missing_column_is_named() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let err = p
        .add(&file, "churn", &["--pseudonymise", "e_mail"])
        .one_line_error();
    assert_mentions(&err, &["`e_mail`", "customer_id, age, plan, churn"]);
    p.assert_nothing_registered();
}

#[test]
fn a_bad_delimiter_option_is_named() {
    let p = Project::with_churn();
    let file = p.file("customers.csv", SMALL_CSV);
    let err = p
        .add(&file, "churn", &["--delimiter", ";;"])
        .one_line_error();
    assert_mentions(&err, &["--delimiter", ";;"]);
    p.assert_nothing_registered();
}
