//! The JSON form of a query, a contract shared by the CLI, the server and
//! the tests:
//!
//! ```json
//! {"filters": [{"column": "category", "op": "eq", "value": "Books"},
//!              {"column": "year", "op": "in", "value": [2023, 2024]}],
//!  "group_by": ["month"],
//!  "aggs": [{"fn": "sum", "column": "revenue", "alias": "total"}, {"fn": "len"}],
//!  "sort": [{"column": "total", "descending": true}],
//!  "limit": 10}
//! ```
//!
//! `filters` may also be an object, as dashboards send it: a scalar means
//! `eq`, an array means `in`. Unknown fields are errors, not ignored.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use super::{Agg, AggFn, Filter, Op, Predicate, Query, SortKey, Value};
use crate::Result;
use crate::error::excerpt;

impl Query {
    /// Reads a query from its JSON form.
    ///
    /// ```
    /// use polars_query_cache::Query;
    ///
    /// let q = Query::from_json(r#"{"filters": {"category": "Books", "year": [2023, 2024]},
    ///                              "group_by": ["month"], "aggs": [{"fn": "len"}]}"#)?;
    /// assert_eq!(q, Query::new().eq("category", "Books").is_in("year", [2023, 2024])
    ///                           .group_by(["month"]).len());
    /// assert!(Query::from_json(r#"{"aggs": [], "colour": "red"}"#).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(json: &str) -> Result<Query> {
        Ok(serde_json::from_str(json)?)
    }

    /// The query in its JSON form (filters as a list).
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and lists into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    #[serde(default)]
    filters: Option<Json>,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    aggs: Vec<RawAgg>,
    #[serde(default)]
    sort: Vec<SortKey>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawAgg {
    #[serde(rename = "fn")]
    func: AggFn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alias: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilter {
    column: String,
    op: Op,
    #[serde(default)]
    value: Option<Json>,
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Through a map: serde would otherwise also accept a struct written
        // as an array, and `[]` would be a (meaningless) query.
        let map = serde_json::Map::deserialize(deserializer)?;
        let raw: RawQuery = serde_json::from_value(Json::Object(map)).map_err(D::Error::custom)?;
        let filters = match raw.filters {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(items)) => items
                .into_iter()
                .map(|item| {
                    let raw: RawFilter = serde_json::from_value(item).map_err(D::Error::custom)?;
                    filter_from_raw(raw).map_err(D::Error::custom)
                })
                .collect::<Result<_, _>>()?,
            Some(Json::Object(map)) => map
                .into_iter()
                .map(|(column, value)| filter_from_shorthand(column, value))
                .collect::<Result<_, String>>()
                .map_err(D::Error::custom)?,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`filters` must be a list of filters or an object of column: value, not {}",
                    excerpt(&other.to_string())
                )));
            }
        };
        let aggs = raw
            .aggs
            .into_iter()
            .map(|a| Agg {
                func: a.func,
                column: a.column,
                alias: a.alias,
            })
            .collect();
        Ok(Query {
            filters,
            group_by: raw.group_by,
            aggs,
            sort: raw.sort,
            limit: raw.limit,
        })
    }
}

fn filter_from_raw(raw: RawFilter) -> Result<Filter, String> {
    let RawFilter { column, op, value } = raw;
    let value = value.filter(|v| !v.is_null());
    let needs = |what: &str| {
        format!(
            "filter `{}` on `{}` needs {what}",
            op.name(),
            excerpt(&column)
        )
    };
    let predicate = match (op, value) {
        (Op::IsNull, None) => Predicate::IsNull,
        (Op::IsNotNull, None) => Predicate::IsNotNull,
        (Op::IsNull | Op::IsNotNull, Some(_)) => {
            return Err(format!(
                "filter `{}` on `{}` takes no value",
                op.name(),
                excerpt(&column)
            ));
        }
        (_, None) => return Err(needs("a `value`")),
        (Op::In | Op::NotIn, Some(Json::Array(items))) => {
            let values = items
                .into_iter()
                .map(Value::from_json)
                .collect::<Result<Vec<_>, _>>()?;
            if op == Op::In {
                Predicate::In(values)
            } else {
                Predicate::NotIn(values)
            }
        }
        (Op::In | Op::NotIn, Some(_)) => return Err(needs("an array `value`")),
        (Op::Between, Some(Json::Array(items))) if items.len() == 2 => {
            let mut it = items.into_iter().map(Value::from_json);
            let low = it.next().ok_or_else(|| needs("[low, high]"))??;
            let high = it.next().ok_or_else(|| needs("[low, high]"))??;
            Predicate::Between(low, high)
        }
        (Op::Between, Some(_)) => return Err(needs("a `value` of the form [low, high]")),
        (Op::Eq, Some(value)) => Predicate::Eq(Value::from_json(value)?),
        (Op::Ne, Some(value)) => Predicate::Ne(Value::from_json(value)?),
        (Op::Lt, Some(value)) => Predicate::Lt(Value::from_json(value)?),
        (Op::Le, Some(value)) => Predicate::Le(Value::from_json(value)?),
        (Op::Gt, Some(value)) => Predicate::Gt(Value::from_json(value)?),
        (Op::Ge, Some(value)) => Predicate::Ge(Value::from_json(value)?),
    };
    Ok(Filter { column, predicate })
}

