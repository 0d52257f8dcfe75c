//! What every function knows about the call it runs in: the use cases, the call, its branch,
//! its language and the time.

use crate::app::calls::ActiveCall;
use crate::app::App;
use crate::retell::speech::Tongue;
use callflow_actors::domain::{Service, ServiceId, StaffId};
use callflow_actors::SlotChoice;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::Arc;

/// Everything a function needs about the call it runs in.
pub struct FunctionContext<'a> {
    /// The use cases.
    pub app: &'a App,
    /// Region a number without a country code is read in: the caller's, else
    /// `callbacks.default_region`.
    pub region: String,
    /// The call's language.
    pub tongue: Tongue,
    /// Now, by the application's clock.
    pub now: DateTime<Utc>,
    /// The call.
    pub active: ActiveCall,
}

impl FunctionContext<'_> {
    /// The branch's time zone.
    pub fn zone(&self) -> Tz {
        self.active.info.branch.time_zone
    }

    /// Today at the branch.
    pub fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.zone()).date_naive()
    }

    /// How a time is said.
    pub fn label(&self, at: DateTime<Utc>) -> String {
        self.tongue.moment(at.with_timezone(&self.zone()))
    }

    /// The name of one of the company's branches.
    pub fn branch_name(&self, id: callflow_actors::domain::BranchId) -> String {
        self.app
            .calls
            .branch(id)
            .map(|b| b.branch.name.clone())
            .unwrap_or_default()
    }

    /// How a slot is said: at another branch, with that branch's name, so two offers at the
    /// same time are told apart.
    pub fn slot_label(&self, slot: &SlotChoice) -> String {
        let moment = self.label(slot.start);
        if slot.branch_id == self.active.context.branch_id {
            return moment;
        }
        let branch = self.branch_name(slot.branch_id);
        match self.tongue {
            Tongue::De => format!("{moment} in unserer {branch}"),
            Tongue::En => format!("{moment} at our {branch}"),
        }
    }

    /// A local day and time at the branch, as an instant (the earlier one in a DST overlap).
    pub fn local(&self, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
        self.zone()
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The company's service with this id, from the branch's cached catalogue.
    pub fn service(&self, id: ServiceId) -> Option<Arc<Service>> {
        self.active
            .info
            .services
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    /// The names of the branch's services.
    pub fn service_names(&self) -> Vec<String> {
        self.active
            .info
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    /// The name of a staff member of the company (empty when unknown); one of another
    /// branch when an offer came from there.
    pub fn staff_name(&self, id: StaffId) -> String {
        self.active
            .info
            .staff
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.name.clone())
            .or_else(|| self.app.bookings.staff_name(id))
            .unwrap_or_default()
    }
}
