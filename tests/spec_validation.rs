//! `aviary validate`'s engine through the library: canary files in a temporary folder, loaded with
//! `load_canaries`, and the exact `file:line:col` diagnostics a user sees.

use std::fs;
use std::path::{Path, PathBuf};

use aviary::blueprints::{Blueprint, heartbeat};
use aviary::project::{load_canaries, load_canaries_with};
use aviary::spec::{Canary, Diagnostic, Project, Schedule};

/// The heartbeat section of a loaded canary, read as the blueprint reads it.
fn heartbeat(canary: &Canary) -> heartbeat::Settings {
    canary.section.parse::<heartbeat::Settings>().0.unwrap()
}

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    fn project(&self) -> Project {
        Project::defaults(self.path())
    }

    /// Loads with a fixed environment: HOST, API_KEY (a secret) and nothing else.
    fn load(&self, paths: &[PathBuf]) -> (Vec<Canary>, Vec<String>) {
        let env = |name: &str| match name {
            "HOST" => Some("127.0.0.1:8080".to_string()),
            "API_KEY" => Some("k3y-s3cr3t".to_string()),
            "SHOP_PASSWORD" => Some("pa55w0rd".to_string()),
            _ => None,
        };
        let (canaries, diagnostics) = load_canaries_with(&self.project(), paths, &env);
        (canaries, self.show(&diagnostics))
    }

    /// Diagnostics as printed, with file names relative to the repository.
    fn show(&self, diagnostics: &[Diagnostic]) -> Vec<String> {
        let prefix = format!("{}/", self.path().display());
        diagnostics.iter().map(|d| d.to_string().replace(&prefix, "")).collect()
    }
}

const HEARTBEAT: &str = "\
blueprint: heartbeat
heartbeat:
  urls: [\"http://${HOST}/\"]
";

#[test]
fn a_valid_canary_loads_with_defaults() {
    let repo = Repo::new();
    let file = repo.write("canaries/home.yaml", HEARTBEAT);
    let (canaries, problems) = repo.load(&[repo.path().join("canaries")]);
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(canaries.len(), 1);
    let c = &canaries[0];
    assert_eq!(c.name, "home");
    assert_eq!(c.file, file);
    assert_eq!(c.dir(), repo.path().join("canaries"));
    assert_eq!(c.blueprint, "heartbeat");
    assert_eq!(c.schedule, Schedule::parse("rate(5 minutes)").unwrap());
    assert_eq!(c.timeout.as_secs(), 60);
    assert_eq!((c.retries, c.enabled), (0, true));
    assert_eq!(heartbeat(c).urls, ["http://127.0.0.1:8080/"]);
}

#[test]
fn no_paths_means_the_projects_canaries_entries() {
    let repo = Repo::new();
    repo.write("canaries/b.yaml", HEARTBEAT);
    repo.write("canaries/a.yml", HEARTBEAT);
    repo.write("canaries/notes.txt", "not a canary");
    repo.write("canaries/sub/c.yaml", HEARTBEAT);
    let (canaries, problems) = repo.load(&[]);
    assert_eq!(problems, Vec::<String>::new());
    let names: Vec<&str> = canaries.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"], "sorted, *.yaml and *.yml, not recursive");
}

#[test]
fn unknown_key_with_a_suggestion() {
    let repo = Repo::new();
    let file = repo.write("typo.yaml", &format!("{HEARTBEAT}timout: 30s\n"));
    let (canaries, problems) = repo.load(&[file]);
    assert!(canaries.is_empty());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .starts_with("typo.yaml:4:1: timout: unknown key `timout`; expected one of: name, blueprint, "),
        "{problems:?}"
    );
    assert!(problems[0].ends_with("did you mean `timeout`?"), "{problems:?}");
}

#[test]
fn a_section_key_at_the_top_says_where_it_belongs() {
    let repo = Repo::new();
    let file = repo.write("level.yaml", &format!("{HEARTBEAT}expect: {{status: 200}}\ntimout: 30s\n"));
    let (_, problems) = repo.load(&[file]);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("level.yaml:4:1: expect: unknown key `expect`; expected one of: "),
        "{problems:?}"
    );
    assert!(problems[0].ends_with("; it belongs under `heartbeat:`"), "{problems:?}");
    assert!(
        problems[1].ends_with("did you mean `timeout`?"),
        "a key of no section gets no such hint: {problems:?}"
    );
    let file = repo.write("steps.yaml", "blueprint: api\nsteps: []\napi:\n  steps: []\n");
    let (_, problems) = repo.load(&[file]);
    assert!(
        problems.iter().any(|p| p.contains("unknown key `steps`") && p.ends_with("it belongs under `api:`")),
        "{problems:?}"
    );
}

