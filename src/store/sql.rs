//! The one SQL implementation of the engine's `Store`, instantiated for each backend.
//!
//! SQLite and Postgres accept the same statements here (`$N` placeholders, `ON CONFLICT`,
//! `RETURNING`), and sqlx maps our Rust types to each backend's column types. Only the concrete
//! pool and row types differ, so the implementation is written once inside `sql_store!` and the
//! backend modules instantiate it; keeping it generic over `sqlx::Database` instead would need a
//! where-clause per method for every column type.

/// Implements `Store` for `$store` (a struct with a `pool: sqlx::Pool<$db>` field).
///
/// `$begin_for_number` is the one statement that differs by backend: an async fn
/// `(&Pool<$db>, CompanyId, &E164Number) -> Result<Transaction<'static, $db>, sqlx::Error>`
/// that begins a transaction no other transaction for the same company and number can run
/// alongside (what makes "find the open callback, else insert" atomic).
macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty, $begin_for_number:path) => {
        use crate::store::{is_deadlock, map_sqlx_error};
        use async_trait::async_trait;
        use callflow_actors::admin_query::*;
        use callflow_actors::domain::*;
        use callflow_actors::domain::sla::CallbackEscalation;
        use callflow_actors::store::{
            CallLogWrite, CallbackFilter, MergeCallback, Opened, Recorded, Store, StoreError,
            StoreResult,
        };
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use sqlx::Row;
        use uuid::Uuid;

        /// Reads a column, reporting an undecodable value as corrupt data.
        fn get<'r, T>(row: &'r $row, column: &str) -> StoreResult<T>
        where
            T: sqlx::Decode<'r, $db> + sqlx::Type<$db>,
        {
            row.try_get(column)
                .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
        }

        /// Reads a text column and parses it into a domain type.
        fn parsed<T: std::str::FromStr>(row: &$row, column: &str) -> StoreResult<T>
        where
            T::Err: std::fmt::Display,
        {
            let raw: String = get(row, column)?;
            raw.parse()
                .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
        }

        /// Reads a nullable text column and parses it into a domain type.
        fn parsed_opt<T: std::str::FromStr>(row: &$row, column: &str) -> StoreResult<Option<T>>
        where
            T::Err: std::fmt::Display,
        {
            let raw: Option<String> = get(row, column)?;
            raw.map(|r| r.parse())
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
        }

        /// Reads a JSON column.
        fn json<T: serde::de::DeserializeOwned>(row: &$row, column: &str) -> StoreResult<T> {
            Ok(get::<Json<T>>(row, column)?.0)
        }

        /// Reads a non-negative integer column.
        fn count(row: &$row, column: &str) -> StoreResult<u32> {
            let n: i32 = get(row, column)?;
            u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("column {column}: {n} < 0")))
        }

        /// Reads a count column (`COUNT(*)` is a 64-bit integer on both backends).
        fn tally(row: &$row, column: &str) -> StoreResult<u64> {
            let n: i64 = get(row, column)?;
            u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("column {column}: {n} < 0")))
        }

        fn to_i32(n: u32) -> i32 {
            i32::try_from(n).unwrap_or(i32::MAX)
        }

        fn company(row: &$row) -> StoreResult<Company> {
            Ok(Company {
                id: CompanyId(get(row, "id")?),
                name: get(row, "name")?,
                slug: get(row, "slug")?,
                default_branch_id: get::<Option<Uuid>>(row, "default_branch_id")?.map(BranchId),
            })
        }

        fn branch(row: &$row) -> StoreResult<Branch> {
            Ok(Branch {
                id: BranchId(get(row, "id")?),
                company_id: CompanyId(get(row, "company_id")?),
                name: get(row, "name")?,
                slug: get(row, "slug")?,
                address: get(row, "address")?,
                time_zone: parsed(row, "time_zone")?,
                languages: json(row, "languages")?,
                active: get(row, "active")?,
                fallback_branch_id: get::<Option<Uuid>>(row, "fallback_branch_id")?.map(BranchId),
                service_area_prefixes: json(row, "service_area_prefixes")?,
                opening_hours: json(row, "opening_hours")?,
                date_overrides: json(row, "date_overrides")?,
                agent_by_language: json(row, "agent_by_language")?,
            })
        }

        fn phone_number(row: &$row) -> StoreResult<PhoneNumber> {
            Ok(PhoneNumber {
                number: parsed(row, "number")?,
                company_id: CompanyId(get(row, "company_id")?),
                branch_id: get::<Option<Uuid>>(row, "branch_id")?.map(BranchId),
                retell_agent_id: get(row, "retell_agent_id")?,
            })
        }

        fn staff(row: &$row) -> StoreResult<Staff> {
            Ok(Staff {
                id: StaffId(get(row, "id")?),
                branch_id: BranchId(get(row, "branch_id")?),
                name: get(row, "name")?,
                role: parsed(row, "role")?,
                skills: json(row, "skills")?,
                languages: json(row, "languages")?,
                working_hours: json(row, "working_hours")?,
                breaks: json(row, "breaks")?,
                date_overrides: json(row, "date_overrides")?,
                active: get(row, "active")?,
                email: get(row, "email")?,
            })
        }

        fn service(row: &$row) -> StoreResult<Service> {
            Ok(Service {
                id: ServiceId(get(row, "id")?),
                company_id: CompanyId(get(row, "company_id")?),
                name: get(row, "name")?,
                duration_minutes: count(row, "duration_minutes")?,
                buffer_before_minutes: count(row, "buffer_before_minutes")?,
                buffer_after_minutes: count(row, "buffer_after_minutes")?,
                required_skills: json(row, "required_skills")?,
                active: get(row, "active")?,
            })
        }

        fn customer(row: &$row) -> StoreResult<Customer> {
            Ok(Customer {
                id: CustomerId(get(row, "id")?),
                company_id: CompanyId(get(row, "company_id")?),
                phone: parsed(row, "phone")?,
                name: get(row, "name")?,
                external_ref: get(row, "external_ref")?,
                preferred_language: parsed_opt(row, "preferred_language")?,
                preferred_staff_id: get::<Option<Uuid>>(row, "preferred_staff_id")?.map(StaffId),
                vip: get(row, "vip")?,
                failed_booking_count: count(row, "failed_booking_count")?,
            })
        }

        fn appointment(row: &$row) -> StoreResult<Appointment> {
            Ok(Appointment {
                id: AppointmentId(get(row, "id")?),
                company_id: CompanyId(get(row, "company_id")?),
                branch_id: BranchId(get(row, "branch_id")?),
                staff_id: StaffId(get(row, "staff_id")?),
                customer_id: CustomerId(get(row, "customer_id")?),
                service_id: ServiceId(get(row, "service_id")?),
                starts_at: get(row, "starts_at")?,
                ends_at: get(row, "ends_at")?,
                blocked_from: get(row, "blocked_from")?,
                blocked_until: get(row, "blocked_until")?,
                status: parsed(row, "status")?,
                source_call_id: parsed_call_id(row, "source_call_id")?,
                idempotency_key: get(row, "idempotency_key")?,
                assignment_reason: get(row, "assignment_reason")?,
                notes: get(row, "notes")?,
                created_at: get(row, "created_at")?,
            })
        }

        fn parsed_call_id(row: &$row, column: &str) -> StoreResult<Option<CallId>> {
            let raw: Option<String> = get(row, column)?;
            raw.map(|r| CallId::parse(&r))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
        }

        fn call(row: &$row) -> StoreResult<Call> {
            Ok(Call {
                id: CallId::parse(&get::<String>(row, "id")?)
                    .map_err(|e| StoreError::Corrupt(format!("column id: {e}")))?,
                company_id: get::<Option<Uuid>>(row, "company_id")?.map(CompanyId),
                branch_id: get::<Option<Uuid>>(row, "branch_id")?.map(BranchId),
                from_number: parsed_opt(row, "from_number")?,
                to_number: parsed_opt(row, "to_number")?,
                agent_id: get(row, "agent_id")?,
                language: parsed_opt(row, "language")?,
                status: parsed(row, "status")?,
                started_at: get(row, "started_at")?,
                ended_at: get(row, "ended_at")?,
                duration_ms: get(row, "duration_ms")?,
                disconnection_reason: get(row, "disconnection_reason")?,
                transcript: get(row, "transcript")?,
                summary: get(row, "summary")?,
                sentiment: get(row, "sentiment")?,
                successful: get(row, "successful")?,
            })
        }

        fn callback(row: &$row) -> StoreResult<CallbackRequest> {
            Ok(CallbackRequest {
                id: CallbackId(get(row, "id")?),
                company_id: CompanyId(get(row, "company_id")?),
                branch_id: get::<Option<Uuid>>(row, "branch_id")?.map(BranchId),
                customer_id: get::<Option<Uuid>>(row, "customer_id")?.map(CustomerId),
                phone: parsed(row, "phone")?,
                name: get(row, "name")?,
                reason: get(row, "reason")?,
                notes: get(row, "notes")?,
                priority: parsed(row, "priority")?,
                status: parsed(row, "status")?,
                assigned_staff_id: get::<Option<Uuid>>(row, "assigned_staff_id")?.map(StaffId),
                assignment_reason: get(row, "assignment_reason")?,
                language: parsed_opt(row, "language")?,
                source_call_id: parsed_call_id(row, "source_call_id")?,
                scheduled_for: get(row, "scheduled_for")?,
                due_at: get(row, "due_at")?,
                attempts: count(row, "attempts")?,
                escalation_level: count(row, "escalation_level")?,
                version: get(row, "version")?,
                created_at: get(row, "created_at")?,
                updated_at: get(row, "updated_at")?,
                assigned_at: get(row, "assigned_at")?,
                contacted_at: get(row, "contacted_at")?,
                completed_at: get(row, "completed_at")?,
            })
        }

        fn api_token(row: &$row) -> StoreResult<ApiToken> {
            Ok(ApiToken {
                id: TokenId(get(row, "id")?),
                company_id: CompanyId(get(row, "company_id")?),
                role: parsed(row, "role")?,
                staff_id: get::<Option<Uuid>>(row, "staff_id")?.map(StaffId),
                branch_id: get::<Option<Uuid>>(row, "branch_id")?.map(BranchId),
                name: get(row, "name")?,
                token_hash: get(row, "token_hash")?,
                created_at: get(row, "created_at")?,
                revoked_at: get(row, "revoked_at")?,
            })
        }

        fn audit_entry(row: &$row) -> StoreResult<AuditEntry> {
            Ok(AuditEntry {
                company_id: CompanyId(get(row, "company_id")?),
                token_id: get::<Option<Uuid>>(row, "token_id")?.map(TokenId),
                action: get(row, "action")?,
                entity_type: get(row, "entity_type")?,
                entity_id: get(row, "entity_id")?,
                old_value: get::<Option<Json<serde_json::Value>>>(row, "old_value")?.map(|j| j.0),
                new_value: get::<Option<Json<serde_json::Value>>>(row, "new_value")?.map(|j| j.0),
                ip: get(row, "ip")?,
                at: get(row, "at")?,
            })
        }

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

        fn call_event(row: &$row) -> StoreResult<CallEvent> {
            let call_id: String = get(row, "call_id")?;
            Ok(CallEvent {
                call_id: CallId::parse(&call_id)
                    .map_err(|e| StoreError::Corrupt(format!("column call_id: {e}")))?,
                event: get(row, "event")?,
                dedupe_key: get(row, "dedupe_key")?,
                payload: json(row, "payload")?,
                received_at: get(row, "received_at")?,
            })
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
        impl Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn upsert_company(&self, c: &Company) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO companies (id, name, slug, default_branch_id) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, slug = excluded.slug,
                         default_branch_id = excluded.default_branch_id",
                )
                .bind(c.id.0)
                .bind(&c.name)
                .bind(&c.slug)
                .bind(c.default_branch_id.map(|b| b.0))
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn company_by_slug(&self, slug: &str) -> StoreResult<Option<Company>> {
                sqlx::query("SELECT * FROM companies WHERE slug = $1")
                    .bind(slug)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(company)
                    .transpose()
            }

            async fn list_companies(&self) -> StoreResult<Vec<Company>> {
                sqlx::query("SELECT * FROM companies ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(company)
                    .collect()
            }

            async fn upsert_branch(&self, b: &Branch) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO branches (id, company_id, name, slug, address, time_zone, languages, active,
                         fallback_branch_id, service_area_prefixes, opening_hours, date_overrides, agent_by_language)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, slug = excluded.slug,
                         address = excluded.address, time_zone = excluded.time_zone,
                         languages = excluded.languages, active = excluded.active,
                         fallback_branch_id = excluded.fallback_branch_id,
                         service_area_prefixes = excluded.service_area_prefixes,
                         opening_hours = excluded.opening_hours, date_overrides = excluded.date_overrides,
                         agent_by_language = excluded.agent_by_language",
                )
                .bind(b.id.0)
                .bind(b.company_id.0)
                .bind(&b.name)
                .bind(&b.slug)
                .bind(&b.address)
                .bind(b.time_zone.name())
                .bind(Json(&b.languages))
                .bind(b.active)
                .bind(b.fallback_branch_id.map(|f| f.0))
                .bind(Json(&b.service_area_prefixes))
                .bind(Json(&b.opening_hours))
                .bind(Json(&b.date_overrides))
                .bind(Json(&b.agent_by_language))
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn list_branches(&self, company_id: Option<CompanyId>) -> StoreResult<Vec<Branch>> {
                sqlx::query("SELECT * FROM branches WHERE ($1 IS NULL OR company_id = $1) ORDER BY name")
                    .bind(company_id.map(|c| c.0))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(branch)
                    .collect()
            }

            async fn upsert_phone_number(&self, p: &PhoneNumber) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO phone_numbers (number, company_id, branch_id, retell_agent_id) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (number) DO UPDATE SET company_id = excluded.company_id,
                         branch_id = excluded.branch_id, retell_agent_id = excluded.retell_agent_id",
                )
                .bind(p.number.as_str())
                .bind(p.company_id.0)
                .bind(p.branch_id.map(|b| b.0))
                .bind(&p.retell_agent_id)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn list_phone_numbers(&self) -> StoreResult<Vec<PhoneNumber>> {
                sqlx::query("SELECT * FROM phone_numbers ORDER BY number")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(phone_number)
                    .collect()
            }

            async fn upsert_staff(&self, s: &Staff) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO staff (id, branch_id, name, role, skills, languages, working_hours, breaks,
                         date_overrides, active, email)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (id) DO UPDATE SET branch_id = excluded.branch_id, name = excluded.name,
                         role = excluded.role, skills = excluded.skills, languages = excluded.languages,
                         working_hours = excluded.working_hours, breaks = excluded.breaks,
                         date_overrides = excluded.date_overrides, active = excluded.active,
                         email = excluded.email",
                )
                .bind(s.id.0)
                .bind(s.branch_id.0)
                .bind(&s.name)
                .bind(s.role.as_str())
                .bind(Json(&s.skills))
                .bind(Json(&s.languages))
                .bind(Json(&s.working_hours))
                .bind(Json(&s.breaks))
                .bind(Json(&s.date_overrides))
                .bind(s.active)
                .bind(&s.email)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn list_staff(&self, branch_id: Option<BranchId>) -> StoreResult<Vec<Staff>> {
                sqlx::query("SELECT * FROM staff WHERE ($1 IS NULL OR branch_id = $1) ORDER BY name")
                    .bind(branch_id.map(|b| b.0))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(staff)
                    .collect()
            }

            async fn upsert_service(&self, s: &Service) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO services (id, company_id, name, duration_minutes, buffer_before_minutes,
                         buffer_after_minutes, required_skills, active)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                         duration_minutes = excluded.duration_minutes,
                         buffer_before_minutes = excluded.buffer_before_minutes,
                         buffer_after_minutes = excluded.buffer_after_minutes,
                         required_skills = excluded.required_skills, active = excluded.active",
                )
                .bind(s.id.0)
                .bind(s.company_id.0)
                .bind(&s.name)
                .bind(to_i32(s.duration_minutes))
                .bind(to_i32(s.buffer_before_minutes))
                .bind(to_i32(s.buffer_after_minutes))
                .bind(Json(&s.required_skills))
                .bind(s.active)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn list_services(&self, company_id: CompanyId) -> StoreResult<Vec<Service>> {
                sqlx::query("SELECT * FROM services WHERE company_id = $1 ORDER BY name")
                    .bind(company_id.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .iter()
                    .map(service)
                    .collect()
            }

            async fn upsert_customer(&self, c: &Customer) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO customers (id, company_id, phone, name, external_ref, preferred_language,
                         preferred_staff_id, vip, failed_booking_count)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (id) DO UPDATE SET phone = excluded.phone, name = excluded.name,
                         external_ref = excluded.external_ref,
                         preferred_language = excluded.preferred_language,
                         preferred_staff_id = excluded.preferred_staff_id, vip = excluded.vip,
                         failed_booking_count = excluded.failed_booking_count",
                )
                .bind(c.id.0)
                .bind(c.company_id.0)
                .bind(c.phone.as_str())
                .bind(&c.name)
                .bind(&c.external_ref)
                .bind(c.preferred_language.map(|l| l.to_string()))
                .bind(c.preferred_staff_id.map(|s| s.0))
                .bind(c.vip)
                .bind(to_i32(c.failed_booking_count))
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn record_failed_booking(&self, customer: CustomerId) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE customers SET failed_booking_count = failed_booking_count + 1 WHERE id = $1",
                )
                .bind(customer.0)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(())
            }

            async fn call_has_booking(&self, call: &CallId) -> StoreResult<bool> {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM appointments WHERE source_call_id = $1 AND status = 'booked'",
                )
                .bind(call.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                Ok(count > 0)
            }

            async fn customer_by_phone(
                &self,
                company_id: CompanyId,
                phone: &E164Number,
            ) -> StoreResult<Option<Customer>> {
                sqlx::query("SELECT * FROM customers WHERE company_id = $1 AND phone = $2")
                    .bind(company_id.0)
                    .bind(phone.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(customer)
                    .transpose()
            }

            async fn insert_appointment(&self, a: &Appointment) -> StoreResult<Appointment> {
                if let Some(key) = &a.idempotency_key {
                    if let Some(existing) = self.appointment_by_key(a.company_id, key).await? {
                        return Ok(existing);
                    }
                }
                // One statement, so the overlap check and the insert are atomic on SQLite (a single
                // writer); on Postgres the exclusion constraint also catches concurrent inserts.
                // Concurrent inserts into one staff member's time can deadlock in Postgres's
                // exclusion-constraint check (each waits for the other's uncommitted row); the
                // victim's single statement did nothing, so it runs again (a few times at most).
                let mut deadlocks = 0;
                let inserted = loop {
                    let result = sqlx::query(
                        "INSERT INTO appointments (id, company_id, branch_id, staff_id, customer_id, service_id,
                             starts_at, ends_at, blocked_from, blocked_until, status, source_call_id,
                             idempotency_key, assignment_reason, notes, created_at, updated_at)
                         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16
                         WHERE NOT EXISTS (
                             SELECT 1 FROM appointments
                             WHERE staff_id = $4 AND status = 'booked'
                               AND blocked_from < $10 AND blocked_until > $9)",
                    )
                    .bind(a.id.0)
                    .bind(a.company_id.0)
                    .bind(a.branch_id.0)
                    .bind(a.staff_id.0)
                    .bind(a.customer_id.0)
                    .bind(a.service_id.0)
                    .bind(a.starts_at)
                    .bind(a.ends_at)
                    .bind(a.blocked_from)
                    .bind(a.blocked_until)
                    .bind(a.status.as_str())
                    .bind(a.source_call_id.as_ref().map(|c| c.as_str()))
                    .bind(&a.idempotency_key)
                    .bind(&a.assignment_reason)
                    .bind(&a.notes)
                    .bind(a.created_at)
                    .execute(&self.pool)
                    .await;
                    match result {
                        Err(e) if is_deadlock(&e) && deadlocks < 3 => deadlocks += 1,
                        other => break other.map_err(map_sqlx_error),
                    }
                };
                match inserted {
                    Ok(done) if done.rows_affected() == 1 => Ok(a.clone()),
                    Ok(_) => Err(StoreError::Conflict(
                        "the staff member is already booked at that time".into(),
                    )),
                    // A concurrent booking with the same idempotency key won the race: answer with it.
                    Err(StoreError::Conflict(reason)) => match &a.idempotency_key {
                        Some(key) => self.appointment_by_key(a.company_id, key).await?.ok_or(StoreError::Conflict(reason)),
                        None => Err(StoreError::Conflict(reason)),
                    },
                    Err(other) => Err(other),
                }
            }

            async fn appointment_by_key(&self, company_id: CompanyId, key: &str) -> StoreResult<Option<Appointment>> {
                sqlx::query("SELECT * FROM appointments WHERE company_id = $1 AND idempotency_key = $2")
                    .bind(company_id.0)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(appointment)
                    .transpose()
            }

            async fn appointment(&self, id: AppointmentId) -> StoreResult<Option<Appointment>> {
                sqlx::query("SELECT * FROM appointments WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(appointment)
                    .transpose()
            }

            async fn upcoming_appointments(
                &self,
                customer: CustomerId,
                from: DateTime<Utc>,
            ) -> StoreResult<Vec<Appointment>> {
                sqlx::query(
                    "SELECT * FROM appointments
                     WHERE customer_id = $1 AND status = 'booked' AND starts_at >= $2
                     ORDER BY starts_at LIMIT 20",
                )
                .bind(customer.0)
                .bind(from)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(appointment)
                .collect()
            }

            async fn staff_appointments(
                &self,
                staff_id: StaffId,
                from: DateTime<Utc>,
                until: DateTime<Utc>,
            ) -> StoreResult<Vec<Appointment>> {
                sqlx::query(
                    "SELECT * FROM appointments
                     WHERE staff_id = $1 AND status = 'booked' AND blocked_from < $3 AND blocked_until > $2
                     ORDER BY blocked_from",
                )
                .bind(staff_id.0)
                .bind(from)
                .bind(until)
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(appointment)
                .collect()
            }

            async fn set_appointment_status(
                &self,
                id: AppointmentId,
                status: AppointmentStatus,
            ) -> StoreResult<Option<Appointment>> {
                sqlx::query("UPDATE appointments SET status = $2, updated_at = $3 WHERE id = $1 RETURNING *")
                    .bind(id.0)
                    .bind(status.as_str())
                    .bind(Utc::now())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(appointment)
                    .transpose()
            }

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

            async fn callback_stats(&self, company_id: CompanyId, q: &StatsQuery) -> StoreResult<CallbackStats> {
                let branch = q.branch_id.map(|b| b.0);
                let mut sla: std::collections::BTreeMap<i16, (Priority, u64, u64)> =
                    Priority::ALL.iter().map(|p| (p.rank(), (*p, 0, 0))).collect();
                // Open callbacks in one pass over the covering index of open rows: counts per
                // priority and assignee, from which pending, open, overdue, the misses of open
                // callbacks and the staff load are summed.
                let open_rows = sqlx::query(
                    "SELECT priority, assigned_staff_id,
                         COUNT(*) FILTER (WHERE status = 'pending') AS pending, COUNT(*) AS open,
                         COUNT(*) FILTER (WHERE due_at < $3) AS overdue,
                         COUNT(*) FILTER (WHERE due_at >= $4 AND due_at < $3) AS late
                     FROM callback_requests
                     WHERE company_id = $1 AND ($2 IS NULL OR branch_id = $2)
                       AND status IN ('pending', 'assigned', 'contacted')
                     GROUP BY priority, assigned_staff_id",
                )
                .bind(company_id.0).bind(branch).bind(q.now).bind(q.window_start)
                .fetch_all(&self.pool).await.map_err(map_sqlx_error)?;
                let (mut pending, mut open, mut overdue) = (0, 0, 0);
                let mut load: std::collections::BTreeMap<StaffId, u64> = Default::default();
                for row in &open_rows {
                    let priority: Priority = parsed(row, "priority")?;
                    let rows_open = tally(row, "open")?;
                    pending += tally(row, "pending")?;
                    open += rows_open;
                    overdue += tally(row, "overdue")?;
                    if let Some(entry) = sla.get_mut(&priority.rank()) {
                        entry.2 += tally(row, "late")?;
                    }
                    if let Some(staff) = get::<Option<Uuid>>(row, "assigned_staff_id")? {
                        *load.entry(StaffId(staff)).or_default() += rows_open;
                    }
                }
                // Closed in the window, from the covering index of closed rows.
                let closed = sqlx::query(
                    "SELECT priority, COUNT(*) FILTER (WHERE status = 'completed' AND completed_at <= due_at) AS met,
                         COUNT(*) FILTER (WHERE status <> 'completed' OR completed_at > due_at) AS missed
                     FROM callback_requests
                     WHERE company_id = $1 AND ($2 IS NULL OR branch_id = $2)
                       AND status IN ('completed', 'expired', 'unreachable')
                       AND completed_at >= $4 AND completed_at <= $3
                     GROUP BY priority",
                )
                .bind(company_id.0).bind(branch).bind(q.now).bind(q.window_start)
                .fetch_all(&self.pool).await.map_err(map_sqlx_error)?;
                for row in &closed {
                    let priority: Priority = parsed(row, "priority")?;
                    if let Some(entry) = sla.get_mut(&priority.rank()) {
                        entry.1 += tally(row, "met")?;
                        entry.2 += tally(row, "missed")?;
                    }
                }
                // Created since the earlier of today and the window start, from the covering
                // index by creation time: created today and the average times.
                let created = sqlx::query(
                    "SELECT COUNT(*) FILTER (WHERE created_at >= $4) AS created_today,
                         CAST(AVG(unixepoch(assigned_at) - unixepoch(created_at)) FILTER (WHERE assigned_at IS NOT NULL AND created_at >= $5) AS DOUBLE PRECISION) AS to_assign,
                         CAST(AVG(unixepoch(contacted_at) - unixepoch(created_at)) FILTER (WHERE contacted_at IS NOT NULL AND created_at >= $5) AS DOUBLE PRECISION) AS to_contact,
                         CAST(AVG(unixepoch(completed_at) - unixepoch(created_at)) FILTER (WHERE status = 'completed' AND completed_at IS NOT NULL AND created_at >= $5) AS DOUBLE PRECISION) AS to_complete
                     FROM callback_requests
                     WHERE company_id = $1 AND ($2 IS NULL OR branch_id = $2)
                       AND created_at >= $6 AND created_at <= $3",
                )
                .bind(company_id.0).bind(branch).bind(q.now).bind(q.today_start).bind(q.window_start)
                .bind(q.window_start.min(q.today_start))
                .fetch_one(&self.pool).await.map_err(map_sqlx_error)?;
                let created_today = tally(&created, "created_today")?;
                let mut staff_load: Vec<StaffLoad> = load
                    .into_iter()
                    .map(|(staff_id, open)| StaffLoad { staff_id, open })
                    .collect();
                staff_load.sort_by(|a, b| b.open.cmp(&a.open).then(a.staff_id.0.as_bytes().cmp(b.staff_id.0.as_bytes())));
                let averages = created;
                Ok(CallbackStats {
                    pending,
                    open,
                    overdue,
                    created_today,
                    sla: sla
                        .into_values()
                        .map(|(priority, met, missed)| SlaFigure {
                            priority,
                            met,
                            missed,
                            compliance_percent: callflow_actors::domain::callback_stats::percent(met, missed),
                        })
                        .collect(),
                    avg_seconds_to_assign: get(&averages, "to_assign")?,
                    avg_seconds_to_contact: get(&averages, "to_contact")?,
                    avg_seconds_to_complete: get(&averages, "to_complete")?,
                    staff_load,
                })
            }

            async fn delete_phone_number(&self, company_id: CompanyId, number: &E164Number) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM phone_numbers WHERE number = $1 AND company_id = $2")
                    .bind(number.as_str())
                    .bind(company_id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_branch(&self, company_id: CompanyId, branch: BranchId) -> StoreResult<Deleted> {
                // One conditional statement: nothing can start referring to the branch between
                // the check and the delete.
                let done = sqlx::query(
                    "DELETE FROM branches WHERE id = $1 AND company_id = $2
                       AND NOT EXISTS (SELECT 1 FROM phone_numbers WHERE branch_id = $1)
                       AND NOT EXISTS (SELECT 1 FROM staff WHERE branch_id = $1)
                       AND NOT EXISTS (SELECT 1 FROM appointments WHERE branch_id = $1)",
                )
                .bind(branch.0)
                .bind(company_id.0)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                if done.rows_affected() == 1 {
                    return Ok(Deleted::Deleted);
                }
                let exists = sqlx::query("SELECT 1 FROM branches WHERE id = $1 AND company_id = $2")
                    .bind(branch.0)
                    .bind(company_id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?;
                Ok(if exists.is_some() { Deleted::InUse } else { Deleted::NotFound })
            }

            async fn customer(&self, company_id: CompanyId, id: CustomerId) -> StoreResult<Option<Customer>> {
                sqlx::query("SELECT * FROM customers WHERE company_id = $1 AND id = $2")
                    .bind(company_id.0)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(map_sqlx_error)?
                    .as_ref()
                    .map(customer)
                    .transpose()
            }

            async fn find_customers(&self, company_id: CompanyId, f: &CustomerFilter) -> StoreResult<Vec<Customer>> {
                sqlx::query(
                    "SELECT * FROM customers
                     WHERE company_id = $1 AND ($2 IS NULL OR phone = $2) AND ($3 IS NULL OR phone > $3)
                     ORDER BY phone
                     LIMIT $4",
                )
                .bind(company_id.0)
                .bind(f.phone.as_ref().map(|p| p.as_str()))
                .bind(f.after_phone.as_deref())
                .bind(i64::from(f.limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(customer)
                .collect()
            }

            async fn delete_customer(&self, company_id: CompanyId, id: CustomerId) -> StoreResult<Deleted> {
                let done = sqlx::query(
                    "DELETE FROM customers WHERE id = $1 AND company_id = $2
                       AND NOT EXISTS (SELECT 1 FROM appointments WHERE customer_id = $1)",
                )
                .bind(id.0)
                .bind(company_id.0)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx_error)?;
                if done.rows_affected() == 1 {
                    return Ok(Deleted::Deleted);
                }
                Ok(match self.customer(company_id, id).await? {
                    Some(_) => Deleted::InUse,
                    None => Deleted::NotFound,
                })
            }

            async fn find_appointments(&self, company_id: CompanyId, f: &AppointmentFilter) -> StoreResult<Vec<Appointment>> {
                sqlx::query(
                    "SELECT * FROM appointments
                     WHERE company_id = $1 AND ($2 IS NULL OR branch_id = $2)
                       AND ($3 IS NULL OR staff_id = $3) AND ($4 IS NULL OR customer_id = $4)
                       AND ($5 IS NULL OR status = $5)
                       AND ($6 IS NULL OR starts_at >= $6) AND ($7 IS NULL OR starts_at < $7)
                       AND ($8 IS NULL OR starts_at > $8 OR (starts_at = $8 AND id > $9))
                     ORDER BY starts_at, id
                     LIMIT $10",
                )
                .bind(company_id.0)
                .bind(f.branch_id.map(|b| b.0))
                .bind(f.staff_id.map(|s| s.0))
                .bind(f.customer_id.map(|c| c.0))
                .bind(f.status.map(|s| s.as_str()))
                .bind(f.from)
                .bind(f.until)
                .bind(f.after.map(|(at, _)| at))
                .bind(f.after.map(|(_, id)| id.0))
                .bind(i64::from(f.limit))
                .fetch_all(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .iter()
                .map(appointment)
                .collect()
            }
        }
    };
}

pub(crate) use sql_store;
