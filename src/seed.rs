//! The demo company, "Zahnarztpraxis Dr. Müller": three branches, twelve staff, seven services,
//! holidays and returning customers, matching the Retell samples in `shared/retell/samples`.
//!
//! Ids are UUIDv5 of stable names, so seeding twice upserts the same rows: idempotent.

use callflow_actors::domain::*;
use callflow_actors::{Store, StoreResult};
use chrono::{NaiveDate, TimeZone, Utc, Weekday};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Namespace of the demo's UUIDv5 ids.
const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x6a1c_0f3e_9d2b_4c7a_8e15_3b9f_0d4c_2a71);

/// The dialled number of the Berlin branch in the samples.
pub const BERLIN_NUMBER: &str = "+493012345678";
/// The Retell agent answering Berlin in the samples.
pub const BERLIN_AGENT: &str = "agent_7742116d0d00d3806fcfaa9b8d";
/// The returning customer calling in the samples.
pub const JUERGEN_NUMBER: &str = "+4915123456789";
/// The demo company's slug.
pub const COMPANY_SLUG: &str = "praxis-mueller";

fn id(name: &str) -> Uuid {
    Uuid::new_v5(&DEMO_NAMESPACE, name.as_bytes())
}

/// What the seed wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// The demo company.
    pub company_id: CompanyId,
    /// Branches written.
    pub branches: usize,
    /// Staff written.
    pub staff: usize,
    /// Services written.
    pub services: usize,
    /// Customers written.
    pub customers: usize,
}

/// Writes (or rewrites) the demo company.
pub async fn seed_demo(store: &dyn Store) -> StoreResult<DemoSummary> {
    let demo = demo_data();
    // The company first without its default branch (the branch references the company).
    store
        .upsert_company(&Company {
            default_branch_id: None,
            ..demo.company.clone()
        })
        .await?;
    for branch in &demo.branches {
        store
            .upsert_branch(&Branch {
                fallback_branch_id: None,
                ..branch.clone()
            })
            .await?;
    }
    for branch in &demo.branches {
        store.upsert_branch(branch).await?;
    }
    store.upsert_company(&demo.company).await?;
    for number in &demo.numbers {
        store.upsert_phone_number(number).await?;
    }
    for staff in &demo.staff {
        store.upsert_staff(staff).await?;
    }
    for service in &demo.services {
        store.upsert_service(service).await?;
    }
    for customer in &demo.customers {
        store.upsert_customer(customer).await?;
    }
    for appointment in &demo.past_appointments {
        store.insert_appointment(appointment).await?;
    }
    Ok(DemoSummary {
        company_id: demo.company.id,
        branches: demo.branches.len(),
        staff: demo.staff.len(),
        services: demo.services.len(),
        customers: demo.customers.len(),
    })
}

/// Seeds the demo only when the database holds no company yet; returns whether it did.
pub async fn seed_demo_if_empty(store: &dyn Store) -> StoreResult<bool> {
    if store.list_companies().await?.is_empty() {
        seed_demo(store).await?;
        Ok(true)
    } else {
        Ok(false)
    }
}

/// The demo data, in memory.
pub struct Demo {
    /// The company.
    pub company: Company,
    /// Berlin, Hamburg, München.
    pub branches: Vec<Branch>,
    /// One dialled number per branch.
    pub numbers: Vec<PhoneNumber>,
    /// Four per branch.
    pub staff: Vec<Staff>,
    /// The service catalogue.
    pub services: Vec<Service>,
    /// Returning customers.
    pub customers: Vec<Customer>,
    /// History that makes Jürgen a returning customer.
    pub past_appointments: Vec<Appointment>,
}

fn day(spec: &str) -> DayHours {
    let ranges = spec
        .split(',')
        .filter(|r| !r.trim().is_empty())
        .map(|r| TimeRange::parse(r).expect("demo hours are valid"))
        .collect();
    DayHours::new(ranges).expect("demo hours do not overlap")
}

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

fn langs(codes: &[&str]) -> Vec<Language> {
    codes
        .iter()
        .map(|c| Language::parse(c).expect("demo languages are valid"))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("demo dates are valid")
}

