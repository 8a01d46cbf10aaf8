//! Retention: which posts are old enough to delete (CNIL: keep posts only for a configured
//! time). [`crate::PostWriter::delete_older_than`] applies it; the deletion becomes visible
//! at the next commit.

use std::ops::Bound;

use chrono::{DateTime, TimeDelta, Utc};
use tantivy::Term;
use tantivy::query::RangeQuery;

use crate::schema::{self, Fields};

/// The oldest creation time kept when posts are kept `days` days: posts created strictly
/// before it are deleted. Saturates at the earliest representable time.
pub fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let keep = TimeDelta::try_days(i64::from(days)).unwrap_or(TimeDelta::MAX);
    now.checked_sub_signed(keep)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Matches every post created strictly before `cutoff`.
pub(crate) fn older_than(fields: &Fields, cutoff: DateTime<Utc>) -> RangeQuery {
    let upper = Term::from_field_date(fields.created, schema::to_tantivy_date(cutoff));
    RangeQuery::new(Bound::Unbounded, Bound::Excluded(upper))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn cutoff_is_days_before_now() {
        let now = Utc
            .with_ymd_and_hms(2025, 3, 31, 8, 30, 0)
            .single()
            .expect("valid date");
        let expected = Utc
            .with_ymd_and_hms(2025, 3, 1, 8, 30, 0)
            .single()
            .expect("valid date");
        assert_eq!(cutoff(now, 30), expected);
        assert_eq!(cutoff(now, 0), now);
    }

    #[test]
    fn huge_retention_saturates_instead_of_panicking() {
        assert_eq!(cutoff(Utc::now(), u32::MAX), DateTime::<Utc>::MIN_UTC);
    }
}
