//! Answers of database searches, and their totals, kept until the directory next changes.
//!
//! A common keyword over a million services still costs 10–40 ms counted in memory
//! (`search::keyword`), and 100–600 ms with a filter, which the database counts (each match
//! checked against it), while a directory's searchers ask for the same few words (naloxone,
//! detox, housing) again and again. So a page of a search the database answered is kept, with
//! its total, and given again until any service changes. The total is also kept on its own,
//! for the search's other pages: counting a million services takes the database a third of a
//! second, and a partner reads them a page at a time.
//!
//! The near-here index (`search::nearby`) follows `search_change`, the log every write of a
//! service's search rows appends to, and empties this whenever it applies a change or loads
//! everything again; a search catches the index up before asking here, so it never gets an
//! answer older than a write committed before it, through any instance. Every write that can
//! change such an answer (a service, its organisation, a location, the terms its attributes
//! bring) rewrites the service's search rows, so it is in that log. An answer from a read that
//! began before a change is not kept (see `generation`). Searches that depend on the clock
//! (`open_at`) are never kept.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::search::filters::{Format, Search};
use crate::search::query::{Answer, Unit, Window};

/// Pages kept: each is at most 100 ids and a total (a few kilobytes).
const KEPT: usize = 256;
/// Keyword searches whose matching texts are kept: a common word's are a tenth of a million
/// numbers (about 1 MB at a million services).
const TEXTS_KEPT: usize = 16;

/// A search's identity: its `Debug` text, with what only changes how items are shown left
/// out. `Search` holds floats (point, radius, fee, age), so it has no `Eq` or `Hash`; its
/// `Debug` text tells any two searches apart and takes in every filter added later, which a
/// key listing the fields by hand would silently miss. Building it costs microseconds beside
/// the milliseconds of the query it saves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    pub fn new(s: &Search, unit: Unit, window: Window) -> Key {
        let shown = Search {
            minimal: false,
            full: false,
            format: Format::Json,
            ..s.clone()
        };
        Key(format!("{unit:?} {window:?} {shown:?}"))
    }

    /// The key of the texts a search's words match, the same for every page, page size and
    /// status of a keyword search.
    pub fn texts(s: &Search) -> Key {
        Key(format!("texts {:?}", s.words))
    }

    /// The key of a search's total, which is the same for all its pages.
    pub fn total(s: &Search, unit: Unit) -> Key {
        let any_page = Search {
            page: 1,
            per_page: 1,
            ..s.clone()
        };
        Key::new(&any_page, unit, Window::All)
    }
}

struct Inner {
    answers: LruCache<Key, Answer>,
    totals: LruCache<Key, i64>,
    texts: LruCache<Key, Arc<Vec<i64>>>,
    /// Bumped by every `forget`.
    generation: u64,
}

pub struct Answers {
    inner: Mutex<Inner>,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            inner: Mutex::new(Inner {
                answers: LruCache::new(NonZeroUsize::new(KEPT).expect("not zero")),
                totals: LruCache::new(NonZeroUsize::new(KEPT).expect("not zero")),
                texts: LruCache::new(NonZeroUsize::new(TEXTS_KEPT).expect("not zero")),
                generation: 0,
            }),
        }
    }
}

impl Answers {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a search's answer may be kept: a page, and not one that depends on the clock.
    pub fn keeps(s: &Search, window: Window) -> bool {
        matches!(window, Window::Page { .. }) && s.open_at.is_none()
    }

    /// The kept answer to `key`, or else `answer()`'s, kept unless a change was noted while
    /// it ran (its read may have missed that change).
    pub fn get_or<E>(
        &self,
        key: Key,
        answer: impl FnOnce() -> Result<Answer, E>,
    ) -> Result<Answer, E> {
        self.kept_or(key, |inner| &mut inner.answers, answer)
    }

    /// The kept total of `key` (`Key::total`), or else `count()`'s, kept as `get_or` keeps
    /// an answer.
    pub fn total_or<E>(&self, key: Key, count: impl FnOnce() -> Result<i64, E>) -> Result<i64, E> {
        self.kept_or(key, |inner| &mut inner.totals, count)
    }

    /// The kept numbers of the texts a keyword search's words match (`Key::texts`), or else
    /// `find()`'s, kept as `get_or` keeps an answer. A partner paging through a common word's
    /// services, or asking for other page sizes, needs them for every page, and on PostgreSQL
    /// finding them reads a table page per match: 0.1–1.8 s at a million services.
    pub fn texts_or<E>(
        &self,
        key: Key,
        find: impl FnOnce() -> Result<Arc<Vec<i64>>, E>,
    ) -> Result<Arc<Vec<i64>>, E> {
        self.kept_or(key, |inner| &mut inner.texts, find)
    }