/// German public holidays (nationwide) and the practice's Christmas closure.
fn holidays() -> Vec<DateOverride> {
    let closed = |d: NaiveDate, reason: &str| DateOverride {
        date: d,
        hours: DayHours::closed(),
        reason: reason.into(),
    };
    vec![
        closed(date(2026, 12, 24), "Heiligabend"),
        closed(date(2026, 12, 25), "1. Weihnachtsfeiertag"),
        closed(date(2026, 12, 26), "2. Weihnachtsfeiertag"),
        DateOverride {
            date: date(2026, 12, 31),
            hours: day("08:00-12:00"),
            reason: "Silvester".into(),
        },
        closed(date(2027, 1, 1), "Neujahr"),
        closed(date(2027, 3, 26), "Karfreitag"),
        closed(date(2027, 3, 29), "Ostermontag"),
        closed(date(2027, 5, 1), "Tag der Arbeit"),
    ]
}

/// Builds the demo data.
pub fn demo_data() -> Demo {
    let company_id = CompanyId(id("company"));
    let tz = chrono_tz::Europe::Berlin;
    let branch = |key: &str,
                  name: &str,
                  address: &str,
                  languages: &[&str],
                  prefix: &str,
                  hours: WeeklyHours| Branch {
        id: BranchId(id(key)),
        company_id,
        name: name.into(),
        slug: format!("{COMPANY_SLUG}-{key}"),
        address: address.into(),
        time_zone: tz,
        languages: langs(languages),
        active: true,
        fallback_branch_id: None,
        service_area_prefixes: vec![prefix.into()],
        opening_hours: hours,
        date_overrides: holidays(),
        agent_by_language: BTreeMap::new(),
    };
    let mut berlin = branch(
        "berlin",
        "Praxis Berlin-Mitte",
        "Friedrichstraße 123, 10117 Berlin",
        &["de", "en", "tr"],
        "+4930",
        WeeklyHours::same_on(&WEEKDAYS, day("08:00-18:00")),
    );
    berlin
        .agent_by_language
        .insert(Language::DE, BERLIN_AGENT.into());
    let mut hamburg = branch(
        "hamburg",
        "Praxis Hamburg-Altona",
        "Ottenser Hauptstraße 10, 22765 Hamburg",
        &["de", "en", "ru"],
        "+4940",
        WeeklyHours::same_on(&WEEKDAYS, day("08:00-17:00")),
    );
    let mut muenchen_hours = WeeklyHours::same_on(&WEEKDAYS, day("08:00-12:30,13:30-18:00"));
    muenchen_hours.sat = day("09:00-13:00");
    let mut muenchen = branch(
        "muenchen",
        "Praxis München-Schwabing",
        "Leopoldstraße 50, 80802 München",
        &["de", "en", "ar"],
        "+4989",
        muenchen_hours,
    );
    hamburg.fallback_branch_id = Some(berlin.id);
    muenchen.fallback_branch_id = Some(berlin.id);
    berlin.fallback_branch_id = Some(hamburg.id);

    let company = Company {
        id: company_id,
        name: "Zahnarztpraxis Dr. Müller".into(),
        slug: COMPANY_SLUG.into(),
        default_branch_id: Some(berlin.id),
    };

    let number = |raw: &str, b: &Branch, agent: Option<&str>| PhoneNumber {
        number: E164Number::parse(raw).expect("demo numbers are valid"),
        company_id,
        branch_id: Some(b.id),
        retell_agent_id: agent.map(str::to_owned),
    };
    let numbers = vec![
        number(BERLIN_NUMBER, &berlin, Some(BERLIN_AGENT)),
        number("+494012345678", &hamburg, None),
        number("+498912345678", &muenchen, None),
    ];

    let full_week = WeeklyHours::same_on(&WEEKDAYS, day("08:00-17:00"));
    let lunch = WeeklyHours::same_on(&WEEKDAYS, day("12:00-13:00"));
    let part_time = WeeklyHours::same_on(
        &[Weekday::Mon, Weekday::Wed, Weekday::Thu],
        day("08:00-14:00"),
    );
    let staff_member = |key: &str,
                        b: &Branch,
                        name: &str,
                        role: StaffRole,
                        skills: &[&str],
                        languages: &[&str],
                        hours: &WeeklyHours,
                        breaks: &WeeklyHours| Staff {
        id: StaffId(id(&format!("staff-{key}"))),
        branch_id: b.id,
        name: name.into(),
        role,
        skills: strings(skills),
        languages: langs(languages),
        working_hours: hours.clone(),
        breaks: breaks.clone(),
        date_overrides: Vec::new(),
        active: true,
        email: Some(format!("{key}@praxis-mueller.example")),
    };
    use StaffRole::*;
    let none = WeeklyHours::default();
    let mut staff = vec![
        staff_member(
            "anna.schmidt",
            &berlin,
            "Dr. Anna Schmidt",
            Practitioner,
            &[
                "examination",
                "filling",
                "root_canal",
                "implant_consultation",
            ],
            &["de", "en"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "mehmet.yilmaz",
            &berlin,
            "Mehmet Yılmaz",
            Assistant,
            &["prophylaxis", "whitening"],
            &["de", "tr"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "lukas.weber",
            &berlin,
            "Dr. Lukas Weber",
            Practitioner,
            &["examination", "filling", "whitening"],
            &["de"],
            &part_time,
            &none,
        ),
        staff_member(
            "sabine.koch",
            &berlin,
            "Sabine Koch",
            Manager,
            &[],
            &["de", "en"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "olga.petrova",
            &hamburg,
            "Dr. Olga Petrova",
            Practitioner,
            &["examination", "filling", "root_canal"],
            &["de", "ru", "en"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "jana.fischer",
            &hamburg,
            "Jana Fischer",
            Assistant,
            &["prophylaxis", "whitening"],
            &["de", "en"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "thomas.becker",
            &hamburg,
            "Dr. Thomas Becker",
            Practitioner,
            &["examination", "filling", "implant_consultation"],
            &["de"],
            &part_time,
            &none,
        ),
        staff_member(
            "katrin.wolf",
            &hamburg,
            "Katrin Wolf",
            Manager,
            &[],
            &["de"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "layla.haddad",
            &muenchen,
            "Dr. Layla Haddad",
            Practitioner,
            &["examination", "filling", "root_canal"],
            &["de", "ar", "en"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "sophie.wagner",
            &muenchen,
            "Sophie Wagner",
            Assistant,
            &["prophylaxis"],
            &["de", "en"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "maximilian.hofer",
            &muenchen,
            "Dr. Maximilian Hofer",
            Practitioner,
            &[
                "examination",
                "filling",
                "whitening",
                "implant_consultation",
            ],
            &["de"],
            &full_week,
            &lunch,
        ),
        staff_member(
            "claudia.braun",
            &muenchen,
            "Claudia Braun",
            Manager,
            &[],
            &["de", "en"],
            &full_week,
            &lunch,
        ),
    ];
    // Dr. Weber is on leave over the new year.
    staff[2].date_overrides.push(DateOverride {
        date: date(2027, 1, 4),
        hours: DayHours::closed(),
        reason: "Urlaub".into(),
    });

    let service =
        |key: &str, name: &str, minutes: u32, before: u32, after: u32, skills: &[&str]| Service {
            id: ServiceId(id(&format!("service-{key}"))),
            company_id,
            name: name.into(),
            duration_minutes: minutes,
            buffer_before_minutes: before,
            buffer_after_minutes: after,
            required_skills: strings(skills),
            active: true,
        };
    let services = vec![
        service(
            "checkup",
            "Kontrolluntersuchung",
            30,
            0,
            5,
            &["examination"],
        ),
        service(
            "cleaning",
            "Professionelle Zahnreinigung",
            60,
            5,
            10,
            &["prophylaxis"],
        ),
        service("filling", "Füllungstherapie", 45, 5, 10, &["filling"]),
        service(
            "root-canal",
            "Wurzelbehandlung",
            90,
            10,
            15,
            &["root_canal"],
        ),
        service("whitening", "Bleaching", 60, 5, 10, &["whitening"]),
        service(
            "implant",
            "Implantatberatung",
            30,
            0,
            5,
            &["implant_consultation"],
        ),
        service("pain", "Schmerzsprechstunde", 20, 0, 5, &["examination"]),
    ];

    let customer = |key: &str,
                    phone: &str,
                    name: &str,
                    reference: &str,
                    language: &str,
                    preferred: Option<StaffId>,
                    vip: bool| Customer {
        id: CustomerId(id(&format!("customer-{key}"))),
        company_id,
        phone: E164Number::parse(phone).expect("demo numbers are valid"),
        name: Some(name.into()),
        external_ref: Some(reference.into()),
        preferred_language: Language::parse(language).ok(),
        preferred_staff_id: preferred,
        vip,
        failed_booking_count: 0,
    };
    let customers = vec![
        customer(
            "juergen.weiss",
            JUERGEN_NUMBER,
            "Jürgen Weiß",
            "KD-104857",
            "de",
            Some(staff[1].id),
            false,
        ),
        customer(
            "aylin.kaya",
            "+4917612345678",
            "Aylin Kaya",
            "KD-104912",
            "tr",
            None,
            false,
        ),
        customer(
            "ingrid.vogel",
            "+4915212345678",
            "Dr. Ingrid Vogel",
            "KD-100003",
            "de",
            Some(staff[0].id),
            true,
        ),
    ];

    // Jürgen's last cleaning in Berlin, with Mehmet Yılmaz.
    let starts_at = tz
        .with_ymd_and_hms(2026, 3, 12, 9, 0, 0)
        .single()
        .expect("unambiguous local time")
        .with_timezone(&Utc);
    let minutes = |m: i64| chrono::Duration::minutes(m);
    let past_appointments = vec![Appointment {
        id: AppointmentId(id("appointment-juergen-2026-03-12")),
        company_id,
        branch_id: berlin.id,
        staff_id: staff[1].id,
        customer_id: customers[0].id,
        service_id: services[1].id,
        starts_at,
        ends_at: starts_at + minutes(60),
        blocked_from: starts_at - minutes(5),
        blocked_until: starts_at + minutes(70),
        status: AppointmentStatus::Completed,
        source_call_id: None,
        idempotency_key: Some("demo-seed-juergen-2026-03-12".into()),
        assignment_reason: Some("demo history".into()),
        notes: None,
        created_at: starts_at - chrono::Duration::days(14),
    }];

    Demo {
        company,
        branches: vec![berlin, hamburg, muenchen],
        numbers,
        staff,
        services,
        customers,
        past_appointments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_matches_the_retell_samples() {
        let demo = demo_data();
        let berlin_number = demo
            .numbers
            .iter()
            .find(|n| n.number.as_str() == BERLIN_NUMBER)
            .expect("Berlin number");
        assert_eq!(berlin_number.retell_agent_id.as_deref(), Some(BERLIN_AGENT));
        let berlin = demo
            .branches
            .iter()
            .find(|b| Some(b.id) == berlin_number.branch_id)
            .expect("Berlin branch");
        assert_eq!(
            berlin.slug, "praxis-mueller-berlin",
            "the samples' x-tenant header and metadata name it"
        );
        assert_eq!(demo.company.name, "Zahnarztpraxis Dr. Müller");
        let juergen = demo
            .customers
            .iter()
            .find(|c| c.phone.as_str() == JUERGEN_NUMBER)
            .expect("Jürgen");
        assert_eq!(
            (juergen.name.as_deref(), juergen.external_ref.as_deref()),
            (Some("Jürgen Weiß"), Some("KD-104857"))
        );
        assert!(demo
            .services
            .iter()
            .any(|s| s.name == "Professionelle Zahnreinigung" && s.duration_minutes == 60));
    }

    #[test]
    fn every_service_can_be_performed_at_every_branch() {
        let demo = demo_data();
        for branch in &demo.branches {
            for service in &demo.services {
                let qualified = demo
                    .staff
                    .iter()
                    .filter(|s| s.branch_id == branch.id)
                    .any(|s| {
                        service
                            .required_skills
                            .iter()
                            .all(|skill| s.skills.contains(skill))
                    });
                assert!(qualified, "{} cannot offer {}", branch.name, service.name);
            }
        }
    }

    #[test]
    fn the_demo_speaks_the_five_languages() {
        let demo = demo_data();
        for code in ["de", "en", "tr", "ar", "ru"] {
            let lang = Language::parse(code).expect("valid");
            assert!(
                demo.staff.iter().any(|s| s.languages.contains(&lang)),
                "nobody speaks {code}"
            );
        }
    }
}
