//! Column encodings that differ between the backends, hidden behind types
//! that encode and decode on both, so query code can be written once.
//!
//! * [`DbUuid`]: native `uuid` on PostgreSQL; lower-case hyphenated TEXT on
//!   SQLite (sqlx would otherwise store a 16-byte BLOB there, unreadable in
//!   the sqlite3 shell).
//! * [`DbTime`]: native `timestamptz` on PostgreSQL; on SQLite fixed-width
//!   RFC 3339 UTC TEXT with six fractional digits. sqlx's own SQLite encoding
//!   drops trailing zero groups (".5" becomes ".500", whole seconds have no
//!   fraction), which happens to sort right only by accident of '+' < '.';
//!   fixed width makes text order and time order the same by construction.
//!   Both backends keep exactly microseconds, see [`storage_precision`].

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgRow, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteRow, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Row, Sqlite, Type};
use uuid::Uuid;
use uuid::fmt::Hyphenated;

use super::StoreError;

/// Truncates `t` to the precision both backends store: whole microseconds
/// (PostgreSQL's `timestamptz` resolution). Every timestamp is cut to this
/// before it is written, so what is read back is the same on either backend.
pub fn storage_precision(t: DateTime<Utc>) -> DateTime<Utc> {
    // Lowering the nanoseconds keeps the value valid (a leap second's
    // nanosecond field stays within its 1_000_000_000.. range), so `None`
    // cannot happen; returning `t` unchanged would still be harmless.
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// A UUID column value.
pub(crate) struct DbUuid(pub Uuid);

/// A timestamp column value; build with [`DbTime::new`] so it is truncated.
pub(crate) struct DbTime(pub DateTime<Utc>);

impl DbTime {
    pub(crate) fn new(t: DateTime<Utc>) -> Self {
        DbTime(storage_precision(t))
    }
}

// --- SQLite -----------------------------------------------------------------

impl Type<Sqlite> for DbUuid {
    fn type_info() -> SqliteTypeInfo {
        <Hyphenated as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <Hyphenated as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbUuid {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <Hyphenated as Encode<'q, Sqlite>>::encode(self.0.hyphenated(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbUuid {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbUuid(
            <Hyphenated as Decode<'r, Sqlite>>::decode(value)?.into_uuid(),
        ))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        // Also accepts what sqlx's own chrono decoding accepts (e.g. rows
        // written by hand with SQLite's datetime()), since decoding goes
        // through it.
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        // `Micros` always prints six digits; `true` prints "Z", not "+00:00".
        let text = storage_precision(self.0).to_rfc3339_opts(SecondsFormat::Micros, true);
        <String as Encode<'q, Sqlite>>::encode(text, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbTime(<DateTime<Utc> as Decode<'r, Sqlite>>::decode(
            value,
        )?))
    }
}

// --- PostgreSQL -------------------------------------------------------------

impl Type<Postgres> for DbUuid {
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Uuid as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbUuid {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Uuid as Encode<'_, Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbUuid {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbUuid(<Uuid as Decode<'r, Postgres>>::decode(value)?))
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // Truncating here, not leaving it to sqlx, gives the same result as
        // SQLite for instants before 2000 too (sqlx counts microseconds from
        // 2000-01-01, and integer division rounds those toward 2000).
        <DateTime<Utc> as Encode<'_, Postgres>>::encode(storage_precision(self.0), buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(DbTime(<DateTime<Utc> as Decode<'r, Postgres>>::decode(
            value,
        )?))
    }
}

// --- Reading rows on either backend -------------------------------------------

/// A column type both backends can decode.
pub(crate) trait Decodable:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Decodable for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// A row of either backend, so row-to-record code is written once.
pub(crate) trait StoreRow {
    fn column<T: Decodable>(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl StoreRow for SqliteRow {
    fn column<T: Decodable>(&self, name: &str) -> Result<T, sqlx::Error> {
        self.try_get(name)
    }
}

impl StoreRow for PgRow {
    fn column<T: Decodable>(&self, name: &str) -> Result<T, sqlx::Error> {
        self.try_get(name)
    }
}

/// Reads typed columns of one row of `table`, turning any decoding problem
/// into [`StoreError::Corrupt`] naming the table and column.
pub(crate) struct Cols<'a, R> {
    row: &'a R,
    table: &'static str,
}

impl<'a, R: StoreRow> Cols<'a, R> {
    pub(crate) fn new(row: &'a R, table: &'static str) -> Self {
        Cols { row, table }
    }

    fn corrupt(&self, column: &'static str, reason: String) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            column,
            reason,
        }
    }

    pub(crate) fn get<T: Decodable>(&self, column: &'static str) -> Result<T, StoreError> {
        self.row
            .column(column)
            .map_err(|e| self.corrupt(column, e.to_string()))
    }

    pub(crate) fn uuid(&self, column: &'static str) -> Result<Uuid, StoreError> {
        Ok(self.get::<DbUuid>(column)?.0)
    }

    pub(crate) fn opt_uuid(&self, column: &'static str) -> Result<Option<Uuid>, StoreError> {
        Ok(self.get::<Option<DbUuid>>(column)?.map(|u| u.0))
    }

    pub(crate) fn time(&self, column: &'static str) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.get::<DbTime>(column)?.0)
    }

    pub(crate) fn opt_time(
        &self,
        column: &'static str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.get::<Option<DbTime>>(column)?.map(|t| t.0))
    }

    /// A text column parsed into a domain value (an enum, an address...).
    pub(crate) fn parsed<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        let text: String = self.get(column)?;
        parse(&text).ok_or_else(|| self.corrupt(column, format!("unexpected value {text:?}")))
    }

    pub(crate) fn opt_parsed<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        match self.get::<Option<String>>(column)? {
            None => Ok(None),
            Some(text) => parse(&text)
                .map(Some)
                .ok_or_else(|| self.corrupt(column, format!("unexpected value {text:?}"))),
        }
    }

    /// An integer column stored as `S` (i32 for `integer`, i64 for `bigint`,
    /// which PostgreSQL keeps apart) converted to the domain's type `T`.
    pub(crate) fn int<S, T>(&self, column: &'static str) -> Result<T, StoreError>
    where
        S: Decodable + Copy + std::fmt::Display,
        T: TryFrom<S>,
    {
        let raw: S = self.get(column)?;
        T::try_from(raw).map_err(|_| self.corrupt(column, format!("out of range: {raw}")))
    }

    pub(crate) fn opt_int<S, T>(&self, column: &'static str) -> Result<Option<T>, StoreError>
    where
        S: Decodable + Copy + std::fmt::Display,
        T: TryFrom<S>,
    {
        match self.get::<Option<S>>(column)? {
            None => Ok(None),
            Some(raw) => T::try_from(raw)
                .map(Some)
                .map_err(|_| self.corrupt(column, format!("out of range: {raw}"))),
        }
    }
}