    fn kept_or<V: Clone, E>(
        &self,
        key: Key,
        kept: fn(&mut Inner) -> &mut LruCache<Key, V>,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let generation = {
            let mut inner = self.lock();
            if let Some(value) = kept(&mut inner).get(&key) {
                return Ok(value.clone());
            }
            inner.generation
        };
        let fresh = make()?;
        let mut inner = self.lock();
        if inner.generation == generation {
            kept(&mut inner).put(key, fresh.clone());
        }
        Ok(fresh)
    }

    /// Forgets every answer and total: the directory changed.
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.answers.clear();
        inner.totals.clear();
        inner.texts.clear();
        inner.generation += 1;
    }

    /// Answers kept, for tests and logs.
    pub fn len(&self) -> usize {
        self.lock().answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query::Hit;

    fn answer(total: i64) -> Answer {
        Answer {
            hits: vec![Hit {
                id: format!("s{total}"),
                distance: None,
            }],
            total,
            from_memory: false,
        }
    }

    fn key(words: &[&str], page: i64) -> Key {
        let s = Search {
            words: words.iter().map(|w| w.to_string()).collect(),
            ..Search::default()
        };
        Key::new(&s, Unit::Service, Window::Page { page, per_page: 20 })
    }

    #[test]
    fn an_answer_is_kept_until_forgotten() {
        let answers = Answers::default();
        let first = answers.get_or(key(&["detox"], 1), || Ok::<_, ()>(answer(3)));
        assert_eq!(first.unwrap().total, 3);
        let kept = answers.get_or(key(&["detox"], 1), || Ok::<_, ()>(answer(4)));
        assert_eq!(kept.unwrap().total, 3);
        // Another page or word is another search.
        let other = answers.get_or(key(&["detox"], 2), || Ok::<_, ()>(answer(5)));
        assert_eq!(other.unwrap().total, 5);
        assert_eq!(answers.len(), 2);
        answers.forget();
        assert!(answers.is_empty());
        let fresh = answers.get_or(key(&["detox"], 1), || Ok::<_, ()>(answer(4)));
        assert_eq!(fresh.unwrap().total, 4);
    }

    #[test]
    fn a_words_texts_are_kept_for_every_page_until_forgotten() {
        let answers = Answers::default();
        let search = |page, per_page| Search {
            words: vec!["naloxone".into()],
            page,
            per_page,
            ..Search::default()
        };
        let found = |ids: Vec<i64>| move || Ok::<_, ()>(Arc::new(ids));
        let first = answers.texts_or(Key::texts(&search(1, 20)), found(vec![3, 5]));
        assert_eq!(*first.unwrap(), [3, 5]);
        let kept = answers.texts_or(Key::texts(&search(3, 41)), found(vec![7]));
        assert_eq!(*kept.unwrap(), [3, 5]);
        answers.forget();
        let fresh = answers.texts_or(Key::texts(&search(1, 20)), found(vec![7]));
        assert_eq!(*fresh.unwrap(), [7]);
    }

    #[test]
    fn a_total_is_kept_for_every_page_until_forgotten() {
        let answers = Answers::default();
        let page = |page| Search {
            words: vec!["detox".into()],
            page,
            per_page: 20,
            ..Search::default()
        };
        let total =
            |page, unit, count| answers.total_or(Key::total(&page, unit), || Ok::<_, ()>(count));
        assert_eq!(total(page(1), Unit::Service, 7), Ok(7));
        assert_eq!(total(page(3), Unit::Service, 8), Ok(7));
        assert_eq!(total(page(1), Unit::ServiceAtLocation, 9), Ok(9));
        answers.forget();
        assert_eq!(total(page(3), Unit::Service, 8), Ok(8));
    }

    #[test]
    fn an_answer_read_across_a_change_is_not_kept() {
        let answers = Answers::default();
        let during = answers.get_or(key(&["detox"], 1), || {
            answers.forget();
            Ok::<_, ()>(answer(3))
        });
        assert_eq!(during.unwrap().total, 3);
        assert!(answers.is_empty());
    }

    #[test]
    fn how_items_are_shown_is_not_part_of_the_key() {
        let s = Search {
            words: vec!["detox".into()],
            ..Search::default()
        };
        let window = Window::Page {
            page: 1,
            per_page: 20,
        };
        let minimal = Search {
            minimal: true,
            ..s.clone()
        };
        assert_eq!(
            Key::new(&s, Unit::Service, window),
            Key::new(&minimal, Unit::Service, window)
        );
        let free = Search {
            cost: 1,
            ..s.clone()
        };
        assert_ne!(
            Key::new(&s, Unit::Service, window),
            Key::new(&free, Unit::Service, window)
        );
        assert_ne!(
            Key::new(&s, Unit::Service, window),
            Key::new(&s, Unit::ServiceAtLocation, window)
        );
    }

    #[test]
    fn errors_are_not_kept() {
        let answers = Answers::default();
        assert!(answers.get_or(key(&["detox"], 1), || Err(())).is_err());
        assert!(answers.is_empty());
    }
}
