//! What the tests of several extraction modules share: dates, the demo catalogue and staff.

use super::{DateWish, DayPeriod, TimeWish};
use crate::domain::ids::{BranchId, CompanyId, ServiceId, StaffId};
use crate::domain::model::{Service, Staff, StaffRole};
use crate::domain::schedule::WeeklyHours;
use chrono::{NaiveDate, NaiveTime};

pub(super) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

pub(super) fn at(h: u32, m: u32) -> Option<TimeWish> {
    Some(TimeWish::At(
        NaiveTime::from_hms_opt(h, m, 0).expect("valid test time"),
    ))
}

pub(super) fn on(y: i32, m: u32, d: u32) -> Option<DateWish> {
    Some(DateWish::Day(day(y, m, d)))
}

pub(super) fn week_of(y: i32, m: u32, d: u32) -> Option<DateWish> {
    Some(DateWish::WeekOf(day(y, m, d)))
}

pub(super) fn period(p: DayPeriod) -> Option<TimeWish> {
    Some(TimeWish::Period(p))
}

/// Tuesday, 15 September 2026: the call date of the Retell sample.
pub(super) fn today() -> NaiveDate {
    day(2026, 9, 15)
}

pub(super) fn service(name: &str, active: bool) -> Service {
    Service {
        id: ServiceId::new(),
        company_id: CompanyId::new(),
        name: name.into(),
        duration_minutes: 30,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        required_skills: Vec::new(),
        active,
    }
}

/// The demo catalogue from `src/seed.rs`, plus an inactive service that must never match.
pub(super) fn services() -> Vec<Service> {
    let mut all: Vec<Service> = [
        "Kontrolluntersuchung",
        "Professionelle Zahnreinigung",
        "Füllungstherapie",
        "Wurzelbehandlung",
        "Bleaching",
        "Implantatberatung",
        "Schmerzsprechstunde",
    ]
    .iter()
    .map(|n| service(n, true))
    .collect();
    all.push(service("Krone", false));
    all
}

pub(super) fn staff_member(name: &str) -> Staff {
    Staff {
        id: StaffId::new(),
        branch_id: BranchId::new(),
        name: name.into(),
        role: StaffRole::Practitioner,
        skills: Vec::new(),
        languages: Vec::new(),
        working_hours: WeeklyHours::default(),
        breaks: WeeklyHours::default(),
        date_overrides: Vec::new(),
        active: true,
        email: None,
    }
}

/// The demo staff from `src/seed.rs`.
pub(super) fn staff() -> Vec<Staff> {
    [
        "Dr. Anna Schmidt",
        "Mehmet Yılmaz",
        "Dr. Lukas Weber",
        "Sabine Koch",
        "Dr. Olga Petrova",
        "Jana Fischer",
        "Dr. Thomas Becker",
        "Katrin Wolf",
        "Dr. Layla Haddad",
        "Sophie Wagner",
        "Dr. Maximilian Hofer",
        "Claudia Braun",
    ]
    .iter()
    .map(|n| staff_member(n))
    .collect()
}
