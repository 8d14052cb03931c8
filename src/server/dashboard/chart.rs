//! Charts as inline SVG: a success bar (one cell per time bucket), a sparkline, and a line chart
//! with axes. Drawn on the server, so they need no script; colours come from the stylesheet.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::format::{duration_ms, timestamp};

/// One bucket of a success bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Runs that passed.
    pub passed: u32,
    /// Every run.
    pub runs: u32,
}

/// A row of cells, oldest first: green when every run passed, red when none did, amber between,
/// grey with no run. Each cell says its figures on hover.
pub fn success_bar(cells: &[Cell], label: &str) -> Markup {
    let width = cells.len().max(1) * 6;
    html! {
        svg.bar viewBox={ "0 0 " (width) " 16" } width=(width) height="16" role="img" aria-label=(label) {
            @for (i, cell) in cells.iter().enumerate() {
                rect x=(i * 6) y="0" width="5" height="16" class=(cell_class(cell)) {
                    title { (timestamp(cell.start)) ": " (cell_text(cell)) }
                }
            }
        }
    }
}

fn cell_class(cell: &Cell) -> &'static str {
    match (cell.passed, cell.runs) {
        (_, 0) => "c-none",
        (p, r) if p == r => "c-good",
        (0, _) => "c-bad",
        _ => "c-mixed",
    }
}

fn cell_text(cell: &Cell) -> String {
    match cell.runs {
        0 => "no runs".to_string(),
        runs => format!("{} of {runs} passed", cell.passed),
    }
}

/// A small line of values (gaps where a value is missing), scaled to its own range.
pub fn sparkline(values: &[Option<f64>], label: &str) -> Markup {
    let (width, height) = (96.0, 20.0);
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let max = present.iter().copied().fold(0.0_f64, f64::max);
    // Points stay 2 px inside the box, so a dot at either end is drawn whole.
    let step = if values.len() > 1 { (width - 4.0) / (values.len() - 1) as f64 } else { 0.0 };
    let y = |v: f64| if max > 0.0 { height - 1.0 - (v / max) * (height - 2.0) } else { height - 1.0 };
    let lines =
        runs_of_points(values.iter().enumerate().map(|(i, v)| v.map(|v| (2.0 + i as f64 * step, y(v)))));
    html! {
        svg.spark viewBox="0 0 96 20" width="96" height="20" role="img" aria-label=(label) {
            @for points in &lines {
                @if let Some((x, y)) = points.split_once(',').filter(|_| !points.contains(' ')) {
                    circle cx=(x) cy=(y) r="1.5" {}
                } @else {
                    polyline points=(points) {}
                }
            }
            @if let Some(last) = present.last() {
                title { (label) ": latest " (duration_ms(*last)) ", highest " (duration_ms(max)) }
            }
        }
    }
}

