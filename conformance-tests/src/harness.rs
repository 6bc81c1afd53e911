//! The test binary's `main`: each case a libtest trial (so `cargo test` and `cargo nextest`
//! both run, filter and report them), each writing its cell.

use std::future::Future;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::cases;
use crate::matrix;
use crate::{Outcome, Target};

/// The longest a case may take. The longest case by design is `cron_restart_exactly_once` on a
/// backend whose schedules fire on whole minutes: up to a minute to the first boundary, two
/// more to the third, then its runs' end (~3.5 min at worst).
pub const CASE_TIMEOUT: Duration = Duration::from_secs(240);

/// Runs the suite for `column`. `make` builds a fresh target for each case, or says why the
/// column cannot run here (no engine configured): then every case is reported `not run` with
/// that reason, as an ignored trial — never as passed.
///
/// A trial fails when its cell's status differs from the committed expectation in
/// `conformance-tests/expected/<column>.md`.
pub fn run<F, Fut>(column: &'static str, make: F) -> !
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<Box<dyn Target>, String>> + Send,
{
    run_cases(column, Ok(()), None, make)
}

/// How many cases of an engine's column run at once unless `--test-threads` says otherwise:
/// they mostly wait on the engine (rollouts, minute-long cron slots), not on this machine.
pub const ENGINE_CASE_THREADS: usize = 6;

/// Like [`run`], for a column that needs an engine outside the process: `engine` is `Err`
/// (saying what to set) when none is configured. Then every case is an ignored trial, no cell
/// is written, and the matrix (`conformance-matrix`) reports the column as having no results —
/// a missing engine never passes, and never fails a plain `cargo test` of another crate.
pub fn run_with_engine<F, Fut>(column: &'static str, engine: Result<(), String>, make: F) -> !
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<Box<dyn Target>, String>> + Send,
{
    run_cases(column, engine, Some(ENGINE_CASE_THREADS), make)
}

/// Like [`run_with_engine`], with at most `threads` cases at once unless `--test-threads` says
/// otherwise: for an engine whose API serves fewer cases at once on a small machine (OpenStack's
/// Nova API is one Python process here, and a cron run there is a server).
pub fn run_with_engine_threads<F, Fut>(
    column: &'static str,
    engine: Result<(), String>,
    threads: usize,
    make: F,
) -> !
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<Box<dyn Target>, String>> + Send,
{
    run_cases(column, engine, Some(threads), make)
}

fn run_cases<F, Fut>(
    column: &'static str,
    engine: Result<(), String>,
    threads: Option<usize>,
    make: F,
) -> !
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<Box<dyn Target>, String>> + Send,
{
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = threads;
    }
    if let Err(why) = engine {
        eprintln!("{column}: every case ignored: {why}");
        let trials = cases::all()
            .iter()
            .map(|case| Trial::test(case.name, || Ok(())).with_ignored_flag(true))
            .collect();
        libtest_mimic::run(&args, trials).exit()
    }
    let expected = matrix::expected(column);
    let trials = cases::all()
        .iter()
        .map(|case| {
            let make = make.clone();
            let want = expected.get(case.name).cloned();
            let name = case.name;
            let run = case.run;
            let kind = cases::kind_of(case);
            Trial::test(name, move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Failed::from(format!("tokio runtime: {e}")))?;
                let outcome = runtime.block_on(async {
                    let target = match make().await {
                        Ok(t) => t,
                        Err(why) => return Outcome::NotRun(why),
                    };
                    if let Err(why) = target.covers(kind) {
                        target.close().await;
                        return Outcome::NotRun(why);
                    }
                    let outcome = match tokio::time::timeout(CASE_TIMEOUT, run(&*target)).await {
                        Ok(o) => o,
                        Err(_) => Outcome::Fail(format!("did not finish within {CASE_TIMEOUT:?}")),
                    };
                    cleanup(&*target).await;
                    target.close().await;
                    match target.orphans() {
                        left if left.is_empty()
                            || !matches!(outcome, Outcome::Pass | Outcome::Unsupported(_)) =>
                        {
                            outcome
                        }
                        left => Outcome::Fail(format!(
                            "{outcome}, but left on the engine what tars no longer knew of: {}",
                            left.join(", ")
                        )),
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(5));
                record(column, name, &outcome)?;
                let got = outcome.status();
                let want_status = want.as_deref().map(matrix::status_of);
                match want_status {
                    Some(w) if w == got => {
                        if got == "fail" {
                            eprintln!("{column}/{name}: failing, as expected: {outcome}");
                        }
                        Ok(())
                    }
                    Some(w) => Err(Failed::from(format!(
                        "{column}/{name}: expected `{w}`, got `{outcome}`"
                    ))),
                    None => Err(Failed::from(format!(
                        "{column}/{name}: got `{outcome}`, but {} has no row for this case",
                        matrix::expected_path(column).display()
                    ))),
                }
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}

/// Deletes whatever a case left (a failing case stops half-way): cron jobs and deployments
/// first, so that their engines do not replace the groups deleted next.
async fn cleanup(target: &dyn Target) {
    use tars_api::Kind;
    use tars_api::api::{DeleteOptions, ListParams};
    let backend = target.backend();
    if target.covers(Kind::CronJob).is_ok()
        && let Ok(list) = backend.cron_jobs().list(&ListParams::all()).await
    {
        for o in list.items {
            let _ = backend
                .cron_jobs()
                .delete(o.name(), DeleteOptions::default())
                .await;
        }
    }
    if target.covers(Kind::Deployment).is_ok()
        && let Ok(list) = backend.deployments().list(&ListParams::all()).await
    {
        for o in list.items {
            let _ = backend
                .deployments()
                .delete(o.name(), DeleteOptions::default())
                .await;
        }
    }
    if target.covers(Kind::ContainerGroup).is_ok()
        && let Ok(list) = backend.container_groups().list(&ListParams::all()).await
    {
        for o in list.items {
            let _ = backend
                .container_groups()
                .delete(o.name(), DeleteOptions::default())
                .await;
        }
    }
}

fn record(column: &str, case: &str, outcome: &Outcome) -> Result<(), Failed> {
    let dir = matrix::cells_dir(column);
    std::fs::create_dir_all(&dir).map_err(|e| Failed::from(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{case}.txt"));
    std::fs::write(&path, outcome.cell())
        .map_err(|e| Failed::from(format!("{}: {e}", path.display())))
}
