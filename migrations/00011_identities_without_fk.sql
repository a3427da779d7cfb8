-- +goose Up
-- The foreign key made every identity insert lock its customer row
-- (FOR KEY SHARE): 28% of an import's merge time. Identities are written
-- only by the store, always with their customer created or locked in the
-- same transaction, and deleting a customer deletes its identities.
ALTER TABLE customer_identities DROP CONSTRAINT customer_identities_organization_id_customer_id_fkey;

-- +goose Down
ALTER TABLE customer_identities ADD FOREIGN KEY (organization_id, customer_id)
    REFERENCES customers (organization_id, id) ON DELETE CASCADE;
