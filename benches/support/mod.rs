//! A branch the benchmarks share: ten staff members working a full week, a 60-minute service
//! and a calendar that is a third full over the whole 60-day booking horizon.

#![allow(dead_code)] // each bench binary uses part of it

use callflow_actors::domain::*;
use callflow_actors::memory_store::MemoryStore;
use callflow_actors::store::prelude::*;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Berlin;

/// Staff in the benchmark branch.
pub const STAFF: usize = 10;
/// Days of booked calendar per staff member.
pub const CALENDAR_DAYS: i64 = 60;
/// Appointments per staff member per working day (a third of an 8-hour day).
pub const APPOINTMENTS_PER_DAY: u32 = 3;

const WEEKDAYS: [Weekday; 6] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
];

/// The company, its branch, staff, service and booked appointments.
pub struct BenchBranch {
    pub company: Company,
    pub branch: Branch,
    pub number: PhoneNumber,
    pub staff: Vec<Staff>,
    pub service: Service,
    pub customer: Customer,
    pub appointments: Vec<Appointment>,
}

fn hours(spec: &str) -> WeeklyHours {
    let ranges = spec
        .split(',')
        .map(|r| TimeRange::parse(r).expect("valid range"))
        .collect();
    WeeklyHours::same_on(&WEEKDAYS, DayHours::new(ranges).expect("valid day"))
}

/// Local wall-clock time in Berlin as UTC.
pub fn local(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Berlin
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0).expect("valid time"))
        .earliest()
        .expect("exists")
        .with_timezone(&Utc)
}

/// A working day a few days ahead (clear of the minimum notice), as a local date.
pub fn bench_day() -> NaiveDate {
    let mut day = (Utc::now() + Duration::days(3))
        .with_timezone(&Berlin)
        .date_naive();
    while chrono::Datelike::weekday(&day) == Weekday::Sun {
        day = day.succ_opt().expect("valid date");
    }
    day
}

/// Builds the branch with `staff` members and their booked calendars.
pub fn bench_branch(staff_count: usize) -> BenchBranch {
    let company = Company {
        id: CompanyId::new(),
        name: "Praxis Bench".into(),
        slug: "praxis-bench".into(),
        default_branch_id: None,
    };
    let branch = Branch {
        id: BranchId::new(),
        company_id: company.id,
        name: "Praxis Bench Mitte".into(),
        slug: "praxis-bench-mitte".into(),
        address: "Benchstraße 1, 10115 Berlin".into(),
        time_zone: Berlin,
        languages: vec![Language::DE, Language::EN],
        active: true,
        fallback_branch_id: None,
        service_area_prefixes: vec!["+4930".into()],
        opening_hours: hours("07:00-19:00"),
        date_overrides: Vec::new(),
        agent_by_language: Default::default(),
    };
    let number = PhoneNumber {
        number: E164Number::parse("+493099990000").expect("valid"),
        company_id: company.id,
        branch_id: Some(branch.id),
        retell_agent_id: None,
    };
    let staff: Vec<Staff> = (0..staff_count)
        .map(|i| Staff {
            id: StaffId::new(),
            branch_id: branch.id,
            name: format!("Staff {i}"),
            role: StaffRole::Practitioner,
            skills: vec!["prophylaxis".into()],
            languages: vec![Language::DE],
            working_hours: hours("08:00-17:00"),
            breaks: hours("12:00-13:00"),
            date_overrides: Vec::new(),
            active: true,
            email: None,
        })
        .collect();
    let service = Service {
        id: ServiceId::new(),
        company_id: company.id,
        name: "Professionelle Zahnreinigung".into(),
        duration_minutes: 60,
        buffer_before_minutes: 5,
        buffer_after_minutes: 10,
        required_skills: vec!["prophylaxis".into()],
        active: true,
    };
    let customer = Customer {
        id: CustomerId::new(),
        company_id: company.id,
        phone: E164Number::parse("+4915100000001").expect("valid"),
        name: Some("Erika Muster".into()),
        external_ref: None,
        preferred_language: Some(Language::DE),
        preferred_staff_id: None,
        vip: false,
        failed_booking_count: 0,
    };
    let first = Utc::now().with_timezone(&Berlin).date_naive();
    let mut appointments = Vec::new();
    for member in &staff {
        for day in 0..CALENDAR_DAYS {
            let date = first + Duration::days(day);
            for n in 0..APPOINTMENTS_PER_DAY {
                // 08:30, 10:30, 14:30: spread out so free gaps remain between them.
                let hour = [8, 10, 14][n as usize % 3];
                let starts_at = local(date, hour, 30);
                appointments.push(Appointment {
                    id: AppointmentId::new(),
                    company_id: company.id,
                    branch_id: branch.id,
                    staff_id: member.id,
                    customer_id: customer.id,
                    service_id: service.id,
                    starts_at,
                    ends_at: starts_at + Duration::minutes(60),
                    blocked_from: starts_at - Duration::minutes(5),
                    blocked_until: starts_at + Duration::minutes(70),
                    status: AppointmentStatus::Booked,
                    source_call_id: None,
                    idempotency_key: None,
                    assignment_reason: None,
                    notes: None,
                    created_at: Utc::now(),
                });
            }
        }
    }
    BenchBranch {
        company,
        branch,
        number,
        staff,
        service,
        customer,
        appointments,
    }
}

/// Writes the branch into `store`.
pub async fn seed(store: &MemoryStore, b: &BenchBranch) {
    store.upsert_company(&b.company).await.expect("stored");
    store.upsert_branch(&b.branch).await.expect("stored");
    store.upsert_phone_number(&b.number).await.expect("stored");
    for s in &b.staff {
        store.upsert_staff(s).await.expect("stored");
    }
    store.upsert_service(&b.service).await.expect("stored");
    store.upsert_customer(&b.customer).await.expect("stored");
    for a in &b.appointments {
        store.insert_appointment(a).await.expect("stored");
    }
}
