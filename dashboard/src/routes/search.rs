//! `GET /api/search`: full-text search with filters, answered with hits and facet counts.
//!
//! Parameters: `q` (tantivy query syntax), `sentiment`, `source`, `lang`, `brand`,
//! `influence` (`connector` or `maven`: posts whose author had that badge), `since`
//! and `until` (RFC 3339), `limit` (default 20, 0 for facets only), `offset`, and
//! `<axis>=<category>` for every configured axis (repeatable: a post must be in all). An
//! empty value means "no filter". Any other parameter, an unknown value of a closed set or
//! a malformed number or date is a 400 naming the problem. The search runs on a blocking
//! thread. Search covers every post, so it is for managers (members get 403); members
//! see what is routed to their teams on their inbox and live feed.

use axum::Json;
use axum::extract::{Extension, Query, State};
use chrono::{DateTime, Utc};
use collector::SourceKind;
use index::{SearchQuery, SearchResults};
use nlp::SentimentLabel;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

/// Parameters every search understands; the configured axes come after them.
const KNOWN_PARAMETERS: [&str; 10] = [
    "q",
    "sentiment",
    "source",
    "lang",
    "brand",
    "influence",
    "since",
    "until",
    "limit",
    "offset",
];

pub(crate) async fn search(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<SearchResults>, AppError> {
    if !user.manager {
        return Err(AppError::Forbidden(
            "search and category feeds cover every post: they are for managers".to_owned(),
        ));
    }
    let query = search_query(&params, &state.axes).map_err(AppError::BadQuery)?;
    let index = state.search.clone();
    let results = tokio::task::spawn_blocking(move || index.search(&query)).await??;
    Ok(Json(results))
}

/// Turns query-string pairs into a [`SearchQuery`], or a message for the user.
pub(crate) fn search_query(
    params: &[(String, String)],
    axes: &[(String, Vec<String>)],
) -> Result<SearchQuery, String> {
    let mut query = SearchQuery::default();
    let mut seen: Vec<&str> = Vec::new();
    for (name, raw_value) in params {
        let value = raw_value.trim();
        let is_axis = axes.iter().any(|(axis, _)| axis == name);
        if !is_axis {
            if seen.contains(&name.as_str()) {
                return Err(format!("parameter `{name}` is given twice"));
            }
            seen.push(name);
        }
        if value.is_empty() {
            if KNOWN_PARAMETERS.contains(&name.as_str()) || is_axis {
                continue;
            }
            return Err(unknown_parameter(name, axes));
        }
        match name.as_str() {
            "q" => query.text = Some(value.to_owned()),
            "sentiment" => {
                let label = SentimentLabel::parse(&value.to_lowercase()).ok_or_else(|| {
                    format!("unknown sentiment `{value}` (expected negative, neutral or positive)")
                })?;
                query.sentiment = Some(label);
            }
            "source" => {
                let source = SourceKind::parse(&value.to_lowercase()).ok_or_else(|| {
                    let known: Vec<&str> =
                        SourceKind::ALL.iter().map(|kind| kind.as_str()).collect();
                    format!("unknown source `{value}` (sources: {})", known.join(", "))
                })?;
                query.source = Some(source);
            }
            "lang" => query.language = Some(value.to_lowercase()),
            "brand" => query.brand = Some(value.to_owned()),
            "influence" => {
                let kind = nlp::influence::InfluenceKind::parse(value).ok_or_else(|| {
                    format!("unknown influence `{value}` (expected connector or maven)")
                })?;
                query.influence = Some(kind.as_str().to_owned());
            }
            "since" => query.since = Some(parse_time(name, value)?),
            "until" => query.until = Some(parse_time(name, value)?),
            "limit" => query.limit = parse_count(name, value)?,
            "offset" => query.offset = parse_count(name, value)?,
            axis_name => {
                let Some((axis, categories)) = axes.iter().find(|(axis, _)| axis == axis_name)
                else {
                    return Err(unknown_parameter(axis_name, axes));
                };
                let Some(category) = categories
                    .iter()
                    .find(|category| category.to_lowercase() == value.to_lowercase())
                else {
                    return Err(format!(
                        "unknown category `{value}` for axis `{axis}` (categories: {})",
                        categories.join(", ")
                    ));
                };
                query.categories.push((axis.clone(), category.clone()));
            }
        }
    }
    Ok(query)
}

fn unknown_parameter(name: &str, axes: &[(String, Vec<String>)]) -> String {
    let known: Vec<&str> = KNOWN_PARAMETERS
        .iter()
        .copied()
        .chain(axes.iter().map(|(axis, _)| axis.as_str()))
        .collect();
    format!(
        "unknown query parameter `{name}` (known: {})",
        known.join(", ")
    )
}

fn parse_count(name: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("`{name}` must be a whole number, found `{value}`"))
}

fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            format!("`{name}` must be an RFC 3339 time like 2025-06-01T00:00:00Z, found `{value}`")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axes() -> Vec<(String, Vec<String>)> {
        vec![
            (
                "topic".to_owned(),
                vec!["outage".to_owned(), "billing".to_owned()],
            ),
            ("product".to_owned(), vec!["fibre".to_owned()]),
        ]
    }

    fn parse(query: &[(&str, &str)]) -> Result<SearchQuery, String> {
        let params: Vec<(String, String)> = query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        search_query(&params, &axes())
    }

    #[test]
    fn reads_every_parameter() {
        let query = parse(&[
            ("q", "no signal"),
            ("sentiment", "Negative"),
            ("source", "mastodon"),
            ("lang", "FR"),
            ("brand", "Lumio"),
            ("topic", "OUTAGE"),
            ("topic", "billing"),
            ("product", "fibre"),
            ("since", "2025-06-01T00:00:00Z"),
            ("until", "2025-06-02T00:00:00+02:00"),
            ("limit", "0"),
            ("offset", "40"),
        ])
        .expect("valid");
        assert_eq!(query.text.as_deref(), Some("no signal"));
        assert_eq!(query.sentiment, Some(SentimentLabel::Negative));
        assert_eq!(query.source, Some(SourceKind::Mastodon));
        assert_eq!(query.language.as_deref(), Some("fr"));
        assert_eq!(query.brand.as_deref(), Some("Lumio"));
        assert_eq!(
            query.categories,
            [
                ("topic".to_owned(), "outage".to_owned()),
                ("topic".to_owned(), "billing".to_owned()),
                ("product".to_owned(), "fibre".to_owned()),
            ]
        );
        assert_eq!(
            query.until.map(|until| until.to_rfc3339()),
            Some("2025-06-01T22:00:00+00:00".to_owned())
        );
        assert_eq!((query.limit, query.offset), (0, 40));
    }

    #[test]
    fn empty_values_mean_no_filter() {
        let query = parse(&[("q", ""), ("sentiment", " "), ("topic", "")]).expect("valid");
        assert_eq!(query, SearchQuery::default());
    }

    #[test]
    fn rejects_mistakes_with_a_clear_message() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (
                &[("topics", "outage")],
                "unknown query parameter `topics` (known: q, sentiment",
            ),
            (&[("sentiment", "angry")], "unknown sentiment `angry`"),
            (&[("source", "myspace")], "unknown source `myspace`"),
            (
                &[("topic", "outages")],
                "unknown category `outages` for axis `topic`",
            ),
            (
                &[("limit", "ten")],
                "`limit` must be a whole number, found `ten`",
            ),
            (&[("offset", "-1")], "`offset` must be a whole number"),
            (
                &[("since", "yesterday")],
                "`since` must be an RFC 3339 time",
            ),
            (&[("q", "a"), ("q", "b")], "parameter `q` is given twice"),
        ];
        for (query, expected) in cases {
            let error = parse(query).expect_err("invalid");
            assert!(error.starts_with(expected), "{query:?}: {error}");
        }
        let error = parse(&[("unknown", "")]).expect_err("unknown even when empty");
        assert!(error.contains("topic, product"), "{error}");
    }
}
