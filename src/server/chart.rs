//! Line charts of query results as SVG, drawn by plotters on the server so
//! the page needs no charting script and no CDN.

use plotters::prelude::*;
use polars::prelude::{DataFrame, DataType};

use super::error::AppError;

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// The first column along x (numbers, or text as evenly spaced labels),
/// every later numeric column as a line.
pub fn line_chart_svg(frame: &DataFrame, title: &str) -> Result<String, AppError> {
    let internal = |e: &dyn std::fmt::Display| AppError::Internal(format!("chart: {e}"));
    let columns = frame.columns();
    let Some(x) = columns.first() else {
        return Err(AppError::BadRequest(
            "a chart needs at least one output column".to_owned(),
        ));
    };
    let labels: Vec<String> = (0..frame.height())
        .map(|i| {
            x.get(i)
                .map(|v| v.to_string().trim_matches('"').to_owned())
                .unwrap_or_default()
        })
        .collect();
    let xs: Vec<f64> = if x.dtype().is_primitive_numeric() {
        let floats = x.cast(&DataType::Float64).map_err(|e| internal(&e))?;
        let floats = floats.f64().map_err(|e| internal(&e))?;
        floats
            .iter()
            .enumerate()
            .map(|(i, v)| v.unwrap_or(i as f64))
            .collect()
    } else {
        (0..frame.height()).map(|i| i as f64).collect()
    };
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for column in &columns[1..] {
        if !column.dtype().is_primitive_numeric() {
            continue;
        }
        let floats = column.cast(&DataType::Float64).map_err(|e| internal(&e))?;
        let floats = floats.f64().map_err(|e| internal(&e))?;
        let points = xs
            .iter()
            .zip(floats.iter())
            .filter_map(|(x, y)| Some((*x, y?)))
            .collect();
        series.push((column.name().to_string(), points));
    }
    if series.is_empty() {
        return Err(AppError::BadRequest(
            "a chart needs a numeric column after the first".to_owned(),
        ));
    }
    let (x_min, x_max) = bounds(xs.iter().copied());
    let (y_min, y_max) = bounds(
        series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
            .chain([0.0]),
    );
    // An axis whose span is not a finite number has no tick marks to
    // compute (plotters would loop forever looking for them).
    if !((x_max - x_min).is_finite() && (y_max - y_min).is_finite()) {
        return Err(AppError::OverLimit(
            "the values are too far apart to chart (their span is beyond f64); \
             ask /api/query for the numbers"
                .to_owned(),
        ));
    }

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| internal(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(72)
            .build_cartesian_2d(x_min..x_max, y_min..y_max)
            .map_err(|e| internal(&e))?;
        let numeric_x = x.dtype().is_primitive_numeric();
        let label_of = |v: &f64| {
            if numeric_x {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            } else {
                labels.get(v.round() as usize).cloned().unwrap_or_default()
            }
        };
        chart
            .configure_mesh()
            .x_desc(x.name().as_str())
            .x_labels(frame.height().clamp(2, 12))
            .x_label_formatter(&label_of)
            .y_label_formatter(&|v| compact(*v))
            .draw()
            .map_err(|e| internal(&e))?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
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
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(|e| internal(&e))?;
        root.present().map_err(|e| internal(&e))?;
    }
    Ok(svg)
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

    #[test]
    fn values_too_far_apart_are_refused_not_drawn() {
        let frame = polars::df!("x" => [1i64, 2], "y" => [-1.0e308, 1.0e308]).unwrap();
        let refused = line_chart_svg(&frame, "t");
        assert!(matches!(refused, Err(AppError::OverLimit(_))));
        let frame = polars::df!("x" => [1i64, 2], "y" => [0.0, 1.75e308]).unwrap();
        assert!(matches!(
            line_chart_svg(&frame, "t"),
            Err(AppError::OverLimit(_))
        ));
        let fine = polars::df!("x" => [1i64, 2], "y" => [0.0, 1.0e300]).unwrap();
        assert!(line_chart_svg(&fine, "t").unwrap().starts_with("<svg"));
    }
}
