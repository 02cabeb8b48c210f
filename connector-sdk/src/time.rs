//! Times as APIs write them: ISO 8601 (`2024-05-02T10:11:12.345Z`, with an offset, or a bare date),
//! epoch milliseconds, and the HTTP `Date` header (the server's clock, which a change feed can start
//! from instead of this machine's).

/// Epoch milliseconds as ISO 8601 UTC with milliseconds.
pub fn iso(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil(days);
    let secs = in_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        in_day % 1000
    )
}

/// A datetime HubSpot sent (ISO 8601 with a `Z` or an offset, a bare date, or epoch milliseconds) as
/// epoch milliseconds.
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if text.get(4..5) != Some("-")
        || text.get(7..8) != Some("-")
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
    {
        return None;
    }
    let date_ms = days_from_civil(year, month, day) * 86_400_000;
    if text.len() == 10 {
        return Some(date_ms);
    }
    if !matches!(text.get(10..11), Some("T" | "t" | " ")) || text.get(13..14) != Some(":") {
        return None;
    }
    let (hour, minute) = (number(11..13)?, number(14..16)?);
    let mut rest = &text[16..];
    let mut second = 0;
    if let Some(after) = rest.strip_prefix(':') {
        second = after.get(0..2).filter(|s| s.bytes().all(|b| b.is_ascii_digit()))?.parse().ok()?;
        rest = &after[2..];
    }
    let mut millis = 0;
    if let Some(after) = rest.strip_prefix('.') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let fraction = &after[..digits];
        millis = format!("{:0<3}", &fraction[..digits.min(3)]).parse().ok()?;
        rest = &after[digits..];
    }
    let offset_ms = match rest {
        "Z" | "z" | "" => 0,
        offset => {
            let sign = match offset.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hours: i64 = offset.get(1..3)?.parse().ok()?;
            let minutes: i64 = offset
                .get(3..)
                .map(|m| m.trim_start_matches(':'))
                .filter(|m| !m.is_empty())
                .map_or(Some(0), |m| m.parse().ok())?;
            sign * (hours * 60 + minutes) * 60_000
        }
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(date_ms + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset_ms)
}

/// An HTTP date (`Sun, 06 Dec 2026 15:35:09 GMT`) as epoch milliseconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace().skip(1);
    let day: i64 = parts.next()?.parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| Some(*m) == parts.clone().next())? as i64
        + 1;
    parts.next();
    let year: i64 = parts.next()?.parse().ok()?;
    let time: Vec<i64> = parts.next()?.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let [hour, minute, second] = time[..] else { return None };
    Some((days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second) * 1000)
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The local clock, epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_and_reads_hubspots_other_forms() {
        let ms = 1_714_644_672_345;
        assert_eq!(iso(ms), "2024-05-02T10:11:12.345Z");
        assert_eq!(parse_ms("2024-05-02T10:11:12.345Z"), Some(ms));
        assert_eq!(parse_ms("1714644672345"), Some(ms));
        assert_eq!(parse_ms("2024-05-02T12:11:12.345+02:00"), Some(ms));
        assert_eq!(parse_ms("2024-05-02T10:11:12Z"), Some(ms - 345));
        assert_eq!(parse_ms("2024-05-02"), Some(1_714_608_000_000));
        assert_eq!(parse_ms("1969-12-31T23:59:59.999Z"), Some(-1));
        for bad in ["", "2024-13-01", "yesterday", "2024-05-02T25:00:00Z", "2024-05-02X10:11"] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates_are_read() {
        assert_eq!(parse_http_date("Thu, 02 May 2024 10:11:12 GMT"), Some(1_714_644_672_000));
        assert_eq!(parse_http_date("not a date"), None);
    }
}
