//! `TokenStore`: API token hashes.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_tokens {
    ($store:ident) => {
        #[async_trait]
        impl TokenStore for $store {
            async fn insert_api_token(&self, t: &ApiToken) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_tokens (id, company_id, role, staff_id, branch_id, name, token_hash,
                         created_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(t.id.0)
                .bind(t.company_id.0)
                .bind(t.role.as_str())
                .bind(t.staff_id.map(|s| s.0))
                .bind(t.branch_id.map(|b| b.0))
                .bind(&t.name)
                .bind(&t.token_hash)
                .bind(t.created_at)
                .bind(t.revoked_at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn api_token_by_hash(&self, hash: &str) -> StoreResult<Option<ApiToken>> {
                sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(api_token)
                    .transpose()
            }
        }
    };
}

pub(crate) use sql_tokens;
