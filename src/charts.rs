//! Charts drawn on the server with plotters: line charts of daily or monthly figures, with
//! horizontal reference lines (a goal, a tier threshold).
//!
//! - [`line_chart`] draws SVG for the dashboard. The markup carries no script and no style
//!   attribute, so it sits inside a page under a strict `Content-Security-Policy`.
//! - [`line_png`] draws the same chart as a PNG for email, where SVG is not shown. It draws no
//!   text (the server needs no fonts): the email's HTML around it names the lines in the
//!   reader's language, with swatches of [`color_hex`], and says what the image shows in its
//!   `alt`.

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

/// One line: a label and its points, oldest first; a projection is drawn dashed.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(NaiveDate, f64)>,
    pub dashed: bool,
}

/// The colour of the `i`-th series, as `#rrggbb` (for a legend drawn in HTML).
pub fn color_hex(i: usize) -> String {
    let c = PALETTE[i % PALETTE.len()];
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// The colour of reference lines, as `#rrggbb`.
pub const RULE_HEX: &str = "#787878";
const RULE: RGBColor = RGBColor(120, 120, 120);

/// A horizontal line across the chart, labelled (a goal or a threshold).
#[derive(Clone, Debug)]
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
    let mut svg = String::new();
    plot(
        SVGBackend::with_string(&mut svg, chart.size).into_drawing_area(),
        chart,
        true,
    )?;
    Ok(svg)
}

/// Draws `chart` as a PNG: the lines, the reference lines and the axes, no text.
pub fn line_png(chart: &LineChart) -> Result<Vec<u8>, ChartError> {
    let (w, h) = chart.size;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    plot(
        BitMapBackend::with_buffer(&mut rgb, chart.size).into_drawing_area(),
        chart,
        false,
    )?;
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(&rgb).map_err(err)?;
    }
    Ok(out)
}

/// Draws on any plotters backend; `text` adds the caption, axis labels and legend.
fn plot<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    chart: &LineChart,
    text: bool,
) -> Result<(), ChartError> {
    let days = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
    };
    let (first, last) = match (days().min(), days().max()) {
        (Some(f), Some(l)) => (f, l),
        _ => {
            let today = chrono::Utc::now().date_naive();
            (today, today)
        }
    };
    let span = (last - first).num_days().max(1) as i32;
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(chart.rules.iter().map(|r| r.y))
        .fold(0f64, f64::max);
    let top = if top <= 0.0 { 1.0 } else { top * 1.08 };
    root.fill(&WHITE).map_err(err)?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(12);
    if text {
        builder
            .caption(&chart.caption, ("sans-serif", 16))
            .x_label_area_size(28)
            .y_label_area_size(72);
    }
    let mut c = builder
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
    let mut mesh = c.configure_mesh();
    // Fine grid lines help a reader of the SVG find a value under its label; without text
    // (PNG) they are only noise.
    let light = if text { RGBColor(235, 235, 235) } else { WHITE };
    mesh.light_line_style(light)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_labels(8)
        .y_labels(6);
    if text {
        mesh.x_label_formatter(&day_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 12));
    } else {
        mesh.x_label_formatter(&|_| String::new())
            .y_label_formatter(&|_| String::new());
    }
    mesh.draw().map_err(err)?;
    let x = |d: NaiveDate| (d - first).num_days() as i32;
    for (i, s) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points = s.points.iter().map(|(d, y)| (x(*d), *y));
        let drawn = if s.dashed {
            c.draw_series(DashedLineSeries::new(points, 6, 4, color.stroke_width(2)))
        } else {
            c.draw_series(LineSeries::new(points, color.stroke_width(2)))
        };
        drawn
            .map_err(err)?
            .label(s.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    for r in &chart.rules {
        c.draw_series(LineSeries::new(
            [(0, r.y), (span, r.y)],
            RULE.stroke_width(1),
        ))
        .map_err(err)?
        .label(r.label.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RULE));
    }
    if text && (!chart.series.is_empty() || !chart.rules.is_empty()) {
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
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
                    dashed: false,
                    points: vec![(d("2026-01-01"), 1.0), (d("2026-01-31"), 40.0)],
                },
                Series {
                    label: "projected".into(),
                    dashed: true,
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
        let strokes = |colour: &str| svg.matches(&format!("stroke=\"{colour}\"")).count();
        assert_eq!(strokes("#0072B2"), 2, "a solid line and its legend mark");
        assert_eq!(strokes("#787878"), 2, "the rule and its legend mark");
        assert!(strokes("#D55E00") > 4, "the projection is dashed");
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

    #[test]
    fn a_png_has_the_size_asked_for_and_draws_the_lines_in_their_colours() {
        let chart = LineChart {
            caption: "亿元商家".into(),
            series: vec![Series {
                label: "GMV".into(),
                points: vec![(d("2026-01-01"), 0.0), (d("2026-06-30"), 80.0)],
                dashed: false,
            }],
            rules: vec![Rule {
                label: "tier".into(),
                y: 100.0,
            }],
            y_format: &|y| format!("{y}"),
            size: (600, 240),
        };
        let png = line_png(&chart).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (600, 240));
        let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
            .chunks(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        let count = |c: [u8; 3]| pixels.iter().filter(|p| **p == c).count();
        assert!(
            count([0, 114, 178]) > 100,
            "the series is drawn in its colour"
        );
        assert!(count([120, 120, 120]) > 100, "the rule is drawn");
        assert!(count([255, 255, 255]) > 600 * 240 / 2, "on white");
        assert_eq!(color_hex(0), "#0072b2");
    }
}
