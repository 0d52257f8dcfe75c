//! `AuditStore`: the append-only audit log and its filtered pages.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_audit {
    ($store:ident) => {
        #[async_trait]
        impl AuditStore for $store {
            async fn append_audit(&self, e: &AuditEntry) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_log (company_id, token_id, action, entity_type, entity_id, old_value,
                         new_value, ip, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.company_id.0)
                .bind(e.token_id.map(|t| t.0))
                .bind(&e.action)
                .bind(&e.entity_type)
                .bind(&e.entity_id)
                .bind(e.old_value.as_ref().map(Json))
                .bind(e.new_value.as_ref().map(Json))
                .bind(&e.ip)
                .bind(e.at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn list_audit(&self, company_id: CompanyId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
                sqlx::query("SELECT * FROM audit_log WHERE company_id = $1 ORDER BY at DESC, id DESC LIMIT $2")
                    .bind(company_id.0)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(audit_entry)
                    .collect()
            }

            async fn find_audit(&self, company_id: CompanyId, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
                let rows = sqlx::query(
                    "SELECT * FROM audit_log
                     WHERE company_id = $1 AND ($2 IS NULL OR entity_type = $2)
                       AND ($3 IS NULL OR entity_id = $3) AND ($4 IS NULL OR action = $4)
                       AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR id < $6)
                     ORDER BY id DESC
                     LIMIT $7",
                )
                .bind(company_id.0)
                .bind(f.entity_type.as_deref())
                .bind(f.entity_id.as_deref())
                .bind(f.action.as_deref())
                .bind(f.since)
                .bind(f.before_id)
                .bind(i64::from(f.limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                rows.iter()
                    .map(|row| Ok(AuditRecord { id: get(row, "id")?, entry: audit_entry(row)? }))
                    .collect()
            }
        }
    };
}

pub(crate) use sql_audit;
