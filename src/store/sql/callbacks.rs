//! `CallbackStore`, `AssignmentStore` and `SlaStore`: the callback rows, their lists, the
//! per-number atomic open-or-merge, compare-and-swap updates and escalations.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_callbacks {
    ($store:ident, $db:ty, $begin_for_number:path) => {
        /// The callback list statement for `filter`: filters `$1`..`$6` (company, status,
        /// branch, assignee, priority, overdue-at), limit `$7`, and with a cursor its rank,
        /// time and id as `$8`..`$10`. Built from fixed pieces only, never from input. A filter
        /// that is not asked for becomes `$N IS NULL` (its parameter is bound as NULL and must
        /// still appear for Postgres to type it); one that is asked for is a plain comparison,
        /// so both planners can use the matching index (`$N IS NULL OR col = $N` would hide it).
        fn find_callbacks_sql(filter: &CallbackFilter) -> String {
            let (order, after) = match filter.sort {
                CallbackSort::Queue => (
                    "priority_rank DESC, created_at, id",
                    "(priority_rank < $8 OR (priority_rank = $8 AND (created_at > $9 OR (created_at = $9 AND id > $10))))",
                ),
                CallbackSort::CreatedAsc => ("created_at, id", "(created_at > $9 OR (created_at = $9 AND id > $10))"),
                CallbackSort::CreatedDesc => ("created_at DESC, id DESC", "(created_at < $9 OR (created_at = $9 AND id < $10))"),
                CallbackSort::DueAsc => ("due_at, id", "(due_at > $9 OR (due_at = $9 AND id > $10))"),
                CallbackSort::DueDesc => ("due_at DESC, id DESC", "(due_at < $9 OR (due_at = $9 AND id < $10))"),
            };
            let when = |given: bool, clause: &'static str, absent: &'static str| if given { clause } else { absent };
            // Queue order pages by rank and time; the others by one time column, so $8 (the
            // rank) is still bound but has to appear for Postgres to type it.
            let after = match (filter.after.is_some(), filter.sort) {
                (false, _) => String::new(),
                (true, CallbackSort::Queue) => format!(" AND {after}"),
                (true, _) => format!(" AND {after} AND $8 = $8"),
            };
            format!(
                "SELECT * FROM callback_requests
                 WHERE company_id = $1 AND {} AND {} AND {} AND {} AND {}{after}
                 ORDER BY {order}
                 LIMIT $7",
                when(filter.status.is_some(), "status = $2", "$2 IS NULL"),
                when(filter.branch_id.is_some(), "branch_id = $3", "$3 IS NULL"),
                when(filter.assigned_staff_id.is_some(), "assigned_staff_id = $4", "$4 IS NULL"),
                when(filter.priority.is_some(), "priority = $5", "$5 IS NULL"),
                when(
                    filter.overdue_at.is_some(),
                    "status IN ('pending', 'assigned', 'contacted') AND due_at < $6",
                    "$6 IS NULL"
                ),
            )
        }

        /// The insert of a new callback, shared by `insert_callback` and `open_callback`.
        fn insert_callback_query(c: &CallbackRequest) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
            sqlx::query(
                "INSERT INTO callback_requests (id, company_id, branch_id, customer_id, phone, name, reason,
                     notes, priority, priority_rank, status, assigned_staff_id, assignment_reason, language,
                     source_call_id, scheduled_for, due_at, attempts, escalation_level, version,
                     created_at, updated_at, assigned_at, contacted_at, completed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                     $19, $20, $21, $22, $23, $24, $25)",
            )
            .bind(c.id.0)
            .bind(c.company_id.0)
            .bind(c.branch_id.map(|b| b.0))
            .bind(c.customer_id.map(|x| x.0))
            .bind(c.phone.as_str())
            .bind(&c.name)
            .bind(&c.reason)
            .bind(&c.notes)
            .bind(c.priority.as_str())
            .bind(c.priority.rank())
            .bind(c.status.as_str())
            .bind(c.assigned_staff_id.map(|s| s.0))
            .bind(&c.assignment_reason)
            .bind(c.language.map(|l| l.to_string()))
            .bind(c.source_call_id.as_ref().map(|x| x.as_str()))
            .bind(c.scheduled_for)
            .bind(c.due_at)
            .bind(to_i32(c.attempts))
            .bind(to_i32(c.escalation_level))
            .bind(c.version)
            .bind(c.created_at)
            .bind(c.updated_at)
            .bind(c.assigned_at)
            .bind(c.contacted_at)
            .bind(c.completed_at)
        }

        /// Writes every changeable column of `c` if the stored row still has `expected_version`
        /// (optimistic concurrency: zero rows affected means someone else changed it first).
        /// Identity, company, phone and creation time never change.
        fn update_callback_query(c: &CallbackRequest, expected_version: i64) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments<'_>> {
            sqlx::query(
                "UPDATE callback_requests SET branch_id = $3, customer_id = $4, name = $5, reason = $6,
                     notes = $7, priority = $8, priority_rank = $9, status = $10, assigned_staff_id = $11,
                     assignment_reason = $12, language = $13, source_call_id = $14, scheduled_for = $15,
                     due_at = $16, attempts = $17, escalation_level = $18, version = $19, updated_at = $20,
                     assigned_at = $21, contacted_at = $22, completed_at = $23
                 WHERE id = $1 AND version = $2 AND company_id = $24",
            )
            .bind(c.id.0)
            .bind(expected_version)
            .bind(c.branch_id.map(|b| b.0))
            .bind(c.customer_id.map(|x| x.0))
            .bind(&c.name)
            .bind(&c.reason)
            .bind(&c.notes)
            .bind(c.priority.as_str())
            .bind(c.priority.rank())
            .bind(c.status.as_str())
            .bind(c.assigned_staff_id.map(|s| s.0))
            .bind(&c.assignment_reason)
            .bind(c.language.map(|l| l.to_string()))
            .bind(c.source_call_id.as_ref().map(|x| x.as_str()))
            .bind(c.scheduled_for)
            .bind(c.due_at)
            .bind(to_i32(c.attempts))
            .bind(to_i32(c.escalation_level))
            .bind(c.version)
            .bind(c.updated_at)
            .bind(c.assigned_at)
            .bind(c.contacted_at)
            .bind(c.completed_at)
            .bind(c.company_id.0)
        }

        impl $store {
            /// One attempt at `open_callback`, inside a transaction that holds the number.
            /// `None` when the open callback changed between our read and our write (a
            /// lifecycle update, which does not take the number's lock): read again.
            async fn open_callback_once(
                &self,
                new: &CallbackRequest,
                merge_since: DateTime<Utc>,
                merge: MergeCallback<'_>,
            ) -> StoreResult<Option<(CallbackRequest, Opened)>> {
                let mut tx = $begin_for_number(&self.pool, new.company_id, &new.phone)
                    .await
                    .map_err(map_sqlx_error)?;
                // Callbacks of different branches stay apart (each branch calls back about its
                // own matter, and must not see another's notes); one without a branch joins any.
                const OPEN: &str = "SELECT * FROM callback_requests
                     WHERE company_id = $1 AND phone = $2 AND created_at >= $3
                       AND status IN ('pending', 'assigned', 'contacted')";
                const ORDER: &str = " ORDER BY created_at DESC, id DESC LIMIT 1";
                let sql = match new.branch_id {
                    Some(_) => format!("{OPEN} AND (branch_id IS NULL OR branch_id = $4){ORDER}"),
                    None => format!("{OPEN}{ORDER}"),
                };
                let mut query = sqlx::query(&sql)
                    .bind(new.company_id.0)
                    .bind(new.phone.as_str())
                    .bind(merge_since);
                if let Some(branch) = new.branch_id {
                    query = query.bind(branch.0);
                }
                let open = query
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_sqlx_error)?
                .as_ref()
                .map(callback)
                .transpose()?;
                let outcome = match open {
                    Some(existing) => {
                        let merged = CallbackRequest {
                            id: existing.id,
                            company_id: existing.company_id,
                            ..merge(&existing)
                        };
                        let done = update_callback_query(&merged, existing.version)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx_error)?;
                        if done.rows_affected() == 0 {
                            return Ok(None);
                        }
                        (merged, Opened::Merged)
                    }
                    None => {
                        insert_callback_query(new)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_sqlx_error)?;
                        (new.clone(), Opened::Created)
                    }
                };
                tx.commit().await.map_err(map_sqlx_error)?;
                Ok(Some(outcome))
            }
        }

        #[async_trait]
        impl CallbackStore for $store {
            async fn insert_callback(&self, c: &CallbackRequest) -> StoreResult<()> {
                insert_callback_query(c).execute(&self.pool).await.map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn callback(
                &self,
                company_id: CompanyId,
                id: CallbackId,
            ) -> StoreResult<Option<CallbackRequest>> {
                sqlx::query("SELECT * FROM callback_requests WHERE company_id = $1 AND id = $2")
                    .bind(company_id.0)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(callback)
                    .transpose()
            }

            async fn find_callbacks(
                &self,
                company_id: CompanyId,
                filter: &CallbackFilter,
            ) -> StoreResult<Vec<CallbackRequest>> {
                let sql = find_callbacks_sql(filter);
                let mut query = sqlx::query(&sql)
                    .bind(company_id.0)
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.branch_id.map(|b| b.0))
                    .bind(filter.assigned_staff_id.map(|s| s.0))
                    .bind(filter.priority.map(|p| p.as_str()))
                    .bind(filter.overdue_at)
                    .bind(i64::from(filter.limit));
                if let Some(cursor) = &filter.after {
                    query = query.bind(cursor.rank).bind(cursor.at).bind(cursor.id.0);
                }
                query
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(callback)
                    .collect()
            }

            async fn open_callback(
                &self,
                new: &CallbackRequest,
                merge_since: DateTime<Utc>,
                merge: MergeCallback<'_>,
            ) -> StoreResult<(CallbackRequest, Opened)> {
                // Under the number's lock only a lifecycle update (which does not take it) can
                // slip in between read and write; a few rereads settle that.
                for _ in 0..3 {
                    if let Some(done) = self.open_callback_once(new, merge_since, merge).await? {
                        return Ok(done);
                    }
                }
                Err(StoreError::Conflict(
                    "the open callback for this number kept changing; try again".into(),
                ))
            }

            async fn update_callback(&self, c: &CallbackRequest, expected_version: i64) -> StoreResult<bool> {
                let done = update_callback_query(c, expected_version)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait]
        impl AssignmentStore for $store {
            async fn open_callback_counts(&self, company_id: CompanyId) -> StoreResult<Vec<(StaffId, u32)>> {
                sqlx::query(
                    "SELECT assigned_staff_id, COUNT(*) AS open FROM callback_requests
                     WHERE company_id = $1 AND assigned_staff_id IS NOT NULL
                       AND status IN ('pending', 'assigned', 'contacted')
                     GROUP BY assigned_staff_id",
                )
                .bind(company_id.0)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(|row| {
                    let open: i64 = get(row, "open")?;
                    Ok((
                        StaffId(get(row, "assigned_staff_id")?),
                        u32::try_from(open).unwrap_or(u32::MAX),
                    ))
                })
                .collect()
            }

            async fn staff_who_served(&self, customer: CustomerId) -> StoreResult<Vec<StaffId>> {
                sqlx::query(
                    "SELECT staff_id, MAX(starts_at) AS last_seen FROM appointments
                     WHERE customer_id = $1 AND status <> 'cancelled'
                     GROUP BY staff_id ORDER BY last_seen DESC, staff_id",
                )
                .bind(customer.0)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(|row| Ok(StaffId(get(row, "staff_id")?)))
                .collect()
            }
        }

        #[async_trait]
        impl SlaStore for $store {
            async fn watched_callbacks(
                &self,
                after: Option<(DateTime<Utc>, CallbackId)>,
                limit: u32,
            ) -> StoreResult<Vec<CallbackRequest>> {
                // Keyset paging on (due_at, id): every page is one index range scan of
                // `callbacks_open_due`, however deep the page.
                let rows = match after {
                    None => sqlx::query(
                        "SELECT * FROM callback_requests WHERE status IN ('pending', 'assigned')
                         ORDER BY due_at, id LIMIT $1",
                    )
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await,
                    Some((due, id)) => sqlx::query(
                        "SELECT * FROM callback_requests WHERE status IN ('pending', 'assigned')
                           AND (due_at > $1 OR (due_at = $1 AND id > $2))
                         ORDER BY due_at, id LIMIT $3",
                    )
                    .bind(due)
                    .bind(id.0)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await,
                };
                rows.map_err(map_sqlx_error)?.iter().map(callback).collect()
            }

            async fn escalate_callback(
                &self,
                c: &CallbackRequest,
                expected_version: i64,
                e: &CallbackEscalation,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(map_sqlx_error)?;
                let done = update_callback_query(c, expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx_error)?;
                if done.rows_affected() != 1 {
                    return Ok(false); // Dropping the transaction rolls it back.
                }
                sqlx::query(
                    "INSERT INTO callback_escalations (callback_id, from_staff_id, to_staff_id, reason,
                         level, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(e.callback_id.0)
                .bind(e.from_staff_id.map(|s| s.0))
                .bind(e.to_staff_id.map(|s| s.0))
                .bind(&e.reason)
                .bind(to_i32(e.level))
                .bind(e.at)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx_error)?;
                tx.commit().await.map_err(map_sqlx_error)?;
                Ok(true)
            }

            async fn callback_escalations(
                &self,
                company_id: CompanyId,
                id: CallbackId,
            ) -> StoreResult<Vec<CallbackEscalation>> {
                sqlx::query(
                    "SELECT e.* FROM callback_escalations e
                     JOIN callback_requests c ON c.id = e.callback_id
                     WHERE c.company_id = $1 AND e.callback_id = $2
                     ORDER BY e.id",
                )
                .bind(company_id.0)
                .bind(id.0)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(|row| {
                    Ok(CallbackEscalation {
                        callback_id: CallbackId(get(row, "callback_id")?),
                        from_staff_id: get::<Option<Uuid>>(row, "from_staff_id")?.map(StaffId),
                        to_staff_id: get::<Option<Uuid>>(row, "to_staff_id")?.map(StaffId),
                        reason: get(row, "reason")?,
                        level: count(row, "level")?,
                        at: get(row, "created_at")?,
                    })
                })
                .collect()
            }
        }
    };
}

pub(crate) use sql_callbacks;
