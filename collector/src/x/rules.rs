//! X filtered-stream rules: read the rules the Project has, diff them with the rules the
//! config derives from the brands, and send only the difference.
//!
//! Promises: rules are compared by (value, tag); every page of `GET .../rules` is read;
//! rules no longer wanted are deleted before new ones are added; a rule X rejects (other
//! than as a duplicate) is a fatal error naming it, since retrying cannot help.

use reqwest::Client;
use serde::Deserialize;
use serde_json::json;

use super::XRule;
use crate::backoff::ResetHeader;
use crate::error::CollectError;
use crate::http;
use crate::secret::Secret;

/// What a sync changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RulesDiff {
    /// Ids of the rules deleted.
    pub deleted: Vec<String>,
    /// Rules added.
    pub added: Vec<XRule>,
}

/// A rule as X lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct ExistingRule {
    pub id: String,
    pub value: String,
    #[serde(default)]
    pub tag: Option<String>,
}

/// The difference between what exists and what is wanted: (ids to delete, rules to add).
pub fn diff(existing: &[ExistingRule], wanted: &[XRule]) -> RulesDiff {
    let same = |rule: &ExistingRule, want: &XRule| {
        rule.value == want.value && rule.tag.as_deref().unwrap_or("") == want.tag
    };
    let deleted = existing
        .iter()
        .filter(|rule| !wanted.iter().any(|want| same(rule, want)))
        .map(|rule| rule.id.clone())
        .collect();
    let mut added: Vec<XRule> = Vec::new();
    for want in wanted {
        let present = existing.iter().any(|rule| same(rule, want));
        if !present && !added.contains(want) {
            added.push(want.clone());
        }
    }
    RulesDiff { deleted, added }
}

#[derive(Debug, Deserialize)]
struct RulesPage {
    #[serde(default)]
    data: Vec<ExistingRule>,
    meta: Option<RulesMeta>,
}

#[derive(Debug, Deserialize)]
struct RulesMeta {
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RulesChange {
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// Makes the Project's rules equal to `wanted`, changing only what differs.
pub(super) async fn sync(
    source: &str,
    client: &Client,
    base: &str,
    token: &Secret,
    wanted: &[XRule],
) -> Result<RulesDiff, CollectError> {
    let url = format!("{base}/2/tweets/search/stream/rules");
    let mut existing = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut request = client
            .get(&url)
            .bearer_auth(token.expose())
            .query(&[("max_results", "1000")]);
        if let Some(token) = &next {
            request = request.query(&[("pagination_token", token)]);
        }
        let response =
            http::send(source, "read stream rules", request, ResetHeader::XEpoch).await?;
        let page: RulesPage = http::json(source, "read stream rules", response).await?;
        existing.extend(page.data);
        next = page.meta.and_then(|meta| meta.next_token);
        if next.is_none() {
            break;
        }
    }
    let change = diff(&existing, wanted);
    if !change.deleted.is_empty() {
        let body = json!({"delete": {"ids": change.deleted}});
        post(source, client, &url, token, &body).await?;
    }
    if !change.added.is_empty() {
        let add: Vec<_> = change
            .added
            .iter()
            .map(|rule| json!({"value": rule.value, "tag": rule.tag}))
            .collect();
        post(source, client, &url, token, &json!({"add": add})).await?;
    }
    tracing::info!(
        source,
        deleted = change.deleted.len(),
        added = change.added.len(),
        kept = wanted.len() - change.added.len().min(wanted.len()),
        "stream rules in sync"
    );
    Ok(change)
}

async fn post(
    source: &str,
    client: &Client,
    url: &str,
    token: &Secret,
    body: &serde_json::Value,
) -> Result<(), CollectError> {
    let request = client.post(url).bearer_auth(token.expose()).json(body);
    let response = http::send(source, "change stream rules", request, ResetHeader::XEpoch).await?;
    let answer: RulesChange = http::json(source, "change stream rules", response).await?;
    let rejected: Vec<String> = answer
        .errors
        .iter()
        .filter(|error| error.get("title").and_then(|t| t.as_str()) != Some("DuplicateRule"))
        .map(|error| {
            let value = error.get("value").and_then(|v| v.as_str()).unwrap_or("?");
            let title = error
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or("rejected");
            format!("`{value}`: {title}")
        })
        .collect();
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(CollectError::Fatal {
            source_name: source.to_owned(),
            reason: format!("X rejected stream rules: {}", rejected.join("; ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing(id: &str, value: &str, tag: &str) -> ExistingRule {
        ExistingRule {
            id: id.to_owned(),
            value: value.to_owned(),
            tag: Some(tag.to_owned()),
        }
    }

    fn wanted(value: &str, tag: &str) -> XRule {
        XRule {
            value: value.to_owned(),
            tag: tag.to_owned(),
        }
    }

    #[test]
    fn only_the_difference_is_sent() {
        let have = [
            existing("1", "acme", "brand:acme"),
            existing("2", "old", "brand:old"),
            existing("3", "lumio", "brand:other-tag"),
        ];
        let want = [wanted("acme", "brand:acme"), wanted("lumio", "brand:lumio")];
        let change = diff(&have, &want);
        assert_eq!(change.deleted, ["2", "3"]);
        assert_eq!(change.added, [wanted("lumio", "brand:lumio")]);
    }

    #[test]
    fn nothing_changes_when_in_sync() {
        let have = [existing("1", "acme", "brand:acme")];
        let change = diff(&have, &[wanted("acme", "brand:acme")]);
        assert_eq!(change, RulesDiff::default());
    }
}
