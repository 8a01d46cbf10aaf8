//! Checking a parsed rule against the configured fields: unknown field names, values
//! outside a closed set (sentiments, sources, brands, an axis's categories) and operators
//! that do not suit the field. Every problem is reported, each with its column.

use collector::SourceKind;
use nlp::SentimentLabel;

use super::FieldSet;
use super::ast::{Expr, Field, FieldKind, Operator, Test, Value};
use super::{BUILTIN_FIELDS, UPCOMING_FIELDS};

impl Expr {
    pub(crate) fn check_fields(&self, known: &FieldSet, problems: &mut Vec<String>) {
        match self {
            Expr::Or(operands) | Expr::And(operands) => {
                for operand in operands {
                    operand.check_fields(known, problems);
                }
            }
            Expr::Not(inner) => inner.check_fields(known, problems),
            Expr::Test(test) => test.check_fields(known, problems),
        }
    }
}

/// Writes a list of names for a message: `a, b, c`, or `none` when empty.
fn listing<'name>(names: impl Iterator<Item = &'name str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

impl Test {
    fn values(&self) -> &[Value] {
        match &self.operator {
            Operator::Equal(value) | Operator::NotEqual(value) => std::slice::from_ref(value),
            Operator::In(values) => values,
            Operator::Compare(..) | Operator::Flag => &[],
        }
    }

    fn check_fields(&self, known: &FieldSet, problems: &mut Vec<String>) {
        let column = self.field_column;
        if let Field::Axis(axis) = &self.field
            && known.categories(axis).is_none()
        {
            if UPCOMING_FIELDS.contains(&axis.as_str()) {
                problems.push(format!(
                    "field `{axis}` at column {column} is not available yet"
                ));
            } else {
                problems.push(format!(
                    "unknown field `{axis}` at column {column} (fields: {})",
                    listing(
                        BUILTIN_FIELDS
                            .iter()
                            .copied()
                            .chain(known.axes.iter().map(|(axis, _)| axis.as_str()))
                    )
                ));
            }
            return;
        }
        self.check_operator(problems);
        for value in self.values() {
            self.check_value(value, known, problems);
        }
    }

    /// The operator must suit the field's kind.
    fn check_operator(&self, problems: &mut Vec<String>) {
        let name = self.field.name();
        let kind = self.field.kind();
        match &self.operator {
            Operator::Compare(comparison, _) if kind != FieldKind::Number => {
                problems.push(format!(
                    "`{}` at column {} compares numbers, but `{name}` is not numeric \
                     (numeric fields: score, followers)",
                    comparison.symbol(),
                    self.operator_column
                ));
            }
            Operator::Flag => {
                let example = match self.field {
                    Field::Sentiment => "sentiment = negative",
                    Field::Score => "score < 0",
                    Field::Source => "source = x",
                    _ => return,
                };
                problems.push(format!(
                    "`{name}` at column {} needs a comparison, e.g. `{example}`",
                    self.field_column
                ));
            }
            _ => {}
        }
    }

    /// The value must be a number for a numeric field, and belong to a closed set.
    fn check_value(&self, value: &Value, known: &FieldSet, problems: &mut Vec<String>) {
        let name = self.field.name();
        let column = value.column;
        let text = value.text.as_str();
        match &self.field {
            Field::Score | Field::Followers => {
                if value.number.is_none() {
                    problems.push(format!(
                        "`{value}` at column {column} is not a number, but `{name}` is numeric"
                    ));
                }
            }
            Field::Sentiment => {
                if SentimentLabel::parse(text).is_none() {
                    problems.push(format!(
                        "unknown sentiment `{value}` at column {column} \
                         (expected negative, neutral or positive)"
                    ));
                }
            }
            Field::Source => {
                if SourceKind::parse(text).is_none() {
                    problems.push(format!(
                        "unknown source `{value}` at column {column} (sources: {})",
                        listing(SourceKind::ALL.iter().map(|kind| kind.as_str()))
                    ));
                }
            }
            Field::Brand | Field::Connector | Field::Maven => {
                let closed = !known.brands.is_empty();
                if closed && !known.brands.iter().any(|brand| brand == text) {
                    problems.push(format!(
                        "unknown brand `{value}` at column {column} (brands: {})",
                        listing(known.brands.iter().map(String::as_str))
                    ));
                }
            }
            Field::Axis(axis) => {
                let categories = known.categories(axis).unwrap_or(&[]);
                if !categories.iter().any(|category| category == text) {
                    problems.push(format!(
                        "unknown category `{value}` for axis `{axis}` at column {column} \
                         (categories: {})",
                        listing(categories.iter().map(String::as_str))
                    ));
                }
            }
            Field::Language | Field::Intent | Field::Badge => {}
            Field::Words => {
                if text.trim().is_empty() {
                    problems.push(format!(
                        "`words` at column {column} needs a word, not an empty text"
                    ));
                }
            }
        }
    }
}
