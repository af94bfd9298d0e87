-- The seed that made a vault's repository (docs/design.md, "Vault seeding"): the Completed
-- import job whose folder it adopted (its destination), the repository id as the seeding client
-- stated it (the server holds no key to read the repository; NULL when none was stated), and
-- when (unix seconds). One row per vault, written when its first seed completed; seeding the
-- same repository again keeps it (filling in a repository id that was not stated before).
CREATE TABLE vault_seeds (
    vault_id TEXT PRIMARY KEY REFERENCES vaults(id),
    job TEXT NOT NULL,
    storage_account TEXT NOT NULL,
    container TEXT NOT NULL,
    prefix TEXT NOT NULL,
    repository_id TEXT,
    seeded_at BIGINT NOT NULL
);
