//! The ratio chart next to BENCHMARKS.md: one row per workload, a bar for
//! our ratio to each peer (peer's time / ours; right of the 1.0 line we
//! lead, left we trail), as plain SVG (no plotting crate needed for bars).

/// One workload's ratios: (title, vs tokio, vs smol).
pub type Ratios = (String, f64, f64);

const ROW: f64 = 26.0;
const LABEL: f64 = 380.0;
const PLOT: f64 = 420.0;
/// The largest ratio the axis shows; bars beyond it are clipped with the
/// value printed.
const MAX: f64 = 4.0;

/// The SVG document.
pub fn svg(rows: &[Ratios], title: &str) -> String {
    let height = 60.0 + ROW * rows.len() as f64 + 30.0;
    let width = LABEL + PLOT + 90.0;
    let x = |ratio: f64| LABEL + PLOT * (ratio.clamp(0.0, MAX) / MAX);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n\
         <rect x=\"{LABEL}\" y=\"30\" width=\"12\" height=\"10\" fill=\"#1f77b4\"/><text x=\"{}\" y=\"39\">vs tokio</text>\n\
         <rect x=\"{}\" y=\"30\" width=\"12\" height=\"10\" fill=\"#ff7f0e\"/><text x=\"{}\" y=\"39\">vs smol</text>\n",
        escape(title),
        LABEL + 16.0,
        LABEL + 90.0,
        LABEL + 106.0
    );
    for (i, (name, tokio, smol)) in rows.iter().enumerate() {
        let y = 50.0 + ROW * i as f64;
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            LABEL - 8.0,
            y + 15.0,
            escape(name)
        ));
        for (k, (ratio, color)) in [(*tokio, "#1f77b4"), (*smol, "#ff7f0e")].into_iter().enumerate() {
            let top = y + 3.0 + 10.0 * k as f64;
            s.push_str(&format!(
                "<rect x=\"{LABEL}\" y=\"{top}\" width=\"{:.1}\" height=\"9\" fill=\"{color}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\">{ratio:.2}x</text>\n",
                x(ratio) - LABEL,
                x(ratio) + 3.0,
                top + 8.0
            ));
        }
    }
    let bottom = 50.0 + ROW * rows.len() as f64;
    for tick in [0.5, 1.0, 2.0, 3.0, 4.0] {
        let dash = if tick == 1.0 { "" } else { " stroke-dasharray=\"3,3\"" };
        s.push_str(&format!(
            "<line x1=\"{0:.1}\" y1=\"45\" x2=\"{0:.1}\" y2=\"{bottom}\" stroke=\"#444\"{dash}/>\
             <text x=\"{0:.1}\" y=\"{1}\" text-anchor=\"middle\">{tick}x</text>\n",
            x(tick),
            bottom + 15.0
        ));
    }
    s.push_str(&format!(
        "<text x=\"{LABEL}\" y=\"{}\" font-size=\"10\">peer's time / loop's: right of 1x loop leads</text>\n</svg>\n",
        bottom + 28.0
    ));
    s
}

/// The ratios of the first `| workload | unit | loop | tokio | smol | ...`
/// table in a report written by `--write`.
pub fn ratios_of_table(markdown: &str) -> Vec<Ratios> {
    let mut lines = markdown.lines().skip_while(|l| !l.starts_with("| workload | unit | loop | tokio | smol |"));
    lines.next();
    lines.next(); // the header and its rule
    lines
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let num = |i: usize| cells.get(i)?.replace(',', "").parse::<f64>().ok();
            let (ours, tokio, smol) = (num(2)?, num(3)?, num(4)?);
            Some((cells[0].to_string(), tokio / ours, smol / ours))
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ratios_come_from_the_first_table() {
        let md = "x\n| workload | unit | loop | tokio | smol | vs best peer | vs tokio |\n| --- |\n| spawn | ns | 50 | 100 | 75 | 1.50x | 2.00x |\n\nafter\n";
        assert_eq!(super::ratios_of_table(md), [("spawn".to_string(), 2.0, 1.5)]);
    }

    #[test]
    fn a_chart_has_a_bar_per_ratio_and_escapes_names() {
        let svg = super::svg(&[("a & b".into(), 1.5, 0.8), ("c".into(), 10.0, 2.0)], "t");
        assert_eq!(svg.matches("<rect x=\"380\" y=").count(), 4 + 1, "4 bars and a legend swatch");
        assert!(svg.contains("a &amp; b") && svg.contains("10.00x"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
