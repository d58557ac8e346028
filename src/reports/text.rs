//! `deskbot report`: the same [`Report`] the `/reports` page shows, as plain text.

use super::Report;
use std::fmt::Write;

/// `1h 05m`, `12m`, `45s`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m:02}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

pub fn percent(r: Option<f64>) -> String {
    r.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "–".into())
}

pub fn opt_duration(ms: Option<i64>) -> String {
    ms.map(duration).unwrap_or_else(|| "–".into())
}

/// The report as text for a terminal.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let queue = r.queue.as_deref().unwrap_or("all queues");
    let _ = writeln!(o, "deskbot report: last {} ({queue})", r.period);
    let _ = writeln!(o, "  conversations        {}", r.conversations);
    let _ = writeln!(o, "  answered by the bot  {}", r.answered);
    let _ = writeln!(o, "  deflected (solved)   {} ({})", r.deflected, percent(r.deflection_rate));
    let _ = writeln!(o, "  tickets filed        {} ({} resolved)", r.tickets_filed, r.tickets_resolved);
    let _ = writeln!(
        o,
        "  first response       median {}, p90 {} ({} tickets)",
        opt_duration(r.first_response.median_ms),
        opt_duration(r.first_response.p90_ms),
        r.first_response.count
    );
    let _ = writeln!(
        o,
        "  resolution           median {}, p90 {} ({} tickets)",
        opt_duration(r.resolution.median_ms),
        opt_duration(r.resolution.p90_ms),
        r.resolution.count
    );
    let _ = writeln!(
        o,
        "  SLA compliance       {} ({} of {} met, {} breached)",
        percent(r.sla.compliance),
        r.sla.met,
        r.sla.tickets,
        r.sla.breached
    );
    let avg = r.csat.average.map(|a| format!("{a:.1}")).unwrap_or_else(|| "–".into());
    let d = r.csat.distribution;
    let _ = writeln!(
        o,
        "  CSAT                 {avg} from {} ratings (1★ {} · 2★ {} · 3★ {} · 4★ {} · 5★ {})",
        r.csat.count, d[0], d[1], d[2], d[3], d[4]
    );
    for (title, rows) in [("top intents", &r.top_intents), ("KB articles", &r.articles)] {
        let _ = writeln!(o, "\n{title} (shown, solved, not solved, deflection):");
        if rows.is_empty() {
            let _ = writeln!(o, "  none");
        }
        for row in rows.iter() {
            let _ = writeln!(
                o,
                "  {:<28} {:>4} {:>4} {:>4} {:>5}",
                row.id,
                row.shown,
                row.solved,
                row.not_solved,
                percent(row.deflection_rate)
            );
        }
    }
    let _ = writeln!(o, "\nunanswered questions (no match or not solved):");
    if r.unanswered.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for c in &r.unanswered {
        let closest: Vec<String> = c.closest.iter().map(|x| format!("{} {}", x.kind, x.id)).collect();
        let closest =
            if closest.is_empty() { String::new() } else { format!("  → closest: {}", closest.join(", ")) };
        let _ = writeln!(
            o,
            "  {:>3}× \"{}\"{closest}",
            c.count,
            c.examples.first().map(String::as_str).unwrap_or("")
        );
        for e in c.examples.iter().skip(1) {
            let _ = writeln!(o, "        \"{e}\"");
        }
    }
    if r.excluded_test_rows > 0 {
        let _ = writeln!(o, "\n({} rows of test traffic left out)", r.excluded_test_rows);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(duration(45_000), "45s");
        assert_eq!(duration(30 * 60_000), "30m");
        assert_eq!(duration(2 * 3_600_000 + 5 * 60_000), "2h 05m");
        assert_eq!(duration(26 * 3_600_000), "1d 2h");
        assert_eq!(percent(Some(1.0 / 3.0)), "33%");
        assert_eq!(percent(None), "–");
    }
}
