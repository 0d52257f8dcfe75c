//! Opening hours, working hours, breaks and date overrides, as local wall-clock times.
//!
//! Everything here is in the branch's local time; turning it into UTC instants (and getting
//! daylight-saving changes right) is the availability module's job.

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A half-open interval of local wall-clock time within one day, `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeRange {
    start: NaiveTime,
    end: NaiveTime,
}

/// A time range was empty, reversed or unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSchedule {
    /// The text was not `HH:MM-HH:MM`.
    #[error("time range {0:?} must look like \"08:00-12:30\"")]
    Format(String),
    /// The range ends before (or when) it starts.
    #[error("time range {0} ends before it starts")]
    Reversed(String),
    /// Two ranges on the same day overlap.
    #[error("time ranges {0} and {1} overlap")]
    Overlap(String, String),
}

impl TimeRange {
    /// A range from `start` to `end`; refused unless `start < end`.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self, InvalidSchedule> {
        if start < end {
            Ok(Self { start, end })
        } else {
            Err(InvalidSchedule::Reversed(format!(
                "{}-{}",
                hm(start),
                hm(end)
            )))
        }
    }

    /// Parses `08:00-12:30`.
    pub fn parse(raw: &str) -> Result<Self, InvalidSchedule> {
        let bad = || InvalidSchedule::Format(raw.to_owned());
        let (a, b) = raw.trim().split_once('-').ok_or_else(bad)?;
        let parse = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        Self::new(parse(a)?, parse(b)?)
    }

    /// First instant inside the range.
    pub fn start(&self) -> NaiveTime {
        self.start
    }

    /// First instant after the range.
    pub fn end(&self) -> NaiveTime {
        self.end
    }
}

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

impl Serialize for TimeRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Sorted, non-overlapping ranges for one day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DayHours(Vec<TimeRange>);

impl DayHours {
    /// Sorts the ranges and refuses overlapping ones.
    pub fn new(mut ranges: Vec<TimeRange>) -> Result<Self, InvalidSchedule> {
        ranges.sort();
        for pair in ranges.windows(2) {
            if pair[0].end > pair[1].start {
                return Err(InvalidSchedule::Overlap(
                    pair[0].to_string(),
                    pair[1].to_string(),
                ));
            }
        }
        Ok(Self(ranges))
    }

    /// A closed day.
    pub fn closed() -> Self {
        Self(Vec::new())
    }

    /// The ranges, earliest first.
    pub fn ranges(&self) -> &[TimeRange] {
        &self.0
    }

    /// True when nothing is open that day.
    pub fn is_closed(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for DayHours {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(Vec::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Hours for each day of the week (Monday first). Used for opening hours, working hours and breaks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    /// Monday.
    #[serde(default)]
    pub mon: DayHours,
    /// Tuesday.
    #[serde(default)]
    pub tue: DayHours,
    /// Wednesday.
    #[serde(default)]
    pub wed: DayHours,
    /// Thursday.
    #[serde(default)]
    pub thu: DayHours,
    /// Friday.
    #[serde(default)]
    pub fri: DayHours,
    /// Saturday.
    #[serde(default)]
    pub sat: DayHours,
    /// Sunday.
    #[serde(default)]
    pub sun: DayHours,
}

impl WeeklyHours {
    /// The hours of one weekday.
    pub fn on(&self, day: Weekday) -> &DayHours {
        match day {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    /// The same hours on each of the given days, closed on the others.
    pub fn same_on(days: &[Weekday], hours: DayHours) -> Self {
        let mut week = Self::default();
        for day in days {
            let slot = match day {
                Weekday::Mon => &mut week.mon,
                Weekday::Tue => &mut week.tue,
                Weekday::Wed => &mut week.wed,
                Weekday::Thu => &mut week.thu,
                Weekday::Fri => &mut week.fri,
                Weekday::Sat => &mut week.sat,
                Weekday::Sun => &mut week.sun,
            };
            *slot = hours.clone();
        }
        week
    }
}

/// A date on which the usual weekly hours do not apply: a holiday, a closure, a sick day,
/// or special hours (`hours` empty means closed all day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateOverride {
    /// The local date affected.
    pub date: NaiveDate,
    /// The hours that replace the weekly ones; empty when closed.
    #[serde(default)]
    pub hours: DayHours,
    /// Why (shown to operators, e.g. "Weihnachten").
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    #[test]
    fn time_ranges_parse_and_print_the_same_way() {
        let r = TimeRange::parse("08:00-12:30").expect("valid");
        assert_eq!((r.start(), r.end()), (t(8, 0), t(12, 30)));
        assert_eq!(r.to_string(), "08:00-12:30");
    }

    #[test]
    fn reversed_empty_and_garbled_ranges_are_refused() {
        assert!(matches!(
            TimeRange::parse("12:00-08:00"),
            Err(InvalidSchedule::Reversed(_))
        ));
        assert!(matches!(
            TimeRange::parse("08:00-08:00"),
            Err(InvalidSchedule::Reversed(_))
        ));
        assert!(matches!(
            TimeRange::parse("8 bis 12"),
            Err(InvalidSchedule::Format(_))
        ));
    }

    #[test]
    fn a_day_sorts_its_ranges_and_refuses_overlaps() {
        let late = TimeRange::parse("13:00-18:00").expect("valid");
        let early = TimeRange::parse("08:00-12:00").expect("valid");
        let day = DayHours::new(vec![late, early]).expect("no overlap");
        assert_eq!(day.ranges(), &[early, late]);
        let clash = TimeRange::parse("11:00-14:00").expect("valid");
        assert!(matches!(
            DayHours::new(vec![early, clash]),
            Err(InvalidSchedule::Overlap(..))
        ));
    }

    #[test]
    fn weekly_hours_read_from_json_with_missing_days_closed() {
        let week: WeeklyHours =
            serde_json::from_str(r#"{"mon":["08:00-12:00","13:00-18:00"],"sat":["09:00-13:00"]}"#)
                .expect("valid json");
        assert_eq!(week.on(Weekday::Mon).ranges().len(), 2);
        assert!(week.on(Weekday::Sun).is_closed());
        assert_eq!(week.on(Weekday::Sat).to_string(), "09:00-13:00");
        assert!(serde_json::from_str::<WeeklyHours>(r#"{"monday":[]}"#).is_err());
    }
}
