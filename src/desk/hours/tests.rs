//! Tests for business hours: weekends, holidays, DST weeks in London and New York, the
//! add/between inverse property and config errors.

use super::*;
use chrono::NaiveDateTime;

const H: i64 = 3_600_000;
const M: i64 = 60_000;

/// A local wall time (`YYYY-MM-DD HH:MM`) in `tz`, first pass if ambiguous.
fn at(tz: &str, wall: &str) -> Millis {
    let tz: Tz = tz.parse().unwrap();
    let naive = NaiveDateTime::parse_from_str(wall, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&naive).earliest().unwrap().timestamp_millis()
}

fn hours(tz: &str, days: &[&str], start: &str, end: &str, holidays: &[&str]) -> BusinessHours {
    BusinessHours::from_config(&HoursConfig {
        timezone: Some(tz.into()),
        days: Some(days.iter().map(|d| d.to_string()).collect()),
        start: Some(start.into()),
        end: Some(end.into()),
        holidays: holidays.iter().map(|d| d.to_string()).collect(),
    })
    .unwrap()
}

const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
const EVERY_DAY: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Far away, only so the table is not normalised to 24x7.
const FAR: &[&str] = &["2099-01-01"];

fn london() -> BusinessHours {
    hours("Europe/London", WEEKDAYS, "09:00", "17:30", &["2026-12-25", "2026-12-28"])
}

#[test]
fn add_skips_nights_weekends_and_holidays() {
    let lon = "Europe/London";
    let late = hours(lon, WEEKDAYS, "09:00", "18:00", &[]);
    let rows: &[(&str, &BusinessHours, &str, i64, &str)] = &[
        ("friday 17:00 + 4h, closes 18:00", &late, "2026-03-06 17:00", 4 * H, "2026-03-09 12:00"),
        ("friday 17:00 + 4h, closes 17:30", &london(), "2026-03-06 17:00", 4 * H, "2026-03-09 12:30"),
        ("saturday counts from monday open", &london(), "2026-03-07 12:00", 30 * M, "2026-03-09 09:30"),
        ("zero before opening is the opening", &london(), "2026-03-09 08:00", 0, "2026-03-09 09:00"),
        (
            "using a window exactly ends at close",
            &london(),
            "2026-03-09 10:00",
            7 * H + 30 * M,
            "2026-03-09 17:30",
        ),
        ("one business day later", &london(), "2026-03-09 10:00", 8 * H + 30 * M, "2026-03-10 10:00"),
        ("christmas and boxing-day holidays", &london(), "2026-12-24 17:00", H, "2026-12-29 09:30"),
        ("thirty business days", &london(), "2026-06-01 09:00", 30 * (8 * H + 30 * M), "2026-07-10 17:30"),
        ("dst spring weekend", &london(), "2026-03-27 17:00", H, "2026-03-30 09:30"),
        ("dst autumn weekend", &london(), "2026-10-23 17:00", H, "2026-10-26 09:30"),
    ];
    for (name, h, start, ms, due) in rows {
        assert_eq!(h.add(at(lon, start), *ms), at(lon, due), "{name}");
    }
    let (fri, sat) = (at(lon, "2026-03-06 17:00"), at(lon, "2026-03-07 12:00"));
    assert!(!late.is_open(sat));
    assert_eq!(late.between(fri, sat), H, "only friday's last hour counts");
}

#[test]
fn new_york_dst_weeks_keep_local_opening_times() {
    let ny = "America/New_York";
    let h = hours(ny, WEEKDAYS, "09:00", "17:00", &[]);
    let rows = [
        ("2026-03-06 16:00", 2 * H, "2026-03-09 10:00"),
        ("2026-10-30 16:00", 2 * H, "2026-11-02 10:00"),
        ("2026-03-06 16:00", 9 * H, "2026-03-09 17:00"),
    ];
    for (start, ms, due) in rows {
        assert_eq!(h.add(at(ny, start), ms), at(ny, due), "{start} + {ms}");
    }
}

