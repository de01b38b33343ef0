//! Reports that answer as JSON or, with `?format=html`, as a self-contained HTML page:
//! reading the `format` parameter and sending the page.

use crate::error::{ApiError, ErrorCode};
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

#[derive(Debug, serde::Deserialize)]
pub(crate) struct FormatQuery {
    format: Option<String>,
}

/// Whether the caller asked for the HTML page; anything but `json` or `html` is a 400.
pub(crate) fn wants_html(
    query: Result<Query<FormatQuery>, QueryRejection>,
) -> Result<bool, ApiError> {
    match query {
        Ok(Query(q)) => match q.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("html") => Ok(true),
            Some(_) => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "`format` must be `json` or `html`",
            )
            .field("format")),
        },
        Err(e) => Err(ApiError::bad_query(&e, "format")),
    }
}

/// An HTML page as the answer.
pub(crate) fn html(page: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        page,
    )
        .into_response()
}
