//! The compare step: the baseline chosen (or made), the diff, `visual/baseline.png`,
//! `current.png`, `diff.png` and `shot.json` in the run folder, the step's figures and the
//! run's `VisualMonitoringSuccessPercent`.

use std::sync::Arc;

use image::RgbaImage;
use serde_json::{Map, Value, json};

use super::baseline::{self, BaselineError, Folder, RunShot, ShotInfo, Version};
use super::shot::Shot;
use super::{BaselineChoice, Visual};
use crate::step::{RunContext, StepError, StepOutcome};
use crate::visual::{self, Comparison, Limits, Options};

/// The baseline a run compares against, or the one it just made.
enum Baseline {
    /// Compare with this version.
    Existing { version: Version, png: Vec<u8>, image: RgbaImage },
    /// This run made it: nothing to compare.
    Made { version: Version, replaced: Option<Version> },
}

fn error(e: BaselineError) -> StepError {
    StepError::Error(e.to_string())
}

/// Writes the run's shot, decides the baseline, compares and reports.
pub async fn compare(ctx: &mut RunContext, visual: &Visual, shot: Shot) -> Result<StepOutcome, StepError> {
    let info = ShotInfo {
        viewport: visual.viewport_key(),
        name: visual.settings.name.clone(),
        url: shot.url.clone(),
        width: shot.image.width(),
        height: shot.image.height(),
        selector_boxes: shot.selector_boxes.clone(),
    };
    let dir = baseline::RUN_DIR;
    write(ctx, &format!("{dir}/{}", baseline::CURRENT_PNG), &shot.png)?;
    write(
        ctx,
        &format!("{dir}/{}", baseline::SHOT_JSON),
        &serde_json::to_vec_pretty(&info).unwrap_or_default(),
    )?;
    let this_run = RunShot { run_id: ctx.run_id.clone(), info, png: shot.png };

    let services = ctx.services.clone();
    let folder =
        Folder::new(&services.baselines_root, &ctx.canary.name, &this_run.info.viewport, &this_run.info.name);
    let canary = ctx.canary.name.clone();
    let setting = visual.setting();
    let choice = visual.choice.clone();
    let update = services.update_baselines;
    let decided = tokio::task::spawn_blocking(move || {
        decide(&folder, &services, &canary, &this_run, &choice, setting, update)
            .map(|b| (b, folder, this_run))
    })
    .await
    .map_err(|e| StepError::Error(format!("choosing the baseline: {e}")))?;
    let (baseline, folder, this_run) = decided.map_err(error)?;

    let (version, compared) = match baseline {
        Baseline::Made { version, replaced } => {
            let how = match &replaced {
                Some(old) => format!("replaces v{} ({})", old.id, version.source),
                None => format!("no baseline yet ({})", version.source),
            };
            ctx.log(format!(
                "this run's screenshot is baseline v{} of {}: {how}",
                version.id,
                folder.dir().display()
            ));
            write(ctx, &format!("{dir}/baseline.png"), &this_run.png)?;
            (version, None)
        }
        Baseline::Existing { version, png, image } => {
            write(ctx, &format!("{dir}/baseline.png"), &png)?;
            let mut ignore: Vec<visual::Rect> =
                visual.settings.ignore.iter().filter_map(super::IgnoreArea::rect).collect();
            ignore.extend(version.selector_boxes.iter().copied());
            ignore.extend(shot.selector_boxes.iter().copied());
            let options =
                Options { pixel_threshold: visual.settings.pixel_threshold, ignore, ..Options::default() };
            let current = Arc::new(shot.image);
            let highlight = visual.highlight;
            let (cmp, diff_png, ssim) = tokio::task::spawn_blocking(move || {
                let cmp = visual::compare(&image, &current, &options);
                let ssim = visual::ssim::mean_ssim(&image, &current);
                let drawn = visual::render::draw(&image, &current, &cmp, highlight);
                (cmp, visual::png::encode(&drawn), ssim)
            })
            .await
            .map_err(|e| StepError::Error(format!("comparing the screenshots: {e}")))?;
            let diff_png =
                diff_png.map_err(|e| StepError::Error(format!("encoding visual/diff.png: {e}")))?;
            write(ctx, &format!("{dir}/diff.png"), &diff_png)?;
            (version, Some((cmp, ssim)))
        }
    };

    let mut details = Map::new();
    details.insert(
        "baseline".into(),
        json!({
            "id": version.id,
            "source_run": version.source_run,
            "source": version.source,
            "created": version.created,
            "folder": format!("{}/{}/{}", ctx.canary.name, visual.viewport_key(), visual.settings.name),
            "made_by_this_run": compared.is_none(),
        }),
    );
    let limits = Limits {
        threshold_percent: visual.settings.threshold_percent,
        window_threshold_percent: visual.settings.window_threshold_percent,
    };
    let Some((cmp, ssim)) = compared else {
        ctx.details.insert("visual_success_percent".into(), json!(100.0));
        details.insert("diff_percent".into(), json!(0.0));
        ctx.add_step_details(details);
        return Ok(StepOutcome::default());
    };
    details.extend(figures(&cmp, ssim, limits, visual.settings.pixel_threshold));
    ctx.details.insert("visual_success_percent".into(), json!(cmp.success_percent()));
    ctx.add_step_details(details);
    let why = cmp.differences(limits);
    if why.is_empty() {
        return Ok(StepOutcome::default());
    }
    let reason = format!("{} (baseline v{}; see visual/diff.png)", why.join("; "), version.id);
    if update_run(ctx) {
        ctx.log(format!("visual difference from the replaced baseline: {reason}"));
        return Ok(StepOutcome::default());
    }
    if !visual.settings.fail_on_variance {
        ctx.log(format!("visual variance, not failing the run (fail_on_variance: false): {reason}"));
        return Ok(StepOutcome::default());
    }
    Err(StepError::Failed(reason))
}

