-- Access and licence requests over time: timers for the scheduler (expiry warnings and lapses,
-- approver reminders and escalations, unanswered review items), the request an extension
-- extends, and access-review campaigns with one row per grant reviewed. Every write is also in
-- the keyed audit chain. PostgreSQL dialect; keep it identical to
-- migrations/sqlite/0013_request_expiry_and_reviews.sql.

-- An "Extend" request names the request whose grant it extends.
ALTER TABLE requests ADD COLUMN extends BIGINT;

-- Like `timers`, but about requests and reviews: fired once (a commit keyed by the id), retried
-- later with a growing delay when firing fails. Only the leader polls them.
CREATE TABLE request_timers (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL,      -- expiry.warn | expiry.lapse | approval.remind | approval.escalate | review.escalate
    target      BIGINT NOT NULL,   -- the request number; the review item id for review.*
    step        BIGINT,            -- the approval step an approval timer is about
    due_at      BIGINT NOT NULL,
    fired_at    BIGINT,
    attempts    BIGINT NOT NULL DEFAULT 0,
    retry_at    BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX request_timers_due_idx ON request_timers (due_at) WHERE fired_at IS NULL;

-- `deskbot licences review`: one campaign, one item per active grant it covers.
CREATE TABLE access_reviews (
    id          BIGSERIAL PRIMARY KEY,
    scope       TEXT NOT NULL,      -- an item id, or * for every item
    started_by  TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    due_at      BIGINT NOT NULL    -- unanswered items go to the queue's leads then
);

CREATE TABLE access_review_items (
    id                 BIGSERIAL PRIMARY KEY,
    review_id          BIGINT NOT NULL REFERENCES access_reviews (id),
    holding_id         BIGINT NOT NULL REFERENCES seat_holdings (id),
    item               TEXT NOT NULL,
    reviewer_platform  TEXT,        -- the holder's manager; NULL when the directory names none
    reviewer_id        TEXT,
    escalated_at       BIGINT,     -- when it went to the leads
    decision           TEXT,        -- keep | remove
    decided_by         TEXT,
    reason             TEXT,
    decided_at         BIGINT
);
CREATE INDEX access_review_items_review_idx ON access_review_items (review_id, id);
CREATE INDEX access_review_items_holding_idx ON access_review_items (holding_id);
