//! Pure calculation of programme periods, run-rate projections, tiers and statuses.
//!
//! Conventions (all integer, money in fen, checked: an overflow is an error, never a wrap):
//! - A period is a calendar year, quarter or month in the programme's time zone; `start` and
//!   `end` are local dates, `end` inclusive. It is clipped to the programme's
//!   `starts_on`/`ends_on`.
//! - "Today" is the local date of the evaluation instant. `value` is the net GMV of the
//!   period's days up to and including today (today's partial day counts).
//! - `time left` runs from the evaluation instant to the period's end (the local midnight
//!   after its last day), in seconds: at 2026-07-01 00:00 Asia/Shanghai a calendar year has
//!   exactly 184 days left, and the rest of today counts at any other instant (0 once the
//!   period has ended).
//! - The run rate uses the last 28 full days before today (`today-28 ..= today-1`), limited
//!   to the programme's history (not before `starts_on`): with fewer days available the
//!   average is over the days available; with none, the rate is 0 and `projected = value`.
//! - `projected = value + recent × seconds_left / (window_days × 86,400)`, multiplying
//!   before dividing (in i128) so no precision is lost; the division rounds toward zero (so a
//!   negative recent net GMV projects a decline, rounded toward zero too).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Length of the run-rate window in days.
pub const RUN_RATE_DAYS: i64 = 28;

pub use entity::enums::{PeriodKind, ProgressStatus as Status};

/// A calendar period: local dates, `end` inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

fn first_of(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).expect("the first of a month exists")
}

impl Period {
    /// The period of `kind` containing the local date `day`.
    pub fn containing_day(kind: PeriodKind, day: NaiveDate) -> Period {
        let (y, m) = (day.year(), day.month());
        let (start_month, months) = match kind {
            PeriodKind::Year => (1, 12),
            PeriodKind::Quarter => ((m - 1) / 3 * 3 + 1, 3),
            PeriodKind::Month => (m, 1),
        };
        let start = first_of(y, start_month);
        let next_month = start_month + months;
        let next = if next_month > 12 {
            first_of(y + 1, next_month - 12)
        } else {
            first_of(y, next_month)
        };
        Period {
            start,
            end: next.pred_opt().expect("a day before the first of a month"),
        }
    }

    /// The period of `kind` containing `instant` as seen in `tz`.
    pub fn containing(kind: PeriodKind, tz: Tz, instant: DateTime<Utc>) -> Period {
        Self::containing_day(kind, local_day(tz, instant))
    }

    /// The period just before this one.
    pub fn previous(&self, kind: PeriodKind) -> Period {
        Self::containing_day(
            kind,
            self.start.pred_opt().expect("dates before the period"),
        )
    }

    /// Number of days, both ends included.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// This period limited to the programme's dates; `None` if they do not overlap.
    pub fn clip(&self, starts_on: NaiveDate, ends_on: Option<NaiveDate>) -> Option<Period> {
        let start = self.start.max(starts_on);
        let end = ends_on.map_or(self.end, |e| self.end.min(e));
        (start <= end).then_some(Period { start, end })
    }
}

/// The span of local days a read covers: `from..=to` as asked, `to` defaulting to `today` and
/// `from` to 29 days before `to` (30 days in all).
pub fn span_or_30_days(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    let to = to.unwrap_or(today);
    (from.unwrap_or(to - chrono::Duration::days(29)), to)
}

/// Checks a span of local days asked for: `from` not after `to`, at most `max_days` days.
pub fn check_span(
    from: NaiveDate,
    to: NaiveDate,
    max_days: i64,
) -> Result<(), crate::domain::FieldError> {
    use crate::domain::{ErrorCode, FieldError};
    if from > to {
        return Err(FieldError::new(
            "from",
            ErrorCode::RangeInvalid,
            "from must not be after to",
        ));
    }
    if (to - from).num_days() >= max_days {
        return Err(FieldError::new(
            "from",
            ErrorCode::RangeTooLong,
            format!("a span covers at most {max_days} days"),
        ));
    }
    Ok(())
}

/// The calendar date of `instant` in `tz`.
pub fn local_day(tz: Tz, instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// The instant a local date begins in `tz` (the earliest, where a clock change repeats it;
/// the first valid instant after a gap).
pub fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(chrono::NaiveTime::MIN);
    (0..=24)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .expect("a local day has a valid hour")
        .with_timezone(&Utc)
}

/// Seconds from `as_of` to the end of `period` (the local midnight after its last day) in
/// `tz`; 0 once it has ended.
pub fn seconds_left(period: &Period, tz: Tz, as_of: DateTime<Utc>) -> i64 {
    let end = local_midnight(tz, period.end + Duration::days(1));
    (end - as_of).num_seconds().max(0)
}