fn filter_from_shorthand(column: String, value: Json) -> Result<Filter, String> {
    let predicate = match value {
        Json::Array(items) => Predicate::In(
            items
                .into_iter()
                .map(Value::from_json)
                .collect::<Result<_, _>>()?,
        ),
        Json::Null => {
            let column = excerpt(&column);
            return Err(format!(
                "`{column}: null` is ambiguous; write {{\"column\": \"{column}\", \"op\": \"is_null\"}} \
                 in the list form, or leave the column out"
            ));
        }
        other => Predicate::Eq(Value::from_json(other)?),
    };
    Ok(Filter { column, predicate })
}

impl Value {
    /// A filter value from JSON: a boolean, a string, an integer that fits
    /// an `i64`, or a number with a fraction or exponent. The error says how
    /// to write the value instead (an integer above `i64::MAX` as text, say):
    /// no number is silently rounded.
    pub(crate) fn from_json(json: Json) -> Result<Value, String> {
        match json {
            Json::Bool(b) => Ok(Value::Bool(b)),
            Json::String(s) => Ok(Value::Str(s)),
            Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Value::Int(i)),
                (None, Some(f)) if n.is_f64() => Ok(Value::Float(f)),
                // Above i64::MAX: only a `UInt64` column holds such values, and
                // text names them exactly where a float would round them.
                _ => Err(format!(
                    "number {0} is out of range for a JSON integer; write it as text, \"{0}\", \
                     to compare it with a UInt64 column",
                    excerpt(&n.to_string())
                )),
            },
            Json::Null => Err("null is not a filter value; use the `is_null` op".to_owned()),
            other => Err(format!(
                "filter values are numbers, strings or booleans, not {}",
                excerpt(&other.to_string())
            )),
        }
    }
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Str(s) => Json::String(s.clone()),
    }
}

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let list = |values: &[Value]| Json::Array(values.iter().map(value_json).collect());
        let value = match &self.predicate {
            Predicate::Eq(v)
            | Predicate::Ne(v)
            | Predicate::Lt(v)
            | Predicate::Le(v)
            | Predicate::Gt(v)
            | Predicate::Ge(v) => Some(value_json(v)),
            Predicate::In(vs) | Predicate::NotIn(vs) => Some(list(vs)),
            Predicate::Between(low, high) => {
                Some(Json::Array(vec![value_json(low), value_json(high)]))
            }
            Predicate::IsNull | Predicate::IsNotNull => None,
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("column", &self.column)?;
        map.serialize_entry("op", &self.predicate.op())?;
        if let Some(value) = value {
            map.serialize_entry("value", &value)?;
        }
        map.end()
    }
}

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if !self.filters.is_empty() {
            map.serialize_entry("filters", &self.filters)?;
        }
        if !self.group_by.is_empty() {
            map.serialize_entry("group_by", &self.group_by)?;
        }
        let aggs: Vec<RawAgg> = self
            .aggs
            .iter()
            .map(|a| RawAgg {
                func: a.func,
                column: a.column.clone(),
                alias: a.alias.clone(),
            })
            .collect();
        map.serialize_entry("aggs", &aggs)?;
        if !self.sort.is_empty() {
            map.serialize_entry("sort", &self.sort)?;
        }
        if let Some(limit) = self.limit {
            map.serialize_entry("limit", &limit)?;
        }
        map.end()
    }
}
