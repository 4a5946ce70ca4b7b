//! Search items kept between searches, already serialised.
//!
//! Building one service_at_location item from the database (a dozen queries, the stored JSON
//! parsed, nested and serialised again) cost about 0.45 ms, most of a near-here search's time.
//! Searches near the same places show the same items, so the JSON of an item (without its
//! distance, which belongs to the search) is kept, least recently used first out.
//!
//! Service items of `/services` are kept the same way: a keyword search's page of 20 cost
//! 8–17 ms to build, where the search itself is a kept answer (`search::answers`).
//!
//! An item is dropped when `search_change` says its service changed: the near-here index
//! (`search::nearby`) follows that log and calls `forget` for the services it reloads, and
//! `clear` when it loads everything again. Every write that changes what an item shows
//! (the service, its organisation, a location) rewrites the service's search rows, so it is
//! in that log. An item rendered from a read that began before a change is not kept (see
//! `generation`).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::search::query::{Hit, Unit};

/// An item: what it lists, its id (a service_at_location's or a service's), who looks, and
/// whether `full` was asked for.
pub type Key = (Unit, String, Viewer, bool);

/// An item built by `Rendered::items`' caller: its id, its JSON, and its service's id (an
/// item without one is shown but not kept, as nothing would forget it).
pub struct Built {
    pub id: String,
    pub service_id: Option<String>,
    pub json: String,
}

struct Inner {
    items: LruCache<Key, (String, Arc<str>)>,
    /// The items of each service, to forget them together.
    by_service: HashMap<String, Vec<Key>>,
    /// Bumped by every `forget` and `clear`.
    generation: u64,
    /// Nothing is kept when false (a capacity of 0).
    keeps: bool,
}

pub struct Rendered {
    inner: Mutex<Inner>,
}

