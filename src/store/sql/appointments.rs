//! `AppointmentStore`: overlap-checked, idempotent inserts and the calendar reads.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_appointments {
    ($store:ident) => {
        #[async_trait]
        impl AppointmentStore for $store {
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
        }
    };
}

pub(crate) use sql_appointments;
