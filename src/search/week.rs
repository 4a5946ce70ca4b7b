//! Opening hours as minutes of the local week, for the near-here index. Pure.
//!
//! Nearly every schedule in a directory is "these days, from this time to that": the same
//! minutes of every week. Those reduce to a few intervals of the local week, which many places
//! share, so the index keeps one copy of each pattern and one number per place, and answers
//! "open now" with a table lookup instead of parsing schedules. What does not reduce (dated or
//! monthly schedules, every n-th week, times with seconds, an offset instead of a zone) is left
//! to [`crate::search::hours::is_open`], which stays the definition: `open` below agrees with it
//! for every schedule `weekly` accepts (a test compares them).

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::hsds::model::Schedule;
use crate::hsds::validate::{parse_byday, parse_date, parse_time};

pub const DAY: u16 = 24 * 60;
pub const WEEK: u16 = 7 * DAY;

/// Sorted, disjoint `[start, end)` intervals of minutes since Monday 00:00 local time.
pub type Week = Vec<(u16, u16)>;

/// The minutes of the week at which any of `schedules` is open, or `None` when one of them
/// is not the same every week (then only `is_open` can tell).
///
/// `zoned`: whether the place has a time zone to read the schedules in.
pub fn weekly(schedules: &[Schedule], zoned: bool) -> Option<Week> {
    if !zoned {
        // Only a schedule's own UTC offset can then place it in time (not a pattern of local
        // time); with none, it is never open.
        return if schedules.iter().any(|s| s.timezone.is_some()) {
            None
        } else {
            Some(Week::new())
        };
    }
    let mut spans = Vec::new();
    for s in schedules {
        // An unreadable date restricts nothing in `occurs_on`; a readable one makes the
        // schedule depend on the date.
        let dated = [&s.valid_from, &s.valid_to, &s.dtstart, &s.until]
            .into_iter()
            .any(|d| d.as_deref().and_then(parse_date).is_some());
        let weekly = s
            .freq
            .as_deref()
            .is_none_or(|f| f.eq_ignore_ascii_case("WEEKLY"));
        let every_week = s.interval.filter(|i| *i >= 1.0).unwrap_or(1.0) as i64 <= 1;
        if dated || !weekly || !every_week {
            return None;
        }
        let (Some(opens), Some(closes)) = (
            s.opens_at.as_deref().and_then(parse_time),
            s.closes_at.as_deref().and_then(parse_time),
        ) else {
            // Never open, as in `open_at_local`.
            continue;
        };
        let (Some(opens), Some(closes)) = (minute(opens), minute(closes)) else {
            return None;
        };
        // No days, or days that do not parse, mean every day (ordinals are ignored weekly).
        let days: Vec<u16> = match s.byday.as_deref().map(str::trim) {
            None | Some("") => vec![],
            Some(byday) => parse_byday(byday)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, w)| w.num_days_from_monday() as u16)
                .collect(),
        };
        let days = if days.is_empty() {
            (0..7).collect()
        } else {
            days
        };
        for day in days {
            let at = day * DAY;
            if opens == closes {
                spans.push((at, at + DAY));
            } else if opens < closes {
                // 23:59 means until midnight.
                let end = if closes == DAY - 1 { DAY } else { closes };
                spans.push((at + opens, at + end));
            } else {
                // Past midnight: the early hours belong to the next day.
                spans.push((at + opens, at + DAY));
                let next = (day + 1) % 7 * DAY;
                spans.push((next, next + closes));
            }
        }
    }
    Some(merge(spans))
}

/// Whole minutes of a time, or `None` for a time with seconds.
fn minute(t: NaiveTime) -> Option<u16> {
    (t.second() == 0 && t.nanosecond() == 0).then(|| (t.hour() * 60 + t.minute()) as u16)
}

