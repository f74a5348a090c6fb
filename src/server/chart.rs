//! Line and bar charts of query results as SVG, drawn by plotters on the
//! server so the page needs no charting script and no CDN.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::error::AppError;
use super::number_format::NumberFormat;

/// The ten colours of matplotlib's `tab10`: up to 8 series, `null` and
/// "other" each get their own.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const SIZE: (u32, u32) = (760, 360);

/// What a chart draws: categories along x and, for each series, one value
/// per category.
#[derive(Debug, Clone)]
pub(crate) struct Plot {
    pub(crate) title: String,
    /// The x axis's name.
    pub(crate) x_name: String,
    /// Each category's label.
    pub(crate) labels: Vec<String>,
    /// Where each category sits on a numeric x axis; `None` spaces them
    /// evenly (also when one category is null: it has no place on a
    /// number line).
    pub(crate) positions: Option<Vec<f64>>,
    /// Each series' name and its value at each category.
    pub(crate) series: Vec<(String, Vec<Option<f64>>)>,
    /// How the y axis writes values: the measure's declared format, else
    /// compactly (1.2k, 3.4M).
    pub(crate) y_format: Option<NumberFormat>,
}

impl Plot {
    fn y_label(&self, v: f64) -> String {
        match &self.y_format {
            Some(format) => format.write(v),
            None => compact(v),
        }
    }
}

impl Plot {
    /// How many points (or bars) the chart draws.
    pub(crate) fn points(&self) -> usize {
        self.labels.len().saturating_mul(self.series.len().max(1))
    }

    fn xs(&self) -> Vec<f64> {
        match &self.positions {
            Some(p) => p.clone(),
            None => (0..self.labels.len()).map(|i| i as f64).collect(),
        }
    }

    /// The range of y, zero included, refused when its span is beyond f64.
    fn y_range(&self) -> Result<(f64, f64), AppError> {
        // An answer without rows is an empty chart, not an error.
        if self.series.is_empty() && self.labels.is_empty() {
            return Ok((0.0, 1.0));
        }
        if self.series.is_empty() {
            return Err(AppError::BadRequest(
                "a chart needs a numeric column after the first".to_owned(),
            ));
        }
        let range = bounds(
            self.series
                .iter()
                .flat_map(|(_, v)| v.iter().flatten().copied())
                .chain([0.0]),
        );
        finite(range)
    }
}

/// An axis whose span is not a finite number has no tick marks to compute
/// (plotters would loop forever looking for them).
fn finite((lo, hi): (f64, f64)) -> Result<(f64, f64), AppError> {
    if (hi - lo).is_finite() {
        Ok((lo, hi))
    } else {
        Err(AppError::OverLimit(
            "the values are too far apart to chart (their span is beyond f64); \
             ask /api/query for the numbers"
                .to_owned(),
        ))
    }
}

fn internal(e: &dyn std::fmt::Display) -> AppError {
    AppError::Internal(format!("chart: {e}"))
}

/// The label of the category at `v` on an evenly spaced axis (none
/// between categories).
fn category(labels: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels.get(i as usize).cloned().unwrap_or_default()
}

/// One line per series, the categories along x (at their positions when
/// numeric).
pub(crate) fn line_svg(plot: &Plot) -> Result<String, AppError> {
    let xs = plot.xs();
    let (y_min, y_max) = plot.y_range()?;
    let (x_min, x_max) = finite(bounds(xs.iter().copied()))?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = frame(&root, &plot.title)?
            .build_cartesian_2d(x_min..x_max, y_min..y_max)
            .map_err(|e| internal(&e))?;
        let numeric_x = plot.positions.is_some();
        let label_of = |v: &f64| {
            if !numeric_x {
                category(&plot.labels, *v)
            } else if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            }
        };
        chart
            .configure_mesh()
            .x_desc(plot.x_name.as_str())
            .x_labels(plot.labels.len().clamp(2, 12))
            .x_label_formatter(&label_of)
            .y_label_formatter(&|v| plot.y_label(*v))
            .draw()
            .map_err(|e| internal(&e))?;
        for (i, (name, values)) in plot.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<(f64, f64)> = xs
                .iter()
                .zip(values)
                .filter_map(|(x, y)| Some((*x, (*y)?)))
                .collect();
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| internal(&e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(|e| internal(&e))?;
        }
        legend(&mut chart)?;
        root.present().map_err(|e| internal(&e))?;
    }
    Ok(svg)
}