/// The previous period is re-evaluated while "today" is at most this many days after its end;
/// after that its figures are final (rewards are confirmed).
pub const REOPEN_DAYS: i64 = 7;

/// The run-rate window before `today`: the last 28 full days, not before `history_start`.
/// Returns `None` when no full day is available yet.
pub fn run_rate_window(today: NaiveDate, history_start: NaiveDate) -> Option<Period> {
    let end = today.pred_opt()?;
    let start = (today - Duration::days(RUN_RATE_DAYS)).max(history_start);
    (start <= end).then_some(Period { start, end })
}

/// The arithmetic overflowed i64 fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("arithmetic overflow in {0}")]
pub struct Overflow(pub &'static str);

/// Seconds in the day the run rate is measured in.
const DAY_SECONDS: i128 = 86_400;

/// `value + recent × seconds_left / (window_days × 86,400)`, rounding toward zero; `value`
/// when there is no window or no time left.
pub fn project(
    value: i64,
    recent: i64,
    window_days: i64,
    seconds_left: i64,
) -> Result<i64, Overflow> {
    if window_days <= 0 || seconds_left <= 0 {
        return Ok(value);
    }
    let extra =
        i128::from(recent) * i128::from(seconds_left) / (i128::from(window_days) * DAY_SECONDS);
    i64::try_from(extra)
        .ok()
        .and_then(|e| value.checked_add(e))
        .ok_or(Overflow("the run-rate projection"))
}

// One type is stored (as JSON in the programme row), computed with and sent on the wire.
/// A tier: reached when the period's net GMV is at least `threshold`.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Object,
)]
pub struct Tier {
    /// Unique within the programme, e.g. `亿元商家 ¥100M`.
    #[oai(deserialize_with = "strict_string")]
    pub name: String,
    /// Fen; positive, strictly increasing along the list.
    #[oai(validator(minimum(value = "1")))]
    pub threshold: i64,
    /// What reaching the tier earns, each a ledger entry of its own; absent: nothing.
    #[oai(default, skip_serializing_if_is_empty, validator(max_items = 5))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewards: Vec<super::reward::TierReward>,
}

/// A JSON string, strictly: poem-openapi's `String` would turn a number or boolean into text;
/// here it is a malformed request, as for every other text field of a request body.
fn strict_string(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<String> {
    match value.unwrap_or_default() {
        serde_json::Value::String(s) => Ok(s),
        other => Err(poem_openapi::types::ParseError::expected_type(other)),
    }
}

/// The outcome for one subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Index of the highest tier reached, -1 for none.
    pub tier_index: i32,
    pub next_index: Option<usize>,
    pub next_threshold: Option<i64>,
    /// Fen still missing to the next tier, 0 once the top tier is reached.
    pub remaining: i64,
    pub projected: i64,
    pub status: Status,
}

