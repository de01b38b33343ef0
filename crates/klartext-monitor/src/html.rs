//! The monitoring report as one self-contained HTML page with inline SVG charts:
//! reference-versus-current histograms per column, the score distribution, and live
//! performance over time.

use crate::drift::{ColumnDrift, Histogram};
use crate::performance::PerformanceReport;
use crate::report::{date, MonitoringReport, Severity};
use klartext_core::text::escape_html as esc;
use std::fmt::Write;

const REF: &str = "#8da0cb";
const CUR: &str = "#fc8d62";

pub fn render(r: &MonitoringReport) -> String {
    let mut h = String::new();
    let title = format!("Monitoring: {} @ {}", r.usecase, r.model_version);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}}\
.alert{{color:#b00020;font-weight:600}}.warning{{color:#8a5a00}}.charts{{display:flex;flex-wrap:wrap;gap:12px}}\
figure{{margin:0;border:1px solid #eee;padding:6px}}figcaption{{font-size:13px}}.legend span{{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}}\
</style></head><body><h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    let _ = write!(
        h,
        "<p>Window {} to {} ({} days) · {} rows from the {} · generated {}</p>",
        date(r.window.from_ms),
        date(r.window.to_ms),
        r.window.days,
        r.rows,
        esc(&r.source),
        date(r.generated_ms)
    );
    h.push_str("<h2>Findings</h2><ul>");
    for f in &r.findings {
        let class = match f.severity {
            Severity::Alert => "alert",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let _ = write!(h, "<li class=\"{class}\">{}</li>", esc(&f.text));
    }
    h.push_str("</ul>");
    if !r.alerts.is_empty() {
        h.push_str("<h2>Alerts</h2><ul>");
        for a in &r.alerts {
            let _ = write!(
                h,
                "<li class=\"alert\">{} (window from {}){}</li>",
                esc(a.kind.as_str()),
                date(a.window_start_ms),
                if a.raised_now {
                    ": raised now"
                } else {
                    ": raised earlier in this window"
                }
            );
        }
        h.push_str("</ul>");
    }
    if let Some(d) = &r.drift {
        h.push_str(
            "<h2>Drift</h2><table><tr><th>column</th><th>method</th><th>statistic</th>\
<th>p-value</th><th>PSI</th><th>drifted</th><th>missing ref → now</th><th>new / out of range</th></tr>",
        );
        let mut cols: Vec<&ColumnDrift> = d.columns.iter().chain(d.score.iter()).collect();
        cols.sort_by(|a, b| b.drifted.cmp(&a.drifted).then(b.psi.total_cmp(&a.psi)));
        for c in &cols {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{:.3}</td><td{}>{}</td><td>{:.1}% → {:.1}%</td><td>{}</td></tr>",
                esc(&c.name),
                c.method.describe(),
                c.statistic,
                c.p_value.map_or("".into(), |p| format!("{p:.4}")),
                c.psi,
                if c.drifted { " class=\"alert\"" } else { "" },
                if c.drifted { "yes" } else { "no" },
                c.missing_share_reference * 100.0,
                c.missing_share_current * 100.0,
                c.new_category_rows + c.out_of_range
            );
        }
        h.push_str("</table><p class=\"legend\">");
        let _ = write!(
            h,
            "<span style=\"background:{REF}\"></span>reference (training)<span style=\"background:{CUR}\"></span>current window</p><div class=\"charts\">"
        );
        for c in &cols {
            let _ = write!(
                h,
                "<figure>{}<figcaption>{}{}</figcaption></figure>",
                histogram_svg(&c.histogram),
                esc(&c.name),
                if c.drifted { " · drifted" } else { "" }
            );
        }
        h.push_str("</div>");
    }
    if let Some(p) = &r.performance {
        h.push_str("<h2>Live performance</h2>");
        h.push_str(&performance_svg(p));
        h.push_str("<table><tr><th>window</th><th>outcomes</th><th>positive</th><th>AUC</th><th>log loss</th><th>calibration error</th><th>precision at threshold</th></tr>");
        let f = |x: Option<f64>| x.map_or("".into(), |v| format!("{v:.3}"));
        for w in &p.windows {
            let _ = write!(
                h,
                "<tr><td>{} to {}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                date(w.from_ms),
                date((w.to_ms - 1).min(r.generated_ms)),
                w.n,
                w.positives,
                if w.degraded { " class=\"alert\"" } else { "" },
                f(w.auc),
                f(w.log_loss),
                f(w.calibration_error),
                f(w.precision_at_threshold)
            );
        }
        let _ = write!(
            h,
            "</table><p>Validation (model card): AUC {}, log loss {}, calibration error {}.</p>",
            f(p.baseline.auc),
            f(p.baseline.log_loss),
            f(p.baseline.calibration_error)
        );
    }
    h.push_str("</body></html>\n");
    h
}

/// Paired bars, reference and current share per bar.
fn histogram_svg(hg: &Histogram) -> String {
    let (w, h, pad) = (320.0, 150.0, 18.0);
    let n = hg.reference.len().max(1);
    let top = hg
        .reference
        .iter()
        .chain(&hg.current)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(1e-9);
    let slot = (w - 2.0 * pad) / n as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">"
    );
    for i in 0..hg.reference.len() {
        for (j, (v, colour)) in [(hg.reference[i], REF), (hg.current[i], CUR)]
            .into_iter()
            .enumerate()
        {
            let bh = v / top * (h - 2.0 * pad);
            let x = pad + slot * i as f64 + slot * 0.45 * j as f64 + slot * 0.05;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{:.1}%</title></rect>",
                h - pad - bh,
                slot * 0.45,
                v * 100.0
            );
        }
    }
    let _ = write!(
        s,
        "<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#999\"/>",
        h - pad,
        w - pad
    );
    if hg.edges.is_empty() {
        // Categories: a short label under every bar.
        for (i, l) in hg.labels.iter().enumerate() {
            let short: String = l.chars().take(12).collect();
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                pad + slot * (i as f64 + 0.5),
                h - 5.0,
                esc(&short)
            );
        }
        s.push_str("</svg>");
        return s;
    }
    let (left, right) = if !hg.edges.is_empty() {
        (short(hg.edges[0]), short(*hg.edges.last().expect("edges")))
    } else {
        (
            hg.labels.first().cloned().unwrap_or_default(),
            if hg.labels.len() > 1 {
                hg.labels.last().cloned().unwrap_or_default()
            } else {
                String::new()
            },
        )
    };
    let _ = write!(
        s,
        "<text x=\"{pad}\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        h - 4.0,
        esc(&left),
        w - pad,
        h - 4.0,
        esc(&right)
    );
    s
}