#[test]
fn a_wrong_type() {
    let repo = Repo::new();
    let file = repo.write("types.yaml", &format!("{HEARTBEAT}retries: \"x\"\n"));
    let (_, problems) = repo.load(&[file]);
    assert_eq!(problems, ["types.yaml:4:10: retries: expected an integer 0..255, found \"x\""]);
}

#[test]
fn an_unset_variable() {
    let repo = Repo::new();
    let file = repo.write(
        "unset.yaml",
        "blueprint: heartbeat\nheartbeat:\n  urls:\n    - \"http://${NOT_SET_ANYWHERE}/\"\n",
    );
    let (canaries, problems) = repo.load(&[file]);
    assert!(canaries.is_empty());
    assert_eq!(
        problems,
        [
            "unset.yaml:4:7: heartbeat.urls[0]: `${NOT_SET_ANYWHERE}` is not set: add it to `env:` or the environment"
        ],
        "one problem: the URL check does not also complain about the unexpanded text"
    );
}

#[test]
fn the_process_environment_is_used() {
    let repo = Repo::new();
    let file = repo
        .write("proc.yaml", "blueprint: heartbeat\nheartbeat:\n  urls: [\"http://h/${CARGO_PKG_NAME}\"]\n");
    let (canaries, problems) = load_canaries(&repo.project(), &[file]);
    assert_eq!(repo.show(&problems), Vec::<String>::new());
    assert_eq!(heartbeat(&canaries[0]).urls, ["http://h/aviary"]);
}

