//! A position in a keyset-paginated list, as it travels in a page link.

use time::OffsetDateTime;
use uuid::Uuid;

/// The sort time and id of the last row shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cursor {
    pub at: OffsetDateTime,
    pub id: Uuid,
}

impl Cursor {
    /// `<microseconds since 1970>_<id without dashes>`: URL-safe, and exact
    /// to Postgres' microsecond timestamps.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.unix_timestamp_nanos() / 1000, self.id.simple())
    }

    pub fn parse(s: &str) -> Option<Cursor> {
        let (micros, id) = s.split_once('_')?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(micros.parse::<i128>().ok()?.checked_mul(1000)?).ok()?;
        Some(Cursor { at, id: Uuid::parse_str(id).ok()? })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn round_trips_to_the_microsecond() {
        let c = Cursor { at: datetime!(2026-11-23 12:34:56.123456 UTC), id: Uuid::new_v4() };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        let before_1970 = Cursor { at: datetime!(1969-12-31 23:59:59.5 UTC), id: Uuid::nil() };
        assert_eq!(Cursor::parse(&before_1970.encode()), Some(before_1970));
    }

    #[test]
    fn refuses_tampered_cursors() {
        let id = Uuid::nil().simple().to_string();
        for bad in [
            String::new(),
            "abc".into(),
            format!("12_{}", &id[1..]),
            format!("x_{id}"),
            format!("{}_{id}", i128::MAX),
            format!("99999999999999999999_{id}"),
        ] {
            assert_eq!(Cursor::parse(&bad), None, "{bad}");
        }
    }
}
