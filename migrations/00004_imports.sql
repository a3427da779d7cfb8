-- +goose Up
CREATE TABLE imports (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    kind            text NOT NULL DEFAULT 'customers',
    status          text NOT NULL DEFAULT 'queued', -- queued | reading | processing | completed | failed | cancelled
    file_name       text NOT NULL DEFAULT '',
    size_bytes      bigint NOT NULL DEFAULT 0,
    format          text NOT NULL DEFAULT '',
    encoding        text NOT NULL DEFAULT '',
    delimiter       text NOT NULL DEFAULT '',
    headers         text[] NOT NULL DEFAULT '{}',
    mapping         jsonb NOT NULL DEFAULT '{}',
    options         jsonb NOT NULL DEFAULT '{}',
    dry_run         boolean NOT NULL DEFAULT false,
    rows            integer NOT NULL DEFAULT 0,
    processed       integer NOT NULL DEFAULT 0,
    created_count   integer NOT NULL DEFAULT 0,
    updated_count   integer NOT NULL DEFAULT 0,
    unchanged       integer NOT NULL DEFAULT 0,
    merged_in_file  integer NOT NULL DEFAULT 0,
    conflicts       integer NOT NULL DEFAULT 0,
    invalid         integer NOT NULL DEFAULT 0,
    warnings        integer NOT NULL DEFAULT 0,
    chunks          integer NOT NULL DEFAULT 0,
    chunks_done     integer NOT NULL DEFAULT 0,
    samples         jsonb NOT NULL DEFAULT '{}',
    error           text NOT NULL DEFAULT '',
    created         timestamptz NOT NULL DEFAULT now(),
    started         timestamptz,
    read_done       timestamptz,
    finished        timestamptz,
    updated         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX imports_created ON imports (organization_id, created DESC, id DESC);
CREATE INDEX imports_active ON imports (updated) WHERE status IN ('reading', 'processing');

-- Normalized rows waiting to be merged. chunk groups rows that share an
-- identity (directly or through an existing customer), so chunks can run in
-- parallel and still give the result of processing the file in order.
CREATE TABLE import_rows (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    row_num         integer NOT NULL,
    chunk           integer NOT NULL DEFAULT -1,
    email           text NOT NULL DEFAULT '',
    email_key       text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    phone_key       text NOT NULL DEFAULT '',
    phone_valid     boolean NOT NULL DEFAULT false,
    phone_ext       text NOT NULL DEFAULT '',
    external_key    text NOT NULL DEFAULT '',
    record          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (organization_id, import_id, row_num)
);
CREATE INDEX import_rows_chunk ON import_rows (organization_id, import_id, chunk, row_num);

CREATE TABLE import_chunks (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    chunk           integer NOT NULL,
    rows            integer NOT NULL DEFAULT 0,
    done            boolean NOT NULL DEFAULT false,
    samples         jsonb NOT NULL DEFAULT '{}', -- first rows of each outcome (dry runs)
    finished        timestamptz,
    PRIMARY KEY (organization_id, import_id, chunk)
);

-- Row problems: errors (row not imported) and warnings (a field dropped).
CREATE TABLE import_errors (
    organization_id text NOT NULL,
    import_id       text NOT NULL,
    row_num         integer NOT NULL,
    seq             smallint NOT NULL DEFAULT 0,
    severity        text NOT NULL, -- error | warning
    column_name     text NOT NULL DEFAULT '',
    reason          text NOT NULL,
    raw             text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (organization_id, import_id, row_num, seq)
);

-- +goose Down
DROP TABLE import_errors;
DROP TABLE import_chunks;
DROP TABLE import_rows;
DROP TABLE imports;
