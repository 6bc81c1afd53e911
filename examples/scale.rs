//! How backend-local's cost grows with what it runs: ContainerGroups (up to 1,000, each a
//! `sleep` process), Deployments (up to 100 × 10 replicas) and CronJobs (up to 100,000, none
//! due while measured). At each size it measures the growth of this process's resident memory
//! since the kind's backend was opened (the tars library; the `sleep` processes are not
//! counted), its CPU over a quiet window, and the
//! latency of the user's calls at that size (apply of one more object, get, list of all). It
//! prints a table per kind, writes JSON and draws `scale_*.svg` charts of cost against size.
//!
//! ```text
//! cargo run --release --example scale                       # full sizes; several minutes
//! cargo run --release --example scale -- --small            # a tenth of the sizes
//! cargo run --release --example scale -- --only cron        # groups | deployments | cron
//! cargo run --release --example scale -- --json docs/bench/scale.json --charts docs/bench
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plotters::prelude::*;
use serde_json::{Value, json};
use tars::api::{ApplyOptions, ListParams};
use tars::conditions::{is_deployment_complete, is_group_running};
use tars::deployment::Strategy;
use tars::group::GroupTemplate;
use tars::local::{LocalBackend, LocalConfig};
use tars::wait::wait_for;
use tars::{
    Backend, Container, ContainerGroup, ContainerGroupSpec, CronJob, CronJobSpec, Deployment,
    DeploymentSpec, RestartPolicy,
};
use tars_examples::cpu_seconds;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// One measurement at one size.
struct Point {
    size: usize,
    rss_mb: f64,
    cpu_pct: f64,
    apply_ms: f64,
    get_ms: f64,
    list_ms: f64,
}

/// A kind's series.
struct Series {
    kind: &'static str,
    unit: &'static str,
    points: Vec<Point>,
}

/// Resident memory of this process, in MB.
fn rss_mb() -> f64 {
    tars_examples::rss() as f64 / 1e6
}

