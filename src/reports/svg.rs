//! Small inline SVG charts for the reports page: no scripts, no fonts to fetch, no CDN. Each
//! chart scales with its container (`viewBox` + `width="100%"`), so it reads on a phone too.

use std::fmt::Write;

/// Escape a label for SVG text and attribute values (the charts are inserted into the
/// page's template as trusted markup, so every text in them goes through here).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const BLUE: &str = "#2563eb";
const GREEN: &str = "#16a34a";
const ORANGE: &str = "#ea580c";
const GREY: &str = "#e5e7eb";

/// A horizontal bar per row: label on the left, value at the end of the bar.
pub fn bars(id: &str, title: &str, rows: &[(String, f64, String)], color: Option<&str>) -> String {
    let color = color.unwrap_or(BLUE);
    let row_h = 26.0;
    let h = (rows.len().max(1) as f64) * row_h + 8.0;
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-9);
    let mut s = format!(
        r#"<svg id="{id}" class="chart" role="img" aria-label="{}" viewBox="0 0 400 {h}" width="100%" preserveAspectRatio="xMinYMin meet"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    if rows.is_empty() {
        let _ =
            write!(s, r##"<text x="4" y="18" class="muted" fill="#6b7280" font-size="13">no data</text>"##);
    }
    for (i, (label, value, shown)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = (value / max * 210.0).max(if *value > 0.0 { 2.0 } else { 0.0 });
        let _ = write!(
            s,
            r##"<text x="0" y="{ty}" font-size="12" fill="#111827">{label}</text><rect x="140" y="{y}" width="210" height="18" rx="3" fill="{GREY}"/><rect class="bar" x="140" y="{y}" width="{w:.1}" height="18" rx="3" fill="{color}"/><text x="{tx:.1}" y="{ty}" font-size="12" fill="#111827">{shown}</text>"##,
            ty = y + 13.0,
            label = esc(&truncate(label, 22)),
            tx = 140.0 + w + 4.0,
            shown = esc(shown),
        );
    }
    s.push_str("</svg>");
    s
}

/// A single share (0–1) as a ring with the percentage in the middle.
pub fn ring(id: &str, title: &str, share: Option<f64>, color: &str) -> String {
    let r = 40.0;
    let c = 2.0 * std::f64::consts::PI * r;
    let (dash, label) = match share {
        Some(v) => (v.clamp(0.0, 1.0) * c, format!("{:.0}%", v * 100.0)),
        None => (0.0, "–".to_string()),
    };
    format!(
        r##"<svg id="{id}" class="chart ring" role="img" aria-label="{t}" viewBox="0 0 100 100" width="110" height="110"><title>{t}</title><circle cx="50" cy="50" r="{r}" fill="none" stroke="{GREY}" stroke-width="12"/><circle cx="50" cy="50" r="{r}" fill="none" stroke="{color}" stroke-width="12" stroke-dasharray="{dash:.1} {c:.1}" transform="rotate(-90 50 50)"/><text x="50" y="56" text-anchor="middle" font-size="18" font-weight="600" fill="#111827">{label}</text></svg>"##,
        t = esc(title)
    )
}

/// Per-day columns: conversations, deflected and tickets side by side.
pub fn daily(id: &str, days: &[(String, u64, u64, u64)]) -> String {
    let n = days.len().max(1) as f64;
    let (w, h, base) = (400.0, 160.0, 130.0);
    let slot = (w - 20.0) / n;
    let bar = (slot / 4.0).min(14.0);
    let max = days.iter().map(|d| d.1.max(d.2).max(d.3)).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(
        r##"<svg id="{id}" class="chart" role="img" aria-label="Per day" viewBox="0 0 {w} {h}" width="100%"><title>Conversations, deflected and tickets per day</title><line x1="10" y1="{base}" x2="{x2}" y2="{base}" stroke="#9ca3af"/>"##,
        x2 = w - 10.0
    );
    for (i, (day, conv, defl, tix)) in days.iter().enumerate() {
        let x0 = 10.0 + i as f64 * slot + (slot - 3.0 * bar) / 2.0;
        for (j, (v, color)) in [(*conv, BLUE), (*defl, GREEN), (*tix, ORANGE)].into_iter().enumerate() {
            let bh = v as f64 / max * 110.0;
            let _ = write!(
                s,
                r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{bh:.1}" fill="{color}"><title>{v}</title></rect>"#,
                x = x0 + j as f64 * bar,
                y = base - bh,
            );
        }
        // At most about eight date labels, however long the period.
        if i % days.len().div_ceil(8).max(1) != 0 {
            continue;
        }
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="148" font-size="10" text-anchor="middle" fill="#374151">{d}</text>"##,
            x = x0 + 1.5 * bar,
            d = esc(day.get(5..).unwrap_or(day)),
        );
    }
    s.push_str("</svg>");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub const COLORS: (&str, &str, &str) = (BLUE, GREEN, ORANGE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let svg = bars("x", "t", &[("<a>".into(), 2.0, "2".into()), ("b".into(), 1.0, "1".into())], None);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"width="210.0""#), "{svg}");
        assert!(svg.contains(r#"width="105.0""#), "{svg}");
        assert!(svg.contains("&lt;a&gt;") && !svg.contains("<a>"));
        assert!(bars("y", "t", &[], None).contains("no data"));
    }

    #[test]
    fn ring_shows_the_share() {
        let svg = ring("r", "SLA", Some(0.5), GREEN);
        assert!(svg.contains(">50%<"), "{svg}");
        assert!(ring("r", "SLA", None, GREEN).contains(">–<"));
    }
}
