//! `AdminStore`: the admin API's filtered lists, deletes and statistics.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_admin {
    ($store:ident) => {
        #[async_trait]
        impl AdminStore for $store {
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

pub(crate) use sql_admin;
