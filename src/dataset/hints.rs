//! What a load probably got wrong, said with the option that fixes it.
//!
//! R and pandas write missing values as `NA` (and friends); Polars, like
//! DuckDB, reads only empty fields as null, so a column of delays with `NA`
//! in it loads as text and no sum or range applies to it. The data is not
//! changed behind the user's back (`NA` is also North America): the hint
//! names the column and the option.

use polars::prelude::*;

/// Text that stands for a missing value in files other tools wrote.
const NULL_TOKENS: [&str; 9] = [
    "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A",
];

/// How many values of each column are looked at.
const SAMPLE_ROWS: usize = 10_000;

/// One hint for each text column whose values, but for null tokens, are
/// all numbers: the column and the `--null-value` that reads it as numbers.
pub(super) fn null_token_hints(frame: &DataFrame, null_values: &[String]) -> Vec<String> {
    frame
        .columns()
        .iter()
        .filter(|c| c.dtype().is_string() || c.dtype().is_categorical())
        .filter_map(|c| {
            let tokens = numbers_but_for(c, null_values)?;
            let flags: Vec<String> = tokens.iter().map(|t| format!("--null-value {t}")).collect();
            Some(format!(
                "column `{}` holds numbers and {}: it was read as text; load it with {} \
                 (LoadOptions::with_null_values) to read those as null",
                crate::error::excerpt(c.name()),
                tokens
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(" and "),
                flags.join(" ")
            ))
        })
        .collect()
}

/// The null tokens among the first values of `column` when every other
/// value there is a number (and there is at least one number).
fn numbers_but_for(column: &Column, null_values: &[String]) -> Option<Vec<&'static str>> {
    let head = column
        .as_materialized_series()
        .drop_nulls()
        .head(Some(SAMPLE_ROWS))
        .cast(&DataType::String)
        .ok()?;
    let numbers = head.cast(&DataType::Float64).ok()?;
    let text = head.str().ok()?;
    let mut tokens: Vec<&'static str> = Vec::new();
    let mut parsed = 0usize;
    for (value, number) in text.iter().zip(numbers.f64().ok()?.iter()) {
        match (value, number) {
            (_, Some(_)) => parsed += 1,
            (Some(value), None) => {
                let token = NULL_TOKENS.iter().find(|t| **t == value.trim())?;
                if !tokens.contains(token) && !null_values.iter().any(|n| n == token) {
                    tokens.push(token);
                }
            }
            (None, None) => {}
        }
    }
    (parsed > 0 && !tokens.is_empty()).then_some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_na_get_a_hint_text_does_not() {
        let frame = df!(
            "delay" => ["3", "NA", "-2.5", "NA"],
            "region" => ["NA", "EU", "NA", "APAC"],
            "all_na" => ["NA", "NA", "NA", "NA"],
            "plain" => ["1", "2", "3", "4"],
        )
        .unwrap();
        let hints = null_token_hints(&frame, &[]);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(
            hints[0].contains("`delay`") && hints[0].contains("--null-value NA"),
            "{hints:?}"
        );
    }
}
