-- Credentials that can be replaced without losing the principal: rotating a secret records
-- when (unix seconds; NULL: never rotated since it was issued).
ALTER TABLE principals ADD COLUMN secret_rotated_at BIGINT;

-- Operator names are unique, as account names are (an admin names the operator whose secret
-- to rotate). A database made before this rule may hold several operators of one name: the
-- oldest (then the smallest id) keeps it, every other is renamed `<name>-<id>`. Names only
-- address an operator in the admin's calls; its id, secret, jobs and custody entries are
-- unchanged, and its credentials file (which holds no name) keeps working.
UPDATE principals SET name = name || '-' || id
WHERE kind = 'operator' AND EXISTS (
    SELECT 1 FROM principals AS older
    WHERE older.kind = 'operator' AND older.name = principals.name
      AND (older.created_at < principals.created_at
           OR (older.created_at = principals.created_at AND older.id < principals.id))
);

CREATE UNIQUE INDEX principals_operator_name ON principals (name) WHERE kind = 'operator';
