//! Several `aviary daemon`s on one PostgreSQL: each schedule slot runs once per location, a
//! runner killed mid-run has its slot taken over, and one runner leads (alarms, failover) with
//! another taking over when it dies. Real daemons, a real throwaway cluster, a local HTTP site.

#[path = "support/daemon.rs"]
mod daemon_support;
#[path = "support/postgres.rs"]
mod pg;
mod support;
#[path = "support/webhook.rs"]
mod webhook;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use daemon_support::{Daemon, message};
use support::Project;

/// Every 10 seconds (the shortest rate), a request the site answers after 1.2 s.
fn canary(base: &str) -> String {
    format!(
        "blueprint: api\nschedule: rate(10 seconds)\ntimeout: 4s\napi:\n  steps:\n    - name: slow\n      \
         request: {{url: \"{base}/slow/1200\"}}\n      assert: [status == 200]\n"
    )
}

/// A runner's own checkout of the project (as each machine reads the repository).
fn runner_project(store: &str, base: &str) -> Project {
    let project = Project::new();
    project.file("aviary.yaml", &format!("store: \"{store}\"\nserver: {{listen: \"127.0.0.1:0\"}}\n"));
    project.canary("slow", &canary(base));
    project.canary("only-us", &format!("{}locations: [us]\n", canary(base)));
    project
}

fn start(project: &Project, location: &str) -> Daemon {
    Daemon::start(project.path(), "daemon.log", &["--location", location])
}

fn leads(daemon: &Daemon) -> bool {
    daemon.events().iter().rev().find_map(|e| match message(e) {
        m if m.starts_with("this runner leads") => Some(true),
        m if m.starts_with("another runner leads") => Some(false),
        _ => None,
    }) == Some(true)
}

/// Claims as `(location, slot ms) -> (runner, done, takeovers)`.
fn claims(client: &mut postgres::Client) -> BTreeMap<(String, i64), (String, bool, i64)> {
    client
        .query("SELECT location, slot, runner, done, takeovers FROM slot_claims WHERE canary = 'slow'", &[])
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4))))
        .collect()
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pid_of(runner: &str) -> u32 {
    runner.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap()
}

