//! A declared measure's number format: the small subset of d3-format specs
//! the page also reads (`assets/dashboard.js`, `numberFormat`), so the
//! server-drawn chart's axis and the page's table write numbers alike.
//!
//! A spec is an optional `$` (US dollars), an optional `,` (group
//! thousands), an optional `.N` precision (0 to 20; 6 when omitted, as in
//! d3) and a type: `f` (N decimals), `%` (times 100, N decimals, a percent
//! sign) or `d` (rounded to an integer, no precision). So `,.0f` writes
//! 1,235, `,.2f` 1,234.57, `$,.0f` $1,235, `.1%` 12.3% and `,d` 1,235.

use std::fmt;
use std::str::FromStr;

/// How numbers of a measure are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumberFormat {
    dollars: bool,
    grouped: bool,
    digits: usize,
    percent: bool,
}

/// A spec outside the subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownFormat;

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a number format is an optional `$`, an optional `,`, an optional `.N` \
             (0 to 20) and `f`, `%` or `d` (`d` takes no precision, `$` no `%`): \
             for example `$,.0f`, `,.2f`, `.1%` or `,d`",
        )
    }
}

impl FromStr for NumberFormat {
    type Err = UnknownFormat;

    fn from_str(spec: &str) -> Result<Self, UnknownFormat> {
        let (dollars, rest) = match spec.strip_prefix('$') {
            Some(rest) => (true, rest),
            None => (false, spec),
        };
        let (grouped, rest) = match rest.strip_prefix(',') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let (kind, rest) = match rest.char_indices().last() {
            Some((at, kind @ ('f' | 'd' | '%'))) => (kind, &rest[..at]),
            _ => return Err(UnknownFormat),
        };
        let precision = match rest.strip_prefix('.') {
            None if rest.is_empty() => None,
            Some(n) if (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()) => {
                Some(n.parse::<usize>().map_err(|_| UnknownFormat)?)
            }
            _ => return Err(UnknownFormat),
        };
        let digits = match (kind, precision) {
            ('d', Some(_)) => return Err(UnknownFormat),
            ('d', None) => 0,
            (_, precision) => precision.unwrap_or(6),
        };
        if digits > 20 || (dollars && kind == '%') {
            return Err(UnknownFormat);
        }
        Ok(NumberFormat {
            dollars,
            grouped,
            digits,
            percent: kind == '%',
        })
    }
}

impl NumberFormat {
    /// `value` written in this format. As d3, a number that rounds to zero
    /// has no minus sign.
    pub(crate) fn write(&self, value: f64) -> String {
        if !value.is_finite() {
            return value.to_string();
        }
        let value = if self.percent { value * 100.0 } else { value };
        let digits = format!("{:.*}", self.digits, value.abs());
        let negative = value < 0.0 && digits.bytes().any(|b| matches!(b, b'1'..=b'9'));
        let (whole, fraction) = match digits.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (digits.as_str(), None),
        };
        let mut out = String::with_capacity(digits.len() + 8);
        if negative {
            out.push('-');
        }
        if self.dollars {
            out.push('$');
        }
        for (i, digit) in whole.chars().enumerate() {
            if self.grouped && i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(digit);
        }
        if let Some(fraction) = fraction {
            out.push('.');
            out.push_str(fraction);
        }
        if self.percent {
            out.push('%');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(spec: &str, value: f64) -> String {
        spec.parse::<NumberFormat>().unwrap().write(value)
    }

    /// The examples the page's `numberFormat` documents, written alike.
    #[test]
    fn writes_the_specs_the_page_knows() {
        assert_eq!(write(",.0f", 1234.5678), "1,235");
        assert_eq!(write(",.2f", 1234.5678), "1,234.57");
        assert_eq!(write("$,.0f", 1234.5678), "$1,235");
        assert_eq!(write(".1%", 0.1234), "12.3%");
        assert_eq!(write(",d", 1234.5678), "1,235");
        assert_eq!(write("f", 1.5), "1.500000");
        assert_eq!(write(",.0f", 999.0), "999");
        assert_eq!(write(",.0f", 1_000_000.0), "1,000,000");
        assert_eq!(write("$,.2f", -1234.5), "-$1,234.50");
        assert_eq!(write(".0f", -0.2), "0");
        assert_eq!(write(".1%", -0.0001), "0.0%");
    }

    #[test]
    fn specs_outside_the_subset_are_refused() {
        for spec in [
            "", "f.2", ".2", "$.1%", ".2d", ".123f", ".21f", "x", ",,.0f", "$$f", ".f", "e", "%,",
            " .2f",
        ] {
            assert_eq!(spec.parse::<NumberFormat>(), Err(UnknownFormat), "{spec:?}");
        }
        assert!(".20f".parse::<NumberFormat>().is_ok());
    }
}