#[test]
fn every_problem_of_a_file_is_reported() {
    let repo = Repo::new();
    let file = repo.write(
        "many.yaml",
        "\
name: many problems
blueprint: heartbeat
schedule: rate(5 minutes)
timeout: 10m
retries: 9
enabled: sometimes
colour: blue
browser:
  viewport: {width: 50, height: 800}
heartbeat:
  urls: [\"http://${HOST}/\", \"/relative\", \"${MISSING}\"]
  expect: {status: \"2xx,abc\"}
  full_page_screenshot: 3
api:
  steps: []
",
    );
    let (canaries, problems) = repo.load(&[file]);
    assert!(canaries.is_empty());
    assert_eq!(
        problems,
        [
            "many.yaml:1:7: name: invalid canary name `many problems`: use 1 to 64 of A-Z a-z 0-9 _ -",
            "many.yaml:4:10: timeout: timeout 10m exceeds the schedule period 5m",
            "many.yaml:5:10: retries: retries must be 0..5, found 9",
            "many.yaml:6:10: enabled: expected true or false, found \"sometimes\"",
            "many.yaml:7:1: colour: unknown key `colour`; expected one of: name, blueprint, schedule, timeout, \
             retries, retry_delay, enabled, tags, env, retention, browser, report, screenshots, continue_on_step_failure, \
             alarms, locations, heartbeat, api, broken-links, flow, workflow, script, visual",
            "many.yaml:9:21: browser.viewport.width: viewport width must be 100..10000, found 50",
            "many.yaml:11:29: heartbeat.urls[1]: `/relative` is not an absolute http(s) URL (relative URL without \
             a base)",
            "many.yaml:11:42: heartbeat.urls[2]: `${MISSING}` is not set: add it to `env:` or the environment",
            "many.yaml:12:20: heartbeat.expect.status: `abc` is not a status code; expected status codes like \
             `200-399`, `200`, `200,301-302` or `2xx`",
            "many.yaml:13:25: heartbeat.full_page_screenshot: expected true or false, found 3",
            "many.yaml:15:3: api: section `api` does not apply to blueprint `heartbeat`",
        ]
    );
}

#[test]
fn a_file_that_is_not_yaml() {
    let repo = Repo::new();
    let broken = repo.write("broken.yaml", "blueprint: heartbeat\nheartbeat: {urls: [\"http://h/\"]\n");
    let text = repo.write("text.yaml", "Just some notes about canaries.\n");
    let list = repo.write("list.yaml", "- blueprint: heartbeat\n");
    let binary = repo.path().join("binary.yaml");
    fs::write(&binary, [0xff, 0xfe, 0x00, 0x12]).unwrap();
    let good = repo.write("good.yaml", HEARTBEAT);
    let (canaries, problems) = repo.load(&[broken, text, list, binary, good]);
    assert_eq!(canaries.len(), 1, "the good canary is still returned");
    assert_eq!(canaries[0].name, "good");
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(problems[0].starts_with("broken.yaml:3:1: invalid YAML: "), "{problems:?}");
    assert_eq!(
        problems[1],
        "text.yaml:1:1: expected a mapping of canary settings (`key: value` lines), found \"Just some notes about \
         canaries.\""
    );
    assert_eq!(
        problems[2],
        "list.yaml:1:1: expected a mapping of canary settings (`key: value` lines), found a list"
    );
    assert_eq!(problems[3], "binary.yaml:1:1: not a YAML file: the content is not UTF-8 text");
}

#[test]
fn a_folder_without_canaries_and_a_missing_path() {
    let repo = Repo::new();
    fs::create_dir_all(repo.path().join("empty")).unwrap();
    repo.write("empty/readme.md", "# nothing here\n");
    let (canaries, problems) = repo.load(&[repo.path().join("empty"), repo.path().join("nope.yaml")]);
    assert!(canaries.is_empty());
    assert_eq!(
        problems,
        [
            "empty:1:1: no canary files (*.yaml) in empty".to_string(),
            "nope.yaml:1:1: no such file or folder".to_string(),
        ]
    );
}

#[test]
fn duplicate_names() {
    let repo = Repo::new();
    repo.write("canaries/a.yaml", &format!("name: home\n{HEARTBEAT}"));
    repo.write("canaries/b.yaml", &format!("# the same name\nname: home\n{HEARTBEAT}"));
    repo.write("canaries/home.yaml", HEARTBEAT);
    let (canaries, problems) = repo.load(&[]);
    assert_eq!(canaries.len(), 1);
    assert_eq!(canaries[0].file, repo.path().join("canaries/a.yaml"));
    assert_eq!(
        problems,
        [
            "canaries/b.yaml:2:7: name: duplicate canary name `home`: canaries/a.yaml already uses it",
            "canaries/home.yaml:1:1: duplicate canary name `home`: canaries/a.yaml already uses it",
        ]
    );
}

#[test]
fn every_blueprint_is_implemented() {
    let repo = Repo::new();
    let file = repo.write("look.yaml", "schedule: once\nblueprint: visual\nvisual: {url: 'http://h/'}\n");
    let (canaries, problems) = repo.load(&[file]);
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(canaries[0].blueprint, "visual");
}

#[test]
fn sections_of_the_blueprint() {
    let repo = Repo::new();
    let missing = repo.write("missing.yaml", "blueprint: heartbeat\n");
    let other = repo.write("other.yaml", &format!("{HEARTBEAT}api: {{steps: []}}\n"));
    let empty = repo.write("empty.yaml", "blueprint: heartbeat\nheartbeat:\n");
    let typo = repo.write("typo.yaml", "blueprint: hartbeat\nheartbeat: {urls: ['http://h/']}\n");
    let (canaries, problems) = repo.load(&[missing, other, empty, typo]);
    assert!(canaries.is_empty());
    assert_eq!(
        problems,
        [
            "missing.yaml:1:1: missing section `heartbeat:` (blueprint `heartbeat` reads its settings from it)",
            "other.yaml:4:6: api: section `api` does not apply to blueprint `heartbeat`",
            "empty.yaml:2:1: heartbeat: section `heartbeat` is empty",
            "typo.yaml:1:12: blueprint: unknown value `hartbeat`; expected one of: heartbeat, api, \
             broken-links, flow, workflow, script, visual; did you mean `heartbeat`?",
        ]
    );
}

#[test]
fn heartbeat_section_checks() {
    let repo = Repo::new();
    let file = repo.write(
        "hb.yaml",
        "blueprint: heartbeat\nheartbeat: {urls: ['/relative', 'ftp://h/', 'http://h/'], expect: {status: 'ok'}}\n\
         browser: {viewport: {width: 50, height: 800}}\n",
    );
    let (_, problems) = repo.load(&[file]);
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(
        problems[0]
            .starts_with("hb.yaml:2:20: heartbeat.urls[0]: `/relative` is not an absolute http(s) URL")
    );
    assert!(problems[1].starts_with("hb.yaml:2:33: heartbeat.urls[1]: `ftp://h/` is not an http(s) URL"));
    assert!(problems[2].starts_with("hb.yaml:2:76: heartbeat.expect.status: `ok` is not a status code"));
    assert!(
        problems[3].starts_with("hb.yaml:3:29: browser.viewport.width: viewport width must be 100..10000")
    );
    let empty = repo.write("none.yaml", "blueprint: heartbeat\nheartbeat: {urls: []}\n");
    let (_, problems) = repo.load(&[empty]);
    assert_eq!(problems, ["none.yaml:2:19: heartbeat.urls: `urls` must list at least one URL"]);
}

#[test]
fn timeout_longer_than_the_schedule_period() {
    let repo = Repo::new();
    let slow = repo.write("slow.yaml", &format!("schedule: cron(0/10 * * * ? *)\ntimeout: 15m\n{HEARTBEAT}"));
    let fine = repo.write("fine.yaml", &format!("schedule: \"*/15 * * * *\"\ntimeout: 15m\n{HEARTBEAT}"));
    let (canaries, problems) = repo.load(&[slow, fine]);
    assert_eq!(problems, ["slow.yaml:2:10: timeout: timeout 15m exceeds the schedule period 10m"]);
    assert_eq!(canaries.len(), 1);
    assert_eq!(canaries[0].timeout.as_secs(), 900);
    assert_eq!(canaries[0].schedule.to_string(), "*/15 * * * *");
}

#[test]
fn secrets_are_recorded() {
    let repo = Repo::new();
    let file = repo.write(
        "secret.yaml",
        "\
env:
  KEY: ${secret:API_KEY}
blueprint: heartbeat
browser:
  extra_headers: {x-api-key: \"${KEY}\"}
heartbeat:
  urls: [\"http://${HOST}/?key=${secret:API_KEY}\"]
",
    );
    let (canaries, problems) = repo.load(&[file]);
    assert_eq!(problems, Vec::<String>::new());
    let c = &canaries[0];
    assert_eq!(c.secrets, ["k3y-s3cr3t"]);
    assert_eq!(c.spec.browser.extra_headers["x-api-key"], "k3y-s3cr3t");
    assert_eq!(heartbeat(c).urls, ["http://127.0.0.1:8080/?key=k3y-s3cr3t"]);

    let missing = repo
        .write("missing.yaml", "blueprint: heartbeat\nheartbeat: {urls: [\"http://h/${secret:NOPE}\"]}\n");
    let (_, problems) = repo.load(&[missing]);
    assert_eq!(
        problems,
        ["missing.yaml:2:20: heartbeat.urls[0]: `${secret:NOPE}` is not set: export NOPE in the environment"]
    );
}

#[test]
fn double_dollar_is_a_literal() {
    let repo = Repo::new();
    let file = repo.write(
        "escape.yaml",
        "blueprint: heartbeat\nheartbeat:\n  urls: [\"http://h/\"]\n  expect: {text: \"costs $${PRICE} and $5\"}\n",
    );
    let (canaries, problems) = repo.load(&[file]);
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(heartbeat(&canaries[0]).expect.text.as_deref(), Some("costs ${PRICE} and $5"));
}

const API: &str = "\
blueprint: api
schedule: rate(1 hour)
env: {BASE: \"http://${HOST}\"}
api:
  steps:
    - name: create item
      request: {method: POST, url: \"${BASE}/api/items\", json: {name: widget}}
      extract: {item_id: json $.id}
    - name: read item
      request: {url: \"${BASE}/api/items/${item_id}\"}
      assert: [status == 200]
";

#[test]
fn api_steps_may_use_names_extracted_by_earlier_steps() {
    let repo = Repo::new();
    let file = repo.write("items.yaml", API);
    let (canaries, problems) = repo.load(&[file]);
    assert_eq!(problems, Vec::<String>::new());
    let steps = canaries[0].section.parse::<aviary::blueprints::api::Settings>().0.unwrap().steps;
    assert_eq!(steps[0].request.url, "http://127.0.0.1:8080/api/items");
    assert_eq!(steps[1].request.url, "http://127.0.0.1:8080/api/items/${item_id}", "left for run time");
    // The same through the expansion step alone.
    let mut doc = aviary::spec::yaml::parse(API).unwrap();
    let env = |name: &str| (name == "HOST").then(|| "h".to_string());
    let steps = aviary::blueprints::api::API.template_steps(doc.get("api").unwrap()).unwrap();
    let expansion = aviary::spec::expand::expand_canary(
        &mut doc,
        &env,
        Some(("api", &steps)),
        aviary::spec::expand::UnsetSecrets::Problem,
    );
    assert!(expansion.problems.is_empty());
    let url =
        doc.get("api").unwrap().get("steps").unwrap().items().unwrap()[1].get("request").unwrap().get("url");
    assert_eq!(url.unwrap().as_str(), Some("http://h/api/items/${item_id}"));
    let vars = |name: &str| (name == "item_id").then(|| "7".to_string());
    assert_eq!(
        aviary::spec::expand::substitute(url.unwrap().as_str().unwrap(), vars).unwrap(),
        "http://h/api/items/7"
    );
}

#[test]
fn api_steps_cannot_use_names_before_they_are_extracted() {
    let repo = Repo::new();
    let text = API.replace(
        "{url: \"${BASE}/api/items/${item_id}\"}",
        "{url: \"${BASE}/api/items/${item_id}/${etag}\"}",
    ) + "      extract: {etag: header etag}\n    - name: delete\n      request: {method: DELETE, url: \"${BASE}/${gone}\"}\n";
    let text = text.replace(
        "{method: POST, url: \"${BASE}/api/items\"",
        "{method: POST, url: \"${BASE}/api/items?after=${item_id}\"",
    );
    let file = repo.write("order.yaml", &text);
    let (canaries, problems) = repo.load(&[file]);
    assert!(canaries.is_empty());
    let problems: Vec<&String> = problems.iter().filter(|p| !p.contains("is not implemented yet")).collect();
    assert_eq!(
        problems,
        [
            "order.yaml:7:36: api.steps[0].request.url: `${item_id}` is used before any step extracts it (step 1 \
             `create item` extracts it)",
            "order.yaml:10:22: api.steps[1].request.url: `${etag}` is used before any step extracts it (step 2 \
             `read item` extracts it)",
            "order.yaml:14:38: api.steps[2].request.url: `${gone}` is not set: add it to `env:` or the environment",
        ]
    );
}

/// A template with its commented defaults written out: every line of a block introduced by
/// `(defaults shown):` up to the next blank line, and every indented `# key: value` line (the
/// options commented in place, such as a request's `# verify_tls: true`).
fn with_defaults_written(template: &str) -> String {
    let in_place = regex::Regex::new(r"^(\s+)# ([a-z_]+: .*)$").unwrap();
    let mut in_block = false;
    let mut out = String::new();
    for line in template.lines() {
        let written = if in_block && line.starts_with("# ") {
            line[2..].to_string()
        } else {
            in_block = false;
            in_place.replace(line, "$1$2").into_owned()
        };
        if line.starts_with('#') && line.ends_with("(defaults shown):") {
            in_block = true;
        }
        out.push_str(&written);
        out.push('\n');
    }
    out
}

/// What the defaults decide in a loaded canary: the common settings, and each API request's
/// options as the request is sent (an unset byte limit is the fetcher's default).
fn effective_defaults(canary: &Canary) -> serde_json::Value {
    let spec = &canary.spec;
    let requests: Vec<serde_json::Value> = match canary.blueprint.as_str() {
        "api" => {
            let settings = canary.section.parse::<aviary::blueprints::api::Settings>().0.unwrap();
            let limit = |b: Option<aviary::spec::model::ByteSize>| {
                b.map_or(aviary::fetch::DEFAULT_MAX_BODY_BYTES, |b| b.0)
            };
            settings
                .steps
                .iter()
                .map(|s| {
                    let r = &s.request;
                    serde_json::json!([
                        r.follow_redirects,
                        r.verify_tls,
                        limit(r.max_request_bytes),
                        limit(r.max_response_bytes)
                    ])
                })
                .collect()
        }
        _ => Vec::new(),
    };
    serde_json::json!({
        "browser": spec.browser,
        "report": spec.report,
        "screenshots": spec.screenshots,
        "retention": spec.retention,
        "tags": spec.tags,
        "continue_on_step_failure": spec.continue_on_step_failure,
        "requests": requests,
    })
}

#[test]
fn templates_show_the_real_defaults() {
    let timeout = regex::Regex::new(r"\(default (\d+s)\)").unwrap();
    for blueprint in ["heartbeat", "api", "flow", "workflow", "script", "visual"] {
        let template = aviary::blueprints::REGISTRY.find(blueprint).map(Blueprint::template).unwrap();
        let written = with_defaults_written(template);
        assert_ne!(written, format!("{template}\n"), "{blueprint}: no commented defaults found");
        let repo = Repo::new();
        // The flow template names its recording after the canary.
        let recording =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/canaries/flows/sign-in.json"));
        repo.write("canaries/flows/<name>.json", &recording.unwrap());
        // The script template names its script after the canary.
        repo.write("canaries/<name>.py", "def handler(canary):\n    pass\n");
        let load = |text: &str| {
            repo.write("canaries/t.yaml", text);
            let (mut canaries, problems) = repo.load(&[repo.path().join("canaries")]);
            assert_eq!(problems, Vec::<String>::new(), "{blueprint}:\n{text}");
            canaries.remove(0)
        };
        let (as_shipped, with_defaults) = (load(template), load(&written));
        assert_eq!(
            effective_defaults(&with_defaults),
            effective_defaults(&as_shipped),
            "{blueprint}: a commented default differs from the code's"
        );
        // The defaults the comments state in words.
        let stated =
            &timeout.captures(template).unwrap_or_else(|| panic!("{blueprint}: no default timeout"))[1];
        assert_eq!(humantime::parse_duration(stated).unwrap(), aviary::spec::validate::DEFAULT_TIMEOUT);
        let retries =
            format!("# Extra attempts after a failed run (0..{}).", aviary::spec::validate::MAX_RETRIES);
        assert!(template.contains(&retries), "{blueprint}: {retries}");
        let cap = humantime::format_duration(aviary::spec::validate::MAX_RETRY_DELAY).to_string();
        assert!(template.contains(&format!("(at most {cap} a wait")), "{blueprint}: retry_delay cap {cap}");
    }
}

#[test]
fn a_yaml_indentation_error_points_at_the_wrong_line_and_says_what_fits() {
    let repo = Repo::new();
    let cases = [
        (
            "more.yaml",
            "blueprint: heartbeat\nheartbeat:\n  urls: [\"http://${HOST}/\"]\n   expect: {status: \"200\"}\nschedule: once\n",
            "more.yaml:4:4: invalid YAML: bad indentation: `expect` is indented 3 spaces; expected 2 (as `urls` on \
             line 3) or 0 (as `heartbeat` on line 2)",
        ),
        (
            "less.yaml",
            "blueprint: heartbeat\nheartbeat:\n  urls:\n    - \"http://${HOST}/\"\n expect:\n    status: \"200\"\n",
            "less.yaml:5:2: invalid YAML: bad indentation: `expect` is indented 1 space; expected 2 (as `urls` on \
             line 3) or 0 (as `heartbeat` on line 2)",
        ),
        (
            "item.yaml",
            "blueprint: heartbeat\nheartbeat:\n  urls:\n    - \"http://${HOST}/a\"\n  - \"http://${HOST}/b\"\n",
            "item.yaml:5:3: invalid YAML: bad indentation: list item `- \"http://${HOST}/b\"` is indented 2 spaces; \
             expected 4 (as `- \"http://${HOST}/a\"` on line 4)",
        ),
        (
            "step.yaml",
            "blueprint: api\napi:\n  steps:\n    - name: a\n       request: {url: \"http://${HOST}/\"}\n",
            "step.yaml:5:8: invalid YAML: bad indentation: `request` is indented 7 spaces; expected 6 (as `name` on \
             line 4), 2 (as `steps` on line 3) or 0 (as `api` on line 2)",
        ),
        (
            "tab.yaml",
            "blueprint: heartbeat\nheartbeat:\n  urls: [\"http://${HOST}/\"]\n\tfull_page_screenshot: true\n",
            "tab.yaml:4:1: invalid YAML: a tab in the indentation: YAML indents with spaces only",
        ),
        (
            "tab-after-value.yaml",
            "blueprint: heartbeat\nheartbeat:\n  urls: [\"http://${HOST}/\"]\n  full_page_screenshot: true\n\tx: 1\n",
            "tab-after-value.yaml:5:1: invalid YAML: a tab in the indentation: YAML indents with spaces only",
        ),
    ];
    for (name, text, expected) in cases {
        let file = repo.write(&format!("canaries/{name}"), text);
        let (_, problems) = repo.load(&[file]);
        assert_eq!(problems, [format!("canaries/{expected}")], "{name}:\n{text}");
    }
}
