//! The SLA monitor: watches every open callback's deadline, warns before it, escalates when it
//! passes and expires what nobody will call any more. The rules are in
//! `callflow_actors::domain::sla`; this module is the actor, its clock and the steps it takes.

pub mod clock;
pub mod handling;
pub mod metrics;
pub mod monitor;

pub use clock::{Clock, ManualClock, SystemClock};
pub use handling::SlaDeps;
pub use monitor::SlaHandle;
