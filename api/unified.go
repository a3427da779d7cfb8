package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
	"github.com/linkitworks/customers/postgres"
)

// defaultSourceSystem names records that come with no source_system.
const defaultSourceSystem = "linkit"

// unifiedInput is the body of POST /api/v1/unified/customer (seed 001),
// plus the source-record fields its answer carries and merge_policy.
type unifiedInput struct {
	Email                      string          `json:"email"`
	Name                       string          `json:"name"`
	AddressLine1               string          `json:"address_line1"`
	AddressLine2               string          `json:"address_line2"`
	AddressCity                string          `json:"address_city"`
	AddressCountry             string          `json:"address_country"`
	AddressState               string          `json:"address_state"`
	AddressPostalCode          string          `json:"address_postal_code"`
	ShippingAddressLine1       string          `json:"shipping_address_line1"`
	ShippingAddressLine2       string          `json:"shipping_address_line2"`
	ShippingAddressCity        string          `json:"shipping_address_city"`
	ShippingAddressCountry     string          `json:"shipping_address_country"`
	ShippingAddressState       string          `json:"shipping_address_state"`
	ShippingAddressPostalCode  string          `json:"shipping_address_postal_code"`
	Phone                      string          `json:"phone"`
	SourceSystem               string          `json:"source_system"`
	SourceID                   json.RawMessage `json:"source_id"` // a string or a number
	SourceSystemImgURL         string          `json:"source_system_img_url"`
	ExternalSystemProviderID   string          `json:"external_system_provider_id"`
	ExternalSystemConfigID     string          `json:"external_system_config_id"`
	SupportingDataDefinitionID string          `json:"supporting_data_definition_id"`
	ExternalSystemData         map[string]any  `json:"external_system_data"`
	MergePolicy                string          `json:"merge_policy"`
}

// request validates and normalizes the input into an engine request whose
// external id is lower(source_system) + ":" + source_id.
func (in unifiedInput) request(p problems, regions ...string) *dedupe.Request {
	src := &customer.SourceRecord{
		System:                     strings.ToLower(p.text("source_system", in.SourceSystem, 0, customer.MaxSourceSystemLen)),
		ID:                         p.text("source_id", p.idString("source_id", in.SourceID), 0, customer.MaxSourceIDLen),
		ImgURL:                     p.url("source_system_img_url", in.SourceSystemImgURL),
		ProviderID:                 p.text("external_system_provider_id", in.ExternalSystemProviderID, 0, customer.MaxSourceIDLen),
		ConfigID:                   p.text("external_system_config_id", in.ExternalSystemConfigID, 0, customer.MaxSourceIDLen),
		SupportingDataDefinitionID: p.text("supporting_data_definition_id", in.SupportingDataDefinitionID, 0, customer.MaxSourceIDLen),
		Data:                       in.ExternalSystemData,
	}
	if strings.Contains(src.System, ":") {
		p.add("source_system", "must not contain ':'")
	}
	src.System = cmp.Or(src.System, defaultSourceSystem)
	f := customer.Customer{
		Name:   p.name("name", in.Name, true),
		Source: src.System,
		B2B: customer.B2B{
			BillingAddress: p.flatAddress("address_", in.AddressLine1, in.AddressLine2, in.AddressCity,
				in.AddressState, in.AddressPostalCode, in.AddressCountry),
			ShippingAddress: p.flatAddress("shipping_address_", in.ShippingAddressLine1, in.ShippingAddressLine2,
				in.ShippingAddressCity, in.ShippingAddressState, in.ShippingAddressPostalCode, in.ShippingAddressCountry),
		},
	}
	f.FirstName, f.LastName = dedupe.SplitName(f.Name)
	req := &dedupe.Request{Source: src.System, SourceRecord: src}
	rec := &req.Record
	if strings.TrimSpace(in.Email) == "" {
		p.add("email", "is required")
	}
	rec.Email = p.email("email", in.Email)
	rec.EmailKey = dedupe.EmailKey(rec.Email, false)
	ph := p.phone("phone", in.Phone, regions...)
	rec.Phone, rec.PhoneValid, rec.PhoneExt, rec.PhoneKey = ph.Number, ph.Valid, ph.Extension, dedupe.PhoneDigits(ph.Number)
	if src.ID != "" {
		rec.External = src.System + ":" + src.ID
	}
	rec.Fields = f
	req.Options = p.mergePolicy("merge_policy", in.MergePolicy)
	return req
}

