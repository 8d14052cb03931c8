//! Schedule expressions: `rate(5 minutes)` (or `rate(30 seconds)`, at least [`MIN_RATE`]), AWS `cron(0 12 ? * MON-FRI *)`, a standard
//! 5-field cron string (`*/5 * * * *`), or `once`. All times are UTC.
//!
//! AWS cron has six fields — minutes, hours, day-of-month, month, day-of-week, year — no
//! seconds, day-of-week `1-7` = `SUN-SAT`, and exactly one of day-of-month and day-of-week must be
//! `?`. It is evaluated by croner in its Quartz mode (which numbers weekdays the same way) with a
//! `0` seconds field put in front. A standard 5-field string follows Vixie cron (`0-7`, Sunday is
//! 0 or 7; day-of-month and day-of-week both set means either).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// When a canary runs: a fixed rate, a cron expression, or once.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every N seconds / minutes / hours / days.
    Rate(Duration),
    /// A cron expression: AWS `cron(...)`, a standard 5-field string or an `@` shorthand.
    Cron {
        /// The expression as written (with `cron(...)` for AWS).
        expr: String,
        /// The parsed expression.
        cron: Box<Cron>,
    },
    /// A single run.
    Once,
}

/// The longest schedule expression, in characters.
pub const MAX_CHARS: usize = 200;
/// The longest `rate(...)` period: a year.
pub const MAX_RATE: Duration = Duration::from_secs(365 * 86_400);
/// The shortest `rate(...)` period: 10 seconds.
pub const MIN_RATE: Duration = Duration::from_secs(10);

const EXPECTED: &str = "expected rate(N second|seconds|minute|minutes|hour|hours|day|days), cron(AWS: minutes hours \
                        day-of-month month day-of-week year), a 5-field cron string, or once";

/// A schedule expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Longer than [`MAX_CHARS`].
    #[error("a schedule is at most {} characters long, found {chars}: `{shown}`; {}", MAX_CHARS, EXPECTED)]
    TooLong {
        /// Its length in characters.
        chars: usize,
        /// The expression, cut.
        shown: String,
    },
    /// Neither `rate(...)`, `cron(...)`, a 5-field cron string nor `once`.
    #[error("invalid schedule `{0}`; {expected}", expected = EXPECTED)]
    Unknown(String),
    /// Six fields without `cron(...)`.
    #[error("`{0}` has 6 fields: write AWS cron expressions as cron(...)")]
    SixFields(String),
    /// `rate(...)` that is not `N unit`.
    #[error(
        "invalid rate `rate({0})`; expected rate(N second|seconds|minute|minutes|hour|hours|day|days), N ≥ 1"
    )]
    BadRate(String),
    /// `rate(0 ...)`: CloudWatch's run-once, written `once` here.
    #[error(
        "invalid rate `rate({0})`: the value must be at least 1; to run the canary a single time, write `schedule: once`"
    )]
    ZeroRate(String),
    /// A rate under [`MIN_RATE`].
    #[error("invalid rate `rate({0})`: the period must be at least 10 seconds (rate(10 seconds))")]
    RateTooShort(String),
    /// A rate over [`MAX_RATE`].
    #[error("invalid rate `rate({0})`: the period must be at most a year (rate(365 days))")]
    RateTooLong(String),
    /// A cron expression (AWS or 5-field) that does not parse.
    #[error("invalid cron expression `{text}`: {reason}")]
    Cron {
        /// The expression as written.
        text: String,
        /// What is wrong.
        reason: String,
    },
}

impl Schedule {
    /// The default schedule, `rate(5 minutes)`.
    pub fn default_rate() -> Self {
        Self::Rate(Duration::from_secs(300))
    }

