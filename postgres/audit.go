package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/dedupe"
)

// Audit event types.
const (
	EventCreated = "customer.created"
	EventUpdated = "customer.updated"
	EventMerged  = "customer.merged"
	EventTagged  = "customer.tagged"
	EventDeleted = "customer.deleted"
	// EventUnmerged is written on both customers of an undone merge.
	EventUnmerged = "customer.unmerged"
)

// audit writes one event within tx.
func audit(ctx context.Context, tx pgx.Tx, orgID, customerID, typ, source string, changes any) error {
	return auditAt(ctx, tx, orgID, customerID, typ, source, "", changes)
}

// auditAt writes one event of a change made at a location ("" for none),
// as every path fills it: the location the request named.
func auditAt(ctx context.Context, tx pgx.Tx, orgID, customerID, typ, source, locationID string, changes any) error {
	_, err := tx.Exec(ctx, sqlInsertAudit, orgID, customerID, typ, source, "", "", locationID, changes)
	return interpretError(err, nil)
}

// diffCustomers lists the fields an edit changed, by their JSON names.
func diffCustomers(prev, next *customer.Customer) map[string]Change {
	a, b := map[string]any{}, map[string]any{}
	pb, _ := json.Marshal(prev)
	nb, _ := json.Marshal(next)
	_ = json.Unmarshal(pb, &a)
	_ = json.Unmarshal(nb, &b)
	changes := map[string]Change{}
	for k, v := range b {
		if k == "updated" || k == "created" {
			continue
		}
		if !reflect.DeepEqual(a[k], v) {
			changes[k] = Change{From: a[k], To: v}
		}
	}
	return changes
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// auditContext says why a change happened.
type auditContext struct {
	source, jobID, importID, locationID string
}

// queueAudit writes one event per customer the workspace touched; tagged
// are the request's changes beside the fields (tags, groups, source record).
func queueAudit(b *pgx.Batch, orgID string, ac auditContext, w *dedupe.Workspace, res dedupe.Result, tagged map[string]Change) {
	var created []string
	for _, c := range w.Created() {
		created = append(created, c.ID)
	}
	auditEvents(created, w.Updated(), res, tagged, func(customerID, typ string, changes map[string]any) {
		b.Queue(sqlInsertAudit, orgID, customerID, typ, ac.source, ac.jobID, ac.importID, ac.locationID, changes)
	})
}

// auditEvents lists a request's events: one per customer it created or
// whose fields it changed (updated), the request's own (res) carrying
// tagged; a customer only tagged gets an event of its own.
func auditEvents(created []string, updated map[string]map[string]Change, res dedupe.Result, tagged map[string]Change,
	event func(customerID, typ string, changes map[string]any)) {
	withTagged := func(id string, changes map[string]any) map[string]any {
		if id == res.CustomerID {
			for k, v := range tagged {
				changes[k] = v
			}
		}
		return changes
	}
	for _, id := range created {
		event(id, EventCreated, withTagged(id, map[string]any{}))
	}
	// merges write their own events (queueMerge)
	for id, ch := range updated {
		changes := map[string]any{}
		for k, v := range ch {
			changes[k] = v
		}
		event(id, EventUpdated, withTagged(id, changes))
	}
	if _, ok := updated[res.CustomerID]; !ok && res.Action != dedupe.ActionCreated && len(tagged) > 0 {
		typ := EventTagged
		if _, ok := tagged["source_record"]; ok {
			typ = EventUpdated // a unified customer's source data changed
		}
		event(res.CustomerID, typ, withTagged(res.CustomerID, map[string]any{}))
	}
}

// Event is one entry of a customer's history.
type Event struct {
	ID         int64          `json:"id"`
	CustomerID string         `json:"customer_id"`
	Type       string         `json:"type"`
	Source     string         `json:"source"`
	JobID      *string        `json:"job_id"`
	ImportID   *string        `json:"import_id"`
	LocationID *string        `json:"location_id"`
	Changes    map[string]any `json:"changes"`
	Created    time.Time      `json:"created"`
}

const (
	sqlCustomerKnown = `SELECT id FROM customers WHERE organization_id = $1 AND id = $2`
)

var (
	sqlSelectHistory = `SELECT id, customer_id, type, source, job_id, import_id, location_id, changes, created
		FROM ` + auditTrail("customer_id = $2", "c.id = $2") + ` a ORDER BY id DESC LIMIT $3 OFFSET $4`
	sqlCountHistory = `SELECT count(*) FROM ` + auditTrail("customer_id = $2", "c.id = $2") + ` a`
)

// FindHistory lists a customer's audit events, newest first.
func (s *Store) FindHistory(ctx context.Context, orgID, customerID string, page, limit int) ([]Event, customer.Page, error) {
	var id string
	if err := s.pool.QueryRow(ctx, sqlCustomerKnown, orgID, customerID).Scan(&id); err != nil {
		return nil, customer.Page{}, interpretError(err, customer.NotFound("Customer", customerID))
	}
	var total int
	events := []Event{}
	b := &pgx.Batch{}
	b.Queue(sqlSelectHistory, orgID, customerID, limit, (page-1)*limit).Query(func(rows pgx.Rows) error {
		var err error
		events, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
			var e Event
			err := r.Scan(&e.ID, &e.CustomerID, &e.Type, &e.Source, &e.JobID, &e.ImportID, &e.LocationID, &e.Changes, &e.Created)
			return e, err
		})
		return err
	})
	b.Queue(sqlCountHistory, orgID, customerID).QueryRow(func(row pgx.Row) error { return row.Scan(&total) })
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, customer.Page{}, interpretError(fmt.Errorf("history: %w", err), nil)
	}
	return events, customer.NewPage(total, page, limit), nil
}