/// One bar per category and series, the series of a category side by side;
/// a legend when there is more than one series.
pub(crate) fn bar_svg(plot: &Plot) -> Result<String, AppError> {
    let (y_min, y_max) = plot.y_range()?;
    let n = plot.labels.len().max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = frame(&root, &plot.title)?
            .build_cartesian_2d(-0.5..n as f64 - 0.5, y_min..y_max)
            .map_err(|e| internal(&e))?;
        // Asked for as many labels as categories, plotters puts its ticks
        // on the whole numbers: one under each group of bars.
        let label_of = |v: &f64| category(&plot.labels, *v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(plot.x_name.as_str())
            .x_labels(n)
            .x_label_formatter(&label_of)
            .y_label_formatter(&|v| plot.y_label(*v))
            .draw()
            .map_err(|e| internal(&e))?;
        let width = 0.8 / plot.series.len().max(1) as f64;
        for (j, (name, values)) in plot.series.iter().enumerate() {
            let color = COLORS[j % COLORS.len()];
            let bars = values.iter().enumerate().filter_map(|(i, v)| {
                let v = (*v).filter(|v| v.is_finite())?;
                let left = i as f64 - 0.4 + j as f64 * width;
                Some(Rectangle::new(
                    [(left, 0.0), (left + width, v)],
                    color.filled(),
                ))
            });
            let drawn = chart.draw_series(bars).map_err(|e| internal(&e))?;
            if plot.series.len() > 1 {
                drawn.label(name.as_str()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
            }
        }
        if plot.series.len() > 1 {
            legend(&mut chart)?;
        }
        root.present().map_err(|e| internal(&e))?;
    }
    Ok(svg)
}

/// The white canvas, title and margins every chart shares.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
) -> Result<ChartBuilder<'a, 'b, SVGBackend<'b>>, AppError> {
    root.fill(&WHITE).map_err(|e| internal(&e))?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(72);
    Ok(builder)
}

type Axes = Cartesian2d<RangedCoordf64, RangedCoordf64>;

fn legend<'a>(chart: &mut ChartContext<'a, SVGBackend<'a>, Axes>) -> Result<(), AppError> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(|e| internal(&e))
}

/// A range that contains every value, never empty.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo).abs() * 0.05).max(if hi == lo { 1.0 } else { 0.0 });
    (lo - pad, hi + pad)
}

fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(ys: [f64; 2]) -> Plot {
        Plot {
            title: "t".to_owned(),
            x_name: "x".to_owned(),
            labels: vec!["1".to_owned(), "2".to_owned()],
            positions: Some(vec![1.0, 2.0]),
            series: vec![("y".to_owned(), ys.map(Some).to_vec())],
            y_format: None,
        }
    }

    /// The y axis writes the measure in its declared format, else
    /// compactly.
    #[test]
    fn the_y_axis_writes_the_declared_format() {
        let mut dollars = plot([1_000.0, 25_000.0]);
        for draw in [line_svg, bar_svg] {
            dollars.y_format = None;
            let plain = draw(&dollars).unwrap();
            assert!(plain.contains("20.0k") && !plain.contains('$'), "{plain}");
            dollars.y_format = Some("$,.0f".parse().unwrap());
            let svg = draw(&dollars).unwrap();
            assert!(svg.contains("$20,000") && !svg.contains("20.0k"), "{svg}");
        }
    }

    #[test]
    fn values_too_far_apart_are_refused_not_drawn() {
        for draw in [line_svg, bar_svg] {
            let refused = draw(&plot([-1.0e308, 1.0e308]));
            assert!(matches!(refused, Err(AppError::OverLimit(_))));
            assert!(matches!(
                draw(&plot([0.0, 1.75e308])),
                Err(AppError::OverLimit(_))
            ));
            assert!(draw(&plot([0.0, 1.0e300])).unwrap().starts_with("<svg"));
        }
    }
}
