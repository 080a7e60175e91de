//! `poolguard report --format html` in a real browser.
//!
//! The page is rendered for the auth-rollout incident, screenshotted by headless Chromium and
//! the PNG analysed by `scripts/check_report_png.py` (Python's standard library inflates PNG;
//! Rust's does not, and the project takes no image dependency for one test). The script finds
//! the bar and checks that the client colours, the hatched rollout, both marker lines and the
//! red over-capacity region are drawn where the numbers put them.
//!
//! The browser test skips (saying why) only when no Chromium binary exists; `.ci/run`
//! installs Debian's `chromium` and sets `POOLGUARD_REQUIRE_CHROMIUM=1` so that it cannot
//! skip there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use poolguard::render::budget::html::{
    CAPACITY_COLOR, HATCH_LIGHT, OVER_COLORS, PALETTE, WARN_COLOR,
};

const FIXTURE: &str = "fixtures/incidents/auth-rollout";
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `poolguard report FIXTURE --format html --output <dir>/report.html`.
fn render_html(dir: &Path) -> (PathBuf, String) {
    let out = dir.join("report.html");
    let status = assert_cmd::Command::cargo_bin("poolguard")
        .unwrap()
        .current_dir(root())
        .args(["report", FIXTURE, "--format", "html", "--output"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(
        status.stdout.is_empty(),
        "--output writes nothing to stdout"
    );
    let html = std::fs::read_to_string(&out).unwrap();
    (out, html)
}

#[test]
fn html_is_one_self_contained_accessible_page() {
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = render_html(dir.path());
    assert!(html.starts_with("<!DOCTYPE html>"));
    for banned in [
        "<script", "http://", "https://", "url(", "@import", "<link", "<img",
    ] {
        assert!(!html.contains(banned), "page references `{banned}`");
    }
    assert_eq!(
        html.matches("role=\"img\"").count(),
        1,
        "one bar per database"
    );
    let label = html
        .split("role=\"img\" aria-label=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    for number in [
        "capacity 197",
        "Steady 176",
        "Rollout 236",
        "39 over",
        "prod/Deployment/auth rolls out, adding 60",
        "All rollouts 254",
        "Warning above 80% (157.6)",
        "Status: error",
    ] {
        assert!(
            label.contains(number),
            "aria-label lacks `{number}`: {label}"
        );
    }
    // Every client is named with its numbers in a title (hover) and in the legend.
    for client in [
        "prod/Deployment/accounts-api: 40 steady, 50 peak",
        "prod/Deployment/admin-portal: 16 steady, 24 peak",
        "prod/Deployment/auth: 120 steady, 180 peak",
    ] {
        assert!(
            html.contains(&format!("title=\"{client}")),
            "no title for {client}"
        );
        assert!(
            html.contains(&format!("<span>{client}")),
            "no legend entry for {client}"
        );
    }
}

/// A Chromium binary: `$POOLGUARD_CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("POOLGUARD_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs `cmd` to completion, killing it after `limit`. Output goes to files in `dir` so a
/// chatty browser cannot block on a full pipe.
fn run_bounded(mut cmd: Command, dir: &Path, name: &str, limit: Duration) -> (bool, String) {
    let stdout = dir.join(format!("{name}.stdout"));
    let stderr = dir.join(format!("{name}.stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not finish within {}s; stderr:\n{}",
                limit.as_secs(),
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = format!(
        "{}{}",
        std::fs::read_to_string(&stdout).unwrap_or_default(),
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    (status.success(), output)
}

#[test]
fn html_bar_renders_in_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("POOLGUARD_REQUIRE_CHROMIUM").is_none(),
            "POOLGUARD_REQUIRE_CHROMIUM is set but no chromium binary was found"
        );
        eprintln!(
            "skipped: no chromium binary on PATH (install Debian's `chromium`, or set POOLGUARD_CHROMIUM)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = render_html(dir.path());
    let png = dir.path().join("report.png");
    let profile = dir.path().join("profile");

    let mut cmd = Command::new(&browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1200,800",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--screenshot={}", png.display()))
    .arg(format!("file://{}", page.display()));
    let (ok, log) = run_bounded(cmd, dir.path(), "chromium", BROWSER_TIMEOUT);
    assert!(
        ok && png.is_file(),
        "{} did not write a screenshot:\n{log}",
        browser.display()
    );
    if let Some(keep) = std::env::var_os("POOLGUARD_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    // The numbers the picture must show: auth-db's capacity is 197, the rollout takes it to
    // 236 (39 over); the warning threshold is 80 % of capacity. Clients are drawn in report
    // order (accounts-api, admin-portal, auth) and auth's rollout is hatched in its colour.
    let over_ratio = (236.0 - 197.0) / 197.0;
    let mut check = Command::new("python3");
    check
        .arg(root().join("scripts/check_report_png.py"))
        .arg(&png)
        .arg(format!("--segments={}", PALETTE[..3].join(",")))
        .arg(format!("--hatch={}", PALETTE[2]))
        .arg(format!("--hatch-light={HATCH_LIGHT}"))
        .arg(format!("--over={}", OVER_COLORS.join(",")))
        .arg(format!("--capacity={CAPACITY_COLOR}"))
        .arg(format!("--warn={WARN_COLOR}"))
        .arg("--warn-ratio=0.8")
        .arg(format!("--over-ratio={over_ratio}"));
    let (ok, log) = run_bounded(check, dir.path(), "check_report_png", BROWSER_TIMEOUT);
    eprintln!("{log}");
    assert!(ok, "the screenshot does not show the expected bar:\n{log}");
}
