//! The result of one case on one backend: one cell of the matrix.

use std::fmt;

/// What a case found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The backend behaved as specified.
    Pass,
    /// It did not; why.
    Fail(String),
    /// The backend declares the feature unsupported, and refused it with `Error::Unsupported`.
    Unsupported(String),
    /// The case could not run on this target; why.
    NotRun(String),
}

impl Outcome {
    /// The status word that begins the cell: `pass`, `fail`, `unsupported` or `not run`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "fail",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::NotRun(_) => "not run",
        }
    }

    /// The cell text: the status, then the reason.
    pub fn cell(&self) -> String {
        let reason = match self {
            Outcome::Pass => return "pass".to_owned(),
            Outcome::Fail(r) | Outcome::Unsupported(r) | Outcome::NotRun(r) => r,
        };
        let clean: String = reason
            .chars()
            .map(|c| match c {
                '|' => '/',
                '\n' | '\r' => ' ',
                c => c,
            })
            .collect();
        format!("{}: {}", self.status(), clean.trim())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cell())
    }
}

impl From<Result<(), String>> for Outcome {
    fn from(r: Result<(), String>) -> Self {
        match r {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e),
        }
    }
}
