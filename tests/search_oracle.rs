//! Search agrees with a brute-force scan: a few thousand generated services, a few hundred
//! random "near here, with this cost and accessibility" queries, a third of them also "open
//! at" a random instant, and for each the server's answer (count, and the distances of the
//! first page, nearest first) against every service_at_location checked one by one in the
//! test, its hours by the schedules themselves. Whatever index or shortcut search uses
//! (bounding boxes, paging, ordering), it must not change an answer.

mod common;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use common::TestServer;
use geo::{Distance, Geodesic, Point};
use haven::hsds::model::{Schedule, Service};
use haven::search::hours::is_open;
use haven::search::{index, place};
use haven::vocab::{Facet, VOCABULARIES};

/// A small deterministic generator (splitmix64), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn mask(facet: Facet, codes: &[&str]) -> i64 {
    let v = VOCABULARIES.get(facet);
    codes
        .iter()
        .map(|c| v.bit(c).unwrap())
        .fold(0, |a, b| a | b)
}

/// The distances of a page's items, in order.
fn distances(page: &serde_json::Value) -> Vec<f64> {
    page["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["distance"].as_f64().unwrap())
        .collect()
}

#[test]
fn search_matches_a_brute_force_scan() {
    let mut text = Vec::new();
    haven::generate::services(1_500, 11, &mut text).unwrap();
    let values: Vec<serde_json::Value> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let server = TestServer::start();
    server.import(&values);
    let entries: Vec<index::Entry> = values
        .iter()
        .flat_map(|v| {
            let s: Service = serde_json::from_value(v.clone()).unwrap();
            index::entries(&s, |l| {
                l.latitude
                    .zip(l.longitude)
                    .and_then(|(lat, lon)| place::time_zone(lat, lon))
            })
        })
        .filter(|e| e.status == "active" && e.latitude.is_some() && e.longitude.is_some())
        .collect();
    assert!(entries.len() > 1_500);

    let costs: [&[&str]; 4] = [&[], &["free"], &["free", "sliding_scale"], &["medicaid"]];
    let access: [&[&str]; 3] = [&[], &["wheelchair"], &["wheelchair", "interpreter"]];
    let mut rng = Rng(2026);
    let mut compared = 0;
    let mut open_compared = 0;
    let week_start = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let open = |e: &index::Entry, at: DateTime<Utc>| {
        let schedules: Vec<Schedule> = e
            .hours
            .as_deref()
            .map(|h| serde_json::from_str(h).unwrap())
            .unwrap_or_default();
        let zone = e.time_zone.as_deref().and_then(|z| z.parse::<Tz>().ok());
        is_open(&schedules, zone, at)
    };
    for _ in 0..200 {
        // Near a real place (services cluster), a few km off, with a radius from 0.5 to 30 km.
        let at = &entries[rng.below(entries.len())];
        let lat = at.latitude.unwrap() + (rng.unit() - 0.5) * 0.1;
        let lon = at.longitude.unwrap() + (rng.unit() - 0.5) * 0.1;
        // Whole metres, as the query sends it.
        let radius = (500.0 + rng.unit() * 29_500.0).round();
        let cost = costs[rng.below(costs.len())];
        let accessibility = access[rng.below(access.len())];
        // Any minute of a week, with seconds.
        let at = (rng.below(3) == 0)
            .then(|| week_start + Duration::seconds(rng.below(7 * 86_400) as i64));

        let (cost_mask, access_mask) = (
            mask(Facet::Cost, cost),
            mask(Facet::Accessibility, accessibility),
        );
        let here = Point::new(lon, lat);
        let mut expected: Vec<f64> = entries
            .iter()
            .filter(|e| cost.is_empty() || e.cost & cost_mask != 0)
            .filter(|e| e.accessibility & access_mask == access_mask)
            .filter(|e| at.is_none_or(|at| open(e, at)))
            .map(|e| Geodesic.distance(here, Point::new(e.longitude.unwrap(), e.latitude.unwrap())))
            .filter(|d| *d <= radius)
            .collect();
        expected.sort_by(f64::total_cmp);

        let mut path = format!("/service_at_locations?lat={lat}&lon={lon}&proximity={radius:.0}");
        if !cost.is_empty() {
            path.push_str(&format!("&cost={}", cost.join(",")));
        }
        if !accessibility.is_empty() {
            path.push_str(&format!("&accessibility={}", accessibility.join(",")));
        }
        if let Some(at) = at {
            let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
            path.push_str(&format!("&open_at={at}"));
        }
        // Page `number` of `per_page` holds the brute force's distances from there, and every
        // page tells the whole count.
        let check = |per_page: usize, number: usize| {
            let page = server.json(&format!("{path}&per_page={per_page}&page={number}"));
            let what = format!("{path} per_page {per_page} page {number}");
            assert_eq!(
                page["total_items"].as_u64().unwrap() as usize,
                expected.len(),
                "{what}"
            );
            let from = ((number - 1) * per_page).min(expected.len());
            let wanted = &expected[from..(from + per_page).min(expected.len())];
            let got = distances(&page);
            assert_eq!(got.len(), wanted.len(), "{what}");
            for (g, e) in got.iter().zip(wanted) {
                assert!((g - e).abs() < 0.01, "{what}: {g} vs {e}");
            }
        };
        check(100, 1);
        // A later page of another size: the index keeps only what a page may need, so the
        // rows it keeps must reach that far.
        check(1 + rng.below(30), 2 + rng.below(3));
        // A page of one: the scan's bar falls to the nearest match at once, so most cells and
        // blocks are counted from the rows kept for them, not read for the page.
        check(1, 1);
        compared += expected.len();
        if at.is_some() {
            open_compared += expected.len();
        }
    }
    assert!(
        compared > 1_000,
        "the queries should find things: {compared}"
    );
    assert!(
        open_compared > 100,
        "the queries open at an instant should find things: {open_compared}"
    );
}
