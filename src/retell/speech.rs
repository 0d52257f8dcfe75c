//! Sentences the voice agent can say, in the call's language: German, else English.
//!
//! Every custom-function answer carries one in `message`, so the agent never has to invent
//! wording for a booking, a refusal or an alternative.

use callflow_actors::domain::availability::Unbookable;
use callflow_actors::domain::{DayHours, Language, Priority};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;

/// The two languages callflow speaks; every other language is answered in English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tongue {
    /// German.
    De,
    /// English (also the fallback).
    En,
}

impl From<Language> for Tongue {
    fn from(language: Language) -> Self {
        if language == Language::DE {
            Tongue::De
        } else {
            Tongue::En
        }
    }
}

const WEEKDAYS_DE: [&str; 7] = [
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
];
const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Tongue {
    /// The weekday's name.
    pub fn weekday(self, day: Weekday) -> &'static str {
        let i = day.num_days_from_monday() as usize;
        match self {
            Tongue::De => WEEKDAYS_DE[i],
            Tongue::En => WEEKDAYS_EN[i],
        }
    }

    /// "Donnerstag, 17. September" / "Thursday, September 17".
    pub fn date(self, date: NaiveDate) -> String {
        let month = date.month0() as usize;
        match self {
            Tongue::De => format!(
                "{}, {}. {}",
                self.weekday(date.weekday()),
                date.day(),
                MONTHS_DE[month]
            ),
            Tongue::En => format!(
                "{}, {} {}",
                self.weekday(date.weekday()),
                MONTHS_EN[month],
                date.day()
            ),
        }
    }

    /// "9:30 Uhr" / "9:30 AM".
    pub fn time(self, time: NaiveTime) -> String {
        match self {
            Tongue::De => format!("{}:{:02} Uhr", time.hour(), time.minute()),
            Tongue::En => {
                let (pm, hour) = time.hour12();
                let suffix = if pm { "PM" } else { "AM" };
                format!("{hour}:{:02} {suffix}", time.minute())
            }
        }
    }

    /// "Donnerstag, 17. September um 9:30 Uhr" / "Thursday, September 17 at 9:30 AM".
    pub fn moment(self, at: DateTime<Tz>) -> String {
        let joiner = match self {
            Tongue::De => "um",
            Tongue::En => "at",
        };
        format!(
            "{} {joiner} {}",
            self.date(at.date_naive()),
            self.time(at.time())
        )
    }

    /// "8:00 bis 12:00 Uhr und 13:00 bis 18:00 Uhr" / "closed".
    pub fn hours(self, day: &DayHours) -> String {
        if day.is_closed() {
            return match self {
                Tongue::De => "geschlossen".into(),
                Tongue::En => "closed".into(),
            };
        }
        let ranges: Vec<String> = day
            .ranges()
            .iter()
            .map(|r| match self {
                Tongue::De => format!("{} bis {}", short(r.start()), self.time(r.end())),
                Tongue::En => format!("{} to {}", self.time(r.start()), self.time(r.end())),
            })
            .collect();
        self.and(&ranges)
    }

    /// "a, b und c" / "a, b and c".
    pub fn and(self, items: &[String]) -> String {
        self.join(items, "und", "and")
    }

    /// "a, b oder c" / "a, b or c".
    pub fn or(self, items: &[String]) -> String {
        self.join(items, "oder", "or")
    }

    fn join(self, items: &[String], de: &str, en: &str) -> String {
        let word = match self {
            Tongue::De => de,
            Tongue::En => en,
        };
        match items {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
        }
    }

    /// Offering slots: "Frei sind Donnerstag, … um 9:30 Uhr oder …. Welcher Termin passt Ihnen?"
    pub fn offer(self, labels: &[String]) -> String {
        match self {
            Tongue::De => format!("Frei wäre {}. Welcher Termin passt Ihnen?", self.or(labels)),
            Tongue::En => format!(
                "I have {} available. Which would suit you?",
                self.or(labels)
            ),
        }
    }

    /// The wanted time is free.
    pub fn wanted_free(self, label: &str) -> String {
        match self {
            Tongue::De => format!("{label} ist frei. Soll ich den Termin für Sie eintragen?"),
            Tongue::En => format!("{label} is available. Shall I book it for you?"),
        }
    }

    /// Nothing free in the searched range.
    pub fn nothing_free(self) -> String {
        match self {
            Tongue::De => "In diesem Zeitraum ist leider nichts mehr frei. Soll ich an einem anderen Tag suchen oder Sie zurückrufen lassen?".into(),
            Tongue::En => "I'm sorry, nothing is free in that period. Shall I look at another day, or arrange a call back?".into(),
        }
    }

    /// Nothing free on the day asked for; other days offered.
    pub fn nothing_free_that_day(self, alternatives: &[String]) -> String {
        if alternatives.is_empty() {
            return self.nothing_free();
        }
        match self {
            Tongue::De => format!(
                "An diesem Tag ist leider nichts mehr frei. Frei wäre {}.",
                self.or(alternatives)
            ),
            Tongue::En => format!(
                "Nothing is free that day, I'm afraid. {} would be free.",
                self.or(alternatives)
            ),
        }
    }

    /// A booking is confirmed, with the reference the caller can quote later.
    pub fn booked(self, label: &str, service: &str, staff: &str, reference: &str) -> String {
        let reference = spelled(reference);
        match self {
            Tongue::De => format!(
                "Ihr Termin ist gebucht: {service} am {label} bei {staff}. Ihre Buchungsnummer ist {reference}."
            ),
            Tongue::En => format!(
                "You're booked: {service} on {label} with {staff}. Your booking reference is {reference}."
            ),
        }
    }

    /// The caller named someone who does not work here.
    pub fn unknown_staff(self, named: &str, service: &str, qualified: &[String]) -> String {
        match (self, qualified.is_empty()) {
            (Tongue::De, true) => format!("{named} arbeitet nicht bei uns."),
            (Tongue::En, true) => format!("{named} doesn't work with us."),
            (Tongue::De, false) => format!(
                "{named} arbeitet nicht bei uns. {service} machen bei uns {}.",
                self.and(qualified)
            ),
            (Tongue::En, false) => format!(
                "{named} doesn't work with us. {service} is done here by {}.",
                self.and(qualified)
            ),
        }
    }

    /// The caller named someone who does not perform the service.
    pub fn staff_does_not_perform(
        self,
        person: &str,
        service: &str,
        qualified: &[String],
    ) -> String {
        match (self, qualified.is_empty()) {
            (Tongue::De, true) => format!("{person} bietet {service} nicht an."),
            (Tongue::En, true) => format!("{person} doesn't do {service}."),
            (Tongue::De, false) => format!(
                "{person} bietet {service} nicht an; das machen bei uns {}.",
                self.and(qualified)
            ),
            (Tongue::En, false) => format!(
                "{person} doesn't do {service}; that is done here by {}.",
                self.and(qualified)
            ),
        }
    }

    /// The person the caller asked for has these times.
    pub fn staff_offer(self, person: &str, labels: &[String]) -> String {
        match self {
            Tongue::De => format!(
                "Bei {person} wäre {} frei. Welcher Termin passt Ihnen?",
                self.or(labels)
            ),
            Tongue::En => format!(
                "{person} has {} available. Which would suit you?",
                self.or(labels)
            ),
        }
    }

    /// The person the caller asked for is not free at the wished time (or day): their nearest
    /// times first, then someone else at the wished time.
    pub fn staff_not_free(
        self,
        person: &str,
        wish: &str,
        theirs: &[String],
        others: &[String],
    ) -> String {
        let mut said = match self {
            Tongue::De => format!("{person} ist {wish} leider nicht frei."),
            Tongue::En => format!("I'm sorry, {person} isn't free {wish}."),
        };
        if !theirs.is_empty() {
            said.push(' ');
            said.push_str(&match self {
                Tongue::De => format!("Bei {person} wäre {} frei.", self.or(theirs)),
                Tongue::En => format!("{person} would be free {}.", self.or(theirs)),
            });
        }
        if !others.is_empty() {
            said.push(' ');
            said.push_str(&match self {
                Tongue::De => format!("Zur gewünschten Zeit wäre {} frei.", self.or(others)),
                Tongue::En => format!("At the time you wanted, {} would be free.", self.or(others)),
            });
        }
        said.push_str(match (self, theirs.is_empty() && others.is_empty()) {
            (Tongue::De, true) => {
                " Soll ich an einem anderen Tag suchen oder Sie zurückrufen lassen?"
            }
            (Tongue::En, true) => " Shall I look at another day, or arrange a call back?",
            (Tongue::De, false) => " Was ist Ihnen lieber?",
            (Tongue::En, false) => " Which would you prefer?",
        });
        said
    }

    /// Several times said as a receptionist would, each day once: "Mittwoch, 9. Dezember um
    /// 8:15, 8:30 oder 10:00 Uhr oder Donnerstag, 10. Dezember um 9:00 Uhr" / "Wednesday,
    /// December 9 at 8:15, 8:30 or 10:00 AM or …". Times keep their order; a day's times are
    /// grouped where they first appear.
    pub fn moments(self, times: &[DateTime<Tz>]) -> String {
        let mut days: Vec<(NaiveDate, Vec<NaiveTime>)> = Vec::new();
        for at in times {
            match days.iter_mut().find(|(day, _)| *day == at.date_naive()) {
                Some((_, on_day)) => on_day.push(at.time()),
                None => days.push((at.date_naive(), vec![at.time()])),
            }
        }
        let joiner = match self {
            Tongue::De => "um",
            Tongue::En => "at",
        };
        let said: Vec<String> = days
            .iter()
            .map(|(day, on_day)| {
                let clock: Vec<String> = match self {
                    // "8:15, 8:30 oder 10:00 Uhr": "Uhr" once, at the end.
                    Tongue::De => on_day.iter().map(|t| short(*t)).collect(),
                    Tongue::En => on_day.iter().map(|t| self.time(*t)).collect(),
                };
                let unit = match self {
                    Tongue::De => " Uhr",
                    Tongue::En => "",
                };
                format!("{} {joiner} {}{unit}", self.date(*day), self.or(&clock))
            })
            .collect();
        self.or(&said)
    }

    /// "am Dienstag, 8. Dezember" / "on Tuesday, December 8".
    pub fn on_day(self, date: NaiveDate) -> String {
        match self {
            Tongue::De => format!("am {}", self.date(date)),
            Tongue::En => format!("on {}", self.date(date)),
        }
    }

    /// "am Dienstag, 8. Dezember um 14:00 Uhr" / "on Tuesday, December 8 at 2:00 PM".
    pub fn on_moment(self, at: DateTime<Tz>) -> String {
        match self {
            Tongue::De => format!("am {}", self.moment(at)),
            Tongue::En => format!("on {}", self.moment(at)),
        }
    }

    /// "14:00 Uhr bei Dr. Petrova" / "2:00 PM with Dr. Petrova": who else is free at a time.
    pub fn with_person(self, label: &str, person: &str) -> String {
        match self {
            Tongue::De => format!("{label} bei {person}"),
            Tongue::En => format!("{label} with {person}"),
        }
    }

    /// The slot was just taken by someone else.
    pub fn taken(self, alternatives: &[String]) -> String {
        match (self, alternatives.is_empty()) {
            (Tongue::De, true) => "Dieser Termin wurde gerade vergeben, und ich finde keinen anderen freien. Soll ich Sie zurückrufen lassen?".into(),
            (Tongue::En, true) => "That time was just taken and I can't find another free one. Shall I arrange a call back?".into(),
            (Tongue::De, false) => format!(
                "Dieser Termin wurde gerade vergeben. Frei wäre noch {}.",
                self.or(alternatives)
            ),
            (Tongue::En, false) => format!(
                "That time was just taken. {} would still be free.",
                self.or(alternatives)
            ),
        }
    }

    /// The time cannot be booked at all.
    pub fn unbookable(self, why: Unbookable, alternatives: &[String]) -> String {
        let reason = match (self, why) {
            (Tongue::De, Unbookable::TooSoon) => "Dieser Termin ist zu kurzfristig.",
            (Tongue::En, Unbookable::TooSoon) => "That is too soon to book.",
            (Tongue::De, Unbookable::BeyondHorizon) => {
                "So weit im Voraus kann ich noch nicht buchen."
            }
            (Tongue::En, Unbookable::BeyondHorizon) => "I can't book that far ahead yet.",
            (Tongue::De, Unbookable::InThePast) => "Dieser Zeitpunkt liegt in der Vergangenheit.",
            (Tongue::En, Unbookable::InThePast) => "That time has already passed.",
            (Tongue::De, Unbookable::OutsideHours) => "Zu dieser Zeit haben wir geschlossen.",
            (Tongue::En, Unbookable::OutsideHours) => "We're closed at that time.",
            (Tongue::De, Unbookable::NotOnGrid) => "Termine beginnen nur zu festen Zeiten.",
            (Tongue::En, Unbookable::NotOnGrid) => "Appointments start only at set times.",
            (Tongue::De, Unbookable::Taken) => "Dieser Termin ist schon vergeben.",
            (Tongue::En, Unbookable::Taken) => "That time is already taken.",
        };
        if alternatives.is_empty() {
            return reason.to_owned();
        }
        match self {
            Tongue::De => format!("{reason} Frei wäre {}.", self.or(alternatives)),
            Tongue::En => format!("{reason} {} would be free.", self.or(alternatives)),
        }
    }

    /// The service named is not offered.
    pub fn unknown_service(self, offered: &[String]) -> String {
        match self {
            Tongue::De => format!(
                "Diese Leistung kenne ich nicht. Wir bieten {} an.",
                self.and(offered)
            ),
            Tongue::En => format!("I don't know that service. We offer {}.", self.and(offered)),
        }
    }

    /// A required piece of information is missing or unreadable.
    pub fn need(self, what: Need) -> String {
        match (self, what) {
            (Tongue::De, Need::Service) => "Für welche Leistung möchten Sie einen Termin?",
            (Tongue::En, Need::Service) => "Which service would you like to book?",
            (Tongue::De, Need::Date) => "An welchem Tag möchten Sie kommen?",
            (Tongue::En, Need::Date) => "Which day would you like to come in?",
            (Tongue::De, Need::Time) => "Zu welcher Uhrzeit möchten Sie kommen?",
            (Tongue::En, Need::Time) => "What time would you like?",
            (Tongue::De, Need::Phone) => "Unter welcher Telefonnummer erreichen wir Sie?",
            (Tongue::En, Need::Phone) => "Which phone number can we reach you on?",
            (Tongue::De, Need::Reason) => "Worum geht es bei Ihrem Anliegen?",
            (Tongue::En, Need::Reason) => "What is your call about?",
            (Tongue::De, Need::Appointment) => "Ich finde keinen passenden Termin. Können Sie mir sagen, welchen Termin Sie meinen?",
            (Tongue::En, Need::Appointment) => "I can't find that appointment. Could you tell me which one you mean?",
            (Tongue::De, Need::Slot) => "Dieser Termin ist mir nicht bekannt. Ich suche gern noch einmal nach freien Terminen.",
            (Tongue::En, Need::Slot) => "I don't recognise that slot. Let me look for free times again.",
            (Tongue::De, Need::Call) => "Ich kann diesen Anruf gerade keiner Praxis zuordnen. Ich lasse Sie gern zurückrufen.",
            (Tongue::En, Need::Call) => "I can't match this call to a branch right now. I can arrange a call back.",
        }
        .to_owned()
    }

    /// A callback was arranged (or merged into an open one), said with exactly the priority
    /// that was stored: "dringend" only for `urgent`, "mit hoher Priorität" for `high`.
    pub fn callback_opened(self, merged: bool, priority: Priority) -> String {
        match (self, merged, priority) {
            (Tongue::De, false, Priority::Normal) => "Ich habe Ihren Rückrufwunsch aufgenommen. Wir melden uns so bald wie möglich bei Ihnen.",
            (Tongue::De, false, Priority::High) => "Ich habe Ihren Rückrufwunsch mit hoher Priorität aufgenommen. Wir melden uns so schnell wie möglich.",
            (Tongue::De, false, Priority::Urgent) => "Ich habe Ihren Rückrufwunsch als dringend aufgenommen. Wir melden uns schnellstmöglich.",
            (Tongue::De, true, Priority::Normal) => "Sie stehen bereits auf unserer Rückrufliste; ich habe Ihre Angaben ergänzt.",
            (Tongue::De, true, Priority::High) => "Sie stehen bereits auf unserer Rückrufliste, jetzt mit hoher Priorität; ich habe Ihre Angaben ergänzt.",
            (Tongue::De, true, Priority::Urgent) => "Sie stehen bereits auf unserer Rückrufliste, jetzt als dringend; ich habe Ihre Angaben ergänzt.",
            (Tongue::En, false, Priority::Normal) => "I've noted your callback request. We'll get back to you as soon as we can.",
            (Tongue::En, false, Priority::High) => "I've noted your callback request with high priority. We'll call you back as soon as we can.",
            (Tongue::En, false, Priority::Urgent) => "I've noted your callback request as urgent. We'll call you back as soon as possible.",
            (Tongue::En, true, Priority::Normal) => "You're already on our callback list; I've added your details.",
            (Tongue::En, true, Priority::High) => "You're already on our callback list, now with high priority; I've added your details.",
            (Tongue::En, true, Priority::Urgent) => "You're already on our callback list, now as urgent; I've added your details.",
        }
        .to_owned()
    }

    /// An appointment was cancelled.
    pub fn cancelled(self, label: &str) -> String {
        match self {
            Tongue::De => format!("Ihr Termin am {label} ist storniert."),
            Tongue::En => format!("Your appointment on {label} is cancelled."),
        }
    }

    /// An appointment was moved: when, with whom, and the reference it now has.
    pub fn rescheduled(self, label: &str, staff: &str, reference: &str) -> String {
        let reference = spelled(reference);
        match self {
            Tongue::De => format!(
                "Ihr Termin ist verlegt auf {label} bei {staff}. Ihre Buchungsnummer ist {reference}."
            ),
            Tongue::En => format!(
                "Your appointment is moved to {label} with {staff}. Your booking reference is {reference}."
            ),
        }
    }

    /// Something on our side failed; the agent should offer a callback.
    pub fn try_later(self) -> String {
        match self {
            Tongue::De => {
                "Das hat gerade leider nicht geklappt. Ich lasse Sie gern zurückrufen.".into()
            }
            Tongue::En => "Sorry, that didn't work just now. I can arrange a call back.".into(),
        }
    }
}