    /// Parses a schedule expression (at most [`MAX_CHARS`] characters; a rate at most
    /// [`MAX_RATE`]); the error says what was expected.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let text = text.trim();
        let chars = text.chars().count();
        if chars > MAX_CHARS {
            return Err(ScheduleError::TooLong { chars, shown: super::yaml::shorten(text).into_owned() });
        }
        if text.eq_ignore_ascii_case("once") {
            return Ok(Self::Once);
        }
        if let Some(inner) = strip_call(text, "rate") {
            return parse_rate(inner).map(Self::Rate);
        }
        if let Some(inner) = strip_call(text, "cron") {
            let cron = parse_aws_cron(inner)?;
            return Ok(Self::Cron { expr: text.to_string(), cron: Box::new(cron) });
        }
        let fields = text.split_whitespace().count();
        if fields == 5 || (fields == 1 && text.starts_with('@')) {
            let cron = CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .build()
                .parse(text)
                .map_err(|e| ScheduleError::Cron { text: text.to_string(), reason: e.to_string() })?;
            return Ok(Self::Cron { expr: text.to_string(), cron: Box::new(cron) });
        }
        if fields == 6 {
            return Err(ScheduleError::SixFields(text.to_string()));
        }
        Err(ScheduleError::Unknown(text.to_string()))
    }

    /// The first fire time strictly after `after`. A rate fires every period from `after`; `once`
    /// has no next fire time (it runs once, when first scheduled).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Rate(every) => after.checked_add_signed(chrono::Duration::from_std(*every).ok()?),
            Self::Cron { cron, .. } => cron.find_next_occurrence(&after, false).ok(),
            Self::Once => None,
        }
    }

    /// The time between runs: the rate, or for cron the smallest gap between the next few fires
    /// from now; `None` for `once` (or a cron that fires less than twice more).
    pub fn period(&self) -> Option<Duration> {
        self.period_from(Utc::now())
    }

    /// [`Self::period`], looking at the fires after `start`.
    pub fn period_from(&self, start: DateTime<Utc>) -> Option<Duration> {
        match self {
            Self::Rate(every) => Some(*every),
            Self::Once => None,
            Self::Cron { cron, .. } => {
                let fires: Vec<DateTime<Utc>> = cron.iter_after(start).take(12).collect();
                fires.windows(2).filter_map(|w| (w[1] - w[0]).to_std().ok()).min()
            }
        }
    }
}

/// `name(inner)` → `inner`.
fn strip_call<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    let head = text.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    text[name.len()..].trim_start().strip_prefix('(')?.strip_suffix(')').map(str::trim)
}

fn parse_rate(inner: &str) -> Result<Duration, ScheduleError> {
    let bad = || ScheduleError::BadRate(inner.to_string());
    let mut parts = inner.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(ScheduleError::ZeroRate(inner.to_string()));
    }
    let unit = match unit.to_ascii_lowercase().as_str() {
        "second" | "seconds" => 1,
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit).map(Duration::from_secs) {
        Some(period) if period < MIN_RATE => Err(ScheduleError::RateTooShort(inner.to_string())),
        Some(period) if period <= MAX_RATE => Ok(period),
        _ => Err(ScheduleError::RateTooLong(inner.to_string())),
    }
}

