//! "Ends on" dates typed into forms (an API token's end, a member's access
//! until): a calendar day, counted to the end of that day in UTC.

use time::{macros::format_description, Date, OffsetDateTime, Time};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndDateError {
    #[error("Enter the end date as a date, such as 2027-01-31.")]
    NotADate,
    #[error("The end date must be after today.")]
    NotAfterToday,
}

/// The moment access given "until `raw`" stops: the end of that day (UTC).
/// Empty means no end. The day must be after `today`.
pub fn parse(raw: &str, today: Date) -> Result<Option<OffsetDateTime>, EndDateError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let day = Date::parse(raw, format_description!("[year]-[month]-[day]")).map_err(|_| EndDateError::NotADate)?;
    if day <= today {
        return Err(EndDateError::NotAfterToday);
    }
    Ok(Some(day.with_time(Time::MIDNIGHT).assume_utc() + time::Duration::days(1)))
}

/// The day a form shows for an end moment (the inverse of `parse`).
pub fn form_value(until: Option<OffsetDateTime>) -> String {
    until.map(|t| (t - time::Duration::days(1)).date().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn an_end_day_lasts_to_its_end_and_must_be_in_the_future() {
        let today = date!(2026 - 11 - 24);
        assert_eq!(parse("", today), Ok(None));
        assert_eq!(parse(" 2026-11-25 ", today), Ok(Some(datetime!(2026-11-26 0:00 UTC))));
        assert_eq!(parse("2026-11-24", today), Err(EndDateError::NotAfterToday));
        assert_eq!(parse("25/11/2026", today), Err(EndDateError::NotADate));
        assert_eq!(form_value(Some(datetime!(2026-11-26 0:00 UTC))), "2026-11-25");
        assert_eq!(form_value(None), "");
    }
}
