//! The technical documentation bundle (EU AI Act Annex IV style) of one model version,
//! in Markdown, and a small, safe Markdown-to-HTML rendering of it.
//!
//! Pure: the caller gathers the use case, the model's card and report, the dataset's
//! quality report and the audit events; this module only writes text.

use crate::report::ReportHead;
use klartext_core::report::Severity;
pub use klartext_core::text::escape_html;
use klartext_core::{QualityReport, Schema, UseCase};
use std::fmt::Write;

/// One audit event concerning the use case, as the change log shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeLogEntry {
    pub seq: i64,
    /// Already formatted time (UTC).
    pub at: String,
    pub actor: String,
    /// Dotted verb: `model.trained`, `model.promoted`, ...
    pub action: String,
    /// Non-personal details of the event.
    pub details: serde_json::Value,
}

/// Everything the bundle is written from.
#[derive(Debug, Clone)]
pub struct DocsInput<'a> {
    pub usecase: &'a UseCase,
    pub version: &'a str,
    /// Artifact SHA-256.
    pub artifact_sha256: &'a str,
    pub dataset_id: &'a str,
    /// The dataset's SHA-256 and source file name, when the dataset is known.
    pub dataset_sha256: Option<&'a str>,
    pub dataset_source: Option<&'a str>,
    /// The model card (Markdown).
    pub card: &'a str,
    /// The training report, when it parses.
    pub report: Option<&'a ReportHead>,
    /// The registration's schema and quality report, when known.
    pub schema: Option<&'a Schema>,
    pub quality: Option<&'a QualityReport>,
    /// Audit events about the use case, in any order (sorted by `seq` here).
    pub changes: &'a [ChangeLogEntry],
    pub trained_at: &'a str,
    pub trained_by: &'a str,
    /// The klartext version writing the bundle.
    pub klartext_version: &'a str,
}

/// The section headings, in order (stable: tests and readers rely on them).
pub const SECTIONS: [&str; 8] = [
    "1. General description and intended purpose",
    "2. Data",
    "3. Model and validation procedure",
    "4. Results and fairness",
    "5. Limits and foreseeable misuse",
    "6. Human oversight measures",
    "7. Change log",
    "8. Lineage",
];

/// Table cells must not break the table.
fn cell(s: &str) -> String {
    s.replace('|', "/").replace('\n', " ")
}

/// The body of a `## NAME` section of the card, with its sub-headings demoted one level.
fn card_section(card: &str, name: &str) -> Option<String> {
    let mut out = String::new();
    let mut found = false;
    for line in card.lines() {
        let heading = line.strip_prefix("## ");
        if found {
            if heading.is_some() || line.starts_with("# ") {
                break;
            }
            if line.starts_with("###") {
                out.push('#');
            }
            out.push_str(line);
            out.push('\n');
        } else if heading.is_some_and(|h| h.trim() == name) {
            found = true;
        }
    }
    let t = out.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn push_card_section(s: &mut String, card: &str, name: &str, title: &str) -> bool {
    match card_section(card, name) {
        Some(body) => {
            let _ = writeln!(s, "### {title}\n\n{body}\n");
            true
        }
        None => false,
    }
}

fn detail_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(x) => x.clone(),
        other => other.to_string(),
    }
}

/// One change-log line.
fn change_line(e: &ChangeLogEntry) -> String {
    let mut parts = Vec::new();
    let mut reason = None;
    if let Some(map) = e.details.as_object() {
        for (k, v) in map {
            if v.is_null() {
                continue;
            }
            if k == "reason" {
                reason = Some(detail_text(v).replace('\n', " "));
            } else if k == "override" {
                if v.as_bool() == Some(true) {
                    parts.push("**override** of failed gates".to_owned());
                }
            } else {
                parts.push(format!("{k} `{}`", detail_text(v).replace('`', "'")));
            }
        }
    }
    let mut line = format!(
        "- #{} {} · `{}` by {}",
        e.seq,
        e.at,
        e.action,
        e.actor.replace('`', "'")
    );
    if !parts.is_empty() {
        let _ = write!(line, ": {}", parts.join(", "));
    }
    if let Some(r) = reason {
        let _ = write!(line, "; reason: {r}");
    }
    line
}

