//! `aviary diff A.png B.png`: compares two screenshots as the visual blueprint does.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::visual::{self, Limits, Options, Rect};

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The baseline PNG.
    pub baseline: PathBuf,
    /// The PNG compared with it.
    pub current: PathBuf,
    /// Write the diff picture here (PNG).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Per-pixel perceptual (YIQ) distance under which two pixels are alike, 0..1.
    #[arg(long, default_value_t = visual::DEFAULT_PIXEL_THRESHOLD, value_parser = fraction)]
    pub threshold: f64,
    /// Different when more than this share of the pixels (percent) differs.
    #[arg(long, default_value_t = 1.0, value_parser = percentage)]
    pub threshold_percent: f64,
    /// Different when more than this share of any 64x64 window (percent) differs.
    #[arg(long, default_value_t = 10.0, value_parser = percentage)]
    pub window_threshold: f64,
    /// An area left out, `x,y,width,height` (repeat for more).
    #[arg(long, value_name = "X,Y,W,H", value_parser = Rect::parse)]
    pub ignore: Vec<Rect>,
    /// Colour of differing pixels in the diff picture.
    #[arg(long, default_value = "#fafa00", value_parser = visual::render::parse_color)]
    pub highlight_color: [u8; 3],
    /// Count anti-aliasing pixels as differences.
    #[arg(long)]
    pub include_aa: bool,
    /// Also print a structural-similarity figure (mean SSIM of a scaled-down grey copy).
    #[arg(long)]
    pub ssim: bool,
}

fn fraction(text: &str) -> Result<f64, String> {
    bounded(text, 1.0)
}

fn percentage(text: &str) -> Result<f64, String> {
    bounded(text, 100.0)
}

fn bounded(text: &str, max: f64) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=max).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 0 to {max}, found `{text}`")),
    }
}

/// Exit 0: alike within the thresholds; 1: different; 2: a file could not be read or written.
pub fn diff(args: DiffArgs) -> i32 {
    let (a, b) = rayon::join(|| visual::png::read(&args.baseline), || visual::png::read(&args.current));
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let options = Options {
        pixel_threshold: args.threshold,
        ignore: args.ignore.clone(),
        include_aa: args.include_aa,
        ..Options::default()
    };
    let cmp = visual::compare(&a, &b, &options);
    let written = args.output.as_ref().map(|path| {
        let (drawn, ssim) = rayon::join(
            || visual::render::draw(&a, &b, &cmp, args.highlight_color),
            || args.ssim.then(|| visual::ssim::mean_ssim(&a, &b)).flatten(),
        );
        (visual::png::write(path, &drawn), ssim)
    });
    let ssim = match &written {
        Some((_, ssim)) => *ssim,
        None => args.ssim.then(|| visual::ssim::mean_ssim(&a, &b)).flatten(),
    };
    let limits =
        Limits { threshold_percent: args.threshold_percent, window_threshold_percent: args.window_threshold };
    print_result(&args, &cmp, limits, ssim);
    if let Some((Err(e), _)) = &written {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    if cmp.differences(limits).is_empty() { EXIT_OK } else { EXIT_FAILED }
}

fn print_result(args: &DiffArgs, cmp: &visual::Comparison, limits: Limits, ssim: Option<f64>) {
    match cmp.size_change {
        Some(change) => println!("size:       changed {change} (compared over {}×{})", cmp.width, cmp.height),
        None => println!("size:       {}×{}", cmp.width, cmp.height),
    }
    println!(
        "pixels:     {} differ ({} pixels; threshold {}%)",
        visual::percent(cmp.diff_percent),
        cmp.diff_pixels + cmp.strip_pixels,
        limits.threshold_percent
    );
    match cmp.window {
        Some(at) => println!(
            "window:     {} of the worst {}×{} window, at ({}, {}) (threshold {}%)",
            visual::percent(cmp.window_percent),
            at.width,
            at.height,
            at.x,
            at.y,
            limits.window_threshold_percent
        ),
        None => println!("window:     0% (threshold {}%)", limits.window_threshold_percent),
    }
    if cmp.aa_pixels > 0 {
        println!("antialiasing: {} pixels not counted", cmp.aa_pixels);
    }
    if !cmp.regions.is_empty() {
        let shown: Vec<String> = cmp.regions.iter().take(5).map(|r| r.rect.to_string()).collect();
        let more = cmp.regions.len().saturating_sub(5);
        let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
        println!("regions:    {}{tail}", shown.join(", "));
    }
    if let Some(ssim) = ssim {
        println!("ssim:       {ssim}");
    }
    if let Some(path) = &args.output {
        println!("diff:       {}", path.display());
    }
    let why = cmp.differences(limits);
    if why.is_empty() {
        println!("result:     same (within the thresholds)");
    } else {
        println!("result:     different: {}", why.join("; "));
    }
}
