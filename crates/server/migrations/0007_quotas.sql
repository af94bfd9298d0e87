-- Storage quotas. (0005 and 0006 are another change's.) quota_bytes: the bytes an account may
-- store, NULL for no quota. used_bytes: the bytes it stores (vault objects, container blobs,
-- held-back damaged files), kept by every write and delete in the same statement that checks
-- the quota, so that servers sharing the database agree; recounted from the store when the
-- admin sets a quota.
ALTER TABLE accounts ADD COLUMN quota_bytes BIGINT;
ALTER TABLE accounts ADD COLUMN used_bytes BIGINT NOT NULL DEFAULT 0;
