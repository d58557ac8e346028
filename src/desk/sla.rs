//! SLA targets per priority and the due times they give a ticket. Pure: callers pass `now`.
//!
//! Targets are business time on the queue's [`BusinessHours`]: `"30m"` and `"4h"` are business
//! minutes and hours; `"1d"` is one *business day*, the length of one open window (`end - start`,
//! 8h30m for 09:00–17:30) or 24h when the queue is 24x7, so a ticket opened at 10:00 with a
//! `"1d"` target is due at 10:00 the next open day. Weeks, months and years are refused.
//!
//! Pausing (a pending ticket) stops the clock: store [`remaining`] at pause, and on reopening
//! derive the new due time with [`resume`].

use super::hours::BusinessHours;
use crate::domain::{Millis, Priority};
use serde::{Deserialize, Serialize};

/// Reminders fire when this share of the business-time target has elapsed, unless configured.
pub const DEFAULT_REMINDER_RATIO: f64 = 0.75;

/// `[queue.sla]` in `deskbot.toml`: one optional table per priority.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    #[serde(default)]
    pub urgent: Option<TargetsConfig>,
    #[serde(default)]
    pub high: Option<TargetsConfig>,
    #[serde(default)]
    pub normal: Option<TargetsConfig>,
    #[serde(default)]
    pub low: Option<TargetsConfig>,
    /// Share of a target after which a reminder fires, strictly between 0 and 1. Default 0.75.
    #[serde(default)]
    pub reminder_ratio: Option<f64>,
}

/// `{ first_response = "30m", resolution = "4h" }`; either may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    #[serde(default)]
    pub first_response: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
}

/// A `[queue.sla]` value that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlaError {
    #[error("sla.{priority}.{field}: `{value}` {reason} (write e.g. \"30m\", \"4h\", \"1d\", \"2h 30m\")")]
    BadDuration { priority: Priority, field: &'static str, value: String, reason: String },
    #[error("sla.reminder_ratio: {0} must be between 0 and 1, e.g. 0.75")]
    BadRatio(f64),
}

/// Business-time targets for one priority, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    pub first_response_ms: Option<i64>,
    pub resolution_ms: Option<i64>,
}

/// Targets for every priority. Built for one [`BusinessHours`] (a day is that queue's day):
/// pass the same hours to [`SlaPolicy::due`].
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub urgent: Option<Targets>,
    pub high: Option<Targets>,
    pub normal: Option<Targets>,
    pub low: Option<Targets>,
    pub reminder_ratio: f64,
}

/// When a ticket is due, and when to remind before it is; `None` where there is no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    pub first_response: Option<Millis>,
    pub resolution: Option<Millis>,
    pub first_response_reminder: Option<Millis>,
    pub resolution_reminder: Option<Millis>,
}

impl Default for SlaPolicy {
    /// No targets at all.
    fn default() -> Self {
        Self { urgent: None, high: None, normal: None, low: None, reminder_ratio: DEFAULT_REMINDER_RATIO }
    }
}

