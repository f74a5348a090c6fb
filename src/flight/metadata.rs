//! What ADBC and JDBC clients ask when they connect: the server's SQL
//! info, its catalogs, schemas, tables (with their Arrow schemas) and
//! table types.
//!
//! There is one table, the dataset (its [name](crate::Dataset::name)),
//! listed in the catalog `pqc` and the schema `main` so that tools which
//! browse catalogs find it; SQL names it alone (`FROM sales`).

use arrow_array::RecordBatch;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTableTypes, CommandGetTables, SqlInfo,
    SqlNullOrdering, SqlSupportedCaseSensitivity, SqlSupportedTransaction, SupportedSqlGrammar,
};
use tonic::Status;

use super::statement::hydrated;
use crate::Dataset;

/// The catalog the dataset is listed in.
pub(super) const CATALOG: &str = "pqc";
/// The schema the dataset is listed in.
pub(super) const SCHEMA: &str = "main";
/// The dataset's table type.
const TABLE_TYPE: &str = "TABLE";

/// The answers to `GetSqlInfo`: what the server is and what its SQL does.
pub(super) fn sql_info() -> Result<SqlInfoData, Status> {
    let mut info = SqlInfoDataBuilder::new();
    info.append(SqlInfo::FlightSqlServerName, "polars-query-cache");
    info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow format version of `Schema.fbs`.
    info.append(SqlInfo::FlightSqlServerArrowVersion, "1.5");
    info.append(SqlInfo::FlightSqlServerReadOnly, true);
    info.append(SqlInfo::FlightSqlServerSql, true);
    info.append(SqlInfo::FlightSqlServerSubstrait, false);
    info.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    info.append(SqlInfo::FlightSqlServerCancel, false);
    info.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    info.append(SqlInfo::SqlDdlCatalog, false);
    info.append(SqlInfo::SqlDdlSchema, false);
    info.append(SqlInfo::SqlDdlTable, false);
    info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    info.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityUnknown as i32,
    );
    info.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityUnknown as i32,
    );
    info.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedAtEnd as i32,
    );
    info.append(
        SqlInfo::SqlSupportedGrammar,
        SupportedSqlGrammar::SqlMinimumGrammar as i32,
    );
    info.append(SqlInfo::SqlTransactionsSupported, false);
    info.build().map_err(arrow_error)
}

/// `GetCatalogs`: the one catalog.
pub(super) fn catalogs(command: CommandGetCatalogs) -> Result<RecordBatch, Status> {
    let mut builder = command.into_builder();
    builder.append(CATALOG);
    builder.build().map_err(arrow_error)
}

/// `GetDbSchemas`: the one schema, when the filters match it.
pub(super) fn schemas(command: CommandGetDbSchemas) -> Result<RecordBatch, Status> {
    bounded_pattern(command.db_schema_filter_pattern.as_deref())?;
    let mut builder = command.into_builder();
    builder.append(CATALOG, SCHEMA);
    builder.build().map_err(arrow_error)
}

/// `GetTables`: the dataset, when the filters match it, with its Arrow
/// schema (as `DoGet` sends answers: categoricals as their values) when
/// asked.
pub(super) fn tables(
    mut command: CommandGetTables,
    dataset: &Dataset,
) -> Result<RecordBatch, Status> {
    bounded_pattern(command.db_schema_filter_pattern.as_deref())?;
    bounded_pattern(command.table_name_filter_pattern.as_deref())?;
    command.table_types.sort_unstable();
    command.table_types.dedup();
    if command.table_types.len() > MAX_LISTED {
        return Err(Status::invalid_argument(format!(
            "{} table types asked for; at most {MAX_LISTED} (this server has one: {TABLE_TYPE})",
            command.table_types.len()
        )));
    }
    let mut builder = command.into_builder();
    let schema = crate::frame::arrow_schema_of(dataset.schema_frame())
        .map_err(|e| super::status::internal(&e.to_string()))?;
    builder
        .append(
            CATALOG,
            SCHEMA,
            dataset.name(),
            TABLE_TYPE,
            &hydrated(&schema),
        )
        .map_err(arrow_error)?;
    builder.build().map_err(arrow_error)
}

/// `GetTableTypes`: tables only.
pub(super) fn table_types(command: CommandGetTableTypes) -> Result<RecordBatch, Status> {
    let mut builder = command.into_builder();
    builder.append(TABLE_TYPE);
    builder.build().map_err(arrow_error)
}

/// The most ids or names a metadata filter may list (after duplicates are
/// dropped): a client's filter costs arrow-flight a kernel call per entry.
pub(super) const MAX_LISTED: usize = 1024;

/// The longest `LIKE` pattern a filter may be: each is compiled into a
/// regular expression.
const MAX_PATTERN_BYTES: usize = 1024;

fn bounded_pattern(pattern: Option<&str>) -> Result<(), Status> {
    match pattern {
        Some(p) if p.len() > MAX_PATTERN_BYTES => Err(Status::invalid_argument(format!(
            "a filter pattern of {} bytes; at most {MAX_PATTERN_BYTES}",
            p.len()
        ))),
        _ => Ok(()),
    }
}

/// An error building a listing: the server's fault.
fn arrow_error(error: impl std::fmt::Display) -> Status {
    super::status::internal(&error.to_string())
}