#[test]
fn windows_across_dst_transitions_count_real_time() {
    let (lon, ny) = ("Europe/London", "America/New_York");
    let rows: &[(&str, &str, &str, &str, i64)] = &[
        // (zone, start, end, local day, business ms in that day)
        (lon, "00:00", "24:00", "2026-03-29", 23 * H),
        (lon, "00:00", "24:00", "2026-10-25", 25 * H),
        (lon, "00:30", "02:30", "2026-03-29", H),
        (lon, "00:30", "02:30", "2026-10-25", 3 * H),
        (ny, "02:30", "04:00", "2026-03-08", H), // 02:30 does not exist: opens at the jump
        (ny, "02:00", "02:30", "2026-03-08", 0), // the gap swallows the whole window
        (ny, "01:00", "02:00", "2026-11-01", 2 * H), // opens on the first 01:00
        (ny, "00:00", "24:00", "2026-11-01", 25 * H),
        (ny, "09:00", "17:00", "2026-03-08", 8 * H),
    ];
    for (tz, start, end, day, want) in rows {
        let h = hours(tz, EVERY_DAY, start, end, FAR);
        let next = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().succ_opt().unwrap();
        let (a, b) = (at(tz, &format!("{day} 00:00")), at(tz, &format!("{next} 00:00")));
        assert_eq!(h.between(a, b), *want, "{tz} {start}-{end} on {day}");
    }
    let h = hours(ny, EVERY_DAY, "02:30", "04:00", FAR);
    assert!(h.is_open(at(ny, "2026-03-08 03:30")));
    assert!(!h.is_open(at(ny, "2026-03-08 01:59")));
    let swallowed = hours(ny, EVERY_DAY, "02:00", "02:30", FAR);
    assert_eq!(swallowed.add(at(ny, "2026-03-07 03:00"), M), at(ny, "2026-03-09 02:01"));
}

#[test]
fn always_is_plain_arithmetic() {
    let h = BusinessHours::always();
    assert!(h.is_always() && h.is_open(0) && h.day_ms() == DAY_MS);
    assert_eq!(h.add(1_000, 5 * H), 1_000 + 5 * H);
    assert_eq!(h.add(1_000, -500), 500);
    assert_eq!(h.between(1_000, 1_000 + 7 * H), 7 * H);
    assert_eq!(h.between(5, 1), 0);
    let empty = BusinessHours::from_config(&HoursConfig::default()).unwrap();
    assert!(empty.is_always(), "a table that restricts nothing is 24x7");
    assert_eq!(london().day_ms(), 8 * H + 30 * M);
}

#[test]
fn add_and_between_are_inverse() {
    let configs = [
        london(),
        hours("America/New_York", EVERY_DAY, "01:00", "03:00", &["2026-07-04"]),
        hours("Asia/Kolkata", &["sun", "mon", "tue", "wed", "thu"], "08:15", "16:45", FAR),
        hours("Australia/Lord_Howe", WEEKDAYS, "00:00", "24:00", FAR), // 30-minute DST shifts
    ];
    let base = at("UTC", "2026-01-01 00:00");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: i64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % bound as u64) as i64
    };
    for h in &configs {
        for _ in 0..400 {
            let s = base + next(730 * DAY_MS);
            let d = next(40 * h.day_ms());
            let end = h.add(s, d);
            assert_eq!(h.between(s, end), d, "forward from {s} by {d}");
            assert!(d == 0 || h.is_open(end - 1), "the last counted ms is open");
            if d > 0 {
                assert_eq!(h.between(h.add(s, -d), s), d, "backward from {s} by {d}");
            }
        }
    }
}

#[test]
fn bad_config_names_the_value() {
    let ok = HoursConfig {
        timezone: Some("Europe/London".into()),
        days: Some(vec!["mon".into()]),
        start: Some("09:00".into()),
        end: Some("17:30".into()),
        holidays: vec![],
    };
    type Edit = fn(&mut HoursConfig);
    let rows: &[(Edit, &str)] = &[
        (|c| c.timezone = Some("Europe/Londn".into()), "unknown time zone `Europe/Londn`"),
        (|c| c.days = Some(vec!["mon".into(), "funday".into()]), "unknown day `funday`"),
        (|c| c.days = Some(vec![]), "hours.days must name at least one day"),
        (|c| c.start = Some("9am".into()), "hours.start: `9am` is not a time of day"),
        (|c| c.end = Some("25:00".into()), "hours.end: `25:00` is not a time of day"),
        (|c| c.start = Some("18:00".into()), "hours.start must be before hours.end"),
        (|c| c.holidays = vec!["2026-13-01".into()], "hours.holidays: `2026-13-01` is not a date"),
    ];
    for (edit, want) in rows {
        let mut cfg = ok.clone();
        edit(&mut cfg);
        let err = BusinessHours::from_config(&cfg).unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    assert!(toml::from_str::<HoursConfig>("timezon = \"UTC\"").is_err(), "unknown fields are refused");
}

#[test]
fn example_toml_parses() {
    let cfg: HoursConfig = toml::from_str(
        r#"
        timezone = "Europe/London"
        days = ["mon", "tue", "wed", "thu", "fri"]
        start = "09:00"
        end = "17:30"
        holidays = ["2026-12-25", "2026-12-26"]
        "#,
    )
    .unwrap();
    let h = BusinessHours::from_config(&cfg).unwrap();
    assert!(h.is_open(at("Europe/London", "2026-12-24 09:00")));
    assert!(!h.is_open(at("Europe/London", "2026-12-25 10:00")));
    assert_eq!(h.next_open(at("Europe/London", "2026-12-24 18:00")), at("Europe/London", "2026-12-28 09:00"));
}
