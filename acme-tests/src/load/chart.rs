//! The PNG chart: end-to-end latency percentiles and certificate-ready p99 over time (top),
//! issuances and errors per second over time (bottom), in buckets by completion time.
//!
//! Text needs a font file, read at run time (plotters' `ab_glyph` backend, no fontconfig at
//! build time). Without the file the chart is drawn without any text and the legend is only
//! in the printed report.

use super::flow::{Outcome, Step};
use super::report::percentile;
use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;
use std::time::Duration;

/// Colours of the series, named in the printed legend when the chart has no text.
pub const LEGEND: &str = "chart: top = latency ms over time (blue p50, green p90, red p99 \
end-to-end; black p99 certificate-ready); bottom = per second (blue issuances, red errors)";

/// Reads one figure of a bucket.
type Metric = fn(&Bucket) -> f64;

/// One time bucket of the run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Bucket {
    pub start: f64,
    pub ok: usize,
    pub errors: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub ready_p99_ms: f64,
}

/// Bucket width: whole seconds, at most ~100 buckets over the run.
pub fn bucket_width(wall: Duration) -> f64 {
    (wall.as_secs_f64() / 100.0).ceil().max(1.0)
}

pub fn buckets(outcomes: &[Outcome], wall: Duration) -> Vec<Bucket> {
    let width = bucket_width(wall);
    let n = (wall.as_secs_f64() / width).ceil().max(1.0) as usize;
    let mut lat: Vec<(Vec<Duration>, Vec<Duration>)> = vec![Default::default(); n];
    let mut out: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start: i as f64 * width,
            ..Default::default()
        })
        .collect();
    for o in outcomes {
        let i = ((o.end_offset.as_secs_f64() / width) as usize).min(n - 1);
        match &o.result {
            Ok(_) => {
                out[i].ok += 1;
                lat[i].0.extend(o.step(Step::EndToEnd));
                lat[i].1.extend(o.step(Step::CertificateReady));
            }
            Err(_) => out[i].errors += 1,
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for (b, (mut e2e, mut ready)) in out.iter_mut().zip(lat) {
        e2e.sort();
        ready.sort();
        b.p50_ms = ms(percentile(&e2e, 50.0));
        b.p90_ms = ms(percentile(&e2e, 90.0));
        b.p99_ms = ms(percentile(&e2e, 99.0));
        b.ready_p99_ms = ms(percentile(&ready, 99.0));
    }
    out
}

/// Register the font for text; false (chart without text) when it cannot be read.
pub fn load_font(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    // plotters keeps registered fonts for the life of the process (a `'static` slice);
    // one font per run, so leaking it is the intended use.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
}

fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

pub fn draw(path: &Path, buckets: &[Bucket], width: f64, text: bool, title: &str) -> Result<()> {
    let root = BitMapBackend::new(path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (upper, lower) = root.split_vertically(440);
    let x_max = buckets.len() as f64 * width;
    let series = |f: Metric| -> Vec<(f64, f64)> {
        buckets
            .iter()
            .filter(|b| b.ok > 0)
            .map(|b| (b.start + width / 2.0, f(b)))
            .collect()
    };
    let y_lat = buckets
        .iter()
        .map(|b| b.p99_ms.max(b.ready_p99_ms))
        .fold(1.0, f64::max)
        * 1.1;
    let mut top = ChartBuilder::on(&upper);
    top.margin(15);
    if text {
        top.caption(title, ("sans-serif", 20))
            .x_label_area_size(35)
            .y_label_area_size(60);
    }
    let mut top = top
        .build_cartesian_2d(0f64..x_max, 0f64..y_lat)
        .map_err(err)?;
    let mut mesh = top.configure_mesh();
    if text {
        mesh.x_desc("seconds").y_desc("latency (ms)");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    let lines: [(Metric, RGBColor, &str); 4] = [
        (|b| b.p50_ms, BLUE, "end-to-end p50"),
        (|b| b.p90_ms, GREEN, "end-to-end p90"),
        (|b| b.p99_ms, RED, "end-to-end p99"),
        (|b| b.ready_p99_ms, BLACK, "certificate-ready p99"),
    ];
    for (f, colour, label) in lines {
        let s = top
            .draw_series(LineSeries::new(series(f), colour.stroke_width(2)))
            .map_err(err)?;
        if text {
            s.label(label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        }
    }
    if text {
        top.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    draw_throughput(&lower, buckets, width, text)?;
    root.present().map_err(err)?;
    Ok(())
}

fn draw_throughput(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    buckets: &[Bucket],
    width: f64,
    text: bool,
) -> Result<()> {
    let x_max = buckets.len() as f64 * width;
    let per_s = |n: usize| n as f64 / width;
    let y_max = buckets
        .iter()
        .map(|b| per_s(b.ok.max(b.errors)))
        .fold(1.0, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(area);
    chart.margin(15);
    if text {
        chart.x_label_area_size(35).y_label_area_size(60);
    }
    let mut chart = chart
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    let mut mesh = chart.configure_mesh();
    if text {
        mesh.x_desc("seconds").y_desc("per second");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(err)?;
    let points = |f: fn(&Bucket) -> usize| -> Vec<(f64, f64)> {
        buckets
            .iter()
            .map(|b| (b.start + width / 2.0, per_s(f(b))))
            .collect()
    };
    let s = chart
        .draw_series(LineSeries::new(points(|b| b.ok), BLUE.stroke_width(2)))
        .map_err(err)?;
    if text {
        s.label("issuances/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    }
    let s = chart
        .draw_series(LineSeries::new(points(|b| b.errors), RED.stroke_width(2)))
        .map_err(err)?;
    if text {
        s.label("errors/s")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
    }
    Ok(())
}
