//! Property test of the callback lifecycle: whatever sequence of steps (assign, contact,
//! failed attempts, complete, cancel, expire, SLA escalation) at whatever times, a callback
//! never reaches an illegal state.

use callflow_actors::domain::callback::{
    new_callback, transition, CallbackAction, CallbackDraft, CallbackPolicy,
};
use callflow_actors::domain::sla::{escalate, SlaRules};
use callflow_actors::domain::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Assign(usize),
    Contact,
    Attempt(AttemptOutcome),
    Complete,
    Cancel,
    Expire,
    Escalate(Option<usize>),
}

fn step() -> impl Strategy<Value = Step> {
    let outcome = prop_oneof![
        Just(AttemptOutcome::NoAnswer),
        Just(AttemptOutcome::Busy),
        Just(AttemptOutcome::WrongNumber),
    ];
    prop_oneof![
        3 => (0..3usize).prop_map(Step::Assign),
        2 => Just(Step::Contact),
        4 => outcome.prop_map(Step::Attempt),
        1 => Just(Step::Complete),
        1 => Just(Step::Cancel),
        2 => Just(Step::Expire),
        2 => proptest::option::of(0..3usize).prop_map(Step::Escalate),
    ]
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 3, 8, 0, 0)
        .single()
        .expect("valid time")
}

/// What the test remembers of the callback's history, to check "set iff reached".
#[derive(Default)]
struct History {
    ever_assigned: bool,
    ever_contacted: bool,
    wrong_number: bool,
}

fn check(
    before: &CallbackRequest,
    after: &CallbackRequest,
    history: &History,
    policy: &CallbackPolicy,
    rules: &SlaRules,
    now: DateTime<Utc>,
) -> Result<(), TestCaseError> {
    use CallbackStatus::*;
    prop_assert_eq!(after.id, before.id);
    prop_assert_eq!(after.company_id, before.company_id);
    prop_assert_eq!(&after.phone, &before.phone);
    prop_assert_eq!(after.created_at, before.created_at);
    prop_assert_eq!(
        after.version,
        before.version + 1,
        "every change bumps the version"
    );
    prop_assert_eq!(after.updated_at, now);
    prop_assert!(
        after.updated_at >= before.updated_at,
        "time never runs back"
    );
    prop_assert!(
        before.status.is_open(),
        "a closed callback ({}) changed",
        before.status
    );
    prop_assert_eq!(after.assigned_at.is_some(), history.ever_assigned);
    prop_assert_eq!(after.contacted_at.is_some(), history.ever_contacted);
    prop_assert_eq!(after.completed_at.is_some(), !after.status.is_open());
    if matches!(after.status, Assigned | Contacted) {
        prop_assert!(after.assigned_staff_id.is_some(), "owned while assigned");
    }
    // Timestamps in the order the states are reached.
    let mut last = after.created_at;
    for stamp in [after.assigned_at, after.contacted_at, after.completed_at]
        .into_iter()
        .flatten()
    {
        prop_assert!(stamp >= last, "timestamps out of order: {:?}", after);
        last = stamp;
    }
    prop_assert!(after.attempts <= policy.max_attempts);
    if after.attempts >= policy.max_attempts {
        prop_assert_eq!(after.status, Unreachable);
    }
    if after.status == Unreachable {
        prop_assert!(after.attempts == policy.max_attempts || history.wrong_number);
    }
    if after.status == Expired {
        prop_assert!(after.contacted_at.is_none());
        prop_assert!(after.completed_at.is_some_and(|t| t > after.due_at));
    }
    prop_assert!(after.escalation_level <= rules.max_escalation_level);
    prop_assert!(after.escalation_level >= before.escalation_level);
    prop_assert!(after.priority.rank() >= before.priority.rank());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_steps_reaches_an_illegal_state(
        steps in proptest::collection::vec((step(), 0i64..3000), 1..40),
        priority in prop_oneof![Just(Priority::Normal), Just(Priority::High), Just(Priority::Urgent)],
    ) {
        let policy = CallbackPolicy::default();
        let rules = SlaRules::default();
        let staff = [StaffId::new(), StaffId::new(), StaffId::new()];
        let draft = CallbackDraft {
            company_id: CompanyId::new(),
            branch_id: None,
            customer_id: None,
            phone: E164Number::parse("+4915123456789").expect("valid"),
            name: None,
            reason: "Rückruf".into(),
            notes: None,
            priority: None,
            language: None,
            source_call_id: None,
            scheduled_for: None,
        };
        let mut cb = new_callback(CallbackId::new(), &draft, priority, &policy, start());
        let mut history = History::default();
        let mut now = start();
        for (step, minutes) in steps {
            now += Duration::minutes(minutes);
            let result = match &step {
                Step::Escalate(to) => {
                    // The monitor escalates only watched callbacks below the highest level.
                    let watched = matches!(cb.status, CallbackStatus::Pending | CallbackStatus::Assigned);
                    if watched && cb.escalation_level < rules.max_escalation_level {
                        let target = to.map(|i| (staff[i], "next best"));
                        Ok(escalate(&cb, target, &rules, &policy, now).0)
                    } else {
                        continue;
                    }
                }
                Step::Assign(i) => transition(&cb, &CallbackAction::Assign { staff: staff[*i], note: None }, None, now, &policy),
                Step::Contact => transition(&cb, &CallbackAction::Contact { note: None }, None, now, &policy),
                Step::Attempt(outcome) => transition(&cb, &CallbackAction::Attempt { outcome: *outcome, note: None }, None, now, &policy),
                Step::Complete => transition(&cb, &CallbackAction::Complete { note: None }, None, now, &policy),
                Step::Cancel => transition(&cb, &CallbackAction::Cancel { note: None }, None, now, &policy),
                Step::Expire => transition(&cb, &CallbackAction::Expire, None, now, &policy),
            };
            match result {
                Ok(next) => {
                    history.ever_assigned |= next.status == CallbackStatus::Assigned;
                    history.ever_contacted |= next.status == CallbackStatus::Contacted;
                    history.wrong_number |= matches!(step, Step::Attempt(AttemptOutcome::WrongNumber));
                    check(&cb, &next, &history, &policy, &rules, now)?;
                    cb = next;
                }
                Err(_) => {
                    // Refused steps change nothing; a closed callback refuses everything.
                    if !cb.status.is_open() {
                        continue;
                    }
                    prop_assert!(
                        !matches!(step, Step::Cancel),
                        "an open callback can always be cancelled"
                    );
                }
            }
        }
    }
}
