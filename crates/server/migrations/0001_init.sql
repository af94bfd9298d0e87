-- Portable between SQLite and PostgreSQL: TEXT ids, BIGINT unix seconds and flags.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- Everyone who can authenticate: the admin, operators (data-centre staff), account owners,
-- vault registration credentials and agents. Secrets are stored as SHA-256 hex digests.
CREATE TABLE principals (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    account_id TEXT REFERENCES accounts(id),
    vault_id TEXT,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE storage_accounts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

CREATE TABLE containers (
    id TEXT PRIMARY KEY,
    storage_account_id TEXT NOT NULL REFERENCES storage_accounts(id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (storage_account_id, name)
);

CREATE TABLE vaults (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    append_only BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (account_id, name)
);

CREATE INDEX principals_vault ON principals (vault_id);
