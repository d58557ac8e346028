use super::*;
use crate::domain::{Platform, Priority, QueueName, TicketNumber, TicketStatus};
use crate::reports::Period;
use crate::store::{CsatRecord, SlaState};

fn opts(queue: Option<&str>) -> ReportOptions {
    ReportOptions {
        period: Period { from: 0, to: 1_000_000_000, label: "7d".into() },
        queue: queue.map(|q| QueueName::parse(q).unwrap()),
        testers: vec![UserRef::new(Platform::Slack, "UTEST")],
        kb_base_url: None,
    }
}

fn ticket(
    n: i64,
    q: &str,
    user: &str,
    fr: Option<i64>,
    res: Option<i64>,
    sla: Option<SlaState>,
    breaches: i64,
) -> TicketFacts {
    TicketFacts {
        number: TicketNumber(n),
        conversation: format!("c{n}"),
        requester: UserRef::new(Platform::Slack, user),
        intent: None,
        queue: QueueName::parse(q).unwrap(),
        priority: Priority::Normal,
        status: TicketStatus::Open,
        created_at: 1000,
        resolved_at: res.map(|r| 1000 + r),
        first_response_at: fr.map(|f| 1000 + f),
        sla,
        sla_breaches: breaches,
    }
}

#[test]
fn nearest_rank_percentiles() {
    assert_eq!(percentile(&[], 50), None);
    assert_eq!(percentile(&[7], 90), Some(7));
    assert_eq!(percentile(&[10, 30, 60], 50), Some(30));
    assert_eq!(percentile(&[10, 30, 60], 90), Some(60));
    assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
    let ten: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&ten, 90), Some(9));
}

#[test]
fn sla_breach_is_a_recorded_breach_or_a_late_response_or_resolution() {
    let due = |fr: i64, res: i64| {
        Some(SlaState {
            first_response_due: Some(1000 + fr),
            resolution_due: Some(1000 + res),
            ..SlaState::default()
        })
    };
    let data = ReportData {
        tickets: vec![
            ticket(1, "network", "UA", Some(10), Some(50), due(20, 100), 0), // met
            ticket(2, "network", "UB", Some(30), Some(50), due(20, 100), 0), // late first response
            ticket(3, "network", "UC", Some(10), Some(150), due(20, 100), 0), // late resolution
            ticket(4, "network", "UD", None, None, due(20, 100), 1),         // breach recorded
            ticket(5, "network", "UE", Some(10), None, None, 0),             // no SLA
            ticket(6, "network", "UTEST", Some(99), None, due(20, 100), 1),  // tester: left out
        ],
        ..ReportData::default()
    };
    let r = compute(&data, &opts(None), None);
    assert_eq!(r.sla, SlaFigures { tickets: 4, met: 1, breached: 3, compliance: Some(0.25) });
    assert_eq!(r.tickets_filed, 5);
    assert_eq!(r.tickets_resolved, 3);
    assert_eq!(r.first_response, Durations { count: 4, median_ms: Some(10), p90_ms: Some(30) });
    assert_eq!(r.resolution, Durations { count: 3, median_ms: Some(50), p90_ms: Some(150) });
    assert_eq!(r.excluded_test_rows, 1);
    assert_eq!(compute(&data, &opts(Some("identity")), None).tickets_filed, 0);
}

#[test]
fn csat_average_and_distribution_skip_test_traffic_and_other_queues() {
    let rating = |n: i64, q: &str, user: &str, score| CsatRecord {
        ticket: TicketNumber(n),
        conversation: format!("c{n}"),
        requester: UserRef::new(Platform::Slack, user),
        queue: QueueName::parse(q).unwrap(),
        score,
        at: 5,
    };
    let mut data = ReportData {
        csat: vec![
            rating(1, "network", "UA", 5),
            rating(2, "network", "UB", 4),
            rating(3, "identity", "UC", 1),
            rating(4, "network", "UTEST", 1),
            rating(5, "network", "UF", 4),
        ],
        ..ReportData::default()
    };
    data.test_conversations.insert("c5".into());
    let r = compute(&data, &opts(None), None);
    assert_eq!(r.csat, CsatFigures { count: 3, average: Some(10.0 / 3.0), distribution: [1, 0, 0, 1, 1] });
    let network = compute(&data, &opts(Some("network")), None);
    assert_eq!(network.csat, CsatFigures { count: 2, average: Some(4.5), distribution: [0, 0, 0, 1, 1] });
    assert_eq!(r.excluded_test_rows, 2);
}