/// "8:00" without "Uhr", for the first half of a German range.
/// A reference as a voice agent should say it: character by character ("7F3A" → "7 F 3 A"),
/// so text-to-speech does not read it as one number or word.
pub fn spelled(reference: &str) -> String {
    let chars: Vec<String> = reference.chars().map(String::from).collect();
    chars.join(" ")
}

fn short(time: NaiveTime) -> String {
    format!("{}:{:02}", time.hour(), time.minute())
}

/// What the agent must still ask the caller for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Which service.
    Service,
    /// Which day.
    Date,
    /// What time.
    Time,
    /// A phone number.
    Phone,
    /// Why they want a callback.
    Reason,
    /// Which appointment.
    Appointment,
    /// A slot id we issued.
    Slot,
    /// A call we can place.
    Call,
}

#[cfg(test)]
mod tests {
    use super::*;
    use callflow_actors::domain::TimeRange;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    #[test]
    fn moments_are_spoken_the_way_people_say_them() {
        let at = Berlin
            .with_ymd_and_hms(2026, 9, 17, 9, 30, 0)
            .single()
            .expect("valid");
        assert_eq!(
            Tongue::De.moment(at),
            "Donnerstag, 17. September um 9:30 Uhr"
        );
        assert_eq!(Tongue::En.moment(at), "Thursday, September 17 at 9:30 AM");
        let afternoon = Berlin
            .with_ymd_and_hms(2026, 12, 1, 14, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(
            Tongue::En.moment(afternoon),
            "Tuesday, December 1 at 2:00 PM"
        );
    }

    #[test]
    fn several_times_say_each_day_once() {
        let at = |d: u32, h: u32, m: u32| {
            Berlin
                .with_ymd_and_hms(2026, 12, d, h, m, 0)
                .single()
                .expect("valid")
        };
        let times = [at(9, 8, 15), at(9, 8, 30), at(10, 14, 0), at(9, 10, 0)];
        assert_eq!(
            Tongue::De.moments(&times),
            "Mittwoch, 9. Dezember um 8:15, 8:30 oder 10:00 Uhr oder Donnerstag, 10. Dezember um 14:00 Uhr"
        );
        assert_eq!(
            Tongue::En.moments(&times[..2]),
            "Wednesday, December 9 at 8:15 AM or 8:30 AM"
        );
        assert_eq!(spelled("7F3A"), "7 F 3 A");
    }

    #[test]
    fn lists_and_hours_read_naturally() {
        let items = vec!["A".to_owned(), "B".to_owned(), "C".to_owned()];
        assert_eq!(Tongue::De.or(&items), "A, B oder C");
        assert_eq!(Tongue::En.and(&items[..1]), "A");
        let day = DayHours::new(vec![
            TimeRange::parse("08:00-12:00").expect("valid"),
            TimeRange::parse("13:00-18:00").expect("valid"),
        ])
        .expect("valid");
        assert_eq!(
            Tongue::De.hours(&day),
            "8:00 bis 12:00 Uhr und 13:00 bis 18:00 Uhr"
        );
        assert_eq!(Tongue::En.hours(&DayHours::closed()), "closed");
    }

    #[test]
    fn languages_other_than_german_are_answered_in_english() {
        assert_eq!(Tongue::from(Language::DE), Tongue::De);
        assert_eq!(Tongue::from(Language::EN), Tongue::En);
        let turkish = Language::parse("tr").expect("valid");
        assert_eq!(Tongue::from(turkish), Tongue::En);
    }
}