/// The technical documentation bundle in Markdown.
pub fn technical_documentation(d: &DocsInput<'_>) -> String {
    let uc = d.usecase;
    let mut s = String::new();
    let _ = writeln!(s, "# Technical documentation: {} @ {}\n", uc.id, d.version);
    let _ = writeln!(s, "**{}**\n", uc.title);
    s.push_str("Written by klartext along the lines of Annex IV of the EU AI Act (Regulation (EU) 2024/1689). It covers one model version of one use case.\n\n");

    // 1. General description.
    let _ = writeln!(s, "## {}\n", SECTIONS[0]);
    let _ = writeln!(s, "- Use case: `{}` ({})", uc.id, uc.kind.as_str());
    let _ = writeln!(s, "- Goal: {}", uc.goal);
    if !uc.kpi.is_empty() {
        let _ = writeln!(s, "- KPI: {}", uc.kpi);
    }
    if !uc.business_value.is_empty() {
        let _ = writeln!(s, "- Business value: {}", uc.business_value);
    }
    let _ = writeln!(s, "- Owner: {}", uc.owner);
    let _ = writeln!(s, "- EU AI Act risk class: {:?}", uc.risk);
    let _ = writeln!(
        s,
        "- Legal basis: {}",
        if uc.legal_basis.is_empty() {
            "not stated"
        } else {
            &uc.legal_basis
        }
    );
    let _ = writeln!(
        s,
        "- Significant effect on people (GDPR Art. 22): {}",
        if uc.significant_effect {
            "yes: decisions wait for human review"
        } else {
            "no: scores support decisions made by people"
        }
    );
    let _ = writeln!(
        s,
        "- Predicts: `{}`{}",
        uc.data.target,
        uc.positive_label()
            .map(|p| format!(" = `{p}`"))
            .unwrap_or_default()
    );
    s.push('\n');

    // 2. Data.
    let _ = writeln!(s, "## {}\n", SECTIONS[1]);
    let _ = writeln!(
        s,
        "- Dataset: `{}`{}",
        d.dataset_id,
        d.dataset_source
            .map(|x| format!(" (from `{}`)", x.replace('`', "'")))
            .unwrap_or_default()
    );
    if let Some(q) = d.quality {
        let _ = writeln!(
            s,
            "- Rows: {}; columns: {}; duplicate rows: {}{}",
            q.rows,
            q.columns.len(),
            q.duplicate_rows,
            q.duplicate_ids
                .map(|n| format!("; duplicate ids: {n}"))
                .unwrap_or_default()
        );
        if let Some(t) = &q.target {
            let classes = t
                .classes
                .iter()
                .map(|c| format!("{} {}", c.value, c.count))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                s,
                "- Target `{}`: {}{}",
                t.column,
                if classes.is_empty() {
                    "numeric"
                } else {
                    &classes
                },
                t.positive_rate
                    .map(|r| format!(" (positive rate {r:.4})"))
                    .unwrap_or_default()
            );
        }
    } else if let Some(r) = d.report {
        let _ = writeln!(s, "- Rows: {}", r.rows_total);
    }
    s.push('\n');
    if let Some(schema) = d.schema {
        s.push_str("### Schema\n\n| column | kind | role | missing | pseudonymised |\n| --- | --- | --- | ---: | --- |\n");
        for c in &schema.columns {
            let missing = d
                .quality
                .and_then(|q| q.columns.iter().find(|p| p.name == c.name))
                .map_or("–".into(), |p| format!("{:.1}%", p.missing_share * 100.0));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {missing} | {} |",
                cell(&c.name),
                c.kind.as_str(),
                c.role.as_str(),
                if c.pseudonymised { "yes" } else { "no" }
            );
        }
        s.push('\n');
    }
    if let Some(q) = d.quality {
        s.push_str("### Quality findings\n\n");
        if q.warnings.is_empty() && q.leakage_suspects.is_empty() {
            s.push_str("No findings.\n\n");
        } else {
            for w in &q.warnings {
                let sev = match w.severity {
                    Severity::Problem => "**problem**",
                    Severity::Warning => "warning",
                    Severity::Info => "info",
                };
                let col = w
                    .column
                    .as_deref()
                    .map(|c| format!(" (`{}`)", c.replace('`', "'")))
                    .unwrap_or_default();
                let _ = writeln!(s, "- {sev}{col}: {}", w.message);
            }
            for l in &q.leakage_suspects {
                let _ = writeln!(
                    s,
                    "- leakage suspect `{}`: {} {:.4}",
                    l.column, l.measure, l.value
                );
            }
            s.push('\n');
        }
        s.push_str("### Protected attributes and group sizes\n\n");
        if q.protected.is_empty() {
            s.push_str("The use case names no protected attributes.\n\n");
        } else {
            let _ = writeln!(
                s,
                "Protected attributes are checked for fairness; they are {} as features.\n",
                if uc.data.allow_protected_features {
                    "allowed"
                } else {
                    "not used"
                }
            );
            s.push_str("| attribute | group | rows | target rate |\n| --- | --- | ---: | ---: |\n");
            for p in &q.protected {
                for g in &p.groups {
                    let _ = writeln!(
                        s,
                        "| {} | {} | {} | {} |",
                        cell(&p.column),
                        cell(&g.group),
                        g.rows,
                        g.target_rate.map_or("–".into(), |r| format!("{r:.4}"))
                    );
                }
            }
            s.push('\n');
        }
        s.push_str("### Personal data (PII) handling\n\n");
        if q.pii.is_empty() {
            s.push_str(
                "No personal data (e-mail, phone, IBAN, card number, IP address) was detected.\n",
            );
        } else {
            for p in &q.pii {
                let _ = writeln!(
                    s,
                    "- `{}`: {} ({:.0}% of distinct values); {}",
                    p.column,
                    p.kind.as_str(),
                    p.share * 100.0,
                    if p.pseudonymised {
                        "pseudonymised by a keyed hash before storage"
                    } else {
                        "**not pseudonymised**"
                    }
                );
            }
        }
        if !uc.data.pseudonymise.is_empty() {
            let _ = writeln!(
                s,
                "\nColumns the use case pseudonymises: {}",
                uc.data
                    .pseudonymise
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        s.push_str("\nPredictions log a digest of the input, not the input itself.\n\n");
    } else {
        s.push_str("The dataset's quality report is not available.\n\n");
    }

    // 3. Model and validation procedure.
    let _ = writeln!(s, "## {}\n", SECTIONS[2]);
    let mut any = push_card_section(&mut s, d.card, "Model", "Model");
    any |= push_card_section(
        &mut s,
        d.card,
        "Validation procedure",
        "Validation procedure",
    );
    if !any {
        s.push_str("The model card has no model or validation section.\n\n");
    }

    // 4. Results and fairness.
    let _ = writeln!(s, "## {}\n", SECTIONS[3]);
    if let Some(r) = d.report {
        let _ = writeln!(
            s,
            "Gates: {}.\n",
            if r.gates_passed {
                "all passed"
            } else {
                "**failed** (not eligible for promotion without an override)"
            }
        );
    }
    push_card_section(&mut s, d.card, "Results", "Results");
    if !push_card_section(&mut s, d.card, "Fairness", "Fairness") {
        s.push_str("### Fairness\n\nNo protected attribute was checked.\n\n");
    }
    push_card_section(&mut s, d.card, "Gates", "Gates");
    push_card_section(
        &mut s,
        d.card,
        "What drives the scores",
        "What drives the scores",
    );

    // 5. Limits and foreseeable misuse.
    let _ = writeln!(s, "## {}\n", SECTIONS[4]);
    if let Some(body) = card_section(d.card, "Limits") {
        let _ = writeln!(s, "{body}\n");
    }
    s.push_str("Foreseeable misuse:\n\n");
    let _ = writeln!(
        s,
        "- Using the scores for another purpose than the goal above (\"{}\"), or on people unlike those in the training data.",
        uc.goal
    );
    s.push_str("- Treating a score as a fully automated decision with a significant effect on a person without human review.\n");
    s.push_str("- Reading the reasons as causes, or using them to infer protected attributes.\n\n");

    // 6. Human oversight.
    let _ = writeln!(s, "## {}\n", SECTIONS[5]);
    let fb = &uc.fallback;
    let fallback = if fb.none {
        "no decision".to_owned()
    } else if let Some(rule) = &fb.rule {
        format!("the rule `{}`", rule.replace('`', "'"))
    } else if let Some(score) = fb.score {
        format!(
            "the constant score {score}{}",
            fb.label
                .as_deref()
                .map(|l| format!(" (label `{l}`)"))
                .unwrap_or_default()
        )
    } else if let Some(l) = &fb.label {
        format!("the constant label `{l}`")
    } else {
        "no decision".to_owned()
    };
    let _ = writeln!(s, "- Kill switch: `klartext switch off {} --reason \"...\"` (or the API, operator role) makes every server answer the fallback within a second, marked `\"fallback\": true`; switching is logged with actor and reason.", uc.id);
    let _ = writeln!(s, "- Fallback: {fallback}.");
    s.push_str(
        "- Explanations: every score comes with its top reasons (exact feature contributions).\n",
    );
    let _ = writeln!(
        s,
        "- Review: {}",
        if uc.significant_effect {
            "decisions with a significant effect wait for human review."
        } else {
            "scores support decisions made by people."
        }
    );
    s.push_str("- Promotion: a version answers only once promoted; promotion is refused unless every gate passed, and an override needs a recorded reason. `klartext rollback` restores the previous champion in one step.\n");
    s.push_str("- Record keeping: every state change is an event of a hash-chained audit trail (`klartext audit verify`).\n\n");

    // 7. Change log.
    let _ = writeln!(s, "## {}\n", SECTIONS[6]);
    if d.changes.is_empty() {
        s.push_str("No audit events concern this use case.\n\n");
    } else {
        s.push_str("From the audit trail, oldest first.\n\n");
        let mut changes: Vec<&ChangeLogEntry> = d.changes.iter().collect();
        changes.sort_by_key(|e| e.seq);
        for e in changes {
            s.push_str(&change_line(e));
            s.push('\n');
        }
        s.push('\n');
    }

    // 8. Lineage.
    let _ = writeln!(s, "## {}\n", SECTIONS[7]);
    let _ = writeln!(s, "- Model version: `{}`", d.version);
    let _ = writeln!(s, "- Artifact SHA-256: `{}`", d.artifact_sha256);
    let _ = writeln!(s, "- Dataset: `{}`", d.dataset_id);
    if let Some(h) = d.dataset_sha256 {
        let _ = writeln!(s, "- Dataset SHA-256: `{h}`");
    }
    let _ = writeln!(s, "- Trained: {} by {}", d.trained_at, d.trained_by);
    if let Some(r) = d.report {
        let _ = writeln!(
            s,
            "- Trained with klartext {} (artifact format {}, seed {})",
            r.klartext_version, r.artifact_format, r.seed
        );
    }
    let _ = writeln!(
        s,
        "- Documentation written by klartext {}",
        d.klartext_version
    );
    s
}

/// Inline Markdown: `code` spans and **bold**; everything else is escaped text. A marker
/// without its closing partner stays literal.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(after) = rest.strip_prefix('`') {
            if let Some(end) = after.find('`') {
                let _ = write!(out, "<code>{}</code>", escape_html(&after[..end]));
                i += end + 2;
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("**") {
            if bold {
                out.push_str("</strong>");
                bold = false;
                i += 2;
                continue;
            }
            if after.contains("**") {
                out.push_str("<strong>");
                bold = true;
                i += 2;
                continue;
            }
        }
        let c = rest.chars().next().expect("not at the end");
        out.push_str(&escape_html(c.encode_utf8(&mut [0; 4])));
        i += c.len_utf8();
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

fn table_cells(line: &str) -> Vec<&str> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(str::trim).collect()
}

fn is_separator(line: &str) -> bool {
    let cells = table_cells(line);
    !cells.is_empty()
        && cells.iter().all(|c| {
            !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')) && c.contains('-')
        })
}

/// Render the Markdown subset this crate writes (headings, paragraphs, `-` lists, pipe
/// tables, code spans, bold) as HTML. All text is escaped; no raw HTML passes through.
pub fn markdown_to_html(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut String| {
        if !para.is_empty() {
            let text: Vec<String> = para.iter().map(|l| inline(l.trim())).collect();
            let _ = writeln!(out, "<p>{}</p>", text.join("\n"));
            para.clear();
        }
    };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.trim().is_empty() {
            flush(&mut para, &mut out);
            i += 1;
            continue;
        }
        let level = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&level) && trimmed[level..].starts_with(' ') {
            flush(&mut para, &mut out);
            let _ = writeln!(
                out,
                "<h{level}>{}</h{level}>",
                inline(trimmed[level..].trim())
            );
            i += 1;
            continue;
        }
        if trimmed.starts_with("- ") || trimmed.starts_with("* ") {
            flush(&mut para, &mut out);
            out.push_str("<ul>\n");
            while i < lines.len() {
                let l = lines[i].trim_start();
                if let Some(item) = l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")) {
                    let _ = writeln!(out, "<li>{}</li>", inline(item.trim()));
                    i += 1;
                } else {
                    break;
                }
            }
            out.push_str("</ul>\n");
            continue;
        }
        if trimmed.starts_with('|') && i + 1 < lines.len() && is_separator(lines[i + 1]) {
            flush(&mut para, &mut out);
            let header = table_cells(trimmed);
            let aligns: Vec<&str> = table_cells(lines[i + 1])
                .iter()
                .map(|c| {
                    if c.ends_with(':') {
                        " style=\"text-align:right\""
                    } else {
                        ""
                    }
                })
                .collect();
            let align = |k: usize| aligns.get(k).copied().unwrap_or("");
            out.push_str("<table>\n<thead><tr>");
            for (k, h) in header.iter().enumerate() {
                let _ = write!(out, "<th{}>{}</th>", align(k), inline(h));
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            i += 2;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                out.push_str("<tr>");
                for (k, c) in table_cells(lines[i]).iter().enumerate() {
                    let _ = write!(out, "<td{}>{}</td>", align(k), inline(c));
                }
                out.push_str("</tr>\n");
                i += 1;
            }
            out.push_str("</tbody>\n</table>\n");
            continue;
        }
        para.push(line);
        i += 1;
    }
    flush(&mut para, &mut out);
    out
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}\
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}th{background:#f4f4f4}\
code{background:#f4f4f4;padding:0 .2rem;border-radius:3px;font-size:.95em}";

/// A self-contained HTML page of a Markdown document.
pub fn html_page(title: &str, md: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
        escape_html(title),
        markdown_to_html(md)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const UC: &str = r#"id = "churn"
title = "Churn risk"
goal = "Find customers likely to cancel."
kpi = "retention rate"
kind = "classification"
owner = "crm@example.com"
risk = "limited"
legal_basis = "legitimate interest"
significant_effect = false

[data]
target = "churn"
positive = "Yes"
id = "customer_id"
protected = ["female"]

[fallback]
score = 0.0
"#;

    const CARD: &str = "# Model card: churn @ abc123\n\n## Model\n\n- Learner: logistic\n\n## Validation procedure\n\n5-fold cross-validation.\n\n## Results\n\n| metric | held-out |\n| --- | ---: |\n| ROC AUC | 0.8100 |\n\n## Fairness\n\n**`female`**: ratio 0.9\n\n## Limits\n\n- Only for customers like these.\n";

    fn bundle(changes: &[ChangeLogEntry]) -> String {
        let uc = UseCase::parse("churn.toml", UC, Some("churn")).expect("use case");
        technical_documentation(&DocsInput {
            usecase: &uc,
            version: "abc123def456",
            artifact_sha256: "abc123def456ffff",
            dataset_id: "ds_0123",
            dataset_sha256: Some("deadbeef"),
            dataset_source: Some("customers.csv"),
            card: CARD,
            report: None,
            schema: None,
            quality: None,
            changes,
            trained_at: "2026-01-01 10:00:00",
            trained_by: "alice",
            klartext_version: "0.1.0",
        })
    }

    fn ev(seq: i64, action: &str, details: serde_json::Value) -> ChangeLogEntry {
        ChangeLogEntry {
            seq,
            at: format!("2026-01-0{seq} 10:00:00"),
            actor: "alice".into(),
            action: action.into(),
            details,
        }
    }

    #[test]
    fn bundle_has_every_section_in_order() {
        let md = bundle(&[]);
        let mut at = 0;
        for h in SECTIONS {
            let pos = md[at..]
                .find(&format!("## {h}\n"))
                .unwrap_or_else(|| panic!("section `{h}` missing or out of order:\n{md}"));
            at += pos;
        }
        assert!(
            md.contains("Goal: Find customers likely to cancel."),
            "{md}"
        );
        assert!(md.contains("legitimate interest"), "{md}");
        assert!(md.contains("`abc123def456`"), "{md}");
        assert!(md.contains("`ds_0123`"), "{md}");
        assert!(md.contains("Dataset SHA-256: `deadbeef`"), "{md}");
        assert!(md.contains("### Results"), "{md}");
        assert!(md.contains("| ROC AUC | 0.8100 |"), "{md}");
        assert!(md.contains("5-fold cross-validation."), "{md}");
        assert!(md.contains("Only for customers like these."), "{md}");
        assert!(md.contains("the constant score 0"), "{md}");
        assert!(
            md.contains("No audit events concern this use case."),
            "{md}"
        );
    }

    #[test]
    fn change_log_is_oldest_first_with_actors_and_reasons() {
        let md = bundle(&[
            ev(
                3,
                "model.promoted",
                serde_json::json!({"version": "abc123def456", "override": true, "reason": "board approved"}),
            ),
            ev(
                1,
                "dataset.registered",
                serde_json::json!({"dataset_id": "ds_0123"}),
            ),
            ev(
                2,
                "model.trained",
                serde_json::json!({"version": "abc123def456"}),
            ),
        ]);
        let log = &md[md.find("## 7. Change log").unwrap()..md.find("## 8. Lineage").unwrap()];
        let a = log.find("dataset.registered").expect("registered");
        let b = log.find("model.trained").expect("trained");
        let c = log.find("model.promoted").expect("promoted");
        assert!(a < b && b < c, "{log}");
        assert!(log.contains("by alice"), "{log}");
        assert!(log.contains("**override** of failed gates"), "{log}");
        assert!(log.contains("reason: board approved"), "{log}");
    }

    #[test]
    fn html_escapes_script_in_text() {
        let html = markdown_to_html(
            "# Title <b>\n\nHello <script>alert('x')</script> & **bold <i>** and `a<b>`\n",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("<i>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp;"),
            "{html}"
        );
        assert!(html.contains("<h1>Title &lt;b&gt;</h1>"), "{html}");
        assert!(html.contains("<strong>bold &lt;i&gt;</strong>"), "{html}");
        assert!(html.contains("<code>a&lt;b&gt;</code>"), "{html}");
    }

    #[test]
    fn html_renders_tables() {
        let html =
            markdown_to_html("| group | rows |\n| --- | ---: |\n| a<x> | 10 |\n| `b` | 20 |\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(
            html.contains("<th>group</th><th style=\"text-align:right\">rows</th>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><td>a&lt;x&gt;</td><td style=\"text-align:right\">10</td></tr>"),
            "{html}"
        );
        assert!(html.contains("<td><code>b</code></td>"), "{html}");
        assert!(html.contains("</tbody>\n</table>"), "{html}");
    }

    #[test]
    fn html_renders_lists_and_paragraphs() {
        let html = markdown_to_html("Intro line\n\n- one\n- **two**\n\nAfter");
        assert_eq!(
            html,
            "<p>Intro line</p>\n<ul>\n<li>one</li>\n<li><strong>two</strong></li>\n</ul>\n<p>After</p>\n"
        );
    }

    #[test]
    fn unmatched_markers_stay_literal() {
        assert_eq!(inline("a ` b"), "a ` b");
        assert_eq!(inline("a ** b"), "a ** b");
        assert_eq!(
            inline("**`female`**: ratio <1>"),
            "<strong><code>female</code></strong>: ratio &lt;1&gt;"
        );
        assert_eq!(inline("ünï `cödé` ok"), "ünï <code>cödé</code> ok");
    }

    #[test]
    fn page_is_self_contained_and_escapes_the_title() {
        let page = html_page("T <x>", "# H\n");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>T &lt;x&gt;</title>"));
        assert!(page.contains("<style>"));
        assert!(!page.contains("<script"));
        assert!(!page.contains("http"), "no external resources");
    }
}
