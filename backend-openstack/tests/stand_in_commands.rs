//! The conformance target's stand-in for a container runtime (`stand_in`) reads the commands
//! of the cron cases as they mean.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // the stand-in's task runs in the conformance binary, not here
mod stand_in;

use std::time::Duration;

use stand_in::{Program, program};

fn argv(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn commands_the_cron_cases_use() {
    let ok = |secs: f64| Program::Ends {
        after: Duration::from_secs_f64(secs),
        success: true,
    };
    assert_eq!(program(&argv("true")), ok(0.0));
    assert_eq!(program(&argv("echo triggered")), ok(0.0));
    assert_eq!(program(&argv("sleep 2.5")), ok(2.5));
    assert_eq!(program(&argv("sleep 1; exit 0")), ok(1.0));
    assert_eq!(
        program(&argv("exit 1")),
        Program::Ends {
            after: Duration::ZERO,
            success: false
        }
    );
    assert_eq!(program(&["sleep".into(), "3".into()]), ok(3.0));
    assert_eq!(program(&argv("python3 -m http.server")), Program::Runs);
    assert_eq!(program(&argv("sleep forever")), Program::Runs);
}
