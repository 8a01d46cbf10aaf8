//! `GET /metrics`: the pipeline's counters in the Prometheus text format (0.0.4), open
//! like `/api/health` and built from the same report, so the two never disagree.
//!
//! Per source: `veille_source_*` series labelled `source="<kind>"` (`x`, `bluesky`,
//! `mastodon`, `reddit`, `discourse`, `feed`, or `replay`) and `name="<configured name>"`;
//! drops carry a `reason` label. Then the stage totals (`veille_nlp_*`, `veille_index_*`).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;

use crate::state::AppState;

/// (series, help, type, field of a source's health entry)
const SOURCE_SERIES: &[(&str, &str, &str, &str)] = &[
    (
        "veille_source_received_total",
        "Items received from the source.",
        "counter",
        "received",
    ),
    (
        "veille_source_emitted_total",
        "Posts handed on downstream.",
        "counter",
        "posts",
    ),
    (
        "veille_source_errors_total",
        "Failures of the source.",
        "counter",
        "errors",
    ),
    (
        "veille_source_reconnects_total",
        "Reconnects or retried polls after a failure.",
        "counter",
        "reconnects",
    ),
    (
        "veille_source_gaps_total",
        "Gaps the source could not fill.",
        "counter",
        "gaps",
    ),
    (
        "veille_source_lag_seconds",
        "Delay between a post's claimed time and its arrival, last post.",
        "gauge",
        "lag_seconds",
    ),
    (
        "veille_source_silent_seconds",
        "Seconds since the last sign of life.",
        "gauge",
        "silent_seconds",
    ),
];

pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let report = (state.health)();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&report),
    )
}

/// The Prometheus text of a health report.
pub(crate) fn render(report: &Value) -> String {
    let mut out = String::new();
    let empty = serde_json::Map::new();
    let sources = report["sources"].as_object().unwrap_or(&empty);
    let labels = |name: &str, entry: &Value| {
        format!(
            "source=\"{}\",name=\"{}\"",
            escape(entry["kind"].as_str().unwrap_or("unknown")),
            escape(name)
        )
    };
    for (series, help, kind, field) in SOURCE_SERIES {
        let _ = writeln!(out, "# HELP {series} {help}\n# TYPE {series} {kind}");
        for (name, entry) in sources {
            if let Some(value) = entry[*field].as_f64() {
                let _ = writeln!(out, "{series}{{{}}} {value}", labels(name, entry));
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP veille_source_dropped_total Items not handed on, by reason.\n# TYPE veille_source_dropped_total counter"
    );
    for (name, entry) in sources {
        for (reason, count) in entry["dropped"].as_object().unwrap_or(&empty) {
            if let Some(count) = count.as_f64() {
                let _ = writeln!(
                    out,
                    "veille_source_dropped_total{{{},reason=\"{}\"}} {count}",
                    labels(name, entry),
                    escape(reason)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP veille_source_stalled Whether the source is silent past its liveness timeout.\n# TYPE veille_source_stalled gauge"
    );
    for (name, entry) in sources {
        let stalled = u8::from(entry["stalled"].as_bool().unwrap_or(false));
        let _ = writeln!(
            out,
            "veille_source_stalled{{{}}} {stalled}",
            labels(name, entry)
        );
    }
    for (stage, fields) in [
        ("nlp", &["received", "relevant"][..]),
        (
            "index",
            &[
                "added",
                "deleted",
                "failed",
                "commits",
                "errors",
                "searchable",
            ][..],
        ),
    ] {
        for field in fields {
            if let Some(value) = report[stage][*field].as_f64() {
                let series = format!("veille_{stage}_{field}");
                let _ = writeln!(out, "# TYPE {series} gauge\n{series} {value}");
            }
        }
    }
    out
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sources_become_labelled_series() {
        let report = json!({
            "sources": {"x-main": {"kind": "x", "received": 10, "posts": 8, "errors": 1, "reconnects": 1, "gaps": 0,
                "lag_seconds": 2.5, "silent_seconds": 3, "stalled": false, "dropped": {"malformed": 1, "duplicate": 1}}},
            "nlp": {"received": 8, "relevant": 5},
            "index": {"added": 5, "searchable": 5}
        });
        let text = render(&report);
        assert!(
            text.contains("veille_source_received_total{source=\"x\",name=\"x-main\"} 10"),
            "{text}"
        );
        assert!(text.contains(
            "veille_source_dropped_total{source=\"x\",name=\"x-main\",reason=\"malformed\"} 1"
        ));
        assert!(text.contains("veille_source_lag_seconds{source=\"x\",name=\"x-main\"} 2.5"));
        assert!(text.contains("veille_source_stalled{source=\"x\",name=\"x-main\"} 0"));
        assert!(text.contains("veille_nlp_relevant 5"));
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }

    #[tokio::test]
    async fn metrics_are_served_open_as_prometheus_text() {
        use axum::body::Body;
        use axum::http::{Request, StatusCode};
        use http_body_util::BodyExt;
        use tower::ServiceExt;

        let mut fixture = crate::tests::fixture();
        fixture.state.health = std::sync::Arc::new(
            || json!({"sources": {"feeds": {"kind": "feed", "received": 4, "stalled": true}}}),
        );
        let state = fixture.state.clone();
        let response = crate::router(state)
            .oneshot(
                Request::get("/metrics")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("text/plain; version=0.0.4")
        );
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(
            text.contains("veille_source_received_total{source=\"feed\",name=\"feeds\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("veille_source_stalled{source=\"feed\",name=\"feeds\"} 1"),
            "{text}"
        );
    }
}