/// CPU use of this process over a quiet `window`, in % of one core.
async fn quiet_cpu(window: Duration) -> f64 {
    let (c0, t0) = (cpu_seconds(), Instant::now());
    tokio::time::sleep(window).await;
    (cpu_seconds() - c0) / t0.elapsed().as_secs_f64() * 100.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn sleeper() -> ContainerGroupSpec {
    ContainerGroupSpec::new(vec![Container::new(
        "main",
        "busybox",
        &["sleep", "100000"],
    )])
}

fn group(i: usize) -> ContainerGroup {
    ContainerGroup::new(format!("g-{i}"), sleeper())
}

fn deployment(i: usize, replicas: u32) -> Deployment {
    Deployment::new(
        format!("d-{i}"),
        DeploymentSpec {
            replicas,
            template: GroupTemplate {
                labels: [("app".to_owned(), format!("d-{i}"))].into(),
                annotations: Default::default(),
                spec: sleeper(),
            },
            strategy: Strategy::default(),
            min_ready: Duration::ZERO,
            progress_deadline: None,
            auto_rollback: false,
            paused: false,
            revision_history_limit: 2,
        },
    )
}

fn cron_job(i: usize) -> CronJob {
    let mut spec = ContainerGroupSpec::new(vec![Container::new("main", "none", &["true"])]);
    spec.restart_policy = RestartPolicy::Never;
    // Spread over the year, none due while measured.
    let schedule = format!("{} {} {} 1 *", i % 60, (i / 60) % 24, 1 + (i / 1440) % 28);
    CronJob::new(
        format!("c-{i}"),
        CronJobSpec::new(Some(schedule.as_str()), spec),
    )
}

/// Measures one size: memory, quiet CPU, and the latency of `probes` more applies, gets and
/// a list of everything.
async fn point<F, Fut>(size: usize, probes: usize, mut probe: F) -> Res<Point>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Res<(Duration, Duration, Duration)>>,
{
    let cpu_pct = quiet_cpu(Duration::from_secs(3)).await;
    let rss_mb = rss_mb();
    let (mut a, mut g, mut l) = (Vec::new(), Vec::new(), Vec::new());
    for k in 0..probes {
        let (apply, get, list) = probe(k).await?;
        a.push(ms(apply));
        g.push(ms(get));
        l.push(ms(list));
    }
    Ok(Point {
        size,
        rss_mb,
        cpu_pct,
        apply_ms: median(a),
        get_ms: median(g),
        list_ms: median(l),
    })
}

async fn groups(dir: &Path, steps: &[usize]) -> Res<Series> {
    let backend = LocalBackend::open(LocalConfig::new(dir.join("groups"))).await?;
    let api = backend.container_groups();
    let base = rss_mb();
    let mut points = Vec::new();
    let mut made = 0;
    for &size in steps {
        while made < size {
            api.apply(&group(made), ApplyOptions::default()).await?;
            made += 1;
        }
        wait_for(
            api,
            &format!("g-{}", size - 1),
            is_group_running(),
            Duration::from_secs(120),
            |_| {},
        )
        .await?;
        let p = point(size, 5, |k| async move {
            let name = format!("probe-{size}-{k}");
            let t = Instant::now();
            api.apply(
                &ContainerGroup::new(name.clone(), sleeper()),
                ApplyOptions::default(),
            )
            .await?;
            let apply = t.elapsed();
            let t = Instant::now();
            api.get(&name).await?;
            let get = t.elapsed();
            let t = Instant::now();
            api.list(&ListParams::all()).await?;
            let list = t.elapsed();
            api.delete(&name, Default::default()).await?;
            Ok((apply, get, list))
        })
        .await?;
        let p = Point {
            rss_mb: p.rss_mb - base,
            ..p
        };
        println!(
            "| groups | {size} | {:.1} MB | {:.2} % | {:.2} ms | {:.3} ms | {:.2} ms |",
            p.rss_mb, p.cpu_pct, p.apply_ms, p.get_ms, p.list_ms
        );
        points.push(p);
    }
    backend.shutdown().await?;
    Ok(Series {
        kind: "ContainerGroups",
        unit: "groups",
        points,
    })
}

async fn deployments(dir: &Path, steps: &[usize], replicas: u32) -> Res<Series> {
    let backend = LocalBackend::open(LocalConfig::new(dir.join("deployments"))).await?;
    let api = backend.deployments();
    let base = rss_mb();
    let mut points = Vec::new();
    let mut made = 0;
    for &size in steps {
        while made < size {
            api.apply(&deployment(made, replicas), ApplyOptions::default())
                .await?;
            made += 1;
        }
        for i in 0..size {
            wait_for(
                api,
                &format!("d-{i}"),
                is_deployment_complete(),
                Duration::from_secs(300),
                |_| {},
            )
            .await?;
        }
        let p = point(size, 3, |k| async move {
            // A scale of one Deployment by one replica and back: an apply that does work.
            let name = format!("d-{}", k % size);
            let t = Instant::now();
            api.scale(&name, replicas + 1).await?;
            let apply = t.elapsed();
            let t = Instant::now();
            api.get(&name).await?;
            let get = t.elapsed();
            let t = Instant::now();
            api.list(&ListParams::all()).await?;
            let list = t.elapsed();
            api.scale(&name, replicas).await?;
            Ok((apply, get, list))
        })
        .await?;
        let p = Point {
            rss_mb: p.rss_mb - base,
            ..p
        };
        println!(
            "| deployments × {replicas} | {size} | {:.1} MB | {:.2} % | {:.2} ms | {:.3} ms | {:.2} ms |",
            p.rss_mb, p.cpu_pct, p.apply_ms, p.get_ms, p.list_ms
        );
        points.push(p);
    }
    backend.shutdown().await?;
    Ok(Series {
        kind: "Deployments",
        unit: "deployments",
        points,
    })
}

async fn cron_jobs(dir: &Path, steps: &[usize]) -> Res<Series> {
    let backend = LocalBackend::open(LocalConfig::new(dir.join("cron"))).await?;
    let api = backend.cron_jobs();
    let base = rss_mb();
    let mut points = Vec::new();
    let mut made = 0;
    for &size in steps {
        while made < size {
            api.apply(&cron_job(made), ApplyOptions::default()).await?;
            made += 1;
        }
        let p = point(size, 5, |k| async move {
            let job = cron_job(size + k);
            let t = Instant::now();
            api.apply(&job, ApplyOptions::default()).await?;
            let apply = t.elapsed();
            let t = Instant::now();
            api.get(job.name()).await?;
            let get = t.elapsed();
            let t = Instant::now();
            api.list(&ListParams::all().limit(500)).await?;
            let list = t.elapsed();
            api.delete(job.name(), Default::default()).await?;
            Ok((apply, get, list))
        })
        .await?;
        let p = Point {
            rss_mb: p.rss_mb - base,
            ..p
        };
        println!(
            "| cron jobs | {size} | {:.1} MB | {:.2} % | {:.2} ms | {:.3} ms | {:.2} ms (page of 500) |",
            p.rss_mb, p.cpu_pct, p.apply_ms, p.get_ms, p.list_ms
        );
        points.push(p);
    }
    backend.shutdown().await?;
    Ok(Series {
        kind: "CronJobs",
        unit: "cron jobs",
        points,
    })
}

fn to_json(all: &[Series]) -> Value {
    json!(
        all.iter()
            .map(|s| json!({
                "kind": s.kind,
                "points": s.points.iter().map(|p| json!({
                    "size": p.size, "rss_mb": p.rss_mb, "cpu_pct": p.cpu_pct,
                    "apply_ms": p.apply_ms, "get_ms": p.get_ms, "list_ms": p.list_ms,
                })).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )
}

/// What a series plots of a point.
type Pick = fn(&Point) -> f64;
/// A panel: its title, its unit, and its lines.
type Panel = (&'static str, &'static str, Vec<(&'static str, Pick)>);

/// One chart per kind: memory, quiet CPU, and call latency against size.
fn charts(dir: &Path, all: &[Series]) -> Res<Vec<PathBuf>> {
    let mut written = Vec::new();
    for s in all {
        let path = dir.join(format!("scale_{}.svg", s.kind.to_lowercase()));
        written.push(path.clone());
        let root = SVGBackend::new(&path, (960, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let root = root.titled(
            &format!("backend-local: cost against the number of {}", s.unit),
            ("sans-serif", 18),
        )?;
        let xmax = s.points.iter().map(|p| p.size).max().unwrap_or(1) as f64 * 1.05;
        let panels: [Panel; 3] = [
            ("memory growth (RSS)", "MB", vec![("RSS", |p| p.rss_mb)]),
            (
                "CPU with nothing to do",
                "% of a core",
                vec![("CPU", |p| p.cpu_pct)],
            ),
            (
                "call latency (median)",
                "ms",
                vec![
                    ("apply", |p| p.apply_ms),
                    ("get", |p| p.get_ms),
                    ("list", |p| p.list_ms),
                ],
            ),
        ];
        let colors = [
            RGBColor(66, 133, 244),
            RGBColor(219, 68, 55),
            RGBColor(15, 157, 88),
        ];
        for (area, (name, unit, lines)) in root.split_evenly((1, 3)).iter().zip(panels) {
            let ymax = s
                .points
                .iter()
                .flat_map(|p| lines.iter().map(move |(_, f)| f(p)))
                .fold(0.0f64, f64::max)
                * 1.2;
            let ymax = if ymax > 0.0 { ymax } else { 1.0 };
            let mut chart = ChartBuilder::on(area)
                .caption(name, ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..xmax, 0.0..ymax)?;
            chart
                .configure_mesh()
                .x_desc(s.unit)
                .y_desc(unit)
                .x_labels(5)
                .draw()?;
            for (i, (label, f)) in lines.iter().enumerate() {
                let color = colors[i % colors.len()];
                let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.size as f64, f(p))).collect();
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        pts.clone(),
                        color.stroke_width(2),
                    )))?
                    .label(*label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 15, y)], color.stroke_width(2))
                    });
                chart.draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                )?;
            }
            if lines.len() > 1 {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .position(SeriesLabelPosition::UpperLeft)
                    .draw()?;
            }
        }
        root.present()?;
    }
    Ok(written)
}

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let small = args.iter().any(|a| a == "--small");
    let div = if small { 10 } else { 1 };
    let group_steps: Vec<usize> = [100, 250, 500, 1000].iter().map(|n| n / div).collect();
    let deployment_steps: Vec<usize> = [10, 25, 50, 100].iter().map(|n| n / div).collect();
    let cron_steps: Vec<usize> = [1_000, 10_000, 50_000, 100_000]
        .iter()
        .map(|n| n / div)
        .collect();
    let dir = tempfile::tempdir()?;
    println!(
        "backend-local at scale (state in {}; {} cores)",
        dir.path().display(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    println!("| kind | size | memory growth | CPU, nothing to do | apply | get | list |");
    println!("|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let only = value("--only");
    let wants = |kind: &str| only.as_deref().is_none_or(|o| o == kind);
    let mut all = Vec::new();
    if wants("groups") {
        all.push(groups(dir.path(), &group_steps).await?);
    }
    if wants("deployments") {
        all.push(deployments(dir.path(), &deployment_steps, 10).await?);
    }
    if wants("cron") {
        all.push(cron_jobs(dir.path(), &cron_steps).await?);
    }
    println!("took {:.0} s", started.elapsed().as_secs_f64());
    if let Some(path) = value("--json") {
        std::fs::write(&path, serde_json::to_string_pretty(&to_json(&all))?)?;
        println!("wrote {path}");
    }
    if let Some(out) = value("--charts") {
        for p in charts(Path::new(&out), &all)? {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}
