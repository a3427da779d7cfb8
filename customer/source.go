package customer

import "time"

// SourceRecord is another system's view of a customer (seed 001): which
// record of which system it is and the data that system keeps about it.
// It hangs off the external id "system:id" that links it to the customer,
// so it follows the customer through merges.
type SourceRecord struct {
	System                     string         `json:"source_system"`
	ID                         string         `json:"source_id,omitempty"`
	ImgURL                     string         `json:"source_system_img_url,omitempty"`
	ProviderID                 string         `json:"external_system_provider_id,omitempty"`
	ConfigID                   string         `json:"external_system_config_id,omitempty"`
	SupportingDataDefinitionID string         `json:"supporting_data_definition_id,omitempty"`
	Data                       map[string]any `json:"external_system_data,omitempty"`
}

// SourceLink is a stored source record: the customer its external id
// belongs to and when that id was first seen.
type SourceLink struct {
	CustomerID string
	FirstSeen  time.Time
	Record     *SourceRecord // nil when the id came without source data (e.g. an upsert's external_id)
}
