//! `klartext webhooks add|list|deliver|deliveries|remove` through the real binary,
//! against a loopback receiver.

mod common;

use common::Project;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn add_deliver_list_deliveries_and_remove() {
    let p = Project::with_churn();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let got = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim_end().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader
            .into_inner()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (head, String::from_utf8(body).unwrap())
    });

    let https = p.run(&[
        "webhooks",
        "add",
        "https://example.com/x",
        "--events",
        "model.promoted",
    ]);
    assert!(!https.ok());
    assert!(
        https.one_line_error().contains("not supported"),
        "{}",
        https.one_line_error()
    );

    let url = format!("http://{addr}/hook");
    let added = p
        .run(&[
            "webhooks",
            "add",
            &url,
            "--events",
            "model.promoted,usecase.switched",
            "--json",
        ])
        .assert_ok()
        .json();
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(added["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        added["events"],
        serde_json::json!(["model.promoted", "usecase.switched"])
    );

    let listed = p.run(&["webhooks", "list", "--json"]).assert_ok().json();
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert!(listed["webhooks"][0].get("secret").is_none());

    p.run(&["switch", "off", "churn", "--reason", "complaint"])
        .assert_ok();
    let made = p.run(&["webhooks", "deliver", "--json"]).assert_ok().json();
    assert_eq!(made["attempts"][0]["delivered"], true, "{made}");
    let (head, body) = got.join().unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("klartext-signature: t="),
        "{head}"
    );
    assert!(body.contains("\"type\":\"usecase.switched\""), "{body}");

    let attempts = p
        .run(&["webhooks", "deliveries", "--json"])
        .assert_ok()
        .json();
    assert_eq!(attempts["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(attempts["attempts"][0]["http_status"], 200);
    p.run(&["webhooks", "deliveries"]).assert_ok();
    p.run(&["webhooks", "list"]).assert_ok();

    p.run(&["webhooks", "remove", &id]).assert_ok();
    assert!(!p.run(&["webhooks", "remove", "wh_nope"]).ok());
}
