//! The period a report covers: `--since 7d` (or `?since=7d`) means the last seven days up to
//! now. Accepts `h`, `d` and `w` units (`24h`, `7d`, `4w`) and anything `humantime` reads.

use crate::domain::Millis;

/// The longest period a report covers.
const MAX_SINCE_MS: i64 = 400 * 24 * 3_600_000;

/// `from <= t < to`, and the text it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: Millis,
    pub to: Millis,
    pub label: String,
}

/// The period that ends at `now` and lasts `since` (e.g. `7d`).
pub fn parse_since(since: &str, now: Millis) -> Result<Period, String> {
    let text = since.trim();
    let ms = if let Some(w) = text.strip_suffix('w').and_then(|n| n.trim().parse::<i64>().ok()) {
        w.checked_mul(7 * 24 * 3_600_000)
    } else {
        humantime::parse_duration(text).ok().and_then(|d| i64::try_from(d.as_millis()).ok())
    };
    match ms {
        Some(ms) if ms > 0 && ms <= MAX_SINCE_MS => {
            Ok(Period { from: now - ms, to: now + 1, label: text.to_string() })
        }
        Some(_) => Err(format!("`{text}`: the period must be longer than zero and at most 400 days")),
        None => Err(format!("`{text}` is not a period; write e.g. 24h, 7d, 30d or 4w")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_end_now_and_reach_back() {
        let day = 24 * 3_600_000;
        assert_eq!(
            parse_since("7d", 10 * day).unwrap(),
            Period { from: 3 * day, to: 10 * day + 1, label: "7d".into() }
        );
        assert_eq!(parse_since("24h", 2 * day).unwrap().from, day);
        assert_eq!(parse_since("2w", 20 * day).unwrap().from, 6 * day);
        assert!(parse_since("soon", 0).unwrap_err().contains("not a period"));
        assert!(parse_since("0d", 0).unwrap_err().contains("longer than zero"));
        assert!(parse_since("999d", 0).unwrap_err().contains("400 days"));
    }
}
