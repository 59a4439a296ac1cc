//! The token cache: one slot per resource, a token served until 5 minutes before it expires (half its
//! lifetime when that is shorter), and one exchange at a time per resource: requests that arrive
//! while it runs wait for it and share its outcome, success or failure.
//!
//! Single-threaded by design (the service runs on one thread): `Rc` and `Cell`, and a tokio mutex
//! per slot as the queue.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use crate::exchange::entra::AccessToken;

/// The most a token is kept before its expiry, for tokens that live long enough.
pub const REFRESH_MARGIN_SECS: i64 = 300;

/// Until when (Unix seconds) a token obtained at `obtained_at` is served from the cache: 5 minutes
/// before `expires_on`, or half-way through its lifetime when that is shorter than 10 minutes.
/// Always before `expires_on` for a token that has not expired yet.
pub fn fresh_until(obtained_at: i64, expires_on: i64) -> i64 {
    let lifetime = expires_on.saturating_sub(obtained_at).max(0);
    expires_on.saturating_sub((lifetime / 2).min(REFRESH_MARGIN_SECS))
}

/// Where a served token came from.
#[derive(Debug)]
pub enum Served {
    /// The cache.
    Cached(AccessToken),
    /// An exchange made for this request (or for one it waited for).
    Exchanged(AccessToken),
}

impl Served {
    /// The token.
    pub fn token(&self) -> &AccessToken {
        match self {
            Self::Cached(token) | Self::Exchanged(token) => token,
        }
    }
}

struct Entry {
    token: AccessToken,
    fresh_until: i64,
}

#[derive(Default)]
struct Slot<E> {
    entry: tokio::sync::Mutex<Option<Entry>>,
    /// Counts finished exchanges: a request that sees it change while it waited had its exchange
    /// done for it.
    finished: Cell<u64>,
    last_failure: RefCell<Option<Rc<E>>>,
}

/// Tokens per resource, with the last failure kept for the requests that waited on it.
pub struct Cache<E> {
    slots: RefCell<HashMap<String, Rc<Slot<E>>>>,
}

impl<E> Default for Cache<E> {
    fn default() -> Self {
        Self {
            slots: RefCell::new(HashMap::new()),
        }
    }
}

impl<E> Cache<E> {
    /// The token for `key`: from the cache while it is fresh at `now()`, else from `exchange`, run
    /// by one request at a time; requests that waited for a failed exchange get its error.
    pub async fn get<F, Fut>(
        &self,
        key: &str,
        now: impl Fn() -> i64,
        exchange: F,
    ) -> Result<Served, Rc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, E>>,
    {
        let slot = Rc::clone(
            self.slots
                .borrow_mut()
                .entry(key.to_owned())
                .or_insert_with(|| {
                    Rc::new(Slot {
                        entry: tokio::sync::Mutex::new(None),
                        finished: Cell::new(0),
                        last_failure: RefCell::new(None),
                    })
                }),
        );
        let seen = slot.finished.get();
        let mut entry = slot.entry.lock().await;
        if let Some(cached) = entry.as_ref()
            && now() < cached.fresh_until
        {
            return Ok(Served::Cached(cached.token.clone()));
        }
        if slot.finished.get() != seen
            && let Some(failure) = slot.last_failure.borrow().as_ref()
        {
            return Err(Rc::clone(failure));
        }
        let obtained_at = now();
        let result = exchange().await;
        slot.finished.set(slot.finished.get().wrapping_add(1));
        match result {
            Ok(token) => {
                *entry = Some(Entry {
                    fresh_until: fresh_until(obtained_at, token.expires_on),
                    token: token.clone(),
                });
                slot.last_failure.replace(None);
                Ok(Served::Exchanged(token))
            }
            Err(error) => {
                let error = Rc::new(error);
                *entry = None;
                slot.last_failure.replace(Some(Rc::clone(&error)));
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn token(expires_on: i64) -> AccessToken {
        AccessToken {
            token: Secret::new(format!("token-{expires_on}")),
            expires_on,
        }
    }

    #[test]
    fn keeps_long_tokens_until_five_minutes_before_expiry() {
        assert_eq!(fresh_until(1_000, 1_000 + 4_479), 1_000 + 4_479 - 300);
        assert_eq!(fresh_until(1_000, 1_000 + 600), 1_000 + 300);
    }

    #[test]
    fn keeps_short_tokens_half_their_lifetime() {
        assert_eq!(fresh_until(1_000, 1_030), 1_015);
        assert_eq!(fresh_until(1_000, 1_001), 1_001);
        // Already expired when obtained: never fresh.
        assert_eq!(fresh_until(1_000, 900), 900);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn serves_from_cache_until_fresh_until_then_exchanges_again() {
        let cache: Cache<String> = Cache::default();
        let now = Cell::new(1_000);
        let calls = Cell::new(0);
        let exchange = || async {
            calls.set(calls.get() + 1);
            Ok(token(now.get() + 30))
        };
        let first = cache.get("r", || now.get(), exchange).await.expect("ok");
        assert!(matches!(first, Served::Exchanged(_)));
        now.set(1_014);
        let second = cache.get("r", || now.get(), exchange).await.expect("ok");
        assert!(matches!(second, Served::Cached(ref t) if t.expires_on == 1_030));
        now.set(1_015);
        let third = cache.get("r", || now.get(), exchange).await.expect("ok");
        assert!(matches!(third, Served::Exchanged(ref t) if t.expires_on == 1_045));
        // Another resource has its own slot.
        let other = cache.get("s", || now.get(), exchange).await.expect("ok");
        assert!(matches!(other, Served::Exchanged(_)));
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_requests_share_one_exchange() {
        let cache: Cache<String> = Cache::default();
        let calls = Cell::new(0);
        let (release, gate) = tokio::sync::watch::channel(false);
        let exchange = || async {
            calls.set(calls.get() + 1);
            let mut gate = gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            Ok(token(10_000))
        };
        let opener = async {
            tokio::task::yield_now().await;
            let _ = release.send(true);
        };
        let get = || cache.get("r", || 1_000, exchange);
        let (a, b, c, d, e, ()) = tokio::join!(get(), get(), get(), get(), get(), opener);
        let done = [a, b, c, d, e];
        assert_eq!(calls.get(), 1);
        let exchanged = done
            .iter()
            .filter(|r| matches!(r, Ok(Served::Exchanged(_))))
            .count();
        let cached = done
            .iter()
            .filter(|r| matches!(r, Ok(Served::Cached(_))))
            .count();
        assert_eq!((exchanged, cached), (1, 4));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn waiters_share_a_failure_and_the_next_request_tries_again() {
        let cache: Cache<String> = Cache::default();
        let calls = Cell::new(0);
        let (release, gate) = tokio::sync::watch::channel(false);
        let failing = || async {
            calls.set(calls.get() + 1);
            let mut gate = gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            Err("AADSTS70021".to_owned())
        };
        let first = cache.get("r", || 1_000, failing);
        let second = cache.get("r", || 1_000, failing);
        let opener = async {
            tokio::task::yield_now().await;
            let _ = release.send(true);
        };
        let (first, second, ()) = tokio::join!(first, second, opener);
        assert_eq!(first.expect_err("fails").as_str(), "AADSTS70021");
        assert_eq!(second.expect_err("shares").as_str(), "AADSTS70021");
        assert_eq!(calls.get(), 1);
        let later = cache
            .get("r", || 1_000, || async { Ok(token(5_000)) })
            .await
            .expect("a later request exchanges afresh");
        assert!(matches!(later, Served::Exchanged(_)));
    }
}