impl Rendered {
    /// Holds up to `capacity` items; 0 keeps none.
    pub fn new(capacity: usize) -> Rendered {
        Rendered {
            inner: Mutex::new(Inner {
                items: LruCache::new(NonZeroUsize::new(capacity.max(1)).expect("at least one")),
                by_service: HashMap::new(),
                generation: 0,
                keeps: capacity > 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Read before loading what is rendered; pass to `keep`.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    #[cfg(test)]
    fn get(&self, key: &Key) -> Option<Arc<str>> {
        self.lock().items.get(key).map(|(_, json)| json.clone())
    }

    /// The kept items of these keys, under one lock (a page's worth at a time: taking the
    /// lock per item made the two workers wait on each other).
    fn get_many<'a>(&self, keys: impl IntoIterator<Item = &'a Key>) -> Vec<Option<Arc<str>>> {
        let mut inner = self.lock();
        keys.into_iter()
            .map(|key| inner.items.get(key).map(|(_, json)| json.clone()))
            .collect()
    }

    /// Keeps an item rendered from a read that began at `generation`, unless a change was
    /// noted since (the read may have missed it).
    pub fn keep(&self, generation: u64, service_id: &str, key: Key, json: Arc<str>) {
        let mut inner = self.lock();
        if !inner.keeps || inner.generation != generation {
            return;
        }
        inner
            .by_service
            .entry(service_id.to_string())
            .or_default()
            .push(key.clone());
        if let Some((old_key, (old_service, _))) =
            inner.items.push(key, (service_id.to_string(), json))
        {
            // `push` hands back the evicted item, or the one replaced under the same key.
            if let Some(keys) = inner.by_service.get_mut(&old_service) {
                if let Some(i) = keys.iter().position(|k| *k == old_key) {
                    keys.swap_remove(i);
                }
                if keys.is_empty() {
                    inner.by_service.remove(&old_service);
                }
            }
        }
    }

    /// The JSON of each hit's item, with the hit's distance, in order: kept items from
    /// `rendered`, the others from `build` (given their ids; an id it does not return is
    /// left out), then kept.
    pub fn items(
        rendered: Option<&Rendered>,
        unit: Unit,
        viewer: Viewer,
        full: bool,
        hits: &[Hit],
        build: impl FnOnce(&[String]) -> ApiResult<Vec<Built>>,
    ) -> ApiResult<Vec<String>> {
        let key = |id: &str| (unit, id.to_string(), viewer, full);
        let generation = rendered.map(Rendered::generation);
        let mut json: HashMap<String, Arc<str>> = HashMap::new();
        if let Some(cache) = rendered {
            let keys: Vec<Key> = hits.iter().map(|h| key(&h.id)).collect();
            for (h, item) in hits.iter().zip(cache.get_many(&keys)) {
                if let Some(item) = item {
                    json.insert(h.id.clone(), item);
                }
            }
        }
        let missing: Vec<String> = hits
            .iter()
            .filter(|h| !json.contains_key(&h.id))
            .map(|h| h.id.clone())
            .collect();
        if !missing.is_empty() {
            for item in build(&missing)? {
                let text: Arc<str> = Arc::from(item.json);
                if let (Some(cache), Some(generation), Some(service_id)) =
                    (rendered, generation, &item.service_id)
                {
                    cache.keep(generation, service_id, key(&item.id), text.clone());
                }
                json.insert(item.id, text);
            }
        }
        Ok(hits
            .iter()
            .filter_map(|h| json.get(&h.id).map(|item| with_distance(item, h.distance)))
            .collect())
    }

    /// Drops the items of these services.
    pub fn forget<'a>(&self, service_ids: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.lock();
        inner.generation += 1;
        for id in service_ids {
            for key in inner.by_service.remove(id).unwrap_or_default() {
                inner.items.pop(&key);
            }
        }
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.items.clear();
        inner.by_service.clear();
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The item's JSON with the search's distance added as its last field, where serde puts it.
pub fn with_distance(json: &str, distance: Option<f64>) -> String {
    match distance {
        None => json.to_string(),
        Some(d) => {
            let body = json.strip_suffix('}').unwrap_or(json);
            let d = serde_json::to_string(&d).unwrap_or_else(|_| "null".into());
            // Sized at once: `format!` grew the string a few times over for an item of a
            // kilobyte or more.
            let mut out = String::with_capacity(body.len() + d.len() + 14);
            out.push_str(body);
            out.push_str(",\"distance\":");
            out.push_str(&d);
            out.push('}');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Key {
        (
            Unit::ServiceAtLocation,
            id.to_string(),
            Viewer::Public,
            false,
        )
    }

    #[test]
    fn forgets_a_service_and_refuses_stale_reads() {
        let r = Rendered::new(10);
        let g = r.generation();
        r.keep(g, "s1", key("a"), Arc::from("{\"id\":\"a\"}"));
        r.keep(g, "s1", key("b"), Arc::from("{\"id\":\"b\"}"));
        r.keep(g, "s2", key("c"), Arc::from("{\"id\":\"c\"}"));
        assert_eq!(r.len(), 3);
        r.forget(["s1"]);
        assert!(r.get(&key("a")).is_none() && r.get(&key("b")).is_none());
        assert!(r.get(&key("c")).is_some());
        // Rendered from a read that began before the change: not kept.
        r.keep(g, "s1", key("a"), Arc::from("{\"id\":\"a\"}"));
        assert!(r.get(&key("a")).is_none());
    }

    #[test]
    fn evicts_the_least_recently_used() {
        let r = Rendered::new(2);
        let g = r.generation();
        r.keep(g, "s1", key("a"), Arc::from("{}"));
        r.keep(g, "s2", key("b"), Arc::from("{}"));
        r.get(&key("a"));
        r.keep(g, "s3", key("c"), Arc::from("{}"));
        assert!(r.get(&key("b")).is_none());
        assert!(r.get(&key("a")).is_some() && r.get(&key("c")).is_some());
        r.forget(["s2"]);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn the_distance_goes_last() {
        assert_eq!(
            with_distance("{\"id\":\"a\"}", Some(12.5)),
            "{\"id\":\"a\",\"distance\":12.5}"
        );
        assert_eq!(with_distance("{\"id\":\"a\"}", None), "{\"id\":\"a\"}");
    }
}
