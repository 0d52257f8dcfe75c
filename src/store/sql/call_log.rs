//! `CallLogStore`: calls, deduplicated webhook events and the batched call log.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_call_log {
    ($store:ident, $db:ty) => {
        /// The upsert of a call, shared by the single write and the batch.
        fn upsert_call_query(c: &Call) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
            // COALESCE keeps what earlier events stored; the status only moves forward, so a
            // late redelivery of `call_started` never reopens an ended call.
            sqlx::query(
            "INSERT INTO calls (id, company_id, branch_id, from_number, to_number, agent_id, language,
                 status, started_at, ended_at, duration_ms, disconnection_reason, transcript, summary,
                 sentiment, successful, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             ON CONFLICT (id) DO UPDATE SET
                 company_id = COALESCE(excluded.company_id, calls.company_id),
                 branch_id = COALESCE(excluded.branch_id, calls.branch_id),
                 from_number = COALESCE(excluded.from_number, calls.from_number),
                 to_number = COALESCE(excluded.to_number, calls.to_number),
                 agent_id = COALESCE(excluded.agent_id, calls.agent_id),
                 language = COALESCE(excluded.language, calls.language),
                 status = CASE
                     WHEN (CASE excluded.status WHEN 'registered' THEN 0 WHEN 'ongoing' THEN 1
                               WHEN 'ended' THEN 2 ELSE 3 END)
                        > (CASE calls.status WHEN 'registered' THEN 0 WHEN 'ongoing' THEN 1
                               WHEN 'ended' THEN 2 ELSE 3 END)
                     THEN excluded.status ELSE calls.status END,
                 started_at = COALESCE(excluded.started_at, calls.started_at),
                 ended_at = COALESCE(excluded.ended_at, calls.ended_at),
                 duration_ms = COALESCE(excluded.duration_ms, calls.duration_ms),
                 disconnection_reason = COALESCE(excluded.disconnection_reason, calls.disconnection_reason),
                 transcript = CASE
                     WHEN (CASE excluded.status WHEN 'registered' THEN 0 WHEN 'ongoing' THEN 1
                               WHEN 'ended' THEN 2 ELSE 3 END)
                        >= (CASE calls.status WHEN 'registered' THEN 0 WHEN 'ongoing' THEN 1
                               WHEN 'ended' THEN 2 ELSE 3 END)
                     THEN COALESCE(excluded.transcript, calls.transcript)
                     ELSE COALESCE(calls.transcript, excluded.transcript) END,
                 summary = COALESCE(excluded.summary, calls.summary),
                 sentiment = COALESCE(excluded.sentiment, calls.sentiment),
                 successful = COALESCE(excluded.successful, calls.successful),
                 updated_at = excluded.updated_at",
                )
            .bind(c.id.as_str())
            .bind(c.company_id.map(|x| x.0))
            .bind(c.branch_id.map(|x| x.0))
            .bind(c.from_number.as_ref().map(|n| n.as_str()))
            .bind(c.to_number.as_ref().map(|n| n.as_str()))
            .bind(&c.agent_id)
            .bind(c.language.map(|l| l.to_string()))
            .bind(c.status.as_str())
            .bind(c.started_at)
            .bind(c.ended_at)
            .bind(c.duration_ms)
            .bind(&c.disconnection_reason)
            .bind(&c.transcript)
            .bind(&c.summary)
            .bind(&c.sentiment)
            .bind(c.successful)
            .bind(Utc::now())
        }

        /// The deduplicating insert of a call event, shared by the single write and the batch.
        fn call_event_query(e: &CallEvent) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
            sqlx::query(
                "INSERT INTO call_events (call_id, event, dedupe_key, payload, received_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(e.call_id.as_str())
            .bind(&e.event)
            .bind(&e.dedupe_key)
            .bind(Json(&e.payload))
            .bind(e.received_at)
        }

        #[async_trait]
        impl CallLogStore for $store {
            async fn upsert_call(&self, c: &Call) -> StoreResult<()> {
                upsert_call_query(c).execute(&self.pool).await.map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn call(&self, id: &CallId) -> StoreResult<Option<Call>> {
                sqlx::query("SELECT * FROM calls WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(call)
                    .transpose()
            }

            async fn record_call_event(&self, e: &CallEvent) -> StoreResult<Recorded> {
                let done = call_event_query(e).execute(&self.pool).await.map_err(map_sqlx_error)?;
                Ok(if done.rows_affected() == 1 { Recorded::New } else { Recorded::Duplicate })
            }

            async fn mark_call_event_processed(&self, dedupe_key: &str, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE call_events SET processed_at = $2 WHERE dedupe_key = $1 AND processed_at IS NULL",
                )
                .bind(dedupe_key)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn unprocessed_call_events(&self, received_before: DateTime<Utc>, limit: u32) -> StoreResult<Vec<CallEvent>> {
                let rows = sqlx::query(
                    "SELECT call_id, event, dedupe_key, payload, received_at FROM call_events
                     WHERE processed_at IS NULL AND received_at < $1
                     ORDER BY received_at, id LIMIT $2",
                )
                .bind(received_before)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                rows.iter().map(call_event).collect()
            }

            async fn apply_call_log(&self, writes: &[CallLogWrite]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(map_sqlx_error)?;
                for write in writes {
                    let query = match write {
                        CallLogWrite::Call(c) => upsert_call_query(c),
                        CallLogWrite::Event(e) => call_event_query(e),
                    };
                    query.execute(&mut *tx).await.map_err(map_sqlx_error)?;
                }
                tx.commit().await.map_err(map_sqlx_error)
            }

            async fn caller_history(&self, company_id: CompanyId, caller: &E164Number) -> StoreResult<Option<BranchId>> {
                let row = sqlx::query(
                    "SELECT branch_id FROM (
                         SELECT a.branch_id AS branch_id, a.created_at AS at
                         FROM appointments a JOIN customers c ON c.id = a.customer_id
                         WHERE c.company_id = $1 AND c.phone = $2
                         UNION ALL
                         SELECT branch_id, created_at AS at FROM calls
                         WHERE company_id = $1 AND from_number = $2 AND branch_id IS NOT NULL
                     ) history ORDER BY at DESC LIMIT 1",
                )
                .bind(company_id.0)
                .bind(caller.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                row.as_ref().map(|r| get::<Uuid>(r, "branch_id").map(BranchId)).transpose()
            }
        }
    };
}

pub(crate) use sql_call_log;
