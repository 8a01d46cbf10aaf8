//! Recursive-descent parser of the rule language: one function per grammar production
//! (see the grammar in [`super`]). Reports the first syntax error with the column of the
//! token where it was found and what was expected there.

use super::RuleError;
use super::ast::{Comparison, Expr, Field, KEYWORDS, Number, Operator, Test, Value, parse_number};
use super::lexer::{Token, TokenKind, tokenize};

/// How deep parentheses and `not` may nest: a guard against stack exhaustion.
pub(crate) const MAX_DEPTH: usize = 64;

/// Parses a whole rule.
pub(crate) fn parse_expr(source: &str) -> Result<Expr, RuleError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        position: 0,
        depth: 0,
    };
    if parser.peek().kind == TokenKind::End {
        return Err(RuleError::new(1, "the rule is empty: expected a condition"));
    }
    let expr = parser.or_expr("")?;
    let next = parser.peek();
    match &next.kind {
        TokenKind::End => Ok(expr),
        TokenKind::RightParen => Err(RuleError::new(
            next.column,
            "unexpected `)`: there is no `(` to close",
        )),
        _ => Err(RuleError::new(
            next.column,
            format!(
                "expected `and`, `or` or the end of the rule, found {}",
                describe(next)
            ),
        )),
    }
}

struct Parser {
    /// Always ends with [`TokenKind::End`].
    tokens: Vec<Token>,
    position: usize,
    depth: usize,
}

/// The keyword `token` spells, in any case.
fn keyword(token: &Token) -> Option<&'static str> {
    let TokenKind::Word(word) = &token.kind else {
        return None;
    };
    KEYWORDS
        .into_iter()
        .find(|candidate| word.eq_ignore_ascii_case(candidate))
}

/// How a token is named in error messages.
fn describe(token: &Token) -> String {
    match &token.kind {
        TokenKind::Word(word) => match keyword(token) {
            Some(keyword) => format!("the keyword `{keyword}`"),
            None => format!("`{word}`"),
        },
        TokenKind::Quoted(text) => format!("the string {text:?}"),
        TokenKind::LeftParen => "`(`".to_owned(),
        TokenKind::RightParen => "`)`".to_owned(),
        TokenKind::LeftBracket => "`[`".to_owned(),
        TokenKind::RightBracket => "`]`".to_owned(),
        TokenKind::Comma => "`,`".to_owned(),
        TokenKind::Equal => "`=`".to_owned(),
        TokenKind::NotEqual => "`!=`".to_owned(),
        TokenKind::Less => "`<`".to_owned(),
        TokenKind::LessOrEqual => "`<=`".to_owned(),
        TokenKind::Greater => "`>`".to_owned(),
        TokenKind::GreaterOrEqual => "`>=`".to_owned(),
        TokenKind::End => "the end of the rule".to_owned(),
    }
}

