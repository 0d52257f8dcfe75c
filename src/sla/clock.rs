//! The SLA monitor reads the application's one clock (see [`callflow_actors::clock`]).

pub use callflow_actors::clock::{Clock, ManualClock, SystemClock};
