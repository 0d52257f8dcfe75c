//! Admin API rate limits (`[rate_limits]`): one limiter keyed by client IP, applied to every
//! request under `/api/v1` by [`per_ip`], and one keyed by token, applied by the
//! [`Caller`](super::api::auth::Caller) extractor once the token is accepted. A request with a
//! missing or wrong token therefore counts against its IP only. Retell endpoints are not
//! limited: their signature protects them. Health and metrics endpoints are not limited either.
//!
//! Each limit allows a burst of its per-minute value, refilled evenly over the minute
//! (`Quota::per_minute`). Over a limit, the answer is 429 `rate_limited` with `Retry-After` in
//! whole seconds, and `callflow_rate_limited_total{limit="ip"|"token"}` counts it.
//!
//! Memory stays bounded: the keyed stores keep one small entry per IP and token seen, and at
//! most once every [`CLEANUP_INTERVAL`] a request drops the entries that are back at a full
//! burst (`retain_recent`), so a store only holds the keys active within about a minute.

use super::error::ApiError;
use super::AppState;
use crate::config::RateLimitsConfig;
use crate::metrics::RATE_LIMITED_TOTAL;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, ResponseError};
use callflow_actors::domain::TokenId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the keyed stores are pruned of keys that are back at a full burst.
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

/// The admin API's limiters, shared by every worker through [`AppState`].
pub struct RateLimits {
    per_ip: Option<Limiter<IpAddr>>,
    per_token: Option<Limiter<TokenId>>,
    trust_forwarded_for: bool,
}

/// One keyed limiter with its pruning schedule.
struct Limiter<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    started: Instant,
    /// Seconds after `started` of the last pruning.
    pruned_at: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(per_minute: u32) -> Option<Self> {
        let per_minute = NonZeroU32::new(per_minute)?;
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            started: Instant::now(),
            pruned_at: AtomicU64::new(0),
        })
    }

    /// `Ok` when `key` may go on, else how long it has to wait.
    fn check(&self, key: &K) -> Result<(), Duration> {
        self.prune_now_and_then();
        self.limiter.check_key(key).map_err(|not_until| {
            let clock = DefaultClock::default();
            not_until.wait_time_from(clock.now())
        })
    }

    /// Drops keys that are back at a full burst, at most once per [`CLEANUP_INTERVAL`]; the
    /// one request that wins the race does it.
    fn prune_now_and_then(&self) {
        let now = self.started.elapsed().as_secs();
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < CLEANUP_INTERVAL.as_secs() {
            return;
        }
        if self
            .pruned_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

impl RateLimits {
    /// The limiters of `config`; a limit of 0 is off.
    pub fn new(config: &RateLimitsConfig) -> Self {
        Self {
            per_ip: Limiter::new(config.per_ip_per_minute),
            per_token: Limiter::new(config.per_token_per_minute),
            trust_forwarded_for: config.trust_forwarded_for,
        }
    }

    /// Counts a request from `ip`; a 429 when it is over the per-IP limit.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        match &self.per_ip {
            Some(limiter) => limiter.check(&ip).map_err(|wait| refuse("ip", wait)),
            None => Ok(()),
        }
    }

    /// Counts a request made with `token`; a 429 when it is over the per-token limit.
    pub fn check_token(&self, token: TokenId) -> Result<(), ApiError> {
        match &self.per_token {
            Some(limiter) => limiter.check(&token).map_err(|wait| refuse("token", wait)),
            None => Ok(()),
        }
    }

    /// The client IP of `req`: the peer address, or the proxy headers' when trusted.
    fn client_ip(&self, req: &ServiceRequest) -> Option<IpAddr> {
        if self.trust_forwarded_for {
            let info = req.connection_info();
            if let Some(ip) = info.realip_remote_addr().and_then(parse_ip) {
                return Some(ip);
            }
        }
        req.peer_addr().map(|addr| addr.ip())
    }
}

/// An IP address, with or without port (`1.2.3.4`, `1.2.3.4:5`, `[::1]:5`, `::1`).
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
        .or_else(|| {
            text.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()
        })
}

/// The 429 for `limit`, counted in the metrics.
fn refuse(limit: &'static str, wait: Duration) -> ApiError {
    metrics::counter!(RATE_LIMITED_TOTAL, "limit" => limit).increment(1);
    ApiError::rate_limited(wait)
}

/// Middleware of the `/api/v1` scope: the per-IP limit, before authentication.
pub async fn per_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let refused = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let limits = &state.rate_limits;
        let ip = limits.client_ip(&req)?;
        limits.check_ip(ip).err()
    });
    if let Some(error) = refused {
        let response = error.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_ip: u32, per_token: u32) -> RateLimitsConfig {
        RateLimitsConfig {
            per_ip_per_minute: per_ip,
            per_token_per_minute: per_token,
            trust_forwarded_for: false,
        }
    }

    #[test]
    fn a_burst_of_the_per_minute_value_passes_then_429() {
        let limits = RateLimits::new(&config(3, 2));
        let ip: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(limits.check_ip(ip).is_ok());
        }
        let refused = limits.check_ip(ip).expect_err("over the limit");
        assert_eq!(refused.status_code().as_u16(), 429);
        assert!(limits.check_ip([10, 0, 0, 2].into()).is_ok(), "per IP");

        let (a, b) = (TokenId::new(), TokenId::new());
        assert!(limits.check_token(a).is_ok());
        assert!(limits.check_token(a).is_ok());
        assert!(limits.check_token(a).is_err());
        assert!(limits.check_token(b).is_ok(), "per token");
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = RateLimits::new(&config(0, 0));
        let token = TokenId::new();
        for _ in 0..100 {
            assert!(limits.check_ip([10, 0, 0, 1].into()).is_ok());
            assert!(limits.check_token(token).is_ok());
        }
    }

    #[test]
    fn addresses_parse_with_or_without_port() {
        let v4: IpAddr = [1, 2, 3, 4].into();
        assert_eq!(parse_ip("1.2.3.4"), Some(v4));
        assert_eq!(parse_ip("1.2.3.4:55"), Some(v4));
        assert_eq!(
            parse_ip("[::1]:80"),
            Some(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(
            parse_ip("[::1]"),
            Some(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]))
        );
        assert_eq!(parse_ip("unknown"), None);
    }
}