fn comparison_of(kind: &TokenKind) -> Option<Comparison> {
    match kind {
        TokenKind::Less => Some(Comparison::Less),
        TokenKind::LessOrEqual => Some(Comparison::LessOrEqual),
        TokenKind::Greater => Some(Comparison::Greater),
        TokenKind::GreaterOrEqual => Some(Comparison::GreaterOrEqual),
        _ => None,
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        // `End` is never consumed, so the position stays in bounds.
        &self.tokens[self.position.min(self.tokens.len() - 1)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::End {
            self.position += 1;
        }
        token
    }

    fn at_keyword(&self, wanted: &str) -> bool {
        keyword(self.peek()) == Some(wanted)
    }

    fn error_here(&self, expected: &str) -> RuleError {
        let found = self.peek();
        RuleError::new(
            found.column,
            format!("expected {expected}, found {}", describe(found)),
        )
    }

    fn enter(&mut self, column: usize) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::new(
                column,
                format!("the rule nests `(` or `not` more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    /// `or_expr = and_expr { "or" and_expr }`; `after` names what came before, for errors.
    fn or_expr(&mut self, after: &str) -> Result<Expr, RuleError> {
        let mut alternatives = vec![self.and_expr(after)?];
        while self.at_keyword("or") {
            self.advance();
            alternatives.push(self.and_expr("`or`")?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Expr::Or(alternatives)
        })
    }

    /// `and_expr = unary { "and" unary }`
    fn and_expr(&mut self, after: &str) -> Result<Expr, RuleError> {
        let mut conditions = vec![self.unary(after)?];
        while self.at_keyword("and") {
            self.advance();
            conditions.push(self.unary("`and`")?);
        }
        Ok(if conditions.len() == 1 {
            conditions.remove(0)
        } else {
            Expr::And(conditions)
        })
    }

    /// `unary = "not" unary | primary`
    fn unary(&mut self, after: &str) -> Result<Expr, RuleError> {
        if self.at_keyword("not") {
            let not = self.advance();
            self.enter(not.column)?;
            let inner = self.unary("`not`")?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.primary(after)
    }

    /// `primary = "(" or_expr ")" | comparison | flag`
    fn primary(&mut self, after: &str) -> Result<Expr, RuleError> {
        let expected = if after.is_empty() {
            "a condition".to_owned()
        } else {
            format!("a condition after {after}")
        };
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::LeftParen => {
                self.advance();
                self.enter(token.column)?;
                let inner = self.or_expr("`(`")?;
                if self.peek().kind != TokenKind::RightParen {
                    return Err(self
                        .error_here(&format!("`)` to close the `(` at column {}", token.column)));
                }
                self.advance();
                self.depth -= 1;
                Ok(inner)
            }
            TokenKind::Word(word) if keyword(&token).is_none() => {
                let starts_like_a_name = word
                    .chars()
                    .next()
                    .is_some_and(|first| first.is_alphabetic() || first == '_');
                if !starts_like_a_name {
                    return Err(self.error_here("a field name"));
                }
                self.advance();
                let field = Field::from_name(&super::ast::lowercase(word));
                self.comparison(field, token.column)
            }
            TokenKind::Quoted(_) => Err(RuleError::new(
                token.column,
                format!(
                    "expected a field name, found {} (field names are not quoted)",
                    describe(&token)
                ),
            )),
            _ => Err(self.error_here(&expected)),
        }
    }

    /// What follows a field name: `comparison` or nothing (a `flag`).
    fn comparison(&mut self, field: Field, field_column: usize) -> Result<Expr, RuleError> {
        let operator_token = self.peek().clone();
        let operator_column = operator_token.column;
        if let Some(comparison) = comparison_of(&operator_token.kind) {
            self.advance();
            let number = self.number(&describe(&operator_token))?;
            return Ok(Expr::Test(Test {
                field,
                field_column,
                operator: Operator::Compare(comparison, number),
                operator_column,
            }));
        }
        let operator = match &operator_token.kind {
            TokenKind::Equal => {
                self.advance();
                Operator::Equal(self.value("`=`")?)
            }
            TokenKind::NotEqual => {
                self.advance();
                Operator::NotEqual(self.value("`!=`")?)
            }
            _ if self.at_keyword("in") => {
                self.advance();
                Operator::In(self.list()?)
            }
            TokenKind::End | TokenKind::RightParen => Operator::Flag,
            _ if self.at_keyword("and") || self.at_keyword("or") => Operator::Flag,
            _ => {
                return Err(self.error_here(&format!(
                    "an operator (`=`, `!=`, `in`, `<`, `<=`, `>`, `>=`), `and`, `or` or \
                     the end of the rule after `{}`",
                    field.name()
                )));
            }
        };
        Ok(Expr::Test(Test {
            field,
            field_column,
            operator,
            operator_column,
        }))
    }

    /// `value = word | quoted string | number`
    fn value(&mut self, after: &str) -> Result<Value, RuleError> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::Word(word) if keyword(&token).is_none() => {
                self.advance();
                Ok(Value::new(word, token.column))
            }
            TokenKind::Quoted(text) => {
                self.advance();
                Ok(Value::new(text, token.column))
            }
            TokenKind::Word(_) => Err(RuleError::new(
                token.column,
                format!(
                    "expected a value after {after}, found {} (quote it to use it as a value)",
                    describe(&token)
                ),
            )),
            _ => Err(self.error_here(&format!("a value after {after}"))),
        }
    }

    /// The number after a comparison operator.
    fn number(&mut self, after: &str) -> Result<Number, RuleError> {
        let token = self.peek().clone();
        if let TokenKind::Word(word) = &token.kind
            && let Some(value) = parse_number(word)
        {
            self.advance();
            return Ok(Number {
                value,
                text: word.clone(),
            });
        }
        Err(self.error_here(&format!("a number after {after}")))
    }

    /// `"[" value { "," value } "]"`, after `in`.
    fn list(&mut self) -> Result<Vec<Value>, RuleError> {
        let open = self.peek().clone();
        if open.kind != TokenKind::LeftBracket {
            return Err(self.error_here("`[` after `in`"));
        }
        self.advance();
        let mut values = vec![self.value("`[`")?];
        loop {
            match self.peek().kind {
                TokenKind::Comma => {
                    self.advance();
                    values.push(self.value("`,`")?);
                }
                TokenKind::RightBracket => {
                    self.advance();
                    return Ok(values);
                }
                _ => {
                    return Err(self.error_here(&format!(
                        "`,` or `]` in the list opened at column {}",
                        open.column
                    )));
                }
            }
        }
    }
}
