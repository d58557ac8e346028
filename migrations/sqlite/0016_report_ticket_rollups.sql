-- Daily rollups of tickets and ratings for the reports, beside the case-event rollups of
-- 0014: per closed UTC day and queue, the tickets created that day (how many, resolved, with
-- SLA targets, breached, and their first-response and resolution times as sorted lists of
-- milliseconds, so medians over many days stay exact) and the ratings given
-- that day (how many of each score). Each day also has a row with the empty queue name that
-- marks it built and counts the test traffic left out. A ticket's figures change long after
-- its day closed (a reply, a resolution, a breach, a move, a rating), so the triggers below
-- drop a day's rows whenever anything it was built from changes; the next report rebuilds it.
-- Purges and erasures drop them in the store (FORGET_* in src/store/reports.rs). Nothing here
-- identifies a person. SQLite dialect; keep it identical to the PostgreSQL one.

CREATE TABLE report_ticket_days (
    day             INTEGER NOT NULL,   -- UTC midnight, ms
    queue           TEXT NOT NULL,      -- '' = the day's marker row
    testers         TEXT NOT NULL,      -- fingerprint of the testers list it was built with
    filed           INTEGER NOT NULL,
    resolved        INTEGER NOT NULL,
    sla_tickets     INTEGER NOT NULL,
    sla_breached    INTEGER NOT NULL,
    first_response  TEXT NOT NULL,      -- sorted durations in ms, comma-separated
    resolution      TEXT NOT NULL,
    csat_1          INTEGER NOT NULL,
    csat_2          INTEGER NOT NULL,
    csat_3          INTEGER NOT NULL,
    csat_4          INTEGER NOT NULL,
    csat_5          INTEGER NOT NULL,
    excluded        INTEGER NOT NULL,   -- test-traffic tickets and ratings left out (marker row)
    built_at        INTEGER NOT NULL,
    PRIMARY KEY (day, queue)
);

-- Flagging a conversation finds its tickets.
CREATE INDEX tickets_conversation_idx ON tickets (conversation);

-- A ticket written with a creation time in a day already rolled up (a copy, a repair).
CREATE TRIGGER report_tickets_inserted AFTER INSERT ON tickets BEGIN
    DELETE FROM report_ticket_days WHERE day = NEW.created_at - NEW.created_at % 86400000;
END;

CREATE TRIGGER report_tickets_updated AFTER UPDATE ON tickets BEGIN
    DELETE FROM report_ticket_days
     WHERE day IN (OLD.created_at - OLD.created_at % 86400000, NEW.created_at - NEW.created_at % 86400000)
        OR day IN (SELECT c.created_at - c.created_at % 86400000 FROM csat c WHERE c.ticket_number = OLD.number);
END;

CREATE TRIGGER report_tickets_deleted AFTER DELETE ON tickets BEGIN
    DELETE FROM report_ticket_days
     WHERE day = OLD.created_at - OLD.created_at % 86400000
        OR day IN (SELECT c.created_at - c.created_at % 86400000 FROM csat c WHERE c.ticket_number = OLD.number);
END;

-- A ticket's first response is its first public agent message.
CREATE TRIGGER report_reply_inserted AFTER INSERT ON messages
WHEN NEW.ticket_number IS NOT NULL AND NEW.speaker_kind = 'agent' AND NEW.internal = FALSE BEGIN
    DELETE FROM report_ticket_days
     WHERE day = (SELECT t.created_at - t.created_at % 86400000 FROM tickets t WHERE t.number = NEW.ticket_number);
END;

CREATE TRIGGER report_reply_updated AFTER UPDATE OF ticket_number, speaker_kind, internal, created_at ON messages
WHEN (OLD.ticket_number IS NOT NULL AND OLD.speaker_kind = 'agent')
  OR (NEW.ticket_number IS NOT NULL AND NEW.speaker_kind = 'agent') BEGIN
    DELETE FROM report_ticket_days
     WHERE day IN (SELECT t.created_at - t.created_at % 86400000 FROM tickets t
                    WHERE t.number IN (OLD.ticket_number, NEW.ticket_number));
END;

CREATE TRIGGER report_reply_deleted AFTER DELETE ON messages
WHEN OLD.ticket_number IS NOT NULL AND OLD.speaker_kind = 'agent' AND OLD.internal = FALSE BEGIN
    DELETE FROM report_ticket_days
     WHERE day = (SELECT t.created_at - t.created_at % 86400000 FROM tickets t WHERE t.number = OLD.ticket_number);
END;

CREATE TRIGGER report_breach_inserted AFTER INSERT ON ticket_events WHEN NEW.kind = 'sla_breach' BEGIN
    DELETE FROM report_ticket_days
     WHERE day = (SELECT t.created_at - t.created_at % 86400000 FROM tickets t WHERE t.number = NEW.ticket_number);
END;

CREATE TRIGGER report_breach_deleted AFTER DELETE ON ticket_events WHEN OLD.kind = 'sla_breach' BEGIN
    DELETE FROM report_ticket_days
     WHERE day = (SELECT t.created_at - t.created_at % 86400000 FROM tickets t WHERE t.number = OLD.ticket_number);
END;

CREATE TRIGGER report_csat_inserted AFTER INSERT ON csat BEGIN
    DELETE FROM report_ticket_days WHERE day = NEW.created_at - NEW.created_at % 86400000;
END;

CREATE TRIGGER report_csat_updated AFTER UPDATE ON csat BEGIN
    DELETE FROM report_ticket_days
     WHERE day IN (OLD.created_at - OLD.created_at % 86400000, NEW.created_at - NEW.created_at % 86400000);
END;

CREATE TRIGGER report_csat_deleted AFTER DELETE ON csat BEGIN
    DELETE FROM report_ticket_days WHERE day = OLD.created_at - OLD.created_at % 86400000;
END;

-- Flagging (or unflagging) a conversation as test traffic moves its tickets and ratings.
CREATE TRIGGER report_test_flagged AFTER INSERT ON test_conversations BEGIN
    DELETE FROM report_ticket_days
     WHERE day IN (SELECT t.created_at - t.created_at % 86400000 FROM tickets t WHERE t.conversation = NEW.key)
        OR day IN (SELECT c.created_at - c.created_at % 86400000 FROM csat c
                     JOIN tickets t ON t.number = c.ticket_number WHERE t.conversation = NEW.key);
END;

CREATE TRIGGER report_test_unflagged AFTER DELETE ON test_conversations BEGIN
    DELETE FROM report_ticket_days
     WHERE day IN (SELECT t.created_at - t.created_at % 86400000 FROM tickets t WHERE t.conversation = OLD.key)
        OR day IN (SELECT c.created_at - c.created_at % 86400000 FROM csat c
                     JOIN tickets t ON t.number = c.ticket_number WHERE t.conversation = OLD.key);
END;
