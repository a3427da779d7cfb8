-- +goose Up
-- A customer's tags, group memberships, addresses and contacts are part of
-- the record its readers see, so changing them moves customers.updated:
-- incremental sync (updated_since, sort=updated) then sees the change,
-- whichever path wrote it (API, upsert, import, merge, location deletion).
-- Statement-level triggers: one UPDATE per statement, by primary key
-- (= ANY of the changed customers' ids, an index probe however few rows
-- the planner guesses), and customers already stamped by this transaction
-- (created or updated with it: updated = now()) are not written again.
-- +goose StatementBegin
CREATE FUNCTION touch_customers_of_changed_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org text;
    ids text[];
BEGIN
    -- An import's revert restores customers row for row, updated included.
    IF current_setting('linkit.keep_updated', true) = 'on' THEN
        RETURN NULL;
    END IF;
    FOR org, ids IN
        SELECT organization_id, array_agg(DISTINCT customer_id) FROM changed_rows GROUP BY organization_id
    LOOP
        UPDATE customers SET updated = now()
        WHERE organization_id = org AND id = ANY(ids) AND updated < now();
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER customer_tags_touch_insert AFTER INSERT ON customer_tags
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER customer_tags_touch_delete AFTER DELETE ON customer_tags
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER customer_tags_touch_update AFTER UPDATE ON customer_tags
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();

CREATE TRIGGER group_members_touch_insert AFTER INSERT ON group_members
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER group_members_touch_delete AFTER DELETE ON group_members
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();

CREATE TRIGGER customer_addresses_touch_insert AFTER INSERT ON customer_addresses
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER customer_addresses_touch_delete AFTER DELETE ON customer_addresses
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER customer_addresses_touch_update AFTER UPDATE ON customer_addresses
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();

CREATE TRIGGER customer_contacts_touch_insert AFTER INSERT ON customer_contacts
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER customer_contacts_touch_delete AFTER DELETE ON customer_contacts
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();
CREATE TRIGGER customer_contacts_touch_update AFTER UPDATE ON customer_contacts
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION touch_customers_of_changed_rows();

-- +goose Down
DROP TRIGGER customer_contacts_touch_update ON customer_contacts;
DROP TRIGGER customer_contacts_touch_delete ON customer_contacts;
DROP TRIGGER customer_contacts_touch_insert ON customer_contacts;
DROP TRIGGER customer_addresses_touch_update ON customer_addresses;
DROP TRIGGER customer_addresses_touch_delete ON customer_addresses;
DROP TRIGGER customer_addresses_touch_insert ON customer_addresses;
DROP TRIGGER group_members_touch_delete ON group_members;
DROP TRIGGER group_members_touch_insert ON group_members;
DROP TRIGGER customer_tags_touch_update ON customer_tags;
DROP TRIGGER customer_tags_touch_delete ON customer_tags;
DROP TRIGGER customer_tags_touch_insert ON customer_tags;
DROP FUNCTION touch_customers_of_changed_rows();
