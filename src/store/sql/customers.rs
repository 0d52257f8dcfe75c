//! `CustomerStore`: customers by phone number and id.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_customers {
    ($store:ident) => {
        #[async_trait]
        impl CustomerStore for $store {
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
        }
    };
}

pub(crate) use sql_customers;