fn short(x: f64) -> String {
    if x.abs() >= 1000.0 || x == x.round() {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// AUC per window as a line, the validation AUC as a dashed line.
fn performance_svg(p: &PerformanceReport) -> String {
    let (w, h, pad) = (640.0, 200.0, 30.0);
    let pts: Vec<(usize, f64)> = p
        .windows
        .iter()
        .enumerate()
        .filter_map(|(i, win)| Some((i, win.auc?)))
        .collect();
    let n = p.windows.len().max(2) as f64 - 1.0;
    let lo = pts
        .iter()
        .map(|x| x.1)
        .chain(p.baseline.auc)
        .fold(1.0f64, f64::min)
        .min(0.5);
    let y = |v: f64| pad + (1.0 - (v - lo) / (1.0 - lo).max(1e-9)) * (h - 2.0 * pad);
    let x = |i: usize| pad + i as f64 / n * (w - 2.0 * pad);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\"><text x=\"4\" y=\"14\" font-size=\"12\">AUC per window</text>"
    );
    if let Some(b) = p.baseline.auc {
        let _ = write!(
            s,
            "<line x1=\"{pad}\" y1=\"{0:.1}\" x2=\"{1}\" y2=\"{0:.1}\" stroke=\"{REF}\" stroke-dasharray=\"5 4\"><title>validation AUC {b:.3}</title></line>",
            y(b),
            w - pad
        );
    }
    let line: Vec<String> = pts
        .iter()
        .map(|&(i, v)| format!("{:.1},{:.1}", x(i), y(v)))
        .collect();
    if line.len() > 1 {
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{CUR}\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
    }
    for &(i, v) in &pts {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{CUR}\"><title>{}: {v:.3}</title></circle>",
            x(i),
            y(v),
            date(p.windows[i].from_ms)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{pad}\" y=\"{}\" font-size=\"11\">{:.2}</text><text x=\"{pad}\" y=\"{}\" font-size=\"11\">1.00</text></svg>",
        h - pad + 12.0,
        lo,
        pad - 4.0
    );
    s
}