fn update_run(ctx: &RunContext) -> bool {
    ctx.services.update_baselines
}

/// The step's figures of a comparison.
fn figures(cmp: &Comparison, ssim: Option<f64>, limits: Limits, pixel_threshold: f64) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("diff_percent".into(), json!(visual::round3(cmp.diff_percent)));
    d.insert("window_percent".into(), json!(visual::round3(cmp.window_percent)));
    d.insert("window".into(), json!(cmp.window));
    d.insert("diff_pixels".into(), json!(cmp.diff_pixels + cmp.strip_pixels));
    d.insert("antialiased_pixels".into(), json!(cmp.aa_pixels));
    d.insert("ignored_pixels".into(), json!(cmp.ignored_pixels));
    d.insert("regions".into(), json!(cmp.regions));
    d.insert(
        "size_change".into(),
        json!(cmp.size_change.map(|c| json!({"from": c.from, "to": c.to, "text": c.to_string()}))),
    );
    d.insert("ssim".into(), json!(ssim));
    d.insert(
        "thresholds".into(),
        json!({
            "threshold_percent": limits.threshold_percent,
            "window_threshold_percent": limits.window_threshold_percent,
            "pixel_threshold": pixel_threshold,
            "window": visual::DEFAULT_WINDOW,
        }),
    );
    d
}

/// Which baseline this run compares against; makes one from this run or another when the
/// choice asks for it.
fn decide(
    folder: &Folder,
    services: &crate::step::Services,
    canary: &str,
    this_run: &RunShot,
    choice: &BaselineChoice,
    setting: String,
    update: bool,
) -> Result<Baseline, BaselineError> {
    // A damaged baseline is an error of the run, except when this run replaces it anyway.
    let current = match folder.current() {
        Err(_) if update => None,
        other => other?,
    };
    if update {
        let version = folder.add(&this_run.png, this_run.version("--update-baselines", Some(setting)))?;
        return Ok(Baseline::Made { version, replaced: current });
    }
    let settings_changed =
        current.as_ref().is_some_and(|c| c.setting.as_ref().is_some_and(|s| *s != setting));
    let remake = match (&current, choice) {
        (None, _) => true,
        (Some(_), BaselineChoice::FirstRun) => false,
        (Some(_), _) => settings_changed,
    };
    if !remake {
        let mut version = current.expect("a current baseline when it is not remade");
        if version.setting.is_none() {
            // Approved without an earlier baseline: this run's settings are the ones it is for.
            version.setting = Some(setting);
            folder.set_current(&version)?;
        }
        let png = folder.png(&version)?;
        let image = folder.image(&version, &png)?;
        return Ok(Baseline::Existing { version, png, image });
    }
    let (viewport, name) = (this_run.info.viewport.as_str(), this_run.info.name.as_str());
    let from_store = |run: Option<&str>| {
        baseline::run_shot(
            services.store.as_ref(),
            &services.artifacts_root,
            canary,
            run,
            Some((viewport, name)),
        )
    };
    let (shot, source) = match choice {
        BaselineChoice::FirstRun => (None, "first run".to_string()),
        BaselineChoice::NextRun => (None, "next_run".to_string()),
        BaselineChoice::LastRun => match from_store(None) {
            Ok(shot) => (Some(shot), "last_run".to_string()),
            Err(BaselineError::NoRun(_)) => (None, "last_run (no earlier run: this one)".to_string()),
            Err(e) => return Err(e),
        },
        BaselineChoice::Run(id) => (Some(from_store(Some(id))?), format!("baseline: {id}")),
    };
    let shot = shot.as_ref().unwrap_or(this_run);
    let version = folder.add(&shot.png, shot.version(&source, Some(setting)))?;
    if shot.run_id == this_run.run_id {
        return Ok(Baseline::Made { version, replaced: current });
    }
    let png = shot.png.clone();
    let image = folder.image(&version, &png)?;
    Ok(Baseline::Existing { version, png, image })
}

fn write(ctx: &RunContext, file: &str, bytes: &[u8]) -> Result<(), StepError> {
    if let Some(parent) = ctx.dir.join(file).parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| StepError::Error(format!("could not create {}: {e}", parent.display())))?;
    }
    ctx.write_artifact(file, bytes).map_err(|e| StepError::Error(e.to_string()))
}
