//! Column references: a name as spelled, optionally qualified by the
//! table's name (`sales.year`).

use sqlparser::ast::{Expr, Ident, Spanned};

use super::literal::unparenthesized;
use super::refuse::unsupported;
use crate::error::excerpt;
use crate::{Error, Result};

/// The column `expr` names, `None` when it is not a column reference.
/// A name qualified by another table, or by more than a table, is an
/// error.
pub(super) fn column(expr: &Expr, table: &str) -> Result<Option<String>> {
    match unparenthesized(expr) {
        Expr::Identifier(ident) => Ok(Some(ident.value.clone())),
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [qualifier, name] => {
                check_table(qualifier, table)?;
                Ok(Some(name.value.clone()))
            }
            _ => Err(unsupported(
                &format!("the qualified name {}", excerpt(&expr.to_string())),
                expr.span(),
                &format!(
                    "name a column alone, or as {}.column",
                    excerpt(&super::render::ident(table))
                ),
            )),
        },
        _ => Ok(None),
    }
}

/// An error unless `name` names the dataset `table`.
pub(super) fn check_table(name: &Ident, table: &str) -> Result<()> {
    if name.value == table {
        return Ok(());
    }
    Err(Error::SqlUnknownTable {
        table: name.value.clone(),
        dataset: table.to_owned(),
        line: name.span.start.line,
        column: name.span.start.column,
    })
}
