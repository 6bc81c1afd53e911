//! Every example that can be given a credential runs with a sentinel secret in it, against
//! engines that do not answer (closed loopback ports), with `RUST_LOG=trace`; the sentinel must
//! appear nowhere in what the example prints (stdout and stderr: its own lines, its logs, its
//! final error).
//!
//! Examples taking credentials: `quickstart` and `cron` (`--backend URL`: a Chronos URL with
//! credentials, a `clouds.yaml` with a password, a kubeconfig with a token), `bench`
//! (`TARS_K8S_KUBECONFIG`, `TARS_MESOS_MASTER`). `rolling_update`, `observability`, `scale` and
//! `cron_bench` take none: they run the embedded backend only, and no secret (RELIABILITY.md).
//!
//! The examples are built by `cargo test -p tars-examples` (cargo builds a package's examples
//! when it tests it); `cargo test -p tars-examples --test no_secret_leaks` alone does not, so
//! build them first there: `cargo build -p tars-examples --examples`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SENTINEL: &str = "tars-sentinel-example-c47a0e";
/// Longest run: a Mesos master that never answers makes the calls wait 30 s for it (twice in
/// `bench`: its scenario, then its teardown).
const TIMEOUT: Duration = Duration::from_secs(180);

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// The example's binary, next to this test's (`target/<profile>/examples/`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile.join("examples").join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.rs"));
    let written = std::fs::metadata(&source)
        .and_then(|m| m.modified())
        .expect("source");
    assert!(
        built.as_ref().is_ok_and(|b| *b >= written),
        "{} is missing or older than {}: build the examples (`cargo build -p tars-examples \
         --examples`, or `cargo test -p tars-examples`, which builds them)",
        path.display(),
        source.display()
    );
    path
}

struct Case {
    what: String,
    example: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Text the output must contain: the path with the credential was taken.
    expect: Vec<String>,
}

/// Runs `case` to its end (killed after `TIMEOUT`) and returns its stdout and stderr.
fn run(case: &Case, dir: &Path) -> String {
    let out_path = dir.join(format!("{}.out", case.what.replace([' ', '/'], "_")));
    let out = std::fs::File::create(&out_path).expect("output file");
    let err = out.try_clone().expect("clone");
    let mut cmd = Command::new(example(case.example));
    cmd.args(&case.args)
        .env("RUST_LOG", "trace")
        .env("RUST_BACKTRACE", "0")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for key in [
        "KUBECONFIG",
        "OS_CLOUD",
        "OS_CLIENT_CONFIG_FILE",
        "TARS_K8S_KUBECONFIG",
        "TARS_MESOS_MASTER",
    ] {
        cmd.env_remove(key);
    }
    for (k, v) in &case.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{}: still running after {TIMEOUT:?}", case.what);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&out_path).expect("output");
    assert!(
        !status.success(),
        "{}: nothing answers, yet it succeeded: {text}",
        case.what
    );
    text
}

#[test]
fn no_example_prints_a_credential_it_was_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (master, chronos, keystone, apiserver) =
        (closed_port(), closed_port(), closed_port(), closed_port());
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  pw:\n    auth:\n      auth_url: http://127.0.0.1:{keystone}/v3\n      \
             username: tars\n      password: {SENTINEL}\n      project_name: tars\n"
        ),
    )
    .expect("clouds.yaml");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: \
             https://127.0.0.1:{apiserver}\nusers:\n- name: u\n  user:\n    token: {SENTINEL}\n\
             contexts:\n- name: ctx\n  context: {{cluster: c, user: u, namespace: ns}}\n\
             current-context: ctx\n"
        ),
    )
    .expect("kubeconfig");
    let mesos_chronos =
        format!("mesos://127.0.0.1:{master}?chronos=http://tars:{SENTINEL}@127.0.0.1:{chronos}");
    let openstack = format!("openstack://pw?clouds={}", clouds.display());
    let charts = dir.path().join("charts").display().to_string();
    let redacted_chronos = format!("***@127.0.0.1:{chronos}");
    let s = |v: &[&str]| v.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();

    let mut cases = Vec::new();
    for example in ["quickstart", "cron"] {
        cases.push(Case {
            what: format!("{example} mesos+chronos"),
            example,
            args: s(&["--backend", &mesos_chronos]),
            env: vec![],
            // The backend line, credentials hidden; `cron` reaches Chronos at once (its first
            // call is a cron job's apply).
            expect: if example == "cron" {
                vec![redacted_chronos.clone(), "connection failed".into()]
            } else {
                vec![redacted_chronos.clone()]
            },
        });
        cases.push(Case {
            what: format!("{example} malformed chronos"),
            example,
            args: s(&[
                "--backend",
                &format!("mesos://127.0.0.1:{master}?chronos=http://tars:{SENTINEL}@c:notaport"),
            ]),
            env: vec![],
            expect: vec!["url.chronos".into(), "***@c:notaport".into()],
        });
        cases.push(Case {
            what: format!("{example} openstack"),
            example,
            args: s(&["--backend", &openstack]),
            env: vec![],
            expect: vec![format!("127.0.0.1:{keystone}")],
        });
        cases.push(Case {
            what: format!("{example} k8s"),
            example,
            args: s(&["--backend", "k8s://?context=ctx"]),
            env: vec![("KUBECONFIG", kubeconfig.display().to_string())],
            expect: vec![format!("127.0.0.1:{apiserver}")],
        });
    }
    cases.push(Case {
        what: "bench k8s".into(),
        example: "bench",
        args: s(&["--backends", "k8s", "--quick", "--charts", &charts]),
        env: vec![("TARS_K8S_KUBECONFIG", kubeconfig.display().to_string())],
        expect: vec![format!("127.0.0.1:{apiserver}")],
    });
    cases.push(Case {
        what: "bench mesos".into(),
        example: "bench",
        args: s(&["--backends", "mesos", "--quick", "--charts", &charts]),
        env: vec![(
            "TARS_MESOS_MASTER",
            format!("http://tars:{SENTINEL}@127.0.0.1:{master}"),
        )],
        expect: vec![format!("***@127.0.0.1:{master}")],
    });

    let outputs: Vec<(String, String)> = std::thread::scope(|scope| {
        let running: Vec<_> = cases
            .iter()
            .map(|case| scope.spawn(|| (case.what.clone(), run(case, dir.path()))))
            .collect();
        running
            .into_iter()
            .map(|r| r.join().expect("case"))
            .collect()
    });
    for ((what, text), case) in outputs.iter().zip(&cases) {
        for e in &case.expect {
            assert!(
                text.contains(e.as_str()),
                "{what}: the output should show {e:?} (the path with the credential): {text}"
            );
        }
        assert!(
            !text.contains(SENTINEL),
            "{what}: the credential leaked into the output: {text}"
        );
    }
}
