//! Loading and validating `veille.toml`.
//!
//! The file is parsed into `Raw*` structs that reject unknown keys, section by section and
//! element by element, so that every problem in the file is found in one pass; a
//! validation step then turns them into [`Config`], whose values are already checked
//! (compiled routing rules, parsed addresses, existing folders). [`load_file`] and
//! [`load_str`] return either a [`Config`] or a [`ConfigErrors`] listing every problem with
//! its key path (`rules[1].when`, `sources[0].base-url`...). The service never starts on a
//! bad config.
//!
//! The full reference of the keys is `docs/CONFIG.md`; the commented sample is
//! `fixtures/veille.toml`.

mod alerting;
mod influence;
mod network;
mod nlp_settings;
mod raw;
mod sources;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use dashboard::alerts::notify::TeamNotify;
use dashboard::alerts::{Role, RoutingRule, Severity, SlaPolicy, SpikeConfig, Team};
use dashboard::routing::{self, FieldSet};
use dashboard::webhooks::WebhookTarget;
use nlp::influence::InfluenceConfig;
use nlp::{Axis, Brand, Category, NlpConfig};

pub use sources::{NetworkSource, ReplayFiles, ReplaySource, SourceConfig, SourceParams, Speedup};

use raw::{RawAxis, RawBrand, RawConfig, RawRule, RawTeam};

/// Default dashboard address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default retention of posts in the index.
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// Field names of the rule language that are not axes; an axis may not take one of them.
const RESERVED_FIELDS: &[&str] = &[
    "sentiment",
    "score",
    "language",
    "lang",
    "source",
    "brand",
    "intent",
    "followers",
    "text",
    "author",
    "connector",
    "maven",
    "badge",
    "words",
];

/// Where a configuration came from: relative paths resolve against its folder, and the
/// embedded demo config reads its fixtures from the binary.
#[derive(Debug, Clone)]
pub enum Origin {
    File(PathBuf),
    Embedded,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Where the index lives: `<data_dir>/index` unless `index-dir` says (a serve node
    /// points it at the index node's index, keeping its own data directory for accounts).
    pub index_dir: PathBuf,
    pub retention_days: u32,
    pub listen: SocketAddr,
    pub nlp: NlpConfig,
    /// The mass connector / mass maven tracker (`[influence]`).
    pub influence: InfluenceConfig,
    pub teams: Vec<Team>,
    pub rules: Vec<RoutingRule>,
    pub sources: Vec<SourceConfig>,
    /// Mark the session cookie `Secure` (`[dashboard] secure-cookies`, default true).
    pub secure_cookies: bool,
    /// How long alerts of each severity may stay unhandled.
    pub sla: SlaPolicy,
    /// Spike detection, when `[spikes]` is configured.
    pub spikes: Option<SpikeConfig>,
    /// Digest and quiet hours per team.
    pub notify: Vec<(String, TeamNotify)>,
    /// Webhook per team (with its secret from the environment).
    pub webhooks: BTreeMap<String, WebhookTarget>,
}

/// Every problem found in a configuration, each with its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub origin: String,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        writeln!(f, "{} has {count} {noun}:", self.origin)?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads and validates the configuration file at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigErrors {
        origin: path.display().to_string(),
        problems: vec![format!("cannot read the file: {error}")],
    })?;
    load_str(&text, &Origin::File(path.to_path_buf()))
}

/// Validates a configuration given as text.
pub fn load_str(text: &str, origin: &Origin) -> Result<Config, ConfigErrors> {
    let origin_name = match origin {
        Origin::File(path) => path.display().to_string(),
        Origin::Embedded => "the embedded demo config".to_string(),
    };
    let mut problems = Vec::new();
    let raw = raw::parse(text, &mut problems);
    let config = raw.and_then(|raw| validate(raw, origin, &mut problems));
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => Err(ConfigErrors {
            origin: origin_name,
            problems,
        }),
    }
}

