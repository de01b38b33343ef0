//! An objection (GDPR Art. 21) recorded through one `klartext serve` process stops the
//! scoring of that subject at once in a second process sharing the store.

mod common;

use common::server::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const BODY: &str = r#"{"subject_id": "c-objecting", "features": {"tenure_months": 5, "contract": "month-to-month", "support_calls": 2}}"#;

#[test]
fn objection_through_one_server_blocks_scoring_in_another_process_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let p = served_project(dir.path(), 1000);
    let scorer = create_key(&p, "scorer");

    let (pa, pb) = (free_port(), free_port());
    let mut a = start(&p, pa);
    let mut b = start(&p, pb);
    let predict = |port| {
        let (status, body) =
            http(port, "POST", "/v1/usecases/churn/predict", &scorer, BODY).unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()
    };
    assert!(predict(pb)["score"].is_number());

    let (status, body) = http(
        pa,
        "POST",
        "/v1/subjects/c-objecting/objection",
        &scorer,
        r#"{"reason": "no profiling"}"#,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let at = Instant::now();
    assert_eq!(
        predict(pa)["objected"],
        true,
        "the receiving process at once"
    );
    loop {
        let answer = predict(pb);
        if answer["objected"] == true {
            assert!(answer["score"].is_null());
            break;
        }
        assert!(
            at.elapsed() < Duration::from_secs(1),
            "the second process still scores after 1 s: {answer}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
}
