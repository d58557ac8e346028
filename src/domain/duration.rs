//! Business durations as admins write them in queue and catalog files (`"4h"`, `"2h 30m"`,
//! `"1d"`): parsed here, below every layer that reads them (queues' SLA targets, catalog
//! items' approval timeouts).

/// The longest target accepted, in business days.
const MAX_TARGET_DAYS: i64 = 366;
/// A calendar day: units of a week or longer are refused (business days are meant).
const CALENDAR_DAY_MS: i64 = 86_400_000;

/// Parses `"30m"`, `"4h"`, `"2h 30m"`, `"1d"` into business ms; a day is `day_ms`. Each
/// number+unit piece goes through `humantime`, so its unit names (`min`, `hours`, …) work.
pub fn parse_business_duration(text: &str, day_ms: i64) -> Result<i64, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("is empty".into());
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let after = rest[digits..].trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let (count, unit) = (&rest[..digits], &after[..unit_len]);
        if count.is_empty() || unit.is_empty() {
            return Err("is not a duration: each number needs a unit (m, h, d)".into());
        }
        let n: i64 = count.parse().map_err(|_| format!("has a number too large: {count}"))?;
        let piece = if matches!(unit, "d" | "day" | "days") {
            n.checked_mul(day_ms)
        } else {
            let one = humantime::parse_duration(&format!("1{unit}"))
                .map_err(|e| format!("is not a duration: {e}"))?;
            if one.as_millis() >= 7 * CALENDAR_DAY_MS as u128 {
                return Err(format!(
                    "uses `{unit}`: use d (business days) instead of weeks, months or years"
                ));
            }
            i64::try_from(one.as_millis()).ok().and_then(|ms| ms.checked_mul(n))
        };
        total = piece
            .and_then(|p| total.checked_add(p))
            .filter(|t| *t <= MAX_TARGET_DAYS * day_ms)
            .ok_or_else(|| format!("is longer than {MAX_TARGET_DAYS} business days"))?;
        rest = after[unit_len..].trim_start();
    }
    if total == 0 {
        return Err("must be longer than zero".into());
    }
    Ok(total)
}
