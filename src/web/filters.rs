//! The template filters (askama finds them as `filters::<name>` beside each
//! template's struct): pages format dates and money through these, never by
//! calling into other modules.

use askama::Values;
use time::OffsetDateTime;

use crate::domain;

/// `{{ t|datetime }}`: "23 Nov 2026, 14:05 UTC".
#[askama::filter_fn]
pub fn datetime(t: &OffsetDateTime, _: &dyn Values) -> askama::Result<super::Shown> {
    Ok(super::Shown::datetime(*t))
}

/// `{{ t|date }}`: "23 Nov 2026".
#[askama::filter_fn]
pub fn date(t: &OffsetDateTime, _: &dyn Values) -> askama::Result<super::Shown> {
    Ok(super::Shown::date(*t))
}

/// `{{ m.user_id|id }}`: an id in a link or a form, written unescaped.
#[askama::filter_fn]
pub fn id(id: &uuid::Uuid, _: &dyn Values) -> askama::Result<super::Id> {
    Ok(super::Id(*id))
}

/// `{{ cents|money }}`: "$25.50".
#[askama::filter_fn]
pub fn money(cents: &i64, _: &dyn Values) -> askama::Result<String> {
    Ok(domain::money::format(*cents))
}

/// `{{ e.details|details }}`: an audit event's details as "key: value"
/// pairs, ids left out.
#[askama::filter_fn]
pub fn details(details: &serde_json::Value, _: &dyn Values) -> askama::Result<String> {
    Ok(details
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !k.ends_with("_id"))
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    format!("{}: {value}", k.replace('_', " "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default())
}
