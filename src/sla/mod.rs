//! The SLA monitor: watches every open callback's deadline, warns before it, escalates when it
//! passes and expires what nobody will call any more. The rules are in
//! `callflow_actors::domain::sla`; the steps it takes are the callback use cases
//! (`crate::app::callbacks`); this module is the actor that decides when, and its clock.

pub mod clock;
pub mod monitor;

pub use clock::{Clock, ManualClock, SystemClock};
pub use monitor::SlaHandle;
