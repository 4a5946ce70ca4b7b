//! Places on the Earth: distances, search boxes and time zones.

use std::sync::LazyLock;

use geo::{Distance, Geodesic, Point as GeoPoint};
use tzf_rs::DefaultFinder;

use super::filters::Point;

/// Geodesic distance in metres on the WGS84 ellipsoid (Karney's method, accurate to
/// millimetres), so a radius boundary is exact.
pub fn distance(a: Point, b: Point) -> f64 {
    Geodesic.distance(GeoPoint::new(a.lon, a.lat), GeoPoint::new(b.lon, b.lat))
}

/// A latitude/longitude box that holds every point within `radius` metres of `p`, to narrow a
/// search before exact distances are computed. `None` for a longitude span means "all
/// longitudes" (near a pole or across the antimeridian).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min_lat: f64,
    pub max_lat: f64,
    pub lon: Option<(f64, f64)>,
}

pub fn bounds(p: Point, radius: f64) -> Bounds {
    // A degree of latitude is at least 110.57 km; take a 1% margin on top.
    let dlat = radius / 110_574.0 * 1.01;
    let min_lat = (p.lat - dlat).max(-90.0);
    let max_lat = (p.lat + dlat).min(90.0);
    let widest = min_lat.abs().max(max_lat.abs());
    let lon = if widest >= 89.0 {
        None
    } else {
        // A degree of longitude at latitude φ is at least 111.32 km · cos φ on the ellipsoid's
        // widest circle; use the box's widest latitude, where it is smallest.
        let dlon = radius / (111_320.0 * widest.to_radians().cos()) * 1.01;
        let (lo, hi) = (p.lon - dlon, p.lon + dlon);
        if lo < -180.0 || hi > 180.0 {
            None
        } else {
            Some((lo, hi))
        }
    };
    Bounds {
        min_lat,
        max_lat,
        lon,
    }
}

static FINDER: LazyLock<DefaultFinder> = LazyLock::new(DefaultFinder::new);

/// The IANA time zone at a point, from the bundled time-zone boundaries.
pub fn time_zone(lat: f64, lon: f64) -> Option<String> {
    let name = FINDER.get_tz_name(lon, lat);
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_geodesic() {
        // One degree of latitude at the equator is 110,574.4 m on WGS84; at 45° it is 111,131.7 m
        // (spherical formulas are off by hundreds of metres here).
        let d = distance(Point { lat: 0.0, lon: 0.0 }, Point { lat: 1.0, lon: 0.0 });
        assert!((d - 110_574.4).abs() < 1.0, "{d}");
        let d = distance(
            Point {
                lat: 44.5,
                lon: 10.0,
            },
            Point {
                lat: 45.5,
                lon: 10.0,
            },
        );
        assert!((d - 111_131.7).abs() < 2.0, "{d}");
    }

    #[test]
    fn bounds_contain_the_circle() {
        let p = Point {
            lat: 38.0,
            lon: -78.0,
        };
        let b = bounds(p, 10_000.0);
        for bearing in 0..360 {
            let (s, c) = (bearing as f64).to_radians().sin_cos();
            // Walk out ~10 km in each direction and check the point is in the box.
            let q = Point {
                lat: p.lat + c * 10_000.0 / 110_574.0,
                lon: p.lon + s * 10_000.0 / (111_320.0 * p.lat.to_radians().cos()),
            };
            assert!(q.lat >= b.min_lat && q.lat <= b.max_lat);
            let (lo, hi) = b.lon.unwrap();
            assert!(q.lon >= lo && q.lon <= hi);
        }
        assert_eq!(
            bounds(
                Point {
                    lat: 89.5,
                    lon: 0.0
                },
                10_000.0
            )
            .lon,
            None
        );
        assert_eq!(
            bounds(
                Point {
                    lat: 0.0,
                    lon: 179.99
                },
                10_000.0
            )
            .lon,
            None
        );
    }

    #[test]
    fn time_zones_come_from_coordinates() {
        assert_eq!(
            time_zone(38.0293, -78.4767).as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            time_zone(51.5072, -0.1276).as_deref(),
            Some("Europe/London")
        );
        assert_eq!(
            time_zone(-33.8688, 151.2093).as_deref(),
            Some("Australia/Sydney")
        );
    }
}
