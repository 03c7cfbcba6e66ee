//! The web console: one page, served by the worker itself at `/ui`.
//!
//! The page (`console.html`, HTML, CSS and JavaScript in one file, no
//! build step and nothing fetched from elsewhere) is compiled into the
//! binary. It is a client of the worker's own REST API and nothing more:
//! every action it offers is a Kafka Connect REST call the page makes from
//! the browser (`/connectors?expand=status&expand=info`, pause, resume,
//! stop, restart, delete, `PUT .../config/validate` as the user types,
//! `/connectors/{name}/offsets`), and its charts are drawn from
//! `GET /metrics` read every few seconds. So the console sees exactly what
//! a REST client sees, behind the same authentication: a browser asked
//! for HTTP Basic credentials on `/ui` sends them with the page's calls.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The console page.
const PAGE: &str = include_str!("console.html");

/// `GET /ui`: the console.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page loads nothing from elsewhere, and may not be framed.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
            ),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "url(http",
            "@import",
            "fetch(\"http",
        ] {
            assert!(
                !super::PAGE.contains(needle),
                "the console page refers to {needle}: every asset must be embedded"
            );
        }
    }
}
