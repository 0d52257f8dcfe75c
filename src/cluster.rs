//! Redis, for running several nodes: slot holds that every node sees.
//!
//! A hold is `SET key owner NX PX ttl` (atomic set-if-absent with expiry) and is released only
//! by its owner, through a compare-and-delete script, so a node can never free another node's
//! hold, and a hold whose node died expires on its own.

use crate::config::RedisConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError, Script};
use std::sync::LazyLock;
use std::time::Duration;

/// Deletes the key only when it still holds the caller's owner token.
static RELEASE_IF_OWNER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
              return redis.call('DEL', KEYS[1])
          end
          return 0",
    )
});

/// Cross-node holds in Redis.
#[derive(Clone)]
pub struct RedisHolds {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisHolds {
    /// Connects when `redis.url` is set; `None` for a single node.
    pub async fn connect(config: &RedisConfig) -> Result<Option<Self>, RedisError> {
        if config.url.is_empty() {
            return Ok(None);
        }
        let client = redis::Client::open(config.url.expose())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(4)
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let connection = ConnectionManager::new_with_config(client, manager_config).await?;
        Ok(Some(Self {
            connection,
            prefix: config.key_prefix.clone(),
        }))
    }

    fn key(&self, name: &str) -> String {
        format!("{}hold:{name}", self.prefix)
    }

    /// Succeeds when Redis answers.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(|_| ())
    }

    /// Takes the hold `name` for `owner` unless someone holds it; true when taken.
    pub async fn try_hold(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, RedisError> {
        let mut connection = self.connection.clone();
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(ttl.as_millis().max(1) as u64));
        let answer: Option<String> = connection
            .set_options(self.key(name), owner, options)
            .await?;
        Ok(answer.is_some())
    }

    /// Releases the hold `name` if `owner` holds it; true when released.
    pub async fn release(&self, name: &str, owner: &str) -> Result<bool, RedisError> {
        let mut connection = self.connection.clone();
        let deleted: i64 = RELEASE_IF_OWNER
            .key(self.key(name))
            .arg(owner)
            .invoke_async(&mut connection)
            .await?;
        Ok(deleted == 1)
    }

    /// Who holds `name`, if anyone.
    pub async fn holder(&self, name: &str) -> Result<Option<String>, RedisError> {
        let mut connection = self.connection.clone();
        connection.get(self.key(name)).await
    }
}
