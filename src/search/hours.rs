//! Opening hours: is a service open at an instant?
//!
//! HSDS schedules are iCal-style recurrences. Haven reads `opens_at` and `closes_at` as the
//! location's local wall-clock times (api.md), so the instant is first turned into local time in
//! the location's IANA zone; daylight-saving changes are then handled by the zone rules, not by
//! arithmetic on offsets. A schedule whose `closes_at` is not after its `opens_at` runs past
//! midnight; `closes_at` 23:59 means "until midnight".

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::hsds::model::Schedule;
use crate::hsds::validate::{parse_byday, parse_date, parse_int_list, parse_time};

/// The schedules stored with a search row (`search_entry.hours`, JSON); unreadable is none.
pub fn stored_schedules(hours: Option<&str>) -> Vec<Schedule> {
    hours
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default()
}

/// A location's stored IANA zone. A name that does not parse is no zone, so hours read in it
/// are never open.
pub fn zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

/// Whether a schedule gives usable hours (both times present and readable).
pub fn has_hours(s: &Schedule) -> bool {
    matches!(
        (
            s.opens_at.as_deref().and_then(parse_time),
            s.closes_at.as_deref().and_then(parse_time)
        ),
        (Some(_), Some(_))
    )
}

/// Whether any of `schedules` is open at `at`. `zone` is the location's IANA zone; a schedule
/// with no zone to read it in (no location zone, no `timezone` offset) never counts as open.
pub fn is_open(schedules: &[Schedule], zone: Option<Tz>, at: DateTime<Utc>) -> bool {
    schedules.iter().any(|s| {
        let local = match (zone, s.timezone) {
            (Some(tz), _) => at.with_timezone(&tz).naive_local(),
            (None, Some(hours)) if hours.is_finite() && hours.abs() <= 14.0 => {
                match FixedOffset::east_opt((hours * 3600.0).round() as i32) {
                    Some(offset) => at.with_timezone(&offset).naive_local(),
                    None => return false,
                }
            }
            _ => return false,
        };
        open_at_local(s, local)
    })
}

/// Whether `s` is open at local wall-clock time `now`.
pub fn open_at_local(s: &Schedule, now: NaiveDateTime) -> bool {
    let (Some(opens), Some(closes)) = (
        s.opens_at.as_deref().and_then(parse_time),
        s.closes_at.as_deref().and_then(parse_time),
    ) else {
        return false;
    };
    let t = now.time();
    let today = now.date();
    let end_of_day = NaiveTime::from_hms_opt(23, 59, 0).expect("valid time");
    if opens == closes {
        // Open round the clock on the days it occurs.
        return occurs_on(s, today);
    }
    if opens < closes {
        let before_close = t < closes || closes == end_of_day;
        return occurs_on(s, today) && opens <= t && before_close;
    }
    // Past midnight: the evening part belongs to today, the early-morning part to yesterday.
    (occurs_on(s, today) && t >= opens) || (t < closes && occurs_on(s, today - Duration::days(1)))
}

fn date(v: &Option<String>) -> Option<NaiveDate> {
    v.as_deref().and_then(parse_date)
}

fn days_in_month(d: NaiveDate) -> u32 {
    let (y, m) = (d.year(), d.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |l| l.day())
}

