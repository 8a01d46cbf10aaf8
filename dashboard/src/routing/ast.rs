//! Syntax tree of a parsed rule, and its canonical text form.
//!
//! Field names and values are lowercased when parsed (comparisons ignore case); columns
//! are kept for the error messages of [`super::Rule::check_fields`]. The [`fmt::Display`]
//! form uses lowercase keywords and only the parentheses precedence needs, and parses back
//! to a rule that behaves the same.

use std::fmt;

use super::lexer::is_word_char;

/// Words that are keywords of the language and so cannot be bare values or field names.
pub(crate) const KEYWORDS: [&str; 4] = ["and", "or", "not", "in"];

/// Lowercases the way rule evaluation compares: character by character, without the
/// context rules of [`str::to_lowercase`].
pub(crate) fn lowercase(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// At least two alternatives.
    Or(Vec<Expr>),
    /// At least two conditions.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Test(Test),
}

/// One condition on one field: `topic in [outage, billing]`, `followers > 10000`, `brand`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Test {
    pub(crate) field: Field,
    pub(crate) field_column: usize,
    pub(crate) operator: Operator,
    /// Column of the operator; the field's column for a flag.
    pub(crate) operator_column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Sentiment,
    Score,
    Language,
    Source,
    Brand,
    Intent,
    Followers,
    /// Kinds of the author's influence badges (`connector`, `maven`...).
    Badge,
    /// The words of the post's text: `words = refund` holds when the text holds the
    /// whole word (or phrase), in any case.
    Words,
    /// The brands for which the author is a mass connector (influence badges).
    Connector,
    /// The brands for which the author is a mass maven (influence badges).
    Maven,
    /// A configured classification axis (`topic`, `product`...), or an unknown name that
    /// [`super::Rule::check_fields`] reports.
    Axis(String),
}

/// How a field's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// One text value per post.
    Single,
    /// Zero or more text values per post: a test holds when one of them satisfies it.
    Set,
    /// A number, possibly unknown.
    Number,
}

impl Field {
    /// The built-in field called `name` (lowercase), else an axis of that name.
    pub(crate) fn from_name(name: &str) -> Field {
        match name {
            "sentiment" => Field::Sentiment,
            "score" => Field::Score,
            "language" => Field::Language,
            "source" => Field::Source,
            "brand" => Field::Brand,
            "intent" => Field::Intent,
            "followers" => Field::Followers,
            "badge" => Field::Badge,
            "words" => Field::Words,
            "connector" => Field::Connector,
            "maven" => Field::Maven,
            axis => Field::Axis(axis.to_owned()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Field::Sentiment => "sentiment",
            Field::Score => "score",
            Field::Language => "language",
            Field::Source => "source",
            Field::Brand => "brand",
            Field::Intent => "intent",
            Field::Followers => "followers",
            Field::Badge => "badge",
            Field::Words => "words",
            Field::Connector => "connector",
            Field::Maven => "maven",
            Field::Axis(name) => name,
        }
    }

    pub(crate) fn kind(&self) -> FieldKind {
        match self {
            Field::Sentiment | Field::Language | Field::Source => FieldKind::Single,
            Field::Brand
            | Field::Intent
            | Field::Badge
            | Field::Words
            | Field::Connector
            | Field::Maven
            | Field::Axis(_) => FieldKind::Set,
            Field::Score | Field::Followers => FieldKind::Number,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operator {
    Equal(Value),
    NotEqual(Value),
    /// At least one value.
    In(Vec<Value>),
    Compare(Comparison, Number),
    /// The bare field: true when it is set (non-empty, known).
    Flag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
        }
    }

    pub(crate) fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Less => left < right,
            Comparison::LessOrEqual => left <= right,
            Comparison::Greater => left > right,
            Comparison::GreaterOrEqual => left >= right,
        }
    }
}

/// A value to compare with: its lowercased text, and the number it spells, if any.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub(crate) text: String,
    pub(crate) number: Option<f64>,
    pub(crate) column: usize,
}

impl Value {
    pub(crate) fn new(text: &str, column: usize) -> Value {
        Value {
            text: lowercase(text),
            number: parse_number(text),
            column,
        }
    }
}

