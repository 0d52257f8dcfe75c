//! `CatalogueStore`: companies, branches, dialled numbers, staff and services.
//!
//! Expanded by `sql_store!` (in `mod.rs`) into each backend module, next to the shared imports
//! and row readers.

/// This role's statements and implementation for one backend (see `sql_store!` in `mod.rs`).
macro_rules! sql_catalogue {
    ($store:ident) => {
        #[async_trait]
        impl CatalogueStore for $store {
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

            async fn staff_member(&self, company_id: CompanyId, id: StaffId) -> StoreResult<Option<Staff>> {
                sqlx::query(
                    "SELECT s.* FROM staff s JOIN branches b ON b.id = s.branch_id
                     WHERE s.id = $1 AND b.company_id = $2",
                )
                .bind(id.0)
                .bind(company_id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_sqlx_error)?
                .as_ref()
                .map(staff)
                .transpose()
            }

            async fn company_staff(&self, company_id: CompanyId) -> StoreResult<Vec<Staff>> {
                sqlx::query(
                    "SELECT s.* FROM staff s JOIN branches b ON b.id = s.branch_id
                     WHERE b.company_id = $1
                     ORDER BY s.name, s.id",
                )
                .bind(company_id.0)
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
        }
    };
}

pub(crate) use sql_catalogue;
