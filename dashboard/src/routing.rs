//! The routing-rule language: the `when` condition of an alert rule in the config.
//!
//! ```toml
//! when = "sentiment = negative and topic in [outage, billing]"
//! ```
//!
//! [`parse`] turns the text into a [`Rule`] (a hand-written lexer and recursive-descent
//! parser; a syntax error is a [`RuleError`] with the column where it was found).
//! [`Rule::check_fields`] then checks it against the configured fields ([`FieldSet`]) and
//! returns every problem; [`Rule::matches`] evaluates it against an analysed post without
//! allocating; [`Rule::explain`] says which conditions held and with which values.
//!
//! # Grammar (EBNF)
//!
//! ```text
//! rule       = or_expr ;
//! or_expr    = and_expr { "or" and_expr } ;
//! and_expr   = unary { "and" unary } ;
//! unary      = "not" unary | primary ;
//! primary    = "(" or_expr ")" | comparison | flag ;
//! comparison = field ( "=" | "!=" ) value
//!            | field "in" "[" value { "," value } "]"
//!            | field ( "<" | "<=" | ">" | ">=" ) number ;
//! flag       = field ;  (* true when the field is set / not empty *)
//! field      = word ;   (* starting with a letter or "_" *)
//! value      = word | string | number ;
//! word       = wordchar { wordchar } ;  (* letters, digits, "_", "-", ".", "@", "#", "+" *)
//! string     = '"' { char } '"' | "'" { char } "'" ;  (* escapes: \\ \" \' *)
//! number     = [ "-" | "+" ] digits [ "." digits ] [ exponent ] ;  (* "_" may separate digits *)
//! ```
//!
//! `not` binds tighter than `and`, which binds tighter than `or`. Keywords (`and`, `or`,
//! `not`, `in`), field names and values are case-insensitive; a keyword used as a value
//! must be quoted.
//!
//! # Fields
//!
//! | field | kind | values |
//! | --- | --- | --- |
//! | `sentiment` | one value | `negative`, `neutral`, `positive` |
//! | `score` | number | sentiment score in `[-1, 1]` |
//! | `language` | one value | ISO 639-1 code; as a flag: the language is known (not `und`) |
//! | `source` | one value | `x`, `bluesky`, `mastodon`, `reddit`, `discourse`, `feed` |
//! | `brand` | set | configured brand names |
//! | `intent` | set | intents found by the NLP stage |
//! | `followers` | number | the author's followers; unknown makes every comparison false |
//! | `connector` | set | brands for which the author is a mass connector; as a flag: any brand |
//! | `maven` | set | brands for which the author is a mass maven; as a flag: any brand |
//! | every axis (`topic`...) | set | the axis's configured categories |
//!
//! On a set, `f = v` holds when `v` is among the post's values, `f != v` when it is not,
//! `f in [a, b]` when one of them is, and the bare `f` when the set is not empty.
//!
//! # Extension without breakage
//!
//! A field name followed by anything but an operator, `and`, `or`, `)` or the end is a
//! syntax error today, and unknown field names are rejected by [`Rule::check_fields`]: new
//! fields (`text`) and new operators (`text contains "refund"`) only
//! give a meaning to rules that are errors now. The names in [`UPCOMING_FIELDS`] are
//! reserved so that no axis takes them.

mod ast;
mod check;
mod eval;
mod lexer;
mod parser;

use std::fmt;
use std::str::FromStr;

use nlp::AnalysedPost;
use serde::{Deserialize, Serialize};

use ast::Expr;

/// Fields the language knows whatever the configuration.
pub const BUILTIN_FIELDS: [&str; 11] = [
    "sentiment",
    "score",
    "language",
    "source",
    "brand",
    "intent",
    "followers",
    "badge",
    "words",
    "connector",
    "maven",
];

/// Field names reserved for coming versions; an axis may not use them either.
pub const UPCOMING_FIELDS: [&str; 2] = ["text", "author"];

