//! `/metrics` counts error answers per use case and error code, besides the totals by
//! code; an unknown use case id in a URL gets no series of its own. It also shows the
//! prediction log writer's commits, rows and commit time (mean group size).

mod common;

use axum::http::StatusCode;
use common::{fixture, request};
use serde_json::json;

fn value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_errors_by_use_case_and_code() {
    let f = fixture();
    let churn = "/v1/usecases/churn/predict";
    assert_eq!(f.post(churn, &request()).await.status, StatusCode::OK);
    // Two invalid_features and one unsupported_media_type on churn.
    let bad = json!({"subject_id": "c1", "features": {"no_such_feature": 1}});
    for _ in 0..2 {
        let a = f.post(churn, &bad).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    }
    let a = f
        .call("POST", churn, Some(&f.scorer), Some("text/plain"), "x")
        .await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", a.text);
    // A key-less call to churn is an error of churn too.
    let a = f
        .call("POST", churn, None, Some("application/json"), "{}")
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    // no_model on the use case without a model.
    let a = f.post("/v1/usecases/nomodel/predict", &request()).await;
    assert_eq!(a.body["error"]["code"], "no_model", "{}", a.text);
    // An unknown use case: counted in the totals only.
    let a = f.post("/v1/usecases/nope/predict", &request()).await;
    assert_eq!(a.body["error"]["code"], "unknown_use_case", "{}", a.text);

    let m = f.call("GET", "/metrics", None, None, "").await;
    assert_eq!(m.status, StatusCode::OK);
    let t = &m.text;
    assert!(
        t.contains("# TYPE klartext_usecase_errors_total counter"),
        "{t}"
    );
    let uc = |u: &str, code: &str| {
        value(
            t,
            &format!("klartext_usecase_errors_total{{use_case=\"{u}\",code=\"{code}\"}}"),
        )
    };
    assert_eq!(uc("churn", "invalid_features"), Some(2), "{t}");
    assert_eq!(uc("churn", "unsupported_media_type"), Some(1), "{t}");
    assert_eq!(uc("churn", "unauthorized"), Some(1), "{t}");
    assert_eq!(uc("churn", "no_model"), Some(0), "{t}");
    assert_eq!(uc("nomodel", "no_model"), Some(1), "{t}");
    assert_eq!(uc("nomodel", "invalid_features"), Some(0), "{t}");
    assert!(!t.contains("use_case=\"nope\""), "{t}");
    // The totals by code still count everything, the unknown use case included.
    let total = |code: &str| value(t, &format!("klartext_errors_total{{code=\"{code}\"}}"));
    assert_eq!(total("invalid_features"), Some(2));
    assert_eq!(total("unknown_use_case"), Some(1));
    assert_eq!(total("no_model"), Some(1));
    // The prediction log writer's counters: the one answered prediction was committed.
    assert!(value(t, "klartext_log_commits_total").unwrap() >= 1, "{t}");
    assert!(value(t, "klartext_log_rows_total").unwrap() >= 1, "{t}");
    assert_eq!(
        value(t, "klartext_log_failed_commits_total"),
        Some(0),
        "{t}"
    );
    assert!(t.contains("\nklartext_log_commit_seconds_total "), "{t}");
}
