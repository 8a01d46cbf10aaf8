//! Lexer of the rule language: turns the text of a `when` condition into [`Token`]s, each
//! with the 1-based column (in characters) where it starts.
//!
//! Words are runs of letters, digits and `_ - . @ # +`; whether a word is a keyword (`and`,
//! `or`, `not`, `in`), a field, a value or a number is decided by the parser. Quoted strings
//! use `"` or `'` and know the escapes `\\`, `\"` and `\'`. The token list always ends with
//! [`TokenKind::End`], so the parser can always look one token ahead.

use super::RuleError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A bare word: keyword, field name, value or number, as written.
    Word(String),
    /// A quoted string, unescaped.
    Quoted(String),
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    /// 1-based column, in characters, of the token's first character.
    pub(crate) column: usize,
}

/// Characters that may appear in a bare word.
pub(crate) fn is_word_char(character: char) -> bool {
    character.is_alphanumeric() || matches!(character, '_' | '-' | '.' | '@' | '#' | '+')
}

/// Splits `source` into tokens, or reports the first character that cannot start one.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, RuleError> {
    let characters: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let column = index + 1;
        if character.is_whitespace() {
            index += 1;
            continue;
        }
        let next = characters.get(index + 1).copied();
        let (kind, width) = match character {
            '(' => (TokenKind::LeftParen, 1),
            ')' => (TokenKind::RightParen, 1),
            '[' => (TokenKind::LeftBracket, 1),
            ']' => (TokenKind::RightBracket, 1),
            ',' => (TokenKind::Comma, 1),
            '=' if next == Some('=') => {
                return Err(RuleError::new(column, "`==` is not an operator, write `=`"));
            }
            '=' => (TokenKind::Equal, 1),
            '!' if next == Some('=') => (TokenKind::NotEqual, 2),
            '!' => {
                return Err(RuleError::new(
                    column,
                    "unexpected character `!` (write `!=` to compare, or `not` to negate)",
                ));
            }
            '<' if next == Some('=') => (TokenKind::LessOrEqual, 2),
            '<' => (TokenKind::Less, 1),
            '>' if next == Some('=') => (TokenKind::GreaterOrEqual, 2),
            '>' => (TokenKind::Greater, 1),
            '"' | '\'' => {
                let (text, width) = read_quoted(&characters, index)?;
                (TokenKind::Quoted(text), width)
            }
            _ if is_word_char(character) => {
                let word: String = characters[index..]
                    .iter()
                    .take_while(|candidate| is_word_char(**candidate))
                    .collect();
                let width = word.chars().count();
                (TokenKind::Word(word), width)
            }
            _ => {
                return Err(RuleError::new(
                    column,
                    format!("unexpected character `{character}`"),
                ));
            }
        };
        tokens.push(Token { kind, column });
        index += width;
    }
    tokens.push(Token {
        kind: TokenKind::End,
        column: characters.len() + 1,
    });
    Ok(tokens)
}

/// Reads the string whose opening quote is at `start`; returns its text and its width in
/// characters, quotes included.
fn read_quoted(characters: &[char], start: usize) -> Result<(String, usize), RuleError> {
    let quote = characters[start];
    let mut text = String::new();
    let mut index = start + 1;
    loop {
        let Some(&character) = characters.get(index) else {
            return Err(RuleError::new(
                start + 1,
                format!("unterminated string: the {quote} here is never closed"),
            ));
        };
        if character == quote {
            return Ok((text, index + 1 - start));
        }
        if character == '\\' {
            match characters.get(index + 1) {
                Some(escaped @ ('\\' | '"' | '\'')) => {
                    text.push(*escaped);
                    index += 2;
                }
                Some(other) => {
                    return Err(RuleError::new(
                        index + 1,
                        format!("unknown escape `\\{other}` (only \\\\, \\\" and \\' are known)"),
                    ));
                }
                // A backslash at the very end: the next turn reports the unterminated string.
                None => index += 1,
            }
            continue;
        }
        text.push(character);
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .expect("valid tokens")
            .into_iter()
            .map(|token| token.kind)
            .collect()
    }

    fn word(text: &str) -> TokenKind {
        TokenKind::Word(text.to_owned())
    }

    #[test]
    fn splits_operators_words_and_punctuation() {
        assert_eq!(
            kinds("topic in [a, b-c] and score<=-0.5"),
            vec![
                word("topic"),
                word("in"),
                TokenKind::LeftBracket,
                word("a"),
                TokenKind::Comma,
                word("b-c"),
                TokenKind::RightBracket,
                word("and"),
                word("score"),
                TokenKind::LessOrEqual,
                word("-0.5"),
                TokenKind::End,
            ]
        );
        assert_eq!(
            kinds("a!=b>=c<d>e=f"),
            vec![
                word("a"),
                TokenKind::NotEqual,
                word("b"),
                TokenKind::GreaterOrEqual,
                word("c"),
                TokenKind::Less,
                word("d"),
                TokenKind::Greater,
                word("e"),
                TokenKind::Equal,
                word("f"),
                TokenKind::End,
            ]
        );
    }

    #[test]
    fn records_columns_in_characters() {
        let tokens = tokenize("é = 'x y'  )").expect("valid tokens");
        let columns: Vec<usize> = tokens.iter().map(|token| token.column).collect();
        assert_eq!(columns, vec![1, 3, 5, 12, 13]);
    }

    #[test]
    fn reads_quoted_strings_with_escapes() {
        assert_eq!(
            kinds(r#""say \"hi\"" 'it\'s' "a\\b""#),
            vec![
                TokenKind::Quoted("say \"hi\"".to_owned()),
                TokenKind::Quoted("it's".to_owned()),
                TokenKind::Quoted("a\\b".to_owned()),
                TokenKind::End,
            ]
        );
    }

    #[test]
    fn reports_bad_characters_with_their_column() {
        let error = tokenize("topic = $x").expect_err("bad character");
        assert_eq!(error.column, 9);
        assert!(error.message.contains("`$`"), "{error}");

        let error = tokenize("a == b").expect_err("double equal");
        assert_eq!(error.column, 3);

        let error = tokenize("not !a").expect_err("lone bang");
        assert_eq!(error.column, 5);
    }

    #[test]
    fn reports_unterminated_strings_and_bad_escapes() {
        let error = tokenize("brand = \"acme").expect_err("unterminated");
        assert_eq!(error.column, 9);
        assert!(error.message.contains("unterminated"), "{error}");

        let error = tokenize("brand = 'acme\\").expect_err("unterminated after backslash");
        assert!(error.message.contains("unterminated"), "{error}");

        let error = tokenize("brand = 'a\\nb'").expect_err("unknown escape");
        assert_eq!(error.column, 11);
    }
}