#[test]
fn slots_run_once_per_location_and_survive_a_killed_runner_and_leader() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let site = support::start_site();
    let base = site.url("");
    let projects: Vec<Project> = (0..3).map(|_| runner_project(&url, &base)).collect();

    // A starts first and leads; B shares location eu with it; C checks from us.
    let mut a = start(&projects[0], "eu");
    a.wait_for("A to lead", Duration::from_secs(20), |e| message(e).starts_with("this runner leads"));
    let mut b = start(&projects[1], "eu");
    let mut c = start(&projects[2], "us");
    let mut client = cluster.client(&url);

    // Once A has run a slot of its own, kill it in the middle of another.
    wait_until("A to run a slot", Duration::from_secs(90), || {
        claims(&mut client).values().any(|(runner, done, _)| pid_of(runner) == a.pid() && *done)
    });
    // B is held back (SIGSTOP) so that A, alone in eu, claims the next slot: which of two
    // runners wins a slot is a race, and A could lose every one for a while.
    b.signal("STOP");
    let mut cut = None;
    wait_until("A to be mid-run", Duration::from_secs(60), || {
        cut = claims(&mut client)
            .into_iter()
            .find(|(_, (runner, done, _))| pid_of(runner) == a.pid() && !done)
            .map(|(slot, _)| slot);
        cut.is_some()
    });
    a.signal("KILL");
    a.wait_exit(Duration::from_secs(10)).unwrap();
    b.signal("CONT");
    let cut = cut.unwrap();

    // Its slot is taken over once the claim's lease (4 s run + 15 s) ends, and run by B.
    let deadline = Instant::now() + Duration::from_secs(45);
    while !claims(&mut client).get(&cut).is_some_and(|(runner, done, _)| *done && pid_of(runner) == b.pid()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the cut slot {cut:?} to be run elsewhere: {:?}\nB's log:\n{}",
            claims(&mut client),
            b.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Another runner leads within 30 s of the leader's death.
    wait_until("a new leader", Duration::from_secs(30), || leads(&b) || leads(&c));
    assert!(!(leads(&b) && leads(&c)), "two leaders");

    for daemon in [&mut b, &mut c] {
        daemon.signal("TERM");
        daemon.wait_exit(Duration::from_secs(30)).expect("the daemon stops");
    }

    let claims = claims(&mut client);
    let (taken_runner, _, takeovers) = &claims[&cut];
    assert_eq!((pid_of(taken_runner), *takeovers), (b.pid(), 1));
    assert!(claims.values().all(|(_, done, _)| *done), "a claimed slot was lost: {claims:?}");
    // One run per claimed slot: none doubled, none lost.
    let runs: i64 = client.query_one("SELECT COUNT(*) FROM runs WHERE canary = 'slow'", &[]).unwrap().get(0);
    assert_eq!(runs, claims.len() as i64, "runs against claimed slots: {claims:?}");
    // Both locations ran, and each location's slots follow the schedule.
    for location in ["eu", "us"] {
        let slots: Vec<i64> = claims.keys().filter(|(l, _)| l == location).map(|(_, s)| *s).collect();
        assert!(slots.len() >= 3, "{location}: {slots:?}");
        let span = (slots[slots.len() - 1] - slots[0]) / 10_000 + 1;
        // A skipped fire (the runner still busy with a taken-over slot) may leave one gap.
        assert!(slots.len() as i64 >= span - 2, "{location}: {} slots over {span}: {slots:?}", slots.len());
        assert!(slots.iter().all(|s| s % 10_000 == slots[0] % 10_000), "slots on one grid: {slots:?}");
    }
    // Runners of one location shared its slots.
    let eu_runners: std::collections::HashSet<u32> =
        claims.iter().filter(|((l, _), _)| l == "eu").map(|(_, (r, _, _))| pid_of(r)).collect();
    assert_eq!(eu_runners.len(), 2, "{eu_runners:?}");
    // A canary for one location runs there only.
    let only_us: Vec<String> = client
        .query("SELECT DISTINCT location FROM slot_claims WHERE canary = 'only-us'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(only_us, ["us"]);
    let located: Vec<Option<String>> = client
        .query("SELECT DISTINCT location FROM runs WHERE canary = 'only-us'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(located, [Some("us".to_string())], "runs carry their location");
}

/// The same canary in two locations: it fails where `TARGET` leads to a 500. A quorum of two
/// locations is never met, a quorum of one is, and the plain alarm (every location's datapoints
/// together) sees the average.
#[test]
fn a_quorum_alarm_needs_enough_failing_locations_and_each_transition_is_notified_once() {
    let Some(cluster) = pg::cluster() else { return };
    let url = cluster.database();
    let site = support::start_site();
    let receiver = webhook::Webhook::start();
    let hook = receiver.url();
    let alarm = |name: &str, quorum: &str| {
        format!(
            "  - {{name: {name}, metric: SuccessPercent, period: 20s, evaluation_periods: 1, comparison: \"<\", \
             threshold: 90, treat_missing_data: ignore, actions: {{alarm: [ops], ok: [ops]}}{quorum}}}\n"
        )
    };
    let canary = format!(
        "blueprint: api\nschedule: rate(10 seconds)\ntimeout: 5s\napi:\n  steps:\n    - name: get\n      \
         request: {{url: \"${{secret:TARGET}}\"}}\n      assert: [status == 200]\nalarms:\n{}{}{}",
        alarm("two-locations-down", ", locations: {min_failing: 2}"),
        alarm("one-location-down", ", locations: {min_failing: 1}"),
        alarm("mixed-down", ""),
    );
    let start = |location: &str, target: &str| {
        let project = Project::new();
        project.file(
            "aviary.yaml",
            &format!(
                "store: \"{url}\"\nserver: {{listen: \"127.0.0.1:0\"}}\nchannels:\n  ops: {{type: webhook, url: \"{hook}\"}}\n"
            ),
        );
        // eu's checkout of the file differs by a comment: the runners notice.
        let text = if location == "eu" { format!("# an older checkout\n{canary}") } else { canary.clone() };
        project.canary("flaky", &text);
        let daemon =
            Daemon::start_env(project.path(), "daemon.log", &["--location", location], &[("TARGET", target)]);
        (project, daemon)
    };
    let (_eu_project, mut eu) = start("eu", &site.url("/status/500"));
    eu.wait_for("eu to lead", Duration::from_secs(20), |e| message(e).starts_with("this runner leads"));
    let (_us_project, mut us) = start("us", &site.url("/about"));
    let drift = us.wait_for("the versions to be compared", Duration::from_secs(30), |e| {
        message(e) == "runners run different versions of this canary file"
    });
    assert_eq!(daemon_support::field(&drift, "canary"), "flaky");
    let (status, page) = daemon_support::http(&daemon_support::listen_addr(&us), "GET", "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("Canaries that differ between runners"), "{page}");

    let mut client = cluster.client(&url);
    let state = |client: &mut postgres::Client, alarm: &str| -> Option<String> {
        client
            .query_opt("SELECT state FROM alarm_states WHERE alarm = $1", &[&alarm])
            .unwrap()
            .map(|r| r.get(0))
    };
    wait_until("the alarms to decide", Duration::from_secs(90), || {
        ["two-locations-down", "one-location-down", "mixed-down"]
            .iter()
            .all(|a| state(&mut client, a).is_some())
    });
    // Both locations' datapoints are in by the next period.
    std::thread::sleep(Duration::from_secs(25));
    assert_eq!(state(&mut client, "one-location-down").as_deref(), Some("ALARM"));
    assert_eq!(
        state(&mut client, "mixed-down").as_deref(),
        Some("ALARM"),
        "the average of 0 and 100 is under 90"
    );
    assert_eq!(state(&mut client, "two-locations-down").as_deref(), Some("OK"));
    let reason: String = client
        .query_one("SELECT reason FROM alarm_states WHERE alarm = 'two-locations-down'", &[])
        .unwrap()
        .get(0);
    assert!(reason.contains("1 of 2 locations breaching (eu), fewer than the 2 needed"), "{reason}");

    // Each daemon's series carry its location.
    let (status, metrics) = daemon_support::http(&daemon_support::listen_addr(&us), "GET", "/metrics", None);
    assert_eq!(status, 200);
    assert!(metrics.contains("aviary_success_percent{location=\"us\",canary=\"flaky\"} 100"), "{metrics}");

    // Only the leader notified: each recorded transition once.
    for daemon in [&mut eu, &mut us] {
        daemon.signal("TERM");
        daemon.wait_exit(Duration::from_secs(40)).expect("the daemon stops");
    }
    let mut recorded: Vec<(String, String, String)> = client
        .query("SELECT alarm, old_state, new_state FROM alarm_history", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut notified: Vec<(String, String, String)> = receiver
        .json_bodies()
        .iter()
        .map(|b| (text(&b["alarm"]), text(&b["old_state"]), text(&b["new_state"])))
        .collect();
    recorded.sort();
    notified.sort();
    assert!(!recorded.is_empty());
    assert_eq!(notified, recorded);
}
