-- Export jobs: the repository objects each one copies (names and sizes, as JSON), kept beside
-- the job document because the list can be long (up to seedship-jobs' MAX_EXPORT_OBJECTS).
CREATE TABLE export_objects (
    job_id TEXT PRIMARY KEY REFERENCES jobs(id),
    body TEXT NOT NULL
);