/// Places `value` and `projected` against ascending `tiers` (non-empty, validated).
pub fn standing(tiers: &[Tier], value: i64, projected: i64) -> Result<Standing, Overflow> {
    let reached = tiers.iter().take_while(|t| value >= t.threshold).count();
    let tier_index = reached as i32 - 1;
    match tiers.get(reached) {
        None => Ok(Standing {
            tier_index,
            next_index: None,
            next_threshold: None,
            remaining: 0,
            projected,
            status: Status::Achieved,
        }),
        Some(next) => {
            let remaining = next
                .threshold
                .checked_sub(value)
                .ok_or(Overflow("the remaining amount"))?;
            // projected ≥ 80% of the threshold, compared exactly in i128.
            let status = if projected >= next.threshold {
                Status::OnTrack
            } else if i128::from(projected) * 5 >= i128::from(next.threshold) * 4 {
                Status::AtRisk
            } else {
                Status::Behind
            };
            Ok(Standing {
                tier_index,
                next_index: Some(reached),
                next_threshold: Some(next.threshold),
                remaining,
                projected,
                status,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Asia::Shanghai;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn tiers() -> Vec<Tier> {
        vec![
            Tier {
                name: "bronze".into(),
                threshold: 1_000,
                rewards: vec![],
            },
            Tier {
                name: "silver".into(),
                threshold: 5_000,
                rewards: vec![],
            },
            Tier {
                name: "gold".into(),
                threshold: 10_000,
                rewards: vec![],
            },
        ]
    }

    #[test]
    fn year_boundary_is_in_the_programme_time_zone() {
        // 2026-12-31T16:00Z is already 2027-01-01 in Shanghai.
        let p = Period::containing(PeriodKind::Year, Shanghai, at("2026-12-31T16:00:00Z"));
        assert_eq!((p.start, p.end), (d("2027-01-01"), d("2027-12-31")));
        let p = Period::containing(PeriodKind::Year, Shanghai, at("2026-12-31T15:59:59Z"));
        assert_eq!((p.start, p.end), (d("2026-01-01"), d("2026-12-31")));
        // The same instant in New York is still 2026.
        let p = Period::containing(
            PeriodKind::Year,
            chrono_tz::America::New_York,
            at("2026-12-31T16:00:00Z"),
        );
        assert_eq!(p.start, d("2026-01-01"));
        assert_eq!(p.days(), 365);
    }

    #[test]
    fn quarter_and_month_ends() {
        let q = Period::containing_day(PeriodKind::Quarter, d("2026-03-31"));
        assert_eq!((q.start, q.end), (d("2026-01-01"), d("2026-03-31")));
        let q = Period::containing_day(PeriodKind::Quarter, d("2026-04-01"));
        assert_eq!((q.start, q.end), (d("2026-04-01"), d("2026-06-30")));
        let q = Period::containing_day(PeriodKind::Quarter, d("2026-12-31"));
        assert_eq!((q.start, q.end), (d("2026-10-01"), d("2026-12-31")));
        assert_eq!(q.previous(PeriodKind::Quarter).start, d("2026-07-01"));
        let m = Period::containing_day(PeriodKind::Month, d("2026-12-15"));
        assert_eq!((m.start, m.end), (d("2026-12-01"), d("2026-12-31")));
        assert_eq!(m.previous(PeriodKind::Month).end, d("2026-11-30"));
        let m = Period::containing(PeriodKind::Month, Shanghai, at("2026-06-30T16:00:00Z"));
        assert_eq!(m.start, d("2026-07-01"), "midnight in Shanghai starts July");
        let y = Period::containing_day(PeriodKind::Year, d("2027-01-01"));
        assert_eq!(y.previous(PeriodKind::Year).start, d("2026-01-01"));
    }

    #[test]
    fn leap_year_february() {
        let m = Period::containing_day(PeriodKind::Month, d("2028-02-29"));
        assert_eq!((m.start, m.end), (d("2028-02-01"), d("2028-02-29")));
        assert_eq!(m.days(), 29);
        assert_eq!(
            Period::containing_day(PeriodKind::Month, d("2026-02-10")).end,
            d("2026-02-28")
        );
        assert_eq!(
            Period::containing_day(PeriodKind::Year, d("2028-07-01")).days(),
            366
        );
        assert_eq!(
            Period::containing_day(PeriodKind::Quarter, d("2028-02-29")).days(),
            91
        );
    }

    #[test]
    fn clipping_to_programme_dates() {
        let y = Period::containing_day(PeriodKind::Year, d("2026-05-01"));
        let c = y.clip(d("2026-03-01"), Some(d("2026-10-31"))).unwrap();
        assert_eq!((c.start, c.end), (d("2026-03-01"), d("2026-10-31")));
        assert_eq!(y.clip(d("2027-01-01"), None), None);
    }

    #[test]
    fn time_left_and_window() {
        let y = Period::containing_day(PeriodKind::Year, d("2026-01-01"));
        const DAY: i64 = 86_400;
        // At local midnight of July 1 the whole of July 1 is still ahead: 184 days.
        assert_eq!(
            seconds_left(&y, Shanghai, at("2026-06-30T16:00:00Z")),
            184 * DAY
        );
        // Any other instant counts the rest of today.
        assert_eq!(
            seconds_left(&y, Shanghai, at("2026-07-01T04:00:00Z")),
            183 * DAY + 12 * 3_600
        );
        assert_eq!(seconds_left(&y, Shanghai, at("2026-12-31T15:59:59Z")), 1);
        assert_eq!(seconds_left(&y, Shanghai, at("2026-12-31T16:00:00Z")), 0);
        assert_eq!(
            seconds_left(&y, Shanghai, at("2027-02-01T00:00:00Z")),
            0,
            "ended"
        );
        // A zone with a clock change: 2026-03-08 has 23 hours in New York.
        let m = Period::containing_day(PeriodKind::Month, d("2026-03-01"));
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            seconds_left(&m, ny, local_midnight(ny, d("2026-03-08"))),
            24 * DAY - 3_600
        );
        // Full window.
        let w = run_rate_window(d("2026-06-01"), d("2026-01-01")).unwrap();
        assert_eq!(
            (w.start, w.end, w.days()),
            (d("2026-05-04"), d("2026-05-31"), 28)
        );
        // Fewer than 28 days of history: the days available.
        let w = run_rate_window(d("2026-01-11"), d("2026-01-01")).unwrap();
        assert_eq!(
            (w.start, w.end, w.days()),
            (d("2026-01-01"), d("2026-01-10"), 10)
        );
        // On the first day there is no full day yet.
        assert_eq!(run_rate_window(d("2026-01-01"), d("2026-01-01")), None);
    }

    #[test]
    fn projection_rounds_toward_zero_and_checks_overflow() {
        const DAY: i64 = 86_400;
        assert_eq!(project(100, 280, 28, 10 * DAY), Ok(200));
        // 10 days of history, 1,000 fen: 100 a day, 30 days left.
        assert_eq!(project(1_000, 1_000, 10, 30 * DAY), Ok(4_000));
        // Half a day left at 100 a day.
        assert_eq!(project(0, 2_800, 28, DAY / 2), Ok(50));
        assert_eq!(project(0, 10, 3, DAY), Ok(3), "10/3 rounds down");
        assert_eq!(project(0, -10, 3, DAY), Ok(-3), "toward zero for refunds");
        assert_eq!(project(500, 1_000, 0, 30 * DAY), Ok(500), "no history");
        assert_eq!(project(500, 1_000, 28, 0), Ok(500), "no time left");
        // A calendar year from 2026-07-01 00:00 Shanghai: 184 days at 1 fen a day.
        let y = Period::containing_day(PeriodKind::Year, d("2026-01-01"));
        let left = seconds_left(&y, Shanghai, at("2026-06-30T16:00:00Z"));
        assert_eq!(project(0, 28, 28, left), Ok(184));
        assert_eq!(
            project(0, i64::MAX / 2, 28, 300 * DAY),
            Err(Overflow("the run-rate projection"))
        );
        assert!(project(i64::MAX, 28, 28, DAY).is_err());
    }

    #[test]
    fn every_status() {
        let t = tiers();
        // Zero GMV, no projection: behind.
        let s = standing(&t, 0, 0).unwrap();
        assert_eq!(
            (s.tier_index, s.next_threshold, s.remaining, s.status),
            (-1, Some(1_000), 1_000, Status::Behind)
        );
        // Negative net GMV (more refunds than sales).
        let s = standing(&t, -300, -300).unwrap();
        assert_eq!((s.tier_index, s.remaining), (-1, 1_300));
        assert_eq!(s.status, Status::Behind);
        // Exactly at a threshold reaches the tier.
        let s = standing(&t, 5_000, 5_000).unwrap();
        assert_eq!((s.tier_index, s.next_index), (1, Some(2)));
        assert_eq!(s.remaining, 5_000);
        // On track: projected reaches the next threshold exactly.
        assert_eq!(standing(&t, 6_000, 10_000).unwrap().status, Status::OnTrack);
        // At risk: exactly 80%, and just below it is behind.
        assert_eq!(standing(&t, 6_000, 8_000).unwrap().status, Status::AtRisk);
        assert_eq!(standing(&t, 6_000, 7_999).unwrap().status, Status::Behind);
        // Achieved: the top tier.
        let s = standing(&t, 10_000, 10_000).unwrap();
        assert_eq!(
            (s.tier_index, s.next_threshold, s.remaining, s.status),
            (2, None, 0, Status::Achieved)
        );
        // Overflow of the remaining amount is an error.
        assert!(standing(&t, i64::MIN, 0).is_err());
    }

    #[test]
    fn a_tier_name_on_the_wire_is_strictly_a_string() {
        use poem_openapi::types::ParseFromJSON;
        let ok = Tier::parse_from_json(Some(serde_json::json!({"name": "¥1M", "threshold": 1})));
        assert_eq!(
            ok.ok(),
            Some(Tier {
                name: "¥1M".into(),
                threshold: 1,
                rewards: vec![],
            })
        );
        for name in [serde_json::json!(5), serde_json::json!(true)] {
            let r = Tier::parse_from_json(Some(serde_json::json!({"name": name, "threshold": 1})));
            assert!(r.is_err(), "{name} accepted as a tier name");
        }
    }

    #[test]
    fn local_day_uses_the_zone() {
        assert_eq!(
            local_day(Shanghai, at("2026-03-01T15:59:59Z")),
            d("2026-03-01")
        );
        assert_eq!(
            local_day(Shanghai, at("2026-03-01T16:00:00Z")),
            d("2026-03-02")
        );
        let _ = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0);
    }
}
