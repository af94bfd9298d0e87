-- Sessions of the jobs web page: the SHA-256 digest of the cookie's random token, never the
-- token itself; the session acts as its principal until expires_at (unix seconds).
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
