//! Business hours: when a queue is staffed, on its own wall clock. Pure arithmetic over Unix
//! millisecond instants (nothing here reads a clock): [`BusinessHours::is_open`], [`BusinessHours::add`]
//! business time to an instant, and count the business time [`BusinessHours::between`] two instants.
//! SLA due times (`sla.rs`) are built on it.
//!
//! Each open local day has one window `[start, end)`. The instant for a wall time is the first
//! instant at which the clock reads that time or later: inside a spring-forward gap that is the
//! moment the clock jumps; inside a fall-back overlap it is the first pass. Holidays close whole
//! local days. Arithmetic steps a day at a time, so long spans cost one step per calendar day.

use crate::domain::Millis;
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One calendar day (and one 24x7 business day), in milliseconds.
pub const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: u32 = 24 * 60;
/// How far past a nonexistent wall time we look for the clock to exist again (gaps are ≤ 1 day).
const MAX_GAP_MINUTES: i64 = 48 * 60;

/// `[queue.hours]` in `deskbot.toml`. A missing table means 24x7; inside the table a missing
/// field does not restrict: `UTC`, every day, `00:00`–`24:00`, no holidays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursConfig {
    /// IANA time zone name, e.g. `Europe/London`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Open weekdays: `mon` … `sun` (full names accepted, any case).
    #[serde(default)]
    pub days: Option<Vec<String>>,
    /// Opening wall time, `HH:MM`.
    #[serde(default)]
    pub start: Option<String>,
    /// Closing wall time, `HH:MM`; `24:00` means the midnight that ends the day.
    #[serde(default)]
    pub end: Option<String>,
    /// Closed local dates, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// A `[queue.hours]` value that cannot be used; the message names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("hours.timezone: unknown time zone `{0}` (use an IANA name such as `Europe/London`)")]
    UnknownTimeZone(String),
    #[error("hours.days: unknown day `{0}` (use mon, tue, wed, thu, fri, sat, sun)")]
    UnknownDay(String),
    #[error("hours.days must name at least one day (leave it out for every day)")]
    NoDays,
    #[error("hours.{field}: `{value}` is not a time of day (use HH:MM, e.g. 09:00)")]
    BadTime { field: &'static str, value: String },
    #[error("hours.start must be before hours.end (start `{start}`, end `{end}`)")]
    StartNotBeforeEnd { start: String, end: String },
    #[error("hours.holidays: `{0}` is not a date (use YYYY-MM-DD)")]
    BadHoliday(String),
}

/// When a queue is open. Build with [`BusinessHours::from_config`] or [`BusinessHours::always`];
/// the default is 24x7.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessHours {
    /// `None` is 24x7, where business time is plain elapsed time.
    schedule: Option<Schedule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Schedule {
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    days: [bool; 7],
    start_min: u32,
    end_min: u32,
    holidays: BTreeSet<NaiveDate>,
}

impl BusinessHours {
    /// Open all the time: business time is elapsed time.
    pub fn always() -> Self {
        Self { schedule: None }
    }

