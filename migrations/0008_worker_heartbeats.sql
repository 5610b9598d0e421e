-- Every running worker says it is alive: `tsmon up` waits for the first beat, `tsmon status`
-- shows the last one, and an alert can fire when none is recent. One row per worker process.
CREATE TABLE tsmon.worker_heartbeats (
    owner         text PRIMARY KEY,          -- host:pid:nonce, as the worker's detection leases
    host          text NOT NULL,
    pid           integer NOT NULL,
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    jobs          text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX worker_heartbeats_host_pid_idx ON tsmon.worker_heartbeats (host, pid);
COMMENT ON TABLE tsmon.worker_heartbeats IS
    'One row per tsmon worker process: when it started, its scheduled jobs and its last heartbeat '
    '(every 15 s; rows silent for a day are removed).';
