//! The lexer of the formula language: characters to tokens, each token keeping its character offset.

use crate::error::{Error, ParseError, Result};

/// What a token is. Identifiers and numbers keep their text; the parser decides what they mean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Ident(String),
    /// A number literal; `int` is true when it is written with digits only, as integer
    /// parameters (`Pow(x, 2)`, `[2,3]`) must be.
    Number {
        text: String,
        int: bool,
    },
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Plus,
    Minus,
    Star,
    StarStar,
    Slash,
    Bar,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    EqEq,
    NotEq,
    Assign,
    End,
}

/// A token and the offset, in characters, of its first character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub pos: usize,
}

impl Kind {
    /// The spelling of an operator or bracket token, `None` for names, numbers and the end.
    pub fn symbol(&self) -> Option<&'static str> {
        Some(match self {
            Kind::Ident(_) | Kind::Number { .. } | Kind::End => return None,
            Kind::LParen => "(",
            Kind::RParen => ")",
            Kind::LBracket => "[",
            Kind::RBracket => "]",
            Kind::Comma => ",",
            Kind::Plus => "+",
            Kind::Minus => "-",
            Kind::Star => "*",
            Kind::StarStar => "**",
            Kind::Slash => "/",
            Kind::Bar => "|",
            Kind::Less => "<",
            Kind::LessEq => "<=",
            Kind::Greater => ">",
            Kind::GreaterEq => ">=",
            Kind::EqEq => "==",
            Kind::NotEq => "!=",
            Kind::Assign => "=",
        })
    }

    /// How an error message names the token.
    pub fn describe(&self) -> String {
        match self {
            Kind::Ident(text) | Kind::Number { text, .. } => format!("`{text}`"),
            Kind::End => "the end of the text".to_string(),
            other => format!("`{}`", other.symbol().unwrap_or_default()),
        }
    }
}

/// True for the characters that may start a name: letters (any script) and `_`.
pub(crate) fn starts_ident(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

/// True for the characters that may continue a name.
pub(crate) fn continues_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits `src` into tokens, always ending with [`Kind::End`] at the offset just past the text.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        if c.is_whitespace() {
            k += 1;
            continue;
        }
        let pos = k;
        let next = chars.get(k + 1).copied();
        let (kind, len) = if starts_ident(c) {
            let len = chars[k..].iter().take_while(|&&c| continues_ident(c)).count();
            (Kind::Ident(chars[k..k + len].iter().collect()), len)
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|d| d.is_ascii_digit())) {
            number(&chars[k..])
        } else {
            match (c, next) {
                ('*', Some('*')) => (Kind::StarStar, 2),
                ('<', Some('=')) => (Kind::LessEq, 2),
                ('>', Some('=')) => (Kind::GreaterEq, 2),
                ('=', Some('=')) => (Kind::EqEq, 2),
                ('!', Some('=')) => (Kind::NotEq, 2),
                ('(', _) => (Kind::LParen, 1),
                (')', _) => (Kind::RParen, 1),
                ('[', _) => (Kind::LBracket, 1),
                (']', _) => (Kind::RBracket, 1),
                (',', _) => (Kind::Comma, 1),
                ('+', _) => (Kind::Plus, 1),
                ('-', _) => (Kind::Minus, 1),
                ('*', _) => (Kind::Star, 1),
                ('/', _) => (Kind::Slash, 1),
                ('|', _) => (Kind::Bar, 1),
                ('<', _) => (Kind::Less, 1),
                ('>', _) => (Kind::Greater, 1),
                ('=', _) => (Kind::Assign, 1),
                _ => {
                    let msg = format!("unexpected character {}", c.escape_debug());
                    return Err(Error::Parse(ParseError::at(src, pos, msg)));
                }
            }
        };
        tokens.push(Token { kind, pos });
        k += len;
    }
    tokens.push(Token { kind: Kind::End, pos: chars.len() });
    Ok(tokens)
}

/// Reads a number literal at the start of `chars`: `12`, `0.5`, `.5`, `1.`, `1e-3`, `2.5E+10`.
/// An `e` not followed by digits is left for the next token, so that `2e` reads as `2` then `e`.
fn number(chars: &[char]) -> (Kind, usize) {
    let digits = |from: usize| chars[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut len = digits(0);
    let mut int = true;
    if chars.get(len) == Some(&'.') {
        int = false;
        len += 1;
        len += digits(len);
    }
    if matches!(chars.get(len), Some('e' | 'E')) {
        let sign = usize::from(matches!(chars.get(len + 1), Some('+' | '-')));
        let exponent = digits(len + 1 + sign);
        if exponent > 0 {
            int = false;
            len += 1 + sign + exponent;
        }
    }
    (Kind::Number { text: chars[..len].iter().collect(), int }, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Kind> {
        lex(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn numbers_and_operators() {
        let num = |t: &str, int| Kind::Number { text: t.into(), int };
        assert_eq!(
            kinds("1 .5 2.e3 7e x**-2"),
            vec![
                num("1", true),
                num(".5", false),
                num("2.e3", false),
                num("7", true),
                Kind::Ident("e".into()),
                Kind::Ident("x".into()),
                Kind::StarStar,
                Kind::Minus,
                num("2", true),
                Kind::End
            ]
        );
        assert_eq!(kinds("a<=b!=c"), kinds("a <= b != c"));
    }

    #[test]
    fn offsets_count_characters() {
        let toks = lex("σ + é").unwrap();
        assert_eq!(toks.iter().map(|t| t.pos).collect::<Vec<_>>(), vec![0, 2, 4, 5]);
        let err = lex("x\0").unwrap_err().to_string();
        assert!(err.starts_with("column 2: unexpected character \\0"), "{err}");
    }
}
