//! SQL text to one `SELECT` statement's syntax tree, by `sqlparser`, with
//! every input bounded before the parser sees it.
//!
//! The parser counts its own recursion, but a chain of binary operators
//! (`a = 1 AND b = 2 AND ...`) is parsed in a loop into a tree as deep as
//! the chain is long, and walking or dropping that tree recurses once per
//! link. So the text's length, its nesting and its operators are counted
//! first, on the tokens, which costs no recursion at all.

use sqlparser::ast::{Spanned, Statement};
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::refuse::{invalid, unsupported};
use super::{MAX_DEPTH, MAX_OPERATORS, MAX_SQL_BYTES};
use crate::{Error, Result};

/// The parser's own recursion limit: a level of parentheses costs it two
/// or three.
const RECURSION_LIMIT: usize = 4 * MAX_DEPTH;

/// The one statement of `sql`, which must be a query.
pub(super) fn statement(sql: &str) -> Result<Box<sqlparser::ast::Query>> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(Error::SqlInvalid {
            message: format!(
                "the SQL text is {} bytes, more than the {MAX_SQL_BYTES} read; \
                 a query of this subset is a few hundred bytes",
                sql.len()
            ),
            line: 0,
            column: 0,
        });
    }
    // The generic dialect: standard SQL's quoting (`'text'`, `"name"`),
    // and every construct sqlparser knows, so that anything outside the
    // subset is parsed, named and refused rather than a syntax error.
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::SqlSyntax {
            message: e.message,
            line: e.location.line,
            column: e.location.column,
        })?;
    check_bounds(&tokens)?;
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| syntax_error(e, sql))?;
    if statements.len() > 1 {
        return Err(unsupported(
            "a second statement",
            statements[1].span(),
            "send one statement at a time",
        ));
    }
    match statements.pop() {
        Some(Statement::Query(query)) => Ok(query),
        Some(other) => {
            let text = other.to_string();
            let verb = text.split_whitespace().next().unwrap_or_default();
            Err(unsupported(
                &format!("the statement {verb}"),
                other.span(),
                "only SELECT queries are answered",
            ))
        }
        None => Err(Error::SqlInvalid {
            message: "no statement; write a SELECT query".to_owned(),
            line: 0,
            column: 0,
        }),
    }
}

/// Refuses parentheses nested deeper than [`MAX_DEPTH`] and more than
/// [`MAX_OPERATORS`] operators and keywords (brackets and braces count as
/// operators: the subset has none), before any parsing.
fn check_bounds(tokens: &[TokenWithSpan]) -> Result<()> {
    let mut depth = 0usize;
    let mut operators = 0usize;
    // The last token that was not white space: a sign right after `(` or
    // `,` belongs to a number of a list, not to a chain.
    let mut previous: Option<&Token> = None;
    for t in tokens {
        match &t.token {
            // Comments too.
            Token::Whitespace(_) => continue,
            Token::LParen => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(invalid(
                        format!(
                            "parentheses nest deeper than {MAX_DEPTH} levels; \
                             the supported subset never needs more than a few"
                        ),
                        t.span,
                    ));
                }
            }
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Minus | Token::Plus
                if matches!(previous, Some(Token::LParen | Token::Comma) | None) => {}
            Token::Word(w) if w.quote_style.is_some() || w.keyword == Keyword::NoKeyword => {}
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::Comma
            | Token::Period
            | Token::SemiColon
            | Token::EOF => {}
            _ => {
                operators += 1;
                if operators > MAX_OPERATORS {
                    return Err(invalid(
                        format!(
                            "more than {MAX_OPERATORS} operators and keywords; \
                             split the query or use IN lists"
                        ),
                        t.span,
                    ));
                }
            }
        }
        previous = Some(&t.token);
    }
    Ok(())
}

/// A parser error, its position taken out of its message (sqlparser
/// appends ` at Line: L, Column: C`); an error at the end of the text
/// (`found: EOF`), which sqlparser gives no position, placed there.
fn syntax_error(e: ParserError, sql: &str) -> Error {
    let message = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => {
            return Error::SqlInvalid {
                message: format!(
                    "the SQL nests deeper than the {RECURSION_LIMIT} levels read; \
                     the supported subset never needs more than a few"
                ),
                line: 0,
                column: 0,
            };
        }
    };
    const AT: &str = " at Line: ";
    let position = message.rfind(AT).and_then(|at| {
        let (line, column) = message[at + AT.len()..].split_once(", Column: ")?;
        Some((at, line.parse().ok()?, column.parse().ok()?))
    });
    match position {
        Some((at, line, column)) => Error::SqlSyntax {
            message: message[..at].to_owned(),
            line,
            column,
        },
        None if message.ends_with("found: EOF") => Error::SqlSyntax {
            message,
            line: sql.split('\n').count() as u64,
            column: sql.rsplit('\n').next().unwrap_or_default().chars().count() as u64 + 1,
        },
        None => Error::SqlSyntax {
            message,
            line: 0,
            column: 0,
        },
    }
}
