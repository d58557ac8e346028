//! [`JsonText`]: a JSON document as text, bound and read the same way on both backends: TEXT
//! on SQLite, JSONB on PostgreSQL. (sqlx's own `Json` type needs its `json` feature for SQLite;
//! this keeps the shared SQL free of dialect casts and lets a bad stored document surface as
//! [`StoreError::Corrupt`] with the column named.)

use super::{Result, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::types::Json;
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

/// The version byte in front of PostgreSQL's binary JSONB format.
const JSONB_VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonText(pub String);

impl JsonText {
    /// Encode a value for a JSON column.
    pub(crate) fn of<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<Self> {
        serde_json::to_string(value)
            .map(JsonText)
            .map_err(|e| StoreError::Database(format!("cannot encode {what} as JSON: {e}")))
    }

    /// Parse the stored document; anything unreadable is corrupt data, named by `what`.
    pub(crate) fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        // serde's message quotes the offending value (stored words): only its place is kept.
        serde_json::from_str(&self.0).map_err(|e| {
            StoreError::Corrupt(format!(
                "{what} is not valid ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })
    }
}

impl Type<Sqlite> for JsonText {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for JsonText {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> std::result::Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Sqlite> for JsonText {
    fn decode(value: SqliteValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        <String as Decode<'r, Sqlite>>::decode(value).map(JsonText)
    }
}

impl Type<Postgres> for JsonText {
    fn type_info() -> PgTypeInfo {
        <Json<()> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <Json<()> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for JsonText {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> std::result::Result<IsNull, BoxDynError> {
        buf.push(JSONB_VERSION);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

impl<'r> Decode<'r, Postgres> for JsonText {
    fn decode(value: PgValueRef<'r>) -> std::result::Result<Self, BoxDynError> {
        let binary = value.format() == PgValueFormat::Binary;
        let mut bytes = value.as_bytes()?;
        // JSON text never starts with byte 1, so the version byte is unambiguous.
        if binary && bytes.first() == Some(&JSONB_VERSION) {
            bytes = &bytes[1..];
        }
        Ok(JsonText(std::str::from_utf8(bytes)?.to_string()))
    }
}