fn validate(raw: RawConfig, origin: &Origin, problems: &mut Vec<String>) -> Option<Config> {
    let base_dir = match origin {
        Origin::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        Origin::Embedded => PathBuf::new(),
    };

    let data_dir = base_dir.join(raw.data_dir.unwrap_or_else(|| "veille-data".to_string()));
    let index_dir = match raw.index_dir {
        Some(dir) => base_dir.join(dir),
        None => data_dir.join("index"),
    };
    let retention_days = raw.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
    if retention_days == 0 {
        problems.push("retention-days: must be at least 1".to_string());
    }
    let secure_cookies = raw
        .dashboard
        .as_ref()
        .and_then(|dashboard| dashboard.secure_cookies)
        .unwrap_or(true);
    let listen_text = raw
        .dashboard
        .and_then(|dashboard| dashboard.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            problems.push(format!(
                "dashboard.listen: `{listen_text}` is not an address such as 127.0.0.1:8080"
            ));
            None
        }
    };

    let influence = influence::validate(raw.influence, problems);
    let brands = validate_brands(raw.brands, problems);
    let axes = validate_axes(raw.axes, &base_dir, problems);
    let sentiment = nlp_settings::sentiment(raw.sentiment, &base_dir, problems);
    let privacy = nlp_settings::privacy(raw.privacy, problems);
    let mut webhooks = BTreeMap::new();
    let mut notify = Vec::new();
    for (position, team) in &raw.teams {
        let settings = alerting::RawTeamNotify {
            digest: team.digest.clone(),
            quiet_hours: team.quiet_hours.clone(),
            webhook_url: team.webhook_url.clone(),
            webhook_secret_env: team.webhook_secret_env.clone(),
        };
        let path = format!("teams[{position}]");
        let settings =
            alerting::validate_team_notify(&path, &team.name, settings, &mut webhooks, problems);
        notify.push((team.name.clone(), settings));
    }
    let teams = validate_teams(raw.teams, problems);
    let rules = validate_rules(raw.rules, &axes, &teams, problems);
    let sources = sources::validate(raw.sources, &base_dir, origin, problems);
    let sla = alerting::validate_sla(raw.alerts.unwrap_or_default().sla, problems);
    let spikes = raw
        .spikes
        .and_then(|spikes| alerting::validate_spikes(spikes, &teams, problems));

    Some(Config {
        data_dir,
        index_dir,
        retention_days,
        listen: listen?,
        nlp: NlpConfig {
            brands,
            axes,
            sentiment,
            privacy,
        },
        influence,
        teams,
        rules,
        sources,
        secure_cookies,
        sla,
        spikes,
        notify,
        webhooks,
    })
}

fn check_unique<'a>(
    section: &str,
    names: impl Iterator<Item = (usize, &'a str)>,
    problems: &mut Vec<String>,
) {
    let mut seen = BTreeSet::new();
    for (position, name) in names {
        if name.trim().is_empty() {
            problems.push(format!("{section}[{position}].name: must not be empty"));
        } else if !seen.insert(name.to_lowercase()) {
            problems.push(format!(
                "{section}[{position}].name: `{name}` is defined twice"
            ));
        }
    }
}

fn validate_brands(raw: Vec<(usize, RawBrand)>, problems: &mut Vec<String>) -> Vec<Brand> {
    if raw.is_empty() {
        problems
            .push("brands: at least one brand is needed (posts about no brand are dropped)".into());
    }
    check_unique(
        "brands",
        raw.iter().map(|(at, brand)| (*at, brand.name.as_str())),
        problems,
    );
    let mut brands = Vec::with_capacity(raw.len());
    for (position, brand) in raw {
        let path = format!("brands[{position}]");
        if brand.aliases.is_empty() && brand.handles.is_empty() && brand.hashtags.is_empty() {
            problems.push(format!(
                "{path}: brand `{}` needs at least one alias, handle or hashtag",
                brand.name
            ));
        }
        check_terms(&path, "aliases", &brand.aliases, None, problems);
        check_terms(&path, "handles", &brand.handles, Some('@'), problems);
        check_terms(&path, "hashtags", &brand.hashtags, Some('#'), problems);
        check_terms(&path, "exclusions", &brand.exclusions, None, problems);
        check_terms(&path, "context", &brand.context, None, problems);
        brands.push(Brand {
            name: brand.name,
            aliases: brand.aliases,
            handles: brand.handles,
            hashtags: brand.hashtags,
            exclusions: brand.exclusions,
            context: brand.context,
            context_window: brand.context_window.unwrap_or(nlp::DEFAULT_CONTEXT_WINDOW),
        });
    }
    brands
}

fn check_terms(
    path: &str,
    key: &str,
    terms: &[String],
    prefix: Option<char>,
    problems: &mut Vec<String>,
) {
    for (position, term) in terms.iter().enumerate() {
        let term_path = format!("{path}.{key}[{position}]");
        if term.trim().is_empty() {
            problems.push(format!("{term_path}: must not be empty"));
            continue;
        }
        if let Some(prefix) = prefix {
            let rest = term.strip_prefix(prefix).unwrap_or("");
            if rest.is_empty() || rest.chars().any(char::is_whitespace) {
                problems.push(format!(
                    "{term_path}: `{term}` must start with `{prefix}` and hold no space"
                ));
            }
        }
    }
}