/// A number operand, with its text as written (`10_000`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Number {
    pub(crate) value: f64,
    pub(crate) text: String,
}

/// Reads a finite decimal number; `_` may separate digits (`10_000`).
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let starts_like_a_number = text
        .trim_start_matches(['-', '+'])
        .starts_with(|character: char| character.is_ascii_digit() || character == '.');
    if !starts_like_a_number {
        return None; // keeps `inf`, `nan` and `infinity` words, not numbers
    }
    let digits: String = text.chars().filter(|character| *character != '_').collect();
    digits
        .parse::<f64>()
        .ok()
        .filter(|number| number.is_finite())
}

/// Writes `text` bare when it reads back as the same word, else quoted.
fn write_value(formatter: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let bare = !text.is_empty() && text.chars().all(is_word_char) && !KEYWORDS.contains(&text);
    if bare {
        return formatter.write_str(text);
    }
    formatter.write_str("\"")?;
    for character in text.chars() {
        if matches!(character, '"' | '\\') {
            formatter.write_str("\\")?;
        }
        write!(formatter, "{character}")?;
    }
    formatter.write_str("\"")
}

impl fmt::Display for Value {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_value(formatter, &self.text)
    }
}

impl fmt::Display for Test {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.field.name())?;
        match &self.operator {
            Operator::Equal(value) => write!(formatter, " = {value}"),
            Operator::NotEqual(value) => write!(formatter, " != {value}"),
            Operator::In(values) => {
                formatter.write_str(" in [")?;
                for (position, value) in values.iter().enumerate() {
                    if position > 0 {
                        formatter.write_str(", ")?;
                    }
                    write!(formatter, "{value}")?;
                }
                formatter.write_str("]")
            }
            Operator::Compare(comparison, number) => {
                write!(formatter, " {} {}", comparison.symbol(), number.text)
            }
            Operator::Flag => Ok(()),
        }
    }
}

impl Expr {
    /// Binding strength: `or` < `and` < `not` < a test.
    fn precedence(&self) -> u8 {
        match self {
            Expr::Or(_) => 1,
            Expr::And(_) => 2,
            Expr::Not(_) => 3,
            Expr::Test(_) => 4,
        }
    }

    fn write_operand(&self, formatter: &mut fmt::Formatter<'_>, minimum: u8) -> fmt::Result {
        if self.precedence() < minimum {
            write!(formatter, "({self})")
        } else {
            write!(formatter, "{self}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Or(alternatives) => {
                for (position, alternative) in alternatives.iter().enumerate() {
                    if position > 0 {
                        formatter.write_str(" or ")?;
                    }
                    alternative.write_operand(formatter, 1)?;
                }
                Ok(())
            }
            Expr::And(conditions) => {
                for (position, condition) in conditions.iter().enumerate() {
                    if position > 0 {
                        formatter.write_str(" and ")?;
                    }
                    condition.write_operand(formatter, 2)?;
                }
                Ok(())
            }
            Expr::Not(inner) => {
                formatter.write_str("not ")?;
                inner.write_operand(formatter, 3)
            }
            Expr::Test(test) => write!(formatter, "{test}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_finite_decimals() {
        assert_eq!(parse_number("10_000"), Some(10_000.0));
        assert_eq!(parse_number("-0.72"), Some(-0.72));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("5g"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("-"), None);
        assert_eq!(parse_number("1e999"), None);
    }

    #[test]
    fn values_are_quoted_only_when_needed() {
        let shown = |text: &str| Value::new(text, 1).to_string();
        assert_eq!(shown("Outage"), "outage");
        assert_eq!(shown("customer-service"), "customer-service");
        assert_eq!(shown("and"), "\"and\"");
        assert_eq!(shown("two words"), "\"two words\"");
        assert_eq!(shown("say \"hi\" \\o/"), r#""say \"hi\" \\o/""#);
        assert_eq!(shown(""), "\"\"");
    }

    #[test]
    fn lowercases_character_by_character() {
        assert_eq!(lowercase("ÉTÉ Σ"), "été σ");
    }
}
