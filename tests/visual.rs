//! The visual blueprint end to end — the real binary, real Chromium, a local fixture site whose
//! page changes between runs — and `aviary diff` on PNG files: baselines made, kept, approved
//! and updated; an ignored ticking clock; a changed button shown in diff.png; a one-pixel
//! anti-aliased shift; a size change; damaged baselines; validation.

#[path = "support/daemon.rs"]
mod daemon_support;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use image::{Rgba, RgbaImage};
use serde_json::Value;
use support::{Project, read_json, spawn_server, stderr, stdout};

/// How the fixture page looks now.
#[derive(Debug, Clone, Copy, Default)]
struct Look {
    red_button: bool,
    taller: bool,
    /// The circle moved right by this many pixels.
    shift: u32,
}

type Shared = Arc<Mutex<Look>>;

fn page(look: Look) -> String {
    let button = if look.red_button { "#d01010" } else { "#1050d0" };
    let extra = if look.taller { "<div style=\"height:120px;background:#eee\">more</div>" } else { "" };
    format!(
        r#"<!doctype html><html><head><style>
  body {{ margin: 0; font: 16px sans-serif; }}
  #clock {{ position: absolute; left: 450px; top: 20px; width: 300px; height: 24px; white-space: nowrap; overflow: hidden; }}
  #buy {{ position: absolute; left: 100px; top: 300px; width: 120px; height: 40px; border: 0; background: {button}; color: white; }}
  #circle {{ position: absolute; left: {left}px; top: 100px; width: 150px; height: 150px; border-radius: 50%; background: #303030; }}
  .spinner {{ position: absolute; left: 600px; top: 300px; width: 40px; height: 40px; background: #0a0; animation: spin 0.4s linear infinite; }}
  .fade {{ position: absolute; left: 300px; top: 400px; animation: fade 3s forwards; opacity: 0; }}
  @keyframes spin {{ to {{ transform: rotate(360deg); }} }}
  @keyframes fade {{ to {{ opacity: 1; }} }}
  #page {{ height: 560px; }}
</style></head><body>
  <div id="page">
    <h1 style="margin:0;padding:10px">Visual fixture</h1>
    <div id="clock"></div>
    <div class="banner" style="position:absolute;left:20px;top:500px">random {random}</div>
    <div id="circle"></div>
    <button id="buy">Buy now</button>
    <div class="spinner"></div>
    <div class="fade">Faded in</div>
    <input id="field" style="position:absolute;left:100px;top:450px" autofocus>
  </div>{extra}
  <script>
    const tick = () => document.getElementById('clock').textContent = new Date().toISOString();
    tick(); setInterval(tick, 30);
    document.querySelector('.banner').textContent = 'random ' + Math.random();
  </script>
</body></html>"#,
        left = 300 + look.shift,
        random = "x",
    )
}

fn start_fixture() -> (SocketAddr, Shared) {
    let look: Shared = Arc::default();
    let shared = look.clone();
    let addr = spawn_server(move |listener| async move {
        let app = Router::new().route(
            "/page",
            get(move || {
                let look = *shared.lock().unwrap();
                async move { Html(page(look)) }
            }),
        );
        axum::serve(listener, app).await.unwrap();
    });
    (addr, look)
}

fn canary(addr: SocketAddr, extra: &str) -> String {
    format!(
        "blueprint: visual\ntimeout: 45s\nbrowser: {{viewport: {{width: 800, height: 600}}}}\nvisual:\n  url: \
         \"http://{addr}/page\"\n  ignore: [{{selector: \"#clock\"}}]\n  hide: [\".banner\"]\n{extra}"
    )
}

/// Runs `aviary run` (with `args`); its exit code and the new run's folder and report.
fn run(project: &Project, args: &[&str]) -> (i32, PathBuf, Value) {
    let before = project.run_dirs();
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let output = project.aviary(&all);
    let text = format!("{}\n{}", stdout(&output), stderr(&output));
    assert!(!text.contains("panicked"), "{text}");
    let dir = project
        .run_dirs()
        .into_iter()
        .find(|d| !before.contains(d))
        .unwrap_or_else(|| panic!("no run folder: {text}"));
    let report = read_json(&dir.join("report.json"));
    (output.status.code().unwrap(), dir, report)
}

fn compare_step(report: &Value) -> &Value {
    &report["steps"][1]
}

fn png(path: &Path) -> RgbaImage {
    image::open(path).unwrap().into_rgba8()
}

#[test]
fn an_unchanged_page_with_an_ignored_ticking_clock_passes_and_the_first_run_makes_the_baseline() {
    let (addr, _) = start_fixture();
    let project = Project::new();
    project.canary("home", &canary(addr, ""));
    let (code, dir, report) = run(&project, &[]);
    assert_eq!(code, 0, "{report:#}");
    let step = compare_step(&report);
    assert_eq!(step["details"]["baseline"]["made_by_this_run"], true, "{step:#}");
    assert_eq!(step["details"]["baseline"]["id"], 1);
    assert_eq!(report["details"]["visual_success_percent"], 100.0);
    assert!(dir.join("visual/current.png").exists() && dir.join("visual/baseline.png").exists());
    let manifest = read_json(&project.path().join(".aviary/baselines/home/800x600/page/current.json"));
    assert_eq!(manifest["source_run"], report["run_id"]);

    let (code, dir, report) = run(&project, &[]);
    let step = compare_step(&report);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(step["details"]["baseline"]["made_by_this_run"], false);
    assert_eq!(step["details"]["diff_percent"], 0.0, "{step:#}");
    assert!(step["details"]["ignored_pixels"].as_u64().unwrap() > 0);
    assert_eq!(report["details"]["visual_success_percent"], 100.0);
    let load = &report["steps"][0]["details"];
    assert_eq!(load["hidden_elements"], serde_json::json!([1]), "{load:#}");
    for file in ["baseline.png", "current.png", "diff.png"] {
        assert_eq!(png(&dir.join("visual").join(file)).dimensions(), (800, 600), "{file}");
    }
}

#[test]
fn a_changed_button_fails_shows_in_the_diff_and_approving_a_run_accepts_it() {
    let (addr, look) = start_fixture();
    let project = Project::new();
    project.canary("shop", &canary(addr, "  highlight_color: \"#ff00ff\"\n"));
    let (code, _, first) = run(&project, &[]);
    assert_eq!(code, 0);
    look.lock().unwrap().red_button = true;
    let (code, dir, report) = run(&project, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["status"], "FAILED");
    let reason = report["reason"].as_str().unwrap();
    assert!(
        reason.contains("window") && reason.contains("baseline v1") && reason.contains("visual/diff.png"),
        "{reason}"
    );
    let details = &compare_step(&report)["details"];
    let region = &details["regions"][0];
    assert_eq!((region["x"].as_u64(), region["y"].as_u64()), (Some(100), Some(300)), "{details:#}");
    assert!(report["details"]["visual_success_percent"].as_f64().unwrap() < 100.0);
    let diff = png(&dir.join("visual/diff.png"));
    assert_eq!(diff.get_pixel(110, 305), &Rgba([255, 0, 255, 255]), "the button's pixels are highlighted");
    let far = diff.get_pixel(700, 550).0;
    assert!(far[0] == far[1] && far[1] == far[2] && far[0] > 200, "the rest is a dimmed copy: {far:?}");

    // The failed run's screenshot becomes the baseline: the next run passes.
    let changed_run = report["run_id"].as_str().unwrap();
    let approved = project.aviary(&["baseline", "approve", "shop", "--run", &changed_run[..8]]);
    assert_eq!(approved.status.code(), Some(0), "{}", stderr(&approved));
    assert!(stdout(&approved).contains("baseline v2"), "{}", stdout(&approved));
    assert!(stderr(&approved).contains("from the database"), "{}", stderr(&approved));
    let (code, _, report) = run(&project, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(compare_step(&report)["details"]["baseline"]["source_run"], changed_run);

    // Approving the first run puts the blue button back as the baseline.
    let first_run = first["run_id"].as_str().unwrap();
    let approved = project.aviary(&["baseline", "approve", "shop", "--run", first_run]);
    assert_eq!(approved.status.code(), Some(0), "{}", stderr(&approved));
    let (code, _, _) = run(&project, &[]);
    assert_eq!(code, 1);
    let wrong = project.aviary(&["baseline", "approve", "shop", "--run", "00000000"]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(stderr(&wrong).contains("no run `00000000`"), "{}", stderr(&wrong));

    // --update-baselines takes this run's screenshot as the baseline and passes.
    let (code, _, report) = run(&project, &["--update-baselines"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(compare_step(&report)["details"]["baseline"]["source"], "--update-baselines");
    let (code, _, _) = run(&project, &[]);
    assert_eq!(code, 0);
    let history =
        std::fs::read_dir(project.path().join(".aviary/baselines/shop/800x600/page")).unwrap().count();
    assert!(history >= 9, "four versions (png + json each) and current.json: {history}");
}

#[test]
fn a_one_pixel_shift_of_an_antialiased_edge_passes() {
    let (addr, look) = start_fixture();
    let project = Project::new();
    project.canary("edge", &canary(addr, ""));
    assert_eq!(run(&project, &[]).0, 0);
    look.lock().unwrap().shift = 1;
    let (code, _, report) = run(&project, &[]);
    let details = &compare_step(&report)["details"];
    assert_eq!(code, 0, "{report:#}");
    assert!(details["antialiased_pixels"].as_u64().unwrap() > 0, "{details:#}");
}

#[test]
fn a_size_change_is_reported_as_such() {
    let (addr, look) = start_fixture();
    let project = Project::new();
    project.canary("tall", &canary(addr, "  full_page: true\n"));
    assert_eq!(run(&project, &[]).0, 0);
    look.lock().unwrap().taller = true;
    let (code, dir, report) = run(&project, &[]);
    assert_eq!(code, 1, "{report:#}");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("size changed 800×600 → 800×"), "{reason}");
    let change = &compare_step(&report)["details"]["size_change"];
    assert_eq!(change["from"], serde_json::json!([800, 600]), "{change:#}");
    let diff = png(&dir.join("visual/diff.png"));
    assert!(diff.height() > 600);
    let strip: Vec<[u8; 4]> = (0..20).map(|x| diff.get_pixel(x, diff.height() - 1).0).collect();
    assert!(strip.contains(&[250, 250, 0, 255]), "the new strip is marked: {strip:?}");
}

#[test]
fn a_damaged_or_missing_baseline_is_an_error_with_a_clear_message() {
    let (addr, _) = start_fixture();
    let project = Project::new();
    project.canary("broken", &canary(addr, ""));
    assert_eq!(run(&project, &[]).0, 0);
    let folder = project.path().join(".aviary/baselines/broken/800x600/page");
    std::fs::write(folder.join("v0001.png"), b"\x89PNG\r\n\x1a\ngarbage").unwrap();
    let (code, _, report) = run(&project, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["status"], "ERROR");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("v0001.png: its image is not a valid PNG"), "{reason}");
    assert!(reason.contains("aviary baseline approve broken"), "{reason}");

    std::fs::remove_file(folder.join("v0001.png")).unwrap();
    let (_, _, report) = run(&project, &[]);
    assert_eq!(report["status"], "ERROR");
    assert!(report["reason"].as_str().unwrap().contains("its image is missing"), "{report:#}");

    std::fs::write(folder.join("current.json"), "{not json").unwrap();
    let (_, _, report) = run(&project, &[]);
    assert!(report["reason"].as_str().unwrap().contains("not a baseline manifest"), "{report:#}");
    // --update-baselines replaces a damaged baseline.
    assert_eq!(run(&project, &["--update-baselines"]).0, 0);
    assert_eq!(run(&project, &[]).0, 0);
}

#[test]
fn aviary_diff_exit_codes_percentages_and_picture() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let a = RgbaImage::from_fn(300, 200, |x, y| Rgba([(x % 200) as u8 + 40, (y % 200) as u8, 128, 255]));
    let mut b = a.clone();
    for x in 10..40 {
        for y in 10..40 {
            b.put_pixel(x, y, Rgba([0, 0, 0, 255]));
        }
    }
    let tall = RgbaImage::from_pixel(300, 260, Rgba([255, 255, 255, 255]));
    a.save(path("a.png")).unwrap();
    b.save(path("b.png")).unwrap();
    tall.save(path("tall.png")).unwrap();
    std::fs::write(path("corrupt.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let diff = |args: &[&str]| {
        let mut all = vec!["diff"];
        all.extend_from_slice(args);
        support::aviary_in(dir.path(), &all)
    };

    let same = diff(&[&path("a.png"), &path("a.png")]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert!(stdout(&same).contains("result:     same"), "{}", stdout(&same));

    let changed = diff(&[&path("a.png"), &path("b.png"), "-o", &path("d.png")]);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    let out = stdout(&changed);
    assert!(out.contains("pixels:     1.5% differ (900 pixels"), "{out}");
    assert!(out.contains("window:     21.973% of the worst 64×64 window"), "{out}");
    assert!(out.contains("regions:    30×30 at (10, 10)"), "{out}");
    assert_eq!(png(&dir.path().join("d.png")).get_pixel(20, 20), &Rgba([250, 250, 0, 255]));

    let ignored = diff(&[&path("a.png"), &path("b.png"), "--ignore", "0,0,50,50"]);
    assert_eq!(ignored.status.code(), Some(0), "{}", stdout(&ignored));
    let loose =
        diff(&[&path("a.png"), &path("b.png"), "--threshold-percent", "2", "--window-threshold", "25"]);
    assert_eq!(loose.status.code(), Some(0), "{}", stdout(&loose));

    let sized = diff(&[&path("a.png"), &path("tall.png")]);
    assert_eq!(sized.status.code(), Some(1));
    assert!(stdout(&sized).contains("size:       changed 300×200 → 300×260"), "{}", stdout(&sized));

    for (args, message) in [
        (vec![path("a.png"), path("missing.png")], "missing.png: cannot read it: No such file"),
        (vec![path("corrupt.png"), path("a.png")], "corrupt.png: not a valid PNG image: "),
        (vec![path("a.png"), path("a.png"), "--ignore".into(), "1,2,3".into()], "expected x,y,width,height"),
        (vec![path("a.png"), path("a.png"), "--threshold".into(), "2".into()], "from 0 to 1"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = diff(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"));
    }
}

#[test]
fn bad_settings_are_reported_where_they_are() {
    let project = Project::new();
    let file = project.canary(
        "bad",
        "blueprint: visual\nvisual:\n  url: \"http://127.0.0.1:1/\"\n  threshold_percent: 120\n  ignore:\n    - {x: 1, y: 2}\n    - {selector: \"##\"}\n  hide: [\"\"]\n  baseline: yesterday\n  highlight_color: yellow\n  max_height: 0\n  name: \"a b\"\n  colour: red\n",
    );
    let output = project.aviary(&["validate", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output) + &stderr(&output);
    for expected in [
        "bad.yaml:4:22: visual.threshold_percent: threshold_percent must be 0..=100, got 120",
        "bad.yaml:6:7: visual.ignore[0]: an ignore area needs all of x, y, width and height",
        "bad.yaml:7:18: visual.ignore[1].selector: `##` is not a valid CSS selector",
        "bad.yaml:8:10: visual.hide[0]: a selector must not be empty",
        "bad.yaml:9:13: visual.baseline: expected first_run, next_run, last_run or a run id",
        "bad.yaml:10:20: visual.highlight_color: expected a colour like",
        "bad.yaml:11:15: visual.max_height: max_height must be 1..=100000, got 0",
        "bad.yaml:12:9: visual.name: invalid screenshot name `a b`",
        "bad.yaml:13:3: visual.colour: unknown key `colour`",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn the_template_holds_the_code_defaults_and_the_example_canary_passes_on_the_example_site() {
    let template = aviary::blueprints::REGISTRY.find("visual").unwrap().template();
    let parse = |text: &str| {
        let doc = aviary::spec::yaml::parse(text).unwrap();
        let section = doc.get("visual").unwrap().clone();
        let (settings, problems) =
            aviary::spec::de::from_node::<aviary::blueprints::visual::Settings>(&section);
        assert!(problems.is_empty(), "{problems:?}");
        serde_json::to_value(settings.unwrap()).unwrap()
    };
    let shipped = parse(template);
    let minimal = parse("visual: {url: \"${BASE_URL}/\"}\n");
    assert_eq!(shipped, minimal, "a value in blueprints/visual.yaml differs from the code's default");

    let site = support::start_example_site();
    let project = Project::new();
    let output = project.aviary(&["new", "visual", "look"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/canaries/visual.yaml")).unwrap();
    project.canary("site-visual", &example);
    for name in ["look", "site-visual"] {
        let path = project.path().join(format!("canaries/{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("http://127.0.0.1:8080", &site.url(""))).unwrap();
    }
    let validated = project.aviary(&["validate"]);
    assert_eq!(validated.status.code(), Some(0), "{}", stderr(&validated));
    for round in 0..2 {
        let output = project.aviary(&["run"]);
        assert_eq!(output.status.code(), Some(0), "round {round}: {}\n{}", stdout(&output), stderr(&output));
    }
}

#[test]
fn approving_goes_through_the_daemon_when_one_runs() {
    let (addr, look) = start_fixture();
    let project = Project::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    project
        .file("aviary.yaml", &format!("server: {{listen: \"127.0.0.1:{port}\", token: \"t0ken-visual\"}}\n"));
    project.canary(
        "daemon-look",
        &canary(addr, "")
            .replace("blueprint: visual\n", "blueprint: visual\nschedule: rate(10 seconds)\ntimeout: 9s\n")
            .replace("timeout: 45s\n", ""),
    );
    look.lock().unwrap().red_button = false;
    let mut daemon = daemon_support::Daemon::start(project.path(), "daemon.log", &[]);
    let within = std::time::Duration::from_secs(60);
    daemon.wait_for_n("two runs", 2, within, |e| daemon_support::is_run_of(e, "daemon-look"));
    let approved = project.aviary(&["baseline", "approve", "daemon-look"]);
    assert_eq!(approved.status.code(), Some(0), "{}\n{}", stdout(&approved), stderr(&approved));
    assert!(stderr(&approved).contains("(from the daemon at"), "{}", stderr(&approved));
    assert!(
        stdout(&approved).contains("baseline v2") && stdout(&approved).contains("replaces v1"),
        "{}",
        stdout(&approved)
    );
    let manifest = read_json(&project.path().join(".aviary/baselines/daemon-look/800x600/page/current.json"));
    assert_eq!((manifest["id"].as_u64(), manifest["source"].as_str()), (Some(2), Some("approved")));
    // Over TCP the token guards it.
    let (status, _) = daemon_support::http(
        &format!("127.0.0.1:{port}"),
        "POST",
        "/api/v1/canaries/daemon-look/baseline",
        None,
    );
    assert_eq!(status, 401);
    let (status, body) = daemon_support::http(
        &format!("127.0.0.1:{port}"),
        "POST",
        "/api/v1/canaries/nope/baseline",
        Some("t0ken-visual"),
    );
    assert_eq!(status, 404, "{body}");
}