fn validate_axes(
    raw: Vec<(usize, RawAxis)>,
    base_dir: &Path,
    problems: &mut Vec<String>,
) -> Vec<Axis> {
    check_unique(
        "axes",
        raw.iter().map(|(at, axis)| (*at, axis.name.as_str())),
        problems,
    );
    let mut axes = Vec::with_capacity(raw.len());
    for (position, axis) in raw {
        let path = format!("axes[{position}]");
        let lower_name = axis.name.to_lowercase();
        if RESERVED_FIELDS.contains(&lower_name.as_str()) {
            problems.push(format!(
                "{path}.name: `{}` is a built-in field of the rule language; choose another name",
                axis.name
            ));
        }
        if !is_identifier(&axis.name) {
            problems.push(format!(
                "{path}.name: `{}` must be a word of letters, digits, `-` or `_` (rules refer to it)",
                axis.name
            ));
        }
        let model = axis.model.as_deref().and_then(|model| {
            nlp_settings::axis_model(&path, &axis.name, model, base_dir, problems)
        });
        if axis.categories.is_empty() && axis.model.is_none() {
            problems.push(format!(
                "{path}.categories: axis `{}` has no category",
                axis.name
            ));
        }
        let category_names = axis
            .categories
            .iter()
            .enumerate()
            .map(|(at, category)| (at, category.name.as_str()));
        check_unique(&format!("{path}.categories"), category_names, problems);
        let mut categories = Vec::with_capacity(axis.categories.len());
        for (category_position, category) in axis.categories.into_iter().enumerate() {
            let category_path = format!("{path}.categories[{category_position}]");
            if !is_identifier(&category.name) {
                problems.push(format!(
                    "{category_path}.name: `{}` must be a word of letters, digits, `-` or `_`",
                    category.name
                ));
            }
            if category.keywords.is_empty() && model.is_none() {
                problems.push(format!(
                    "{category_path}.keywords: category `{}` has no keyword",
                    category.name
                ));
            }
            check_terms(
                &category_path,
                "keywords",
                &category.keywords,
                None,
                problems,
            );
            categories.push(Category {
                name: category.name,
                keywords: category.keywords,
            });
        }
        axes.push(Axis {
            name: axis.name,
            categories,
            model,
        });
    }
    axes
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        && name.chars().next().is_some_and(char::is_alphabetic)
}

fn validate_teams(raw: Vec<(usize, RawTeam)>, problems: &mut Vec<String>) -> Vec<Team> {
    check_unique(
        "teams",
        raw.iter().map(|(at, team)| (*at, team.name.as_str())),
        problems,
    );
    let mut teams = Vec::with_capacity(raw.len());
    for (position, team) in raw {
        let role = match team.role.as_str() {
            "member" => Role::Member,
            "manager" => Role::Manager,
            other => {
                problems.push(format!(
                    "teams[{position}].role: `{other}` is not a role; use `member` or `manager`"
                ));
                Role::Member
            }
        };
        teams.push(Team {
            name: team.name,
            role,
            members: team.members,
        });
    }
    teams
}

fn validate_rules(
    raw: Vec<(usize, RawRule)>,
    axes: &[Axis],
    teams: &[Team],
    problems: &mut Vec<String>,
) -> Vec<RoutingRule> {
    check_unique(
        "rules",
        raw.iter().map(|(at, rule)| (*at, rule.name.as_str())),
        problems,
    );
    let fields = FieldSet::new(axes.iter().map(|axis| {
        let categories = axis
            .categories
            .iter()
            .map(|category| category.name.clone())
            .collect();
        (axis.name.clone(), categories)
    }));
    let mut rules = Vec::with_capacity(raw.len());
    for (position, rule) in raw {
        let path = format!("rules[{position}]");
        let before = problems.len();
        if !teams.iter().any(|team| team.name == rule.team) {
            problems.push(format!(
                "{path}.team: rule `{}` routes to `{}`, which is not a configured team",
                rule.name, rule.team
            ));
        }
        let severity = match Severity::parse(&rule.severity) {
            Some(severity) => severity,
            None => {
                problems.push(format!(
                    "{path}.severity: `{}` is not a severity; use low, medium, high or urgent",
                    rule.severity
                ));
                Severity::Low
            }
        };
        let when = match routing::parse(&rule.when) {
            Ok(when) => {
                for field_problem in when.check_fields(&fields) {
                    problems.push(format!(
                        "{path}.when: rule `{}`: {field_problem}",
                        rule.name
                    ));
                }
                Some(when)
            }
            Err(error) => {
                problems.push(format!(
                    "{path}.when: rule `{}` does not parse: {error}",
                    rule.name
                ));
                None
            }
        };
        let noise = alerting::validate_rule_noise(
            &path,
            alerting::RawRuleNoise {
                dedupe_key: rule.dedupe_key,
                cooldown: rule.cooldown,
                group_threads: rule.group_threads,
            },
            problems,
        );
        if let (Some(when), true) = (when, problems.len() == before) {
            rules.push(RoutingRule {
                name: rule.name,
                when,
                team: rule.team,
                severity,
                noise,
            });
        }
    }
    rules
}

#[cfg(test)]
mod tests;