/// `x,y x,y ...` strings, one per unbroken run of points.
fn runs_of_points(points: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for point in points {
        match point {
            Some((x, y)) => {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(&format!("{x:.1},{y:.1}"));
            }
            None if !current.is_empty() => lines.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend.
    pub name: String,
    /// `(time, value)`, oldest first.
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// How a chart's values are written on its axis.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// 0–100 %, fixed scale.
    Percent,
    /// Milliseconds, scaled to the largest value.
    Milliseconds,
}

const PLOT_LEFT: f64 = 88.0;
const PLOT_TOP: f64 = 8.0;
const PLOT_WIDTH: f64 = 700.0;
const PLOT_HEIGHT: f64 = 160.0;

/// A line chart over `[since, until)` with a y axis of four gridlines, and a legend when there
/// are several series. Points further apart than `gap` are not joined.
pub fn line_chart(
    title: &str,
    series: &[Series],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    gap: chrono::Duration,
    unit: Unit,
) -> Markup {
    let span = (until - since).num_milliseconds().max(1) as f64;
    let max = match unit {
        Unit::Percent => 100.0,
        Unit::Milliseconds => {
            nice_ceiling(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max))
        }
    };
    let x = |t: DateTime<Utc>| PLOT_LEFT + (t - since).num_milliseconds() as f64 / span * PLOT_WIDTH;
    let y = |v: f64| PLOT_TOP + PLOT_HEIGHT - (v.clamp(0.0, max) / max) * PLOT_HEIGHT;
    let label = |v: f64| match unit {
        Unit::Percent => format!("{v:.0}%"),
        Unit::Milliseconds => duration_ms(v),
    };
    let empty = series.iter().all(|s| s.points.is_empty());
    html! {
        figure.chart {
            figcaption { (title) }
            @if empty {
                p.muted { "No runs in this range." }
            } @else {
                svg viewBox="0 0 800 200" role="img" aria-label=(title) {
                    @for i in 0..=4 {
                        @let value = max * f64::from(i) / 4.0;
                        line.grid x1=(PLOT_LEFT) x2=(PLOT_LEFT + PLOT_WIDTH) y1=(y(value)) y2=(y(value)) {}
                        text.axis x=(PLOT_LEFT - 6.0) y=(y(value) + 4.0) text-anchor="end" { (label(value)) }
                    }
                    text.axis x=(PLOT_LEFT) y="196" { (timestamp(since)) }
                    text.axis x=(PLOT_LEFT + PLOT_WIDTH) y="196" text-anchor="end" { (timestamp(until)) }
                    @for (n, s) in series.iter().enumerate() {
                        @let lines = joined(&s.points, gap).into_iter().map(|run| {
                            run.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect::<Vec<_>>().join(" ")
                        }).collect::<Vec<_>>();
                        g class={ "s" (n % 8) } {
                            title { (s.name) }
                            @for points in &lines {
                                polyline points=(points) {}
                            }
                            @for (t, v) in &s.points {
                                circle cx=(format!("{:.1}", x(*t))) cy=(format!("{:.1}", y(*v))) r="2" {
                                    title { (s.name) " · " (timestamp(*t)) ": " (label(*v)) }
                                }
                            }
                        }
                    }
                }
                @if series.len() > 1 {
                    ul.legend {
                        @for (n, s) in series.iter().enumerate() {
                            li { span class={ "key s" (n % 8) } {} (s.name) }
                        }
                    }
                }
            }
        }
    }
}

/// Splits points into runs whose neighbours are at most `gap` apart.
fn joined(points: &[(DateTime<Utc>, f64)], gap: chrono::Duration) -> Vec<&[(DateTime<Utc>, f64)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].0 - points[i - 1].0 > gap {
            runs.push(&points[start..i]);
            start = i;
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (at least 1).
fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|c| *c >= value).unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert_eq!(nice_ceiling(1800.0), 2000.0);
        assert_eq!(nice_ceiling(2100.0), 2500.0);
        assert_eq!(nice_ceiling(4000.0), 5000.0);
    }

    #[test]
    fn sparkline_gaps_split_the_line() {
        let lines = runs_of_points([Some((0.0, 1.0)), Some((1.0, 2.0)), None, Some((3.0, 1.0))].into_iter());
        assert_eq!(lines, vec!["0.0,1.0 1.0,2.0".to_string(), "3.0,1.0".to_string()]);
    }

    #[test]
    fn a_bar_cell_per_bucket_says_its_figures() {
        let at = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z").unwrap().with_timezone(&Utc);
        let cells = [
            Cell { start: at, passed: 3, runs: 3 },
            Cell { start: at, passed: 1, runs: 3 },
            Cell { start: at, passed: 0, runs: 2 },
            Cell { start: at, passed: 0, runs: 0 },
        ];
        let svg = success_bar(&cells, "last 24 hours").into_string();
        for (class, text) in [
            ("c-good", "3 of 3 passed"),
            ("c-mixed", "1 of 3 passed"),
            ("c-bad", "0 of 2 passed"),
            ("c-none", "no runs"),
        ] {
            assert!(svg.contains(class) && svg.contains(text), "{class} {text}\n{svg}");
        }
    }
}