fn merge(mut spans: Vec<(u16, u16)>) -> Week {
    spans.retain(|(a, b)| a < b);
    spans.sort_unstable();
    let mut out: Week = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The minute of the local week at instant `at` in `zone`.
pub fn minute_of_week(zone: Tz, at: DateTime<Utc>) -> u16 {
    let local = at.with_timezone(&zone).naive_local();
    local.weekday().num_days_from_monday() as u16 * DAY
        + (local.hour() * 60 + local.minute()) as u16
}

/// Whether `week` is open at minute `m`.
pub fn open(week: &[(u16, u16)], m: u16) -> bool {
    let i = week.partition_point(|&(start, _)| start <= m);
    i > 0 && m < week[i - 1].1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::hours::is_open;
    use chrono::{Duration, TimeZone};

    fn schedule(byday: Option<&str>, opens: &str, closes: &str) -> Schedule {
        Schedule {
            id: "00000000-0000-0000-0000-000000000001".into(),
            freq: Some("WEEKLY".into()),
            byday: byday.map(Into::into),
            opens_at: Some(opens.into()),
            closes_at: Some(closes.into()),
            ..Default::default()
        }
    }

    /// splitmix64, so a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn the_weekly_pattern_agrees_with_the_schedules_at_every_instant_tried() {
        let times = [
            "00:00", "06:00", "08:30", "09:00", "12:00", "17:00", "17:30", "20:00", "23:00",
            "23:59",
        ];
        let days = [
            None,
            Some(""),
            Some("MO"),
            Some("MO,TU,WE,TH,FR"),
            Some("SA,SU"),
            Some("FR"),
            Some("SU"),
            Some("1MO"),
            Some("nonsense"),
        ];
        let zones: [Tz; 4] = [
            chrono_tz::America::New_York,
            chrono_tz::Europe::London,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
        ];
        let mut rng = Rng(7);
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut checked = 0;
        for _ in 0..300 {
            let n = 1 + rng.below(3);
            let schedules: Vec<Schedule> = (0..n)
                .map(|_| {
                    schedule(
                        days[rng.below(days.len() as u64) as usize],
                        times[rng.below(times.len() as u64) as usize],
                        times[rng.below(times.len() as u64) as usize],
                    )
                })
                .collect();
            let week = weekly(&schedules, true).expect("plain weekly schedules reduce");
            let zone = zones[rng.below(zones.len() as u64) as usize];
            // Instants across a year, so daylight-saving changes are crossed, with seconds.
            for _ in 0..200 {
                let at = start + Duration::seconds(rng.below(366 * 86_400) as i64);
                assert_eq!(
                    open(&week, minute_of_week(zone, at)),
                    is_open(&schedules, Some(zone), at),
                    "{schedules:?} in {zone} at {at}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 60_000);
    }

    #[test]
    fn schedules_that_change_from_week_to_week_are_left_to_the_full_rules() {
        let plain = schedule(Some("MO"), "09:00", "17:00");
        assert!(weekly(std::slice::from_ref(&plain), true).is_some());
        let variants = [
            Schedule {
                valid_to: Some("2026-12-31".into()),
                ..plain.clone()
            },
            Schedule {
                dtstart: Some("2026-01-05".into()),
                ..plain.clone()
            },
            Schedule {
                freq: Some("MONTHLY".into()),
                ..plain.clone()
            },
            Schedule {
                interval: Some(2.0),
                ..plain.clone()
            },
            Schedule {
                opens_at: Some("09:00:30".into()),
                ..plain.clone()
            },
        ];
        for v in variants {
            assert_eq!(weekly(&[plain.clone(), v.clone()], true), None, "{v:?}");
        }
        // Without a zone, a schedule's own offset is read instead of local time.
        let offset = Schedule {
            timezone: Some(-5.0),
            ..plain.clone()
        };
        assert_eq!(weekly(std::slice::from_ref(&offset), false), None);
        assert_eq!(weekly(std::slice::from_ref(&plain), false), Some(vec![]));
        assert!(!is_open(
            std::slice::from_ref(&plain),
            None,
            Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
        ));
        // An unreadable date restricts nothing, so the pattern still holds.
        let unreadable = Schedule {
            valid_to: Some("soon".into()),
            ..plain
        };
        assert!(weekly(&[unreadable], true).is_some());
    }

    #[test]
    fn overlapping_and_overnight_hours_merge_into_the_week() {
        let week = weekly(
            &[
                schedule(Some("SU"), "20:00", "06:00"),
                schedule(Some("MO"), "05:00", "09:00"),
            ],
            true,
        )
        .unwrap();
        // Sunday night wraps into Monday morning and joins Monday's own hours.
        assert_eq!(week, vec![(0, 9 * 60), (6 * DAY + 20 * 60, WEEK)]);
        assert!(open(&week, 0));
        assert!(!open(&week, 9 * 60));
        assert!(open(&week, WEEK - 1));
        assert!(!open(&[], 0));
    }
}