/// Whether the schedule's recurrence includes the local date `d`.
pub fn occurs_on(s: &Schedule, d: NaiveDate) -> bool {
    if date(&s.valid_from).is_some_and(|from| d < from)
        || date(&s.valid_to).is_some_and(|to| d > to)
        || date(&s.dtstart).is_some_and(|start| d < start)
        || date(&s.until).is_some_and(|until| d > until)
    {
        return false;
    }
    let days: Vec<(Option<i32>, Weekday)> = match s.byday.as_deref().map(str::trim) {
        None | Some("") => vec![],
        Some(byday) => parse_byday(byday).unwrap_or_default(),
    };
    let interval = s.interval.filter(|i| *i >= 1.0).unwrap_or(1.0) as i64;
    match s.freq.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("WEEKLY") => {
            if interval > 1 {
                // Every n-th week, counted from the week of dtstart.
                let Some(start) = date(&s.dtstart) else {
                    return false;
                };
                let weeks = (d.week(Weekday::Mon).first_day()
                    - start.week(Weekday::Mon).first_day())
                .num_days()
                    / 7;
                if weeks % interval != 0 {
                    return false;
                }
            }
            days.is_empty() || days.iter().any(|(_, w)| *w == d.weekday())
        }
        Some("MONTHLY") => {
            let month_days: Vec<i32> = s
                .bymonthday
                .as_deref()
                .and_then(|d| parse_int_list(d, 31))
                .unwrap_or_default();
            let last = days_in_month(d) as i32;
            let day = d.day() as i32;
            let by_month_day = month_days
                .iter()
                .any(|&n| n == day || (n < 0 && last + n + 1 == day));
            let nth = (day - 1) / 7 + 1;
            let nth_from_end = -((last - day) / 7 + 1);
            let by_day = days
                .iter()
                .any(|(n, w)| *w == d.weekday() && n.is_none_or(|n| n == nth || n == nth_from_end));
            by_month_day || by_day
        }
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(byday: &str, opens: &str, closes: &str) -> Schedule {
        Schedule {
            id: "00000000-0000-0000-0000-000000000001".into(),
            freq: Some("WEEKLY".into()),
            byday: Some(byday.into()).filter(|b: &String| !b.is_empty()),
            opens_at: Some(opens.into()),
            closes_at: Some(closes.into()),
            ..Default::default()
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NY: Tz = chrono_tz::America::New_York;

    #[test]
    fn weekday_hours() {
        let s = [schedule("MO,TU,WE,TH,FR", "09:00", "17:00")];
        // Wednesday 2026-11-25 at 14:00 UTC is 09:00 in New York (EST, UTC-5).
        assert!(is_open(&s, Some(NY), utc("2026-11-25T14:00:00Z")));
        assert!(!is_open(&s, Some(NY), utc("2026-11-25T13:59:59Z")));
        assert!(!is_open(&s, Some(NY), utc("2026-11-25T22:00:00Z")));
        // Saturday.
        assert!(!is_open(&s, Some(NY), utc("2026-11-28T15:00:00Z")));
    }

    #[test]
    fn both_sides_of_daylight_saving() {
        let s = [schedule("MO,TU,WE,TH,FR,SA,SU", "09:00", "17:00")];
        // US clocks go back on Sunday 2026-11-01. Before: EDT (UTC-4), 09:00 local = 13:00Z.
        assert!(is_open(&s, Some(NY), utc("2026-10-31T13:00:00Z")));
        assert!(!is_open(&s, Some(NY), utc("2026-10-31T12:30:00Z")));
        assert!(!is_open(&s, Some(NY), utc("2026-10-31T21:30:00Z")));
        // After: EST (UTC-5), 09:00 local = 14:00Z; 13:30Z is 08:30 local, closed.
        assert!(!is_open(&s, Some(NY), utc("2026-11-02T13:30:00Z")));
        assert!(is_open(&s, Some(NY), utc("2026-11-02T14:00:00Z")));
        assert!(is_open(&s, Some(NY), utc("2026-11-02T21:30:00Z")));
    }

    #[test]
    fn overnight_hours_run_past_midnight() {
        let s = [schedule("FR", "20:00", "06:00")];
        // Friday 2026-11-27 23:00 and Saturday 05:00 local are inside; Saturday 07:00 is not.
        assert!(is_open(&s, Some(NY), utc("2026-11-28T04:00:00Z")));
        assert!(is_open(&s, Some(NY), utc("2026-11-28T10:00:00Z")));
        assert!(!is_open(&s, Some(NY), utc("2026-11-28T12:00:00Z")));
        // Thursday night is not a Friday night.
        assert!(!is_open(&s, Some(NY), utc("2026-11-27T04:00:00Z")));
    }

    #[test]
    fn round_the_clock_and_unknown_zone() {
        let s = [schedule("", "00:00", "23:59")];
        assert!(is_open(&s, Some(NY), utc("2026-11-27T04:59:30Z")));
        assert!(!is_open(&s, None, utc("2026-11-27T12:00:00Z")));
        let mut with_offset = s.clone();
        with_offset[0].timezone = Some(-5.0);
        assert!(is_open(&with_offset, None, utc("2026-11-27T12:00:00Z")));
    }

    #[test]
    fn validity_window_and_monthly_rules() {
        let mut s = schedule("MO", "09:00", "12:00");
        s.valid_to = Some("2026-11-01".into());
        assert!(!occurs_on(
            &s,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        ));
        let monthly = Schedule {
            freq: Some("MONTHLY".into()),
            byday: Some("1MO,-1FR".into()),
            ..schedule("", "09:00", "12:00")
        };
        // November 2026: the first Monday is the 2nd, the last Friday the 27th.
        assert!(occurs_on(
            &monthly,
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
        ));
        assert!(!occurs_on(
            &monthly,
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
        ));
        assert!(occurs_on(
            &monthly,
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
        ));
        assert!(!occurs_on(
            &monthly,
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
        ));
        let by_date = Schedule {
            freq: Some("MONTHLY".into()),
            bymonthday: Some("15,-1".into()),
            ..schedule("", "09:00", "12:00")
        };
        assert!(occurs_on(
            &by_date,
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        ));
        assert!(occurs_on(
            &by_date,
            NaiveDate::from_ymd_opt(2026, 11, 15).unwrap()
        ));
        assert!(!occurs_on(
            &by_date,
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        ));
    }

    #[test]
    fn fortnightly_from_dtstart() {
        let s = Schedule {
            interval: Some(2.0),
            dtstart: Some("2026-11-02".into()),
            ..schedule("MO", "09:00", "12:00")
        };
        assert!(occurs_on(&s, NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()));
        assert!(!occurs_on(
            &s,
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
        ));
        assert!(occurs_on(
            &s,
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        ));
    }
}