impl SlaPolicy {
    /// Validates `[queue.sla]`; `"d"` in durations is resolved against `hours`.
    pub fn from_config(cfg: &SlaConfig, hours: &BusinessHours) -> Result<Self, SlaError> {
        let reminder_ratio = cfg.reminder_ratio.unwrap_or(DEFAULT_REMINDER_RATIO);
        if !(reminder_ratio > 0.0 && reminder_ratio < 1.0) {
            return Err(SlaError::BadRatio(reminder_ratio));
        }
        let day_ms = hours.day_ms();
        let targets = |priority: Priority, t: &Option<TargetsConfig>| -> Result<Option<Targets>, SlaError> {
            let Some(t) = t else { return Ok(None) };
            let field = |field: &'static str, value: &Option<String>| {
                value
                    .as_deref()
                    .map(|v| {
                        parse_business_duration(v, day_ms).map_err(|reason| SlaError::BadDuration {
                            priority,
                            field,
                            value: v.to_string(),
                            reason,
                        })
                    })
                    .transpose()
            };
            Ok(Some(Targets {
                first_response_ms: field("first_response", &t.first_response)?,
                resolution_ms: field("resolution", &t.resolution)?,
            }))
        };
        Ok(Self {
            urgent: targets(Priority::Urgent, &cfg.urgent)?,
            high: targets(Priority::High, &cfg.high)?,
            normal: targets(Priority::Normal, &cfg.normal)?,
            low: targets(Priority::Low, &cfg.low)?,
            reminder_ratio,
        })
    }

    /// The targets for a priority, if it has any.
    pub fn targets(&self, priority: Priority) -> Option<Targets> {
        match priority {
            Priority::Urgent => self.urgent,
            Priority::High => self.high,
            Priority::Normal => self.normal,
            Priority::Low => self.low,
        }
    }

    /// Due times and reminders for a ticket of `priority` created at `created_at`.
    pub fn due(&self, priority: Priority, created_at: Millis, hours: &BusinessHours) -> Due {
        let t = self.targets(priority).unwrap_or_default();
        let after = |ms: Option<i64>, share: f64| {
            ms.map(|ms| hours.add(created_at, (ms as f64 * share).round() as i64))
        };
        Due {
            first_response: after(t.first_response_ms, 1.0),
            resolution: after(t.resolution_ms, 1.0),
            first_response_reminder: after(t.first_response_ms, self.reminder_ratio),
            resolution_reminder: after(t.resolution_ms, self.reminder_ratio),
        }
    }
}

/// Business ms left until `due` at `now`: positive before it, zero or negative once it has
/// passed (negative by the business time since). A due time is breached when `now > due`.
pub fn remaining(due: Millis, now: Millis, hours: &BusinessHours) -> i64 {
    if due >= now { hours.between(now, due) } else { -hours.between(due, now) }
}

/// The due time for a resumed SLA clock that had `remaining_ms` left when paused
/// (`remaining(resume(r, now, h), now, h) == r`).
pub fn resume(remaining_ms: i64, now: Millis, hours: &BusinessHours) -> Millis {
    hours.add(now, remaining_ms)
}