/// True when an axis may not be called `name`: a built-in or upcoming field, or a keyword.
pub fn is_reserved_field_name(name: &str) -> bool {
    let name = ast::lowercase(name);
    BUILTIN_FIELDS.contains(&name.as_str())
        || UPCOMING_FIELDS.contains(&name.as_str())
        || ast::KEYWORDS.contains(&name.as_str())
}

/// A syntax error in a rule, at a 1-based column counted in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at column {column}")]
pub struct RuleError {
    pub column: usize,
    pub message: String,
}

impl RuleError {
    pub(crate) fn new(column: usize, message: impl Into<String>) -> RuleError {
        RuleError {
            column,
            message: message.into(),
        }
    }
}

/// The configured fields a rule may name: the axes with their categories, and the brands.
#[derive(Debug, Clone, Default)]
pub struct FieldSet {
    /// Lowercased axis names, each with its lowercased categories.
    axes: Vec<(String, Vec<String>)>,
    /// Lowercased brand names; empty means brand values are not checked.
    brands: Vec<String>,
}

impl FieldSet {
    /// The fields of these axes: (axis name, category names).
    pub fn new(axes: impl IntoIterator<Item = (String, Vec<String>)>) -> FieldSet {
        let axes = axes
            .into_iter()
            .map(|(axis, categories)| {
                let categories = categories.iter().map(|name| ast::lowercase(name)).collect();
                (ast::lowercase(&axis), categories)
            })
            .collect();
        FieldSet {
            axes,
            brands: Vec::new(),
        }
    }

    /// The fields of a resolved NLP configuration: its axes and its brands.
    pub fn from_nlp_config(config: &nlp::NlpConfig) -> FieldSet {
        let axes = config.axes.iter().map(|axis| {
            let categories = axis.categories.iter().map(|c| c.name.clone()).collect();
            (axis.name.clone(), categories)
        });
        FieldSet::new(axes).with_brands(config.brands.iter().map(|brand| brand.name.as_str()))
    }

    /// Also checks brand values against these names.
    pub fn with_brands<'name>(mut self, brands: impl IntoIterator<Item = &'name str>) -> Self {
        self.brands = brands.into_iter().map(ast::lowercase).collect();
        self
    }

    /// The categories of `axis` (lowercase), if it is configured.
    fn categories(&self, axis: &str) -> Option<&[String]> {
        self.axes
            .iter()
            .find(|(name, _)| name == axis)
            .map(|(_, categories)| categories.as_slice())
    }
}

/// A parsed routing condition.
///
/// Its [`fmt::Display`] form is canonical (lowercase, minimal parentheses) and parses back
/// to an equivalent rule; serde reads and writes it as that text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rule {
    expr: Expr,
}

/// Parses the text of a `when` condition.
pub fn parse(source: &str) -> Result<Rule, RuleError> {
    let expr = parser::parse_expr(source)?;
    Ok(Rule { expr })
}

impl Rule {
    /// Every problem with the fields and values the rule names, given the configured ones;
    /// empty when the rule is sound. Messages name the column: "unknown field `topc` at
    /// column 1 (fields: ...)".
    pub fn check_fields(&self, known: &FieldSet) -> Vec<String> {
        let mut problems = Vec::new();
        self.expr.check_fields(known, &mut problems);
        problems
    }

    /// Whether the post satisfies the rule. Allocates nothing.
    pub fn matches(&self, post: &AnalysedPost) -> bool {
        self.expr.matches(post)
    }

    /// For a post the rule matches: the conditions that held, with the post's values,
    /// e.g. `sentiment = negative (-0.72), topic in [outage, billing] (outage)`.
    pub fn explain(&self, post: &AnalysedPost) -> String {
        let mut reasons = Vec::new();
        self.expr.explain(post, &mut reasons);
        reasons.join(", ")
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(formatter)
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(source: &str) -> Result<Rule, RuleError> {
        parse(source)
    }
}

impl TryFrom<String> for Rule {
    type Error = RuleError;

    fn try_from(source: String) -> Result<Rule, RuleError> {
        parse(&source)
    }
}

impl From<Rule> for String {
    fn from(rule: Rule) -> String {
        rule.to_string()
    }
}

#[cfg(test)]
mod tests;
