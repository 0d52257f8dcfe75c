//! Pure domain logic: types that can only hold valid values, and the rules of the business.
//!
//! Nothing here knows about actors, HTTP, SQL or the clock: functions that need the time take
//! `now` as an argument, so every rule is a plain function a `#[test]` can reach.

pub mod assignment;
pub mod availability;
pub mod calendar;
pub mod callback;
pub mod callback_stats;
pub mod extraction;
pub mod ids;
pub mod language;
pub mod model;
pub mod offer;
pub mod phone;
pub mod routing;
pub mod schedule;
pub mod scoring;
pub mod sla;
pub mod slot_id;

pub use ids::*;
pub use language::Language;
pub use model::*;
pub use phone::E164Number;
pub use schedule::{DateOverride, DayHours, TimeRange, WeeklyHours};