// idString reads an id sent as a JSON string or number (many systems use
// numeric ids); null and absent are "".
func (p problems) idString(field string, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String()
	}
	p.add(field, "must be a string or a number")
	return ""
}

// flatAddress builds a postal address from seed 001's flat fields (prefix +
// line1, line2, city, state, postal_code, country). The country becomes
// ISO 3166-1 alpha-2 when it is a code, an alpha-3 code or a common name
// ("USA", "United States"); anything else is kept as sent.
func (p problems) flatAddress(prefix, line1, line2, city, state, postal, country string) *customer.PostalAddress {
	a := &customer.PostalAddress{
		Line1:      p.text(prefix+"line1", line1, 0, customer.MaxAddressLineLen),
		Line2:      p.text(prefix+"line2", line2, 0, customer.MaxAddressLineLen),
		City:       p.text(prefix+"city", city, 0, customer.MaxCityLen),
		State:      p.text(prefix+"state", state, 0, customer.MaxStateLen),
		PostalCode: p.text(prefix+"postal_code", postal, 0, customer.MaxPostalCodeLen),
	}
	a.Country, _ = dedupe.NormalizeCountry(p.text(prefix+"country", country, 0, customer.MaxCountryNameLen))
	if *a == (customer.PostalAddress{}) {
		return nil
	}
	return a
}

// unifiedCustomer is seed 001's data: the customer as one source system's
// record of it. Values the record does not have are null.
type unifiedCustomer struct {
	ID                         string         `json:"id"`
	SourceSystem               string         `json:"source_system"`
	SourceSystemImgURL         *string        `json:"source_system_img_url"`
	SourceID                   *string        `json:"source_id"`
	ExternalSystemProviderID   *string        `json:"external_system_provider_id"`
	ExternalSystemConfigID     *string        `json:"external_system_config_id"`
	ExternalSystemData         map[string]any `json:"external_system_data"`
	SupportingDataDefinitionID *string        `json:"supporting_data_definition_id"`
	Email                      *string        `json:"email"`
	Name                       string         `json:"name"`
	AddressLine1               *string        `json:"address_line1"`
	AddressLine2               *string        `json:"address_line2"`
	AddressCity                *string        `json:"address_city"`
	AddressCountry             *string        `json:"address_country"`
	AddressState               *string        `json:"address_state"`
	AddressPostalCode          *string        `json:"address_postal_code"`
	ShippingAddressLine1       *string        `json:"shipping_address_line1"`
	ShippingAddressLine2       *string        `json:"shipping_address_line2"`
	ShippingAddressCity        *string        `json:"shipping_address_city"`
	ShippingAddressCountry     *string        `json:"shipping_address_country"`
	ShippingAddressState       *string        `json:"shipping_address_state"`
	ShippingAddressPostalCode  *string        `json:"shipping_address_postal_code"`
	Phone                      *string        `json:"phone"`
	IsPrimary                  bool           `json:"is_primary"`
	LocalWasDeleted            bool           `json:"local_was_deleted"`
	LocalWasUpdated            bool           `json:"local_was_updated"`
	SourceDataCreatedAt        time.Time      `json:"source_data_created_at"`
	IsActive                   bool           `json:"is_active"`
}

