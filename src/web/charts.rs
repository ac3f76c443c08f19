//! Charts drawn on the server as SVG with plotters: line charts of daily or monthly figures,
//! with optional horizontal reference lines (a goal, a tier threshold). The markup carries no
//! script and no style attribute, so it sits inside a page under a strict
//! `Content-Security-Policy`.

use chrono::NaiveDate;
use plotters::prelude::*;

/// Colours of successive series, distinguishable in print and for common colour blindness.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
];

/// One line: a label and its points, oldest first.
pub struct Series {
    pub label: String,
    pub points: Vec<(NaiveDate, f64)>,
}

/// A horizontal line across the chart, labelled (a goal or a threshold).
pub struct Rule {
    pub label: String,
    pub y: f64,
}

/// A line chart over days; `y_format` writes the y axis' labels.
pub struct LineChart<'a> {
    pub caption: String,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
    pub y_format: &'a dyn Fn(f64) -> String,
    pub size: (u32, u32),
}

/// What went wrong drawing (only a backend write can fail, which a `String` never does).
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart failed: {0}")]
pub struct ChartError(String);

fn err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError(format!("{e:?}"))
}

/// Draws `chart` as an SVG document. With no points at all it draws empty axes over one day.
pub fn line_chart(chart: &LineChart) -> Result<String, ChartError> {
    let days = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
    };
    let first = days().min();
    let last = days().max();
    let (first, last) = match (first, last) {
        (Some(f), Some(l)) => (f, l),
        _ => {
            let today = chrono::Utc::now().date_naive();
            (today, today)
        }
    };
    let span = (last - first).num_days().max(1) as i32;
    let ys = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(chart.rules.iter().map(|r| r.y));
    let top = ys.fold(0f64, f64::max);
    let top = if top <= 0.0 { 1.0 } else { top * 1.08 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, chart.size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut c = ChartBuilder::on(&root)
            .caption(&chart.caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(72)
            .build_cartesian_2d(0..span, 0f64..top)
            .map_err(err)?;
        // Days over a quarter or less, months beyond.
        let pattern = if span > 92 { "%Y-%m" } else { "%m-%d" };
        let day_label = |x: &i32| {
            (first + chrono::Duration::days(i64::from(*x)))
                .format(pattern)
                .to_string()
        };
        let y_label = |y: &f64| (chart.y_format)(*y);
        c.configure_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&day_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        let x = |d: NaiveDate| (d - first).num_days() as i32;
        for (i, s) in chart.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            c.draw_series(LineSeries::new(
                s.points.iter().map(|(d, y)| (x(*d), *y)),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        for r in &chart.rules {
            let grey = RGBColor(120, 120, 120);
            c.draw_series(LineSeries::new(
                [(0, r.y), (span, r.y)],
                grey.stroke_width(1),
            ))
            .map_err(err)?
            .label(r.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
        }
        if !chart.series.is_empty() || !chart.rules.is_empty() {
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn draws_each_series_and_rule_with_its_label_and_escapes_text() {
        let svg = line_chart(&LineChart {
            caption: "达标商家 <script>".into(),
            series: vec![
                Series {
                    label: "亿元商家".into(),
                    points: vec![(d("2026-01-01"), 1.0), (d("2026-01-31"), 40.0)],
                },
                Series {
                    label: "projected".into(),
                    points: vec![(d("2026-01-01"), 5.0), (d("2026-01-31"), 60.0)],
                },
            ],
            rules: vec![Rule {
                label: "goal 1000".into(),
                y: 1000.0,
            }],
            y_format: &|y| format!("{y:.0}"),
            size: (640, 320),
        })
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        for text in ["亿元商家", "projected", "goal 1000", "01-01"] {
            assert!(svg.contains(text), "{text} is drawn");
        }
        assert!(!svg.contains("<script"), "text is escaped");
        assert!(!svg.contains("style="), "no style attributes (CSP)");
        for colour in ["#0072B2", "#D55E00", "#787878"] {
            let strokes = svg.matches(&format!("stroke=\"{colour}\"")).count();
            assert_eq!(strokes, 2, "{colour}: its line and its legend mark");
        }
    }

    #[test]
    fn an_empty_chart_still_draws_axes() {
        let svg = line_chart(&LineChart {
            caption: "empty".into(),
            series: vec![],
            rules: vec![],
            y_format: &|y| format!("{y}"),
            size: (320, 200),
        })
        .unwrap();
        assert!(svg.contains("empty"));
    }
}
