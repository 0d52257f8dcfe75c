//! Reading columns and rows into domain types: an undecodable value is `StoreError::Corrupt`.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, where every role's
//! statements use them.

/// The column and row readers for one backend's row type.
macro_rules! sql_rows {
    ($row:ty, $db:ty) => {
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
    };
}

pub(crate) use sql_rows;
