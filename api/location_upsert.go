package api

import "net/http"

// handleLocationUpsert is the seed 004 upsert: SPEC §6 at the path's location.
func (s *Server) handleLocationUpsert(w http.ResponseWriter, r *http.Request) error {
	out, err := s.upsert(w, r, r.PathValue("location_id"))
	if err != nil {
		return err
	}
	if out.status == http.StatusAccepted {
		acceptJob(w, out.job)
		writeScoped(w, http.StatusAccepted, "Customer upsert accepted!", out.job, nil)
		return nil
	}
	createdCustomer(w, out, "/api/v1/locations/"+r.PathValue("location_id")+"/customers")
	encode(w, out.status, struct {
		scopedEnvelope
		Meta upsertMeta `json:"meta"`
	}{scopedEnvelope{Success: true, Message: msgCustomerUpserted, Data: out.customer}, out.metaBlock()})
	return nil
}
