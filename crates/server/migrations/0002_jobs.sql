-- Import/export jobs: the seedship-jobs `Job` as one JSON document, plus the indexed columns
-- the rules and the deadlines need.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    -- Normalised tracking number; NULL until shipped. Never shared by two jobs.
    tracking_number TEXT UNIQUE,
    custody_head TEXT NOT NULL,
    -- Unix seconds of the next deadline (NULL: none), so the deadline pass loads only due jobs.
    due_at BIGINT,
    body TEXT NOT NULL,
    -- Bumped by every write; a write based on an older version is refused (no lost updates).
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account, name)
);

CREATE INDEX jobs_due ON jobs (due_at);

-- The copy log of each transferred drive (the error log is derived from it).
CREATE TABLE drive_logs (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    drive_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, drive_id)
);
