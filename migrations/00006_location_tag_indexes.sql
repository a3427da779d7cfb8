-- +goose Up
-- Tag counts at one location (GET /tags?location_id=) and the clean-up when
-- a location is deleted read tags and memberships by location.
CREATE INDEX customer_tags_location ON customer_tags (organization_id, location_id, tag_key);
CREATE INDEX group_members_location ON group_members (organization_id, location_id) WHERE location_id IS NOT NULL;

-- +goose Down
DROP INDEX group_members_location;
DROP INDEX customer_tags_location;
