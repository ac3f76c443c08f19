//! The charts emails carry as inline PNG images, built from the same figures as the text
//! around them. Each says in words what it shows (`alt`) and names its lines in a legend the
//! HTML draws, so an email reads fully with images off.

use chrono::NaiveDate;
use serde::Serialize;

use crate::charts::{self, ChartError, LineChart, RULE_HEX, Rule, Series, color_hex};

/// One line of a legend: its colour and what it is.
#[derive(Clone, Debug, Serialize)]
pub struct LegendItem {
    pub color: String,
    pub label: String,
    pub dashed: bool,
}

/// A chart attached to an email as `cid:<cid>`.
#[derive(Clone, Serialize)]
pub struct EmailChart {
    /// The `Content-ID` of the image (without angle brackets).
    pub cid: String,
    /// What the image shows, in words (its `alt` text).
    pub alt: String,
    pub legend: Vec<LegendItem>,
    /// Width and height in pixels.
    pub width: u32,
    pub height: u32,
    #[serde(skip)]
    series: Vec<Series>,
    #[serde(skip)]
    rules: Vec<Rule>,
}

/// The size of an email chart: the width of the email's content column.
const SIZE: (u32, u32) = (552, 220);

impl EmailChart {
    pub fn new(cid: String, alt: String, series: Vec<Series>, rules: Vec<Rule>) -> Self {
        let mut legend: Vec<LegendItem> = series
            .iter()
            .enumerate()
            .map(|(i, s)| LegendItem {
                color: color_hex(i),
                label: s.label.clone(),
                dashed: s.dashed,
            })
            .collect();
        legend.extend(rules.iter().map(|r| LegendItem {
            color: RULE_HEX.to_string(),
            label: r.label.clone(),
            dashed: false,
        }));
        Self {
            cid,
            alt,
            legend,
            width: SIZE.0,
            height: SIZE.1,
            series,
            rules,
        }
    }

    /// The image.
    pub fn png(&self) -> Result<Vec<u8>, ChartError> {
        charts::line_png(&LineChart {
            caption: String::new(),
            series: self.series.clone(),
            rules: self.rules.clone(),
            y_format: &plain,
            size: SIZE,
        })
    }
}

fn plain(y: f64) -> String {
    format!("{y}")
}

/// A line through `(day, value)` points.
pub fn series(label: String, points: Vec<(NaiveDate, i64)>, dashed: bool) -> Series {
    Series {
        label,
        points: points.into_iter().map(|(d, v)| (d, v as f64)).collect(),
        dashed,
    }
}

/// A horizontal line at `y`.
pub fn rule(label: String, y: i64) -> Rule {
    Rule { label, y: y as f64 }
}
