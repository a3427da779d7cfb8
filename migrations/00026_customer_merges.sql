-- +goose Up
-- Every merge of one customer into another (duplicate review's manual
-- merges and the engine's merge_conflicts merges alike) keeps what unmerge
-- needs to put the source back (SPEC §10.2): the source's row and the
-- survivor's before the merge, the survivor's as the merge left it, and
-- which child rows moved (identities, carriers, tags, groups, visits,
-- addresses, contacts, orders, credit checks, redirects, open pairs).
CREATE TABLE customer_merges (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              text NOT NULL,
    survivor_id     text NOT NULL,
    source_id       text NOT NULL,
    source_before   jsonb NOT NULL,
    survivor_before jsonb NOT NULL,
    survivor_after  jsonb,
    moved           jsonb NOT NULL,
    -- what merged: "api" (duplicate review), "upsert", "import"
    source          text NOT NULL DEFAULT '',
    job_id          text,
    import_id       text,
    created         timestamptz NOT NULL DEFAULT now(),
    unmerged        timestamptz,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX customer_merges_pair ON customer_merges (organization_id, source_id, created DESC);

-- A merge repoints the customers already merged into its source; without
-- this index that was a scan of the organization's customers per merge.
CREATE INDEX customers_merged_into ON customers (organization_id, merged_into) WHERE merged_into IS NOT NULL;

-- +goose Down
DROP INDEX customers_merged_into;
DROP TABLE customer_merges;