fn parse_aws_cron(inner: &str) -> Result<Cron, ScheduleError> {
    let bad = |reason: String| ScheduleError::Cron { text: format!("cron({inner})"), reason };
    let fields: Vec<&str> = inner.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(bad(format!(
            "AWS cron has 6 fields (minutes hours day-of-month month day-of-week year), found {}",
            fields.len()
        )));
    }
    let (dom, dow) = (fields[2], fields[4]);
    match (dom == "?", dow == "?") {
        (true, true) => {
            return Err(bad("only one of day-of-month and day-of-week can be `?`".to_string()));
        }
        (false, false) => {
            return Err(bad("one of day-of-month and day-of-week must be `?` (e.g. cron(0 12 * * ? *) or \
                            cron(0 12 ? * MON-FRI *))"
                .to_string()));
        }
        _ => {}
    }
    // `L` alone in day-of-week is the last day of the week: Saturday (7).
    let dow = if dow.eq_ignore_ascii_case("L") { "7" } else { dow };
    let quartz = format!("0 {} {} {} {} {} {}", fields[0], fields[1], dom, fields[3], dow, fields[5]);
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .alternative_weekdays(true)
        .sloppy_ranges(true)
        .build()
        .parse(&quartz)
        .map_err(|e| bad(e.to_string()))
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rate(every) => {
                let secs = every.as_secs();
                let (n, unit) = if secs % 86_400 == 0 {
                    (secs / 86_400, "day")
                } else if secs % 3_600 == 0 {
                    (secs / 3_600, "hour")
                } else if secs % 60 == 0 {
                    (secs / 60, "minute")
                } else {
                    (secs, "second")
                };
                write!(f, "rate({n} {unit}{})", if n == 1 { "" } else { "s" })
            }
            Self::Cron { expr, .. } => f.write_str(expr),
            Self::Once => f.write_str("once"),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Timelike};

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn fires(expr: &str, start: &str, n: usize) -> Vec<String> {
        let schedule = Schedule::parse(expr).unwrap();
        let mut t = at(start);
        let mut out = Vec::new();
        for _ in 0..n {
            t = schedule.next_after(t).unwrap();
            out.push(t.format("%Y-%m-%d %a %H:%M").to_string());
        }
        out
    }

    #[test]
    fn rates() {
        assert_eq!(Schedule::parse("rate(5 minutes)").unwrap(), Schedule::Rate(Duration::from_secs(300)));
        assert_eq!(Schedule::parse("rate(1 minute)").unwrap(), Schedule::Rate(Duration::from_secs(60)));
        assert_eq!(Schedule::parse("rate(1 minutes)").unwrap(), Schedule::Rate(Duration::from_secs(60)));
        assert_eq!(Schedule::parse("rate(2 hour)").unwrap(), Schedule::Rate(Duration::from_secs(7200)));
        assert_eq!(Schedule::parse("rate(1 day)").unwrap(), Schedule::Rate(Duration::from_secs(86_400)));
        assert!(Schedule::parse("rate(0 minutes)").unwrap_err().to_string().contains("at least 1"));
        assert!(Schedule::parse("rate(5 seconds)").is_err());
        assert!(Schedule::parse("rate(five minutes)").is_err());
        assert!(Schedule::parse("rate(5)").is_err());
        assert_eq!(Schedule::parse("rate(365 days)").unwrap(), Schedule::Rate(MAX_RATE));
        for huge in ["rate(366 days)", "rate(99999999999 days)", "rate(18446744073709551615 minutes)"] {
            let err = Schedule::parse(huge).unwrap_err().to_string();
            assert!(err.contains("at most a year"), "{huge}: {err}");
        }
        let s = Schedule::parse("rate(10 minutes)").unwrap();
        assert_eq!(s.next_after(at("2024-01-01T00:00:00Z")), Some(at("2024-01-01T00:10:00Z")));
        assert_eq!(s.period(), Some(Duration::from_secs(600)));
        assert_eq!(s.to_string(), "rate(10 minutes)");
        assert_eq!(Schedule::parse("rate(24 hours)").unwrap().to_string(), "rate(1 day)");
        assert_eq!(Schedule::parse("rate(90 minutes)").unwrap().to_string(), "rate(90 minutes)");
    }

    #[test]
    fn second_rates() {
        assert_eq!(Schedule::parse("rate(30 seconds)").unwrap(), Schedule::Rate(Duration::from_secs(30)));
        assert_eq!(Schedule::parse("rate(10 seconds)").unwrap(), Schedule::Rate(MIN_RATE));
        assert_eq!(
            Schedule::parse("rate(1 second)").unwrap_err(),
            ScheduleError::RateTooShort("1 second".into())
        );
        let err = Schedule::parse("rate(9 seconds)").unwrap_err().to_string();
        assert!(err.contains("at least 10 seconds"), "{err}");
        assert_eq!(Schedule::parse("rate(30 seconds)").unwrap().to_string(), "rate(30 seconds)");
        assert_eq!(Schedule::parse("rate(90 seconds)").unwrap().to_string(), "rate(90 seconds)");
        assert_eq!(Schedule::parse("rate(120 seconds)").unwrap().to_string(), "rate(2 minutes)");
        assert_eq!(Schedule::parse("rate(60 second)").unwrap().to_string(), "rate(1 minute)");
        let s = Schedule::parse("rate(15 seconds)").unwrap();
        assert_eq!(s.next_after(at("2024-01-01T00:00:00Z")), Some(at("2024-01-01T00:00:15Z")));
        assert_eq!(s.period(), Some(Duration::from_secs(15)));
    }

    #[test]
    fn zero_rate_points_to_once() {
        let err = Schedule::parse("rate(0 minutes)").unwrap_err().to_string();
        assert!(err.contains("at least 1") && err.contains("schedule: once"), "{err}");
    }

    #[test]
    fn next_fire_past_the_end_of_time_is_none() {
        let s = Schedule::Rate(MAX_RATE);
        assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None);
        let far = Schedule::Rate(Duration::from_secs(u64::MAX));
        assert_eq!(far.next_after(at("2024-01-01T00:00:00Z")), None);
    }

    #[test]
    fn once() {
        let s = Schedule::parse("once").unwrap();
        assert_eq!(s, Schedule::Once);
        assert_eq!(s.next_after(Utc::now()), None);
        assert_eq!(s.period(), None);
        assert_eq!(s.to_string(), "once");
    }

    #[test]
    fn aws_cron_with_question_mark() {
        // 2024-02-01 is a Thursday.
        assert_eq!(
            fires("cron(0 12 * * ? *)", "2024-02-01T10:00:00Z", 2),
            ["2024-02-01 Thu 12:00", "2024-02-02 Fri 12:00"]
        );
        // Day-of-week 1-7 is SUN-SAT: 2-6 is MON-FRI.
        assert_eq!(
            fires("cron(0 9 ? * 2-6 *)", "2024-02-02T10:00:00Z", 2),
            ["2024-02-05 Mon 09:00", "2024-02-06 Tue 09:00"]
        );
        assert_eq!(fires("cron(0 9 ? * MON-FRI *)", "2024-02-02T10:00:00Z", 1), ["2024-02-05 Mon 09:00"]);
        assert_eq!(fires("cron(0 9 ? * 1 *)", "2024-02-01T00:00:00Z", 1), ["2024-02-04 Sun 09:00"]);
        assert_eq!(fires("cron(0 9 ? * 7 *)", "2024-02-01T00:00:00Z", 1), ["2024-02-03 Sat 09:00"]);
        assert_eq!(
            fires("cron(0/15 * * * ? *)", "2024-02-01T10:00:30Z", 2),
            ["2024-02-01 Thu 10:15", "2024-02-01 Thu 10:30"]
        );
        let s = Schedule::parse("cron(0/15 * * * ? *)").unwrap();
        assert_eq!(s.period(), Some(Duration::from_secs(900)));
        assert_eq!(s.to_string(), "cron(0/15 * * * ? *)");
    }

    #[test]
    fn aws_cron_needs_exactly_one_question_mark() {
        assert!(Schedule::parse("cron(0 12 * * * *)").unwrap_err().to_string().contains("must be `?`"));
        assert!(Schedule::parse("cron(0 12 ? * ? *)").unwrap_err().to_string().contains("only one"));
        assert!(Schedule::parse("cron(0 12 * * ?)").unwrap_err().to_string().contains("6 fields"));
        assert!(Schedule::parse("cron(0 12 ? * 0 *)").is_err(), "AWS day-of-week is 1-7");
        assert!(Schedule::parse("0 12 * * ? *").unwrap_err().to_string().contains("cron(...)"));
    }

    #[test]
    fn aws_cron_last_day_and_last_weekday() {
        // L: last day of the month, with February in a leap year.
        assert_eq!(
            fires("cron(0 12 L * ? *)", "2024-02-01T00:00:00Z", 3),
            ["2024-02-29 Thu 12:00", "2024-03-31 Sun 12:00", "2024-04-30 Tue 12:00"]
        );
        assert_eq!(fires("cron(0 12 L 2 ? *)", "2025-01-01T00:00:00Z", 1), ["2025-02-28 Fri 12:00"]);
        // 6L: the last Friday of the month.
        assert_eq!(
            fires("cron(0 12 ? * 6L *)", "2024-02-01T00:00:00Z", 2),
            ["2024-02-23 Fri 12:00", "2024-03-29 Fri 12:00"]
        );
        // L in day-of-week alone: Saturday.
        assert_eq!(fires("cron(0 12 ? * L *)", "2024-02-01T00:00:00Z", 1), ["2024-02-03 Sat 12:00"]);
    }

    #[test]
    fn aws_cron_nearest_weekday() {
        // 2024-06-15 is a Saturday → Friday 14th; 2024-09-15 is a Sunday → Monday 16th.
        let got = fires("cron(0 8 15W * ? *)", "2024-06-01T00:00:00Z", 4);
        assert_eq!(
            got,
            ["2024-06-14 Fri 08:00", "2024-07-15 Mon 08:00", "2024-08-15 Thu 08:00", "2024-09-16 Mon 08:00"]
        );
    }

    #[test]
    fn aws_cron_nth_weekday() {
        // 3#2: the second Tuesday.
        assert_eq!(
            fires("cron(0 12 ? * 3#2 *)", "2024-02-01T00:00:00Z", 2),
            ["2024-02-13 Tue 12:00", "2024-03-12 Tue 12:00"]
        );
    }

    #[test]
    fn aws_cron_year_field() {
        assert_eq!(fires("cron(30 6 1 1 ? 2030)", "2024-02-01T00:00:00Z", 1), ["2030-01-01 Tue 06:30"]);
        let s = Schedule::parse("cron(30 6 1 1 ? 2030)").unwrap();
        assert_eq!(s.next_after(at("2030-01-01T06:30:00Z")), None);
        assert_eq!(s.period_from(at("2024-01-01T00:00:00Z")), None);
        let s = Schedule::parse("cron(0 0 1 1 ? 2025-2027)").unwrap();
        assert_eq!(s.period_from(at("2024-01-01T00:00:00Z")), Some(Duration::from_secs(365 * 86_400)));
    }

    #[test]
    fn leap_years() {
        let got = fires("cron(0 0 29 2 ? *)", "2024-03-01T00:00:00Z", 2);
        assert_eq!(got, ["2028-02-29 Tue 00:00", "2032-02-29 Sun 00:00"]);
        let got = fires("0 0 29 2 *", "2023-01-01T00:00:00Z", 1);
        assert_eq!(got, ["2024-02-29 Thu 00:00"]);
    }

    #[test]
    fn month_ends() {
        // The 31st skips the months that do not have one.
        let got = fires("0 0 31 * *", "2024-01-31T00:00:00Z", 3);
        assert_eq!(got, ["2024-03-31 Sun 00:00", "2024-05-31 Fri 00:00", "2024-07-31 Wed 00:00"]);
        // Across the end of a year.
        let got = fires("cron(59 23 L * ? *)", "2024-12-31T23:58:00Z", 2);
        assert_eq!(got, ["2024-12-31 Tue 23:59", "2025-01-31 Fri 23:59"]);
    }

    #[test]
    fn five_fields() {
        let got = fires("*/5 * * * *", "2024-02-01T10:00:00Z", 2);
        assert_eq!(got, ["2024-02-01 Thu 10:05", "2024-02-01 Thu 10:10"]);
        // Vixie weekdays: 1-5 is MON-FRI, 0 and 7 are Sunday.
        assert_eq!(fires("0 9 * * 1-5", "2024-02-02T10:00:00Z", 1), ["2024-02-05 Mon 09:00"]);
        assert_eq!(fires("0 9 * * 0", "2024-02-01T00:00:00Z", 1), ["2024-02-04 Sun 09:00"]);
        assert_eq!(fires("0 9 * * 7", "2024-02-01T00:00:00Z", 1), ["2024-02-04 Sun 09:00"]);
        let s = Schedule::parse("0 9 * * 1-5").unwrap();
        assert_eq!(s.period(), Some(Duration::from_secs(86_400)));
        assert_eq!(s.to_string(), "0 9 * * 1-5");
        assert!(Schedule::parse("0 9 * * 8").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("every minute").is_err());
    }

    #[test]
    fn next_is_strictly_after() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(s.next_after(at("2024-02-01T10:15:00Z")), Some(at("2024-02-01T10:30:00Z")));
        assert_eq!(s.next_after(at("2024-02-01T10:14:59.900Z")), Some(at("2024-02-01T10:15:00Z")));
        let t = Utc.with_ymd_and_hms(2024, 2, 1, 10, 15, 0).unwrap() + chrono::Duration::milliseconds(500);
        assert_eq!(s.next_after(t).unwrap().minute(), 30);
    }
}
