//! Small HTTP helpers shared by every area: rendering, cookies, safe
//! redirects, the client's address, paging and date formatting.

pub mod assets;
pub mod filters;
pub mod host;
pub mod serve;

use std::net::SocketAddr;

use askama::Template;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap, HeaderValue},
    response::{Html, IntoResponse, Response},
};
use time::OffsetDateTime;

use crate::{error::AppError, state::AppState};

pub fn render<T: Template>(page: &T) -> Result<Response, AppError> {
    Ok(Html(page.render()?).into_response())
}

/// The browser's note of the last page it opened in the panel (the "back"
/// link of error pages); cleared at sign-in and sign-out.
pub const LAST_PAGE_COOKIE: &str = "panel_last_page";

/// A `next=` target is followed only when it is a path on this site:
/// `/x` yes; `//evil`, `/\evil`, `https://evil` and anything odd, no.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.len() <= 2000
                && n.chars().all(|c| !c.is_control() && !c.is_whitespace()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Rows on one page of any list; queries fetch one more to learn whether
/// another page follows.
pub const PAGE_SIZE: i64 = 50;

/// Trims the extra row a page query fetched; the cursor of the next page
/// (from the page's last row) when there is one.
pub fn next_page<T, C>(rows: &mut Vec<T>, cursor: impl Fn(&T) -> C) -> Option<C> {
    if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(cursor)
    } else {
        None
    }
}

/// An ILIKE pattern matching `text` anywhere, with its wildcards taken
/// literally.
pub fn contains_pattern(text: &str) -> String {
    format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always (Strict would drop
/// the session when a user arrives from a mailed link), Secure over https.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe tokens")
}

/// The client's address: the peer's, or, with TRUST_X_FORWARDED_FOR set
/// (the panel behind a reverse proxy), the one the proxy appended last.
/// Rate limits and the audit log use it.
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_x_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok());
        let ip = match forwarded {
            Some(ip) => ip.to_string(),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        };
        Ok(ClientIp(ip))
    }
}

/// A time as pages and mails show it: "23 Nov 2026" or, with the time,
/// "23 Nov 2026, 14:05 UTC". A list shows a few hundred, so each is written
/// straight into the page, unescaped (see `HtmlSafe` below):
/// through `time`'s formatter and askama's escaping they were a seventh of
/// User Management's instructions (issue 17).
#[derive(Clone, Copy)]
pub struct Shown {
    at: OffsetDateTime,
    with_time: bool,
}

impl Shown {
    pub fn date(at: OffsetDateTime) -> Shown {
        Shown { at, with_time: false }
    }

    pub fn datetime(at: OffsetDateTime) -> Shown {
        Shown { at, with_time: true }
    }

    fn write_to(&self, out: &mut dyn std::fmt::Write) -> std::fmt::Result {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        let t = self.at;
        let month = MONTHS[usize::from(u8::from(t.month())) - 1];
        // Four digits from the buffer; any other year (never stored) as
        // `time` says it, still only digits and "-", whatever features a
        // dependency turns on in `time`.
        let year = match u16::try_from(t.year()) {
            Ok(year) if year <= 9999 => year,
            _ => {
                write!(out, "{:02} {month} {:05}", t.day(), t.year())?;
                return if self.with_time { write!(out, ", {:02}:{:02} UTC", t.hour(), t.minute()) } else { Ok(()) };
            }
        };
        let mut buf = [0u8; 22];
        let two = |b: &mut [u8], n: u8| {
            b[0] = b'0' + n / 10;
            b[1] = b'0' + n % 10;
        };
        two(&mut buf[0..2], t.day());
        buf[2] = b' ';
        buf[3..6].copy_from_slice(month.as_bytes());
        buf[6] = b' ';
        two(&mut buf[7..9], (year / 100) as u8);
        two(&mut buf[9..11], (year % 100) as u8);
        let len = if self.with_time {
            buf[11..13].copy_from_slice(b", ");
            two(&mut buf[13..15], t.hour());
            buf[15] = b':';
            two(&mut buf[16..18], t.minute());
            buf[18..22].copy_from_slice(b" UTC");
            22
        } else {
            11
        };
        out.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| std::fmt::Error)?)
    }
}

/// Display, and askama's unescaped fast path, for types whose `write_to`
/// writes no character HTML gives a meaning to (each type says why not).
macro_rules! written_unescaped {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.write_to(f)
            }
        }

        impl askama::FastWritable for $t {
            fn write_into(&self, dest: &mut dyn std::fmt::Write, _: &dyn askama::Values) -> askama::Result<()> {
                Ok(self.write_to(dest)?)
            }
        }

        impl askama::filters::HtmlSafe for $t {}
    )*};
}

/// An id in a page's links and forms (`{{ m.user_id|id }}`): written
/// unescaped, as a UUID is hex digits and hyphens only (issue 17: a list
/// writes two a row).
pub struct Id(pub uuid::Uuid);

impl Id {
    fn write_to(&self, out: &mut dyn std::fmt::Write) -> std::fmt::Result {
        out.write_str(self.0.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()))
    }
}

// Shown: digits, month names, "UTC", spaces, ",", ":" and "-" only.
// Id: hex digits and hyphens only.
written_unescaped!(Shown, Id);

pub fn date(t: &OffsetDateTime) -> String {
    Shown::date(*t).to_string()
}

pub fn datetime(t: &OffsetDateTime) -> String {
    Shown::datetime(*t).to_string()
}

#[cfg(test)]
mod tests {
    use time::{macros::format_description, Duration, OffsetDateTime};

    use super::{date, datetime};

    #[test]
    fn dates_read_as_time_formats_them_through_every_month_day_and_hour() {
        let mut t = OffsetDateTime::from_unix_timestamp(946_684_800).unwrap(); // 1 Jan 2000
        for _ in 0..2_000 {
            let day = t.format(format_description!("[day] [month repr:short] [year]")).unwrap();
            let full = t.format(format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC")).unwrap();
            assert_eq!(date(&t), day);
            assert_eq!(datetime(&t), full);
            t += Duration::minutes(6_007); // about four days, moving through the hours and minutes
        }
        for year in [-1, 5, 999, 9999] {
            let t = time::Date::from_calendar_date(year, time::Month::March, 7)
                .unwrap()
                .with_hms(9, 4, 0)
                .unwrap()
                .assume_utc();
            let full = t.format(format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC")).unwrap();
            assert_eq!(datetime(&t), full);
        }
    }
}