// unifiedView renders a finished unified job: c is the surviving customer,
// res what the job did, req the request (its source record). The source
// record is read back from the external id, so fields sent earlier show.
func (s *Server) unifiedView(ctx context.Context, orgID string, req *dedupe.Request, res *postgres.UpsertReply, c *customer.Customer) (*unifiedCustomer, error) {
	src := req.SourceRecord
	firstSeen := c.Created
	if req.Record.External != "" {
		link, err := s.store.FindSourceLink(ctx, orgID, req.Record.External)
		if err != nil && customer.ErrorCode(err) != customer.ENOTFOUND {
			return nil, err
		}
		// A link owned by another customer (a conflict) is not this record's.
		if link != nil && (link.CustomerID == c.ID || link.CustomerID == res.CustomerID) {
			firstSeen = link.FirstSeen
			if link.Record != nil {
				src = link.Record
			}
		}
	}
	billing, shipping := addressOrEmpty(c.BillingAddress), addressOrEmpty(c.ShippingAddress)
	return &unifiedCustomer{
		ID:                         c.ID,
		SourceSystem:               src.System,
		SourceSystemImgURL:         orNull(src.ImgURL),
		SourceID:                   orNull(src.ID),
		ExternalSystemProviderID:   orNull(src.ProviderID),
		ExternalSystemConfigID:     orNull(src.ConfigID),
		ExternalSystemData:         src.Data,
		SupportingDataDefinitionID: orNull(src.SupportingDataDefinitionID),
		Email:                      orNull(c.Email),
		Name:                       cmp.Or(c.Name, c.DisplayName()),
		AddressLine1:               orNull(billing.Line1),
		AddressLine2:               orNull(billing.Line2),
		AddressCity:                orNull(billing.City),
		AddressCountry:             orNull(billing.Country),
		AddressState:               orNull(billing.State),
		AddressPostalCode:          orNull(billing.PostalCode),
		ShippingAddressLine1:       orNull(shipping.Line1),
		ShippingAddressLine2:       orNull(shipping.Line2),
		ShippingAddressCity:        orNull(shipping.City),
		ShippingAddressCountry:     orNull(shipping.Country),
		ShippingAddressState:       orNull(shipping.State),
		ShippingAddressPostalCode:  orNull(shipping.PostalCode),
		Phone:                      orNull(c.Phone),
		// The job's customer is the survivor unless it was merged away
		// since; the answer then shows the survivor.
		IsPrimary:           c.ID == res.CustomerID,
		LocalWasDeleted:     c.ID != res.CustomerID,
		LocalWasUpdated:     res.Action == dedupe.ActionUpdated,
		SourceDataCreatedAt: firstSeen.UTC(),
		IsActive:            c.Status == customer.StatusActive,
	}, nil
}

func addressOrEmpty(a *customer.PostalAddress) customer.PostalAddress {
	if a == nil {
		return customer.PostalAddress{}
	}
	return *a
}

func orNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// handleUnifiedCustomer is seed 001: the §6 engine through the upsert's
// job path, answered in the seed's shape (201 created, 200 matched, 202
// while the job runs).
func (s *Server) handleUnifiedCustomer(w http.ResponseWriter, r *http.Request) error {
	var in unifiedInput
	body, err := readJSON(w, r, &in)
	if err != nil {
		return err
	}
	p := problems{}
	wait := waitParam(r, p)
	req := in.request(p, org(r).DefaultRegion)
	if err := p.err(); err != nil {
		return err
	}
	out, err := s.findOrCreate(r, body, req, wait)
	if err != nil {
		return err
	}
	if out.status == http.StatusAccepted {
		acceptJob(w, out.job)
		writeData(w, http.StatusAccepted, out.job)
		return nil
	}
	view, err := s.unifiedView(r.Context(), out.job.OrganizationID, req, out.meta, out.customer)
	if err != nil {
		return err
	}
	createdCustomer(w, out, "/api/v1/customers")
	encode(w, out.status, struct {
		Data *unifiedCustomer `json:"data"`
		Meta upsertMeta       `json:"meta"`
	}{view, out.metaBlock()})
	return nil
}
