-- Daily rollups of tickets and ratings for the reports, beside the case-event rollups of
-- 0014: per closed UTC day and queue, the tickets created that day (how many, resolved, with
-- SLA targets, breached, and their first-response and resolution times as sorted lists of
-- milliseconds, so medians over many days stay exact) and the ratings given
-- that day (how many of each score). Each day also has a row with the empty queue name that
-- marks it built and counts the test traffic left out. A ticket's figures change long after
-- its day closed (a reply, a resolution, a breach, a move, a rating), so the triggers below
-- drop a day's rows whenever anything it was built from changes; the next report rebuilds it.
-- Purges and erasures drop them in the store (FORGET_* in src/store/reports.rs). Nothing here
-- identifies a person. PostgreSQL dialect; keep it identical to the SQLite one.
--
-- A builder holds an exclusive transaction-level advisory lock on the day while it reads and
-- writes it; every change takes the same lock shared before it drops the day. So a change
-- either commits before the builder reads (and is in the rollup) or drops the rollup after
-- the builder committed it: a rollup never misses a change. Changes never wait on each other.
-- The index on tickets (conversation) is built CONCURRENTLY after the migrations
-- (LIVE_INDEXES in src/store/postgres.rs).

CREATE TABLE report_ticket_days (
    day             BIGINT NOT NULL,   -- UTC midnight, ms
    queue           TEXT NOT NULL,     -- '' = the day's marker row
    testers         TEXT NOT NULL,     -- fingerprint of the testers list it was built with
    filed           BIGINT NOT NULL,
    resolved        BIGINT NOT NULL,
    sla_tickets     BIGINT NOT NULL,
    sla_breached    BIGINT NOT NULL,
    first_response  TEXT NOT NULL,      -- sorted durations in ms, comma-separated
    resolution      TEXT NOT NULL,
    csat_1          BIGINT NOT NULL,
    csat_2          BIGINT NOT NULL,
    csat_3          BIGINT NOT NULL,
    csat_4          BIGINT NOT NULL,
    csat_5          BIGINT NOT NULL,
    excluded        BIGINT NOT NULL,   -- test-traffic tickets and ratings left out (marker row)
    built_at        BIGINT NOT NULL,
    PRIMARY KEY (day, queue)
);

-- Drop the rollup of the day holding `t` (ms), after taking the day's lock shared.
CREATE FUNCTION report_forget_ticket_day(t BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d BIGINT := t - (t % 86400000);
BEGIN
    IF t IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1919251317, CAST(d / 86400000 AS INTEGER));
    DELETE FROM report_ticket_days WHERE day = d;
END $$;

-- Drop the days of a ticket (its creation) and of its ratings.
CREATE FUNCTION report_forget_ticket(n BIGINT, created BIGINT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r BIGINT;
BEGIN
    PERFORM report_forget_ticket_day(created);
    FOR r IN SELECT c.created_at FROM csat c WHERE c.ticket_number = n LOOP
        PERFORM report_forget_ticket_day(r);
    END LOOP;
END $$;

CREATE FUNCTION report_tickets_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A ticket written with a creation time in a day already rolled up (a copy, a repair).
        PERFORM report_forget_ticket_day(NEW.created_at);
        RETURN NULL;
    END IF;
    PERFORM report_forget_ticket(OLD.number, OLD.created_at);
    IF TG_OP = 'UPDATE' AND NEW.created_at <> OLD.created_at THEN
        PERFORM report_forget_ticket_day(NEW.created_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_tickets_inserted AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION report_tickets_changed();

CREATE TRIGGER report_tickets_updated AFTER UPDATE ON tickets
    FOR EACH ROW EXECUTE FUNCTION report_tickets_changed();
CREATE TRIGGER report_tickets_deleted AFTER DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION report_tickets_changed();

-- A ticket's first response is its first public agent message; an SLA breach is an event.
CREATE FUNCTION report_ticket_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.ticket_number IS NOT NULL THEN
        PERFORM report_forget_ticket_day((SELECT t.created_at FROM tickets t WHERE t.number = OLD.ticket_number));
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.ticket_number IS NOT NULL THEN
        PERFORM report_forget_ticket_day((SELECT t.created_at FROM tickets t WHERE t.number = NEW.ticket_number));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_reply_inserted AFTER INSERT ON messages FOR EACH ROW
    WHEN (NEW.ticket_number IS NOT NULL AND NEW.speaker_kind = 'agent' AND NEW.internal = FALSE)
    EXECUTE FUNCTION report_ticket_row_changed();
CREATE TRIGGER report_reply_updated AFTER UPDATE OF ticket_number, speaker_kind, internal, created_at ON messages
    FOR EACH ROW
    WHEN ((OLD.ticket_number IS NOT NULL AND OLD.speaker_kind = 'agent')
       OR (NEW.ticket_number IS NOT NULL AND NEW.speaker_kind = 'agent'))
    EXECUTE FUNCTION report_ticket_row_changed();
CREATE TRIGGER report_reply_deleted AFTER DELETE ON messages FOR EACH ROW
    WHEN (OLD.ticket_number IS NOT NULL AND OLD.speaker_kind = 'agent' AND OLD.internal = FALSE)
    EXECUTE FUNCTION report_ticket_row_changed();
CREATE TRIGGER report_breach_inserted AFTER INSERT ON ticket_events FOR EACH ROW
    WHEN (NEW.kind = 'sla_breach') EXECUTE FUNCTION report_ticket_row_changed();
CREATE TRIGGER report_breach_deleted AFTER DELETE ON ticket_events FOR EACH ROW
    WHEN (OLD.kind = 'sla_breach') EXECUTE FUNCTION report_ticket_row_changed();

CREATE FUNCTION report_csat_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM report_forget_ticket_day(OLD.created_at);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM report_forget_ticket_day(NEW.created_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_csat_changed AFTER INSERT OR UPDATE OR DELETE ON csat
    FOR EACH ROW EXECUTE FUNCTION report_csat_changed();

-- Flagging (or unflagging) a conversation as test traffic moves its tickets and ratings.
CREATE FUNCTION report_test_flag_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k TEXT;
    r RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        k := OLD.key;
    ELSE
        k := NEW.key;
    END IF;
    FOR r IN SELECT t.number, t.created_at FROM tickets t WHERE t.conversation = k LOOP
        PERFORM report_forget_ticket(r.number, r.created_at);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER report_test_flag_changed AFTER INSERT OR DELETE ON test_conversations
    FOR EACH ROW EXECUTE FUNCTION report_test_flag_changed();