pub use crate::domain::duration::parse_business_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::hours::HoursConfig;
    use chrono::{NaiveDateTime, TimeZone};

    const H: i64 = 3_600_000;
    const M: i64 = 60_000;
    const LON: &str = "Europe/London";

    fn at(wall: &str) -> Millis {
        let naive = NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Europe::London.from_local_datetime(&naive).earliest().unwrap().timestamp_millis()
    }

    fn london(end: &str) -> BusinessHours {
        BusinessHours::from_config(&HoursConfig {
            timezone: Some(LON.into()),
            days: Some(["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec()),
            start: Some("09:00".into()),
            end: Some(end.into()),
            holidays: vec!["2026-12-25".into()],
        })
        .unwrap()
    }

    fn policy(toml_text: &str, hours: &BusinessHours) -> Result<SlaPolicy, SlaError> {
        SlaPolicy::from_config(&toml::from_str(toml_text).unwrap(), hours)
    }

    const EXAMPLE: &str = r#"
        urgent = { first_response = "30m", resolution = "4h" }
        high   = { first_response = "2h",  resolution = "1d" }
        normal = { first_response = "8h",  resolution = "3d" }
        low    = { first_response = "1d",  resolution = "5d" }
    "#;

    #[test]
    fn durations_are_business_time_and_a_day_is_one_window() {
        let day = 8 * H + 30 * M;
        let rows: &[(&str, Result<i64, &str>)] = &[
            ("30m", Ok(30 * M)),
            ("4h", Ok(4 * H)),
            ("2h 30m", Ok(2 * H + 30 * M)),
            ("2h30min", Ok(2 * H + 30 * M)),
            ("1d", Ok(day)),
            ("3 days 1h", Ok(3 * day + H)),
            ("", Err("is empty")),
            ("4", Err("needs a unit")),
            ("4x", Err("is not a duration")),
            ("1w", Err("use d (business days)")),
            ("0m", Err("longer than zero")),
            ("367d", Err("longer than 366 business days")),
            ("99999999999999999999d", Err("too large")),
        ];
        for (text, want) in rows {
            match (parse_business_duration(text, day), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got:?} lacks {want:?}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(parse_business_duration("1d", BusinessHours::always().day_ms()), Ok(24 * H));
    }

    #[test]
    fn friday_evening_urgent_ticket_is_due_monday_not_saturday() {
        let hours = london("18:00");
        let sla = policy(EXAMPLE, &hours).unwrap();
        let due = sla.due(Priority::Urgent, at("2026-03-06 17:00"), &hours);
        assert_eq!(due.resolution, Some(at("2026-03-09 12:00")));
        assert_eq!(due.first_response, Some(at("2026-03-06 17:30")));
        assert_eq!(due.resolution_reminder, Some(at("2026-03-09 11:00")), "75% of 4h = 3h");
        assert!(
            remaining(due.resolution.unwrap(), at("2026-03-07 12:00"), &hours) > 0,
            "not breached on Saturday"
        );
    }

    #[test]
    fn due_times_per_priority_with_reminders_at_the_ratio() {
        let hours = london("17:30");
        let sla = policy(EXAMPLE, &hours).unwrap();
        let created = at("2026-12-23 10:00"); // Wednesday; the 25th is a holiday
        let rows = [
            // priority, first response due, resolution due
            (Priority::Urgent, "2026-12-23 10:30", "2026-12-23 14:00"),
            (Priority::High, "2026-12-23 12:00", "2026-12-24 10:00"),
            (Priority::Normal, "2026-12-24 09:30", "2026-12-29 10:00"),
            (Priority::Low, "2026-12-24 10:00", "2026-12-31 10:00"),
        ];
        for (p, fr, res) in rows {
            let due = sla.due(p, created, &hours);
            assert_eq!(due.first_response, Some(at(fr)), "{p} first response");
            assert_eq!(due.resolution, Some(at(res)), "{p} resolution");
            let t = sla.targets(p).unwrap();
            for (reminder, target) in [
                (due.first_response_reminder, t.first_response_ms),
                (due.resolution_reminder, t.resolution_ms),
            ] {
                let (reminder, target) = (reminder.unwrap(), target.unwrap());
                assert_eq!(hours.between(created, reminder), (target as f64 * 0.75).round() as i64, "{p}");
            }
        }
        let half = policy("reminder_ratio = 0.5\nurgent = { resolution = \"4h\" }", &hours).unwrap();
        let due = half.due(Priority::Urgent, created, &hours);
        assert_eq!(due.resolution_reminder, Some(at("2026-12-23 12:00")));
        assert_eq!((due.first_response, due.first_response_reminder), (None, None));
        assert_eq!(half.due(Priority::Low, created, &hours), Due::default(), "no targets, no due times");
    }

    #[test]
    fn pause_and_resume_keep_the_business_time_left() {
        let hours = london("17:30");
        let due = at("2026-03-09 12:00");
        let paused = at("2026-03-06 16:30"); // Friday: 1h today + 3h Monday left
        let left = remaining(due, paused, &hours);
        assert_eq!(left, 4 * H);
        let reopened = at("2026-03-11 15:30"); // Wednesday
        assert_eq!(resume(left, reopened, &hours), at("2026-03-12 11:00"));
        let late = at("2026-03-09 13:00");
        assert_eq!(remaining(due, late, &hours), -H, "negative once breached");
        assert_eq!(resume(-H, late, &hours), due);
        for r in [-3 * H, 0, 90 * M, 9 * H] {
            assert_eq!(remaining(resume(r, reopened, &hours), reopened, &hours), r);
        }
        let always = BusinessHours::always();
        assert_eq!(resume(5 * H, 1_000, &always), 1_000 + 5 * H);
    }

    #[test]
    fn bad_sla_config_names_the_value() {
        let hours = BusinessHours::always();
        let rows = [
            ("urgent = { resolution = \"4 hours please\" }", "sla.urgent.resolution: `4 hours please`"),
            ("low = { first_response = \"2w\" }", "sla.low.first_response: `2w` uses `w`"),
            ("reminder_ratio = 1.5", "sla.reminder_ratio: 1.5 must be between 0 and 1"),
            ("reminder_ratio = 0.0", "sla.reminder_ratio: 0 must be between 0 and 1"),
        ];
        for (text, want) in rows {
            let err = policy(text, &hours).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
        assert!(toml::from_str::<SlaConfig>("urgnt = {}").is_err());
        assert!(toml::from_str::<SlaConfig>("urgent = { respond = \"1h\" }").is_err());
    }
}