    /// Validates a `[queue.hours]` table. A table that restricts nothing is [`BusinessHours::always`].
    pub fn from_config(cfg: &HoursConfig) -> Result<Self, HoursError> {
        let tz = match &cfg.timezone {
            None => Tz::UTC,
            Some(name) => name.trim().parse::<Tz>().map_err(|_| HoursError::UnknownTimeZone(name.clone()))?,
        };
        let mut days = [cfg.days.is_none(); 7];
        if let Some(list) = &cfg.days {
            if list.is_empty() {
                return Err(HoursError::NoDays);
            }
            for name in list {
                let day: Weekday = name.trim().parse().map_err(|_| HoursError::UnknownDay(name.clone()))?;
                days[day.num_days_from_monday() as usize] = true;
            }
        }
        let start_min = cfg.start.as_deref().map_or(Ok(0), |v| parse_time("start", v))?;
        let end_min = cfg.end.as_deref().map_or(Ok(DAY_MINUTES), |v| parse_time("end", v))?;
        if start_min >= end_min {
            return Err(HoursError::StartNotBeforeEnd {
                start: cfg.start.clone().unwrap_or_else(|| "00:00".into()),
                end: cfg.end.clone().unwrap_or_else(|| "24:00".into()),
            });
        }
        let holidays = cfg
            .holidays
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| HoursError::BadHoliday(d.clone()))
            })
            .collect::<Result<BTreeSet<_>, _>>()?;
        if days == [true; 7] && start_min == 0 && end_min == DAY_MINUTES && holidays.is_empty() {
            return Ok(Self::always());
        }
        Ok(Self { schedule: Some(Schedule { tz, days, start_min, end_min, holidays }) })
    }

    /// Whether these hours are 24x7.
    pub fn is_always(&self) -> bool {
        self.schedule.is_none()
    }

    /// The length of one business day: the nominal open window (`end - start`), or 24 hours
    /// for 24x7. SLA targets written in days (`"1d"`) are multiples of this.
    pub fn day_ms(&self) -> i64 {
        self.schedule.as_ref().map_or(DAY_MS, |s| i64::from(s.end_min - s.start_min) * MINUTE_MS)
    }

    /// Whether the queue is open at `at`.
    pub fn is_open(&self, at: Millis) -> bool {
        let Some(s) = &self.schedule else { return true };
        let Some(date) = s.local_date(at) else { return false };
        [date.pred_opt(), Some(date), date.succ_opt()]
            .into_iter()
            .flatten()
            .filter_map(|d| s.window(d))
            .any(|(open, close)| open <= at && at < close)
    }

    /// `at` if open, else the next opening.
    pub fn next_open(&self, at: Millis) -> Millis {
        self.add(at, 0)
    }

    /// The instant at which `business_ms` of open time has elapsed after `start`. Counting
    /// begins at the next opening when `start` is outside hours; a target that uses up a window
    /// exactly ends at its close. A negative `business_ms` counts backwards from `start`, so
    /// `between(add(s, -d), s) == d`.
    pub fn add(&self, start: Millis, business_ms: i64) -> Millis {
        match &self.schedule {
            None => start.saturating_add(business_ms),
            Some(s) if business_ms >= 0 => s.forward(start, business_ms),
            Some(s) => s.backward(start, business_ms.saturating_neg()),
        }
    }

    /// Business milliseconds elapsed from `a` to `b`; 0 if `b <= a`.
    pub fn between(&self, a: Millis, b: Millis) -> i64 {
        if b <= a {
            return 0;
        }
        let Some(s) = &self.schedule else { return b.saturating_sub(a) };
        let (Some(mut date), Some(last)) =
            (s.local_date(a).and_then(|d| d.pred_opt()), s.local_date(b).and_then(|d| d.succ_opt()))
        else {
            return 0;
        };
        let mut total = 0;
        while date <= last {
            if let Some((open, close)) = s.window(date) {
                total += (close.min(b) - open.max(a)).max(0);
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        total
    }
}

impl Schedule {
    fn local_date(&self, at: Millis) -> Option<NaiveDate> {
        DateTime::from_timestamp_millis(at).map(|t| t.with_timezone(&self.tz).date_naive())
    }

    /// The open window of a local date, as instants; `None` when closed that day (or when a
    /// DST gap swallows the whole window).
    fn window(&self, date: NaiveDate) -> Option<(Millis, Millis)> {
        use chrono::Datelike;
        if !self.days[date.weekday().num_days_from_monday() as usize] || self.holidays.contains(&date) {
            return None;
        }
        let open = self.instant(date, self.start_min)?;
        let close = self.instant(date, self.end_min)?;
        (open < close).then_some((open, close))
    }

    /// The first instant at which the local clock reads `minutes` past midnight of `date` (or
    /// later, when that wall time falls in a gap). Zone transitions fall on whole minutes.
    fn instant(&self, date: NaiveDate, minutes: u32) -> Option<Millis> {
        let wall = date.and_time(NaiveTime::MIN).checked_add_signed(Duration::minutes(i64::from(minutes)))?;
        (0..=MAX_GAP_MINUTES).find_map(|k| {
            match self.tz.from_local_datetime(&wall.checked_add_signed(Duration::minutes(k))?) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_millis()),
                LocalResult::None => None,
            }
        })
    }

    fn forward(&self, start: Millis, mut left: i64) -> Millis {
        let Some(mut date) = self.local_date(start).and_then(|d| d.pred_opt()) else {
            return start.saturating_add(left);
        };
        loop {
            if let Some((open, close)) = self.window(date)
                && close > start
            {
                let from = open.max(start);
                if left <= close - from {
                    return from + left;
                }
                left -= close - from;
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => return Millis::MAX,
            }
        }
    }

    fn backward(&self, start: Millis, mut left: i64) -> Millis {
        let Some(mut date) = self.local_date(start).and_then(|d| d.succ_opt()) else {
            return start.saturating_sub(left);
        };
        loop {
            if let Some((open, close)) = self.window(date)
                && open < start
            {
                let to = close.min(start);
                if left <= to - open {
                    return to - left;
                }
                left -= to - open;
            }
            match date.pred_opt() {
                Some(prev) => date = prev,
                None => return Millis::MIN,
            }
        }
    }
}

/// Minutes past midnight for `HH:MM`; `24:00` is allowed (it only makes sense as `end`).
fn parse_time(field: &'static str, value: &str) -> Result<u32, HoursError> {
    use chrono::Timelike;
    let v = value.trim();
    if v == "24:00" {
        return Ok(DAY_MINUTES);
    }
    NaiveTime::parse_from_str(v, "%H:%M")
        .map(|t| t.hour() * 60 + t.minute())
        .map_err(|_| HoursError::BadTime { field, value: value.to_string() })
}

#[cfg(test)]
mod tests;
