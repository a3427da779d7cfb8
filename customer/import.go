package customer

import "time"

// ImportKind is what a file holds: the fields its columns map to and how
// its rows are merged. The one definition: the importer, the store, the
// API and the CLI use these constants.
type ImportKind string

const (
	ImportCustomers ImportKind = "customers" // the default
	ImportOrders    ImportKind = "orders"    // one row per order line
)

// ImportStatus is where an import is: reading (its file is staged), then
// processing (planned, merged in chunks), then one of the final three.
// queued is only the database column's default: the service records an
// import as reading.
type ImportStatus string

const (
	ImportQueued     ImportStatus = "queued"
	ImportReading    ImportStatus = "reading"
	ImportProcessing ImportStatus = "processing"
	ImportCompleted  ImportStatus = "completed"
	ImportFailed     ImportStatus = "failed"
	ImportCancelled  ImportStatus = "cancelled"
	// An import being undone (POST /imports/{id}/revert), then undone.
	ImportReverting ImportStatus = "reverting"
	ImportReverted  ImportStatus = "reverted"
)

// Columns names, for each field a file maps, the column holding it.
type Columns map[string]string

// Of is the column holding field, or the field's own name when no column
// maps to it (JSON keys, fields an import adds).
func (c Columns) Of(field string) string {
	if col := c[field]; col != "" {
		return col
	}
	return field
}

// FieldColumns names, for each field a file maps, the column holding it —
// the first in header order when several do — so that problems found while
// reading and while merging name the same column.
func FieldColumns(headers []string, mapping map[string]string) Columns {
	cols := Columns{}
	for i := len(headers) - 1; i >= 0; i-- { // backwards: the first column wins
		if field := mapping[headers[i]]; field != "" {
			cols[field] = headers[i]
		}
	}
	return cols
}

// Import is one uploaded file and its progress (SPEC §7).
type Import struct {
	ID             string            `json:"id"`
	OrganizationID string            `json:"organization_id"`
	Kind           ImportKind        `json:"kind"`
	Status         ImportStatus      `json:"status"`
	FileName       string            `json:"file_name"`
	SizeBytes      int64             `json:"size_bytes"`
	Format         string            `json:"format"`
	Encoding       string            `json:"encoding"`
	Delimiter      string            `json:"delimiter"`
	Headers        []string          `json:"headers"`
	Mapping        map[string]string `json:"mapping"`
	Options        ImportOptions     `json:"options"`
	Counts         ImportCounts      `json:"counts"`
	Progress       float64           `json:"progress"`
	RowsPerSecond  float64           `json:"rows_per_second"`
	ETASeconds     *float64          `json:"eta_seconds"`
	ErrorSummary   map[string]int    `json:"error_summary"`
	Samples        map[string][]int  `json:"samples,omitempty"`
	Revert         *ImportRevert     `json:"revert,omitempty"`
	Error          string            `json:"error"`
	Chunks         int               `json:"chunks"`
	ChunksDone     int               `json:"chunks_done"`
	Created        time.Time         `json:"created"`
	Started        *time.Time        `json:"started"`
	Finished       *time.Time        `json:"finished"`
}

// ImportRevert is the undoing of an import: its job, and once done what
// happened to the customers the import created or changed. Kept lists
// (the first maxKept of) those left as they are, with why.
type ImportRevert struct {
	JobID     string       `json:"job_id"`
	State     string       `json:"state"` // queued | completed (the job tells running)
	Deleted   int          `json:"deleted"`
	Restored  int          `json:"restored"`
	KeptCount int          `json:"kept_count"`
	Kept      []RevertKept `json:"kept"`
	Finished  *time.Time   `json:"finished,omitempty"`
}

// RevertKept is a customer a revert left alone.
type RevertKept struct {
	CustomerID string `json:"customer_id"`
	Created    bool   `json:"created"` // the import had created it
	Reason     string `json:"reason"`
}

// ImportOptions are what the merchant chose for an import.
type ImportOptions struct {
	LocationID    string            `json:"location_id,omitempty"`
	Tags          []string          `json:"tags,omitempty"`
	GroupIDs      []string          `json:"group_ids,omitempty"`
	MergePolicy   string            `json:"merge_policy,omitempty"`
	DefaultRegion string            `json:"default_region,omitempty"`
	DryRun        bool              `json:"dry_run"`
	Mapping       map[string]string `json:"mapping,omitempty"`
	Kind          ImportKind        `json:"kind,omitempty"`
	// Sheet is the worksheet of a workbook upload asked for (name or
	// 1-based index; "": the first).
	Sheet string `json:"sheet,omitempty"`
}

// ImportCounts are the row tallies; created + updated + unchanged +
// merged_in_file + invalid = rows once processing is done. Order imports
// also count orders: created, skipped (the order number already existed)
// and invalid (the order's rows were not imported).
type ImportCounts struct {
	Rows          int `json:"rows"`
	Processed     int `json:"processed"`
	Created       int `json:"created"`
	Updated       int `json:"updated"`
	Unchanged     int `json:"unchanged"`
	MergedInFile  int `json:"merged_in_file"`
	Conflicts     int `json:"conflicts"`
	Invalid       int `json:"invalid"`
	Warnings      int `json:"warnings"`
	OrdersCreated int `json:"orders_created"`
	OrdersSkipped int `json:"orders_skipped"`
	OrdersInvalid int `json:"orders_invalid"`
}

// ImportRow is one normalized row, staged for the merge.
type ImportRow struct {
	Num        int
	Chunk      int // the natural chunk, cut in file order while staging
	Bytes      int // the bytes of the row's values (its cells): fat rows weigh in the plan
	Email      string
	EmailKey   string
	Phone      string
	PhoneKey   string
	PhoneValid bool
	PhoneExt   string
	External   string
	OrderKey   string   // order imports: the order number rows of one order share
	Raw        []string // the original cells, for problems found while merging
	Record     ImportRecord
}

// ImportRecord holds a row's checked non-identifier values.
type ImportRecord struct {
	Fields     map[string]string `json:"f,omitempty"` // customer field → value
	Attributes map[string]string `json:"a,omitempty"` // unmapped columns
	Tags       []string          `json:"t,omitempty"`
	Address    *Address          `json:"ad,omitempty"`
	Order      *ImportOrderLine  `json:"o,omitempty"` // order imports
	Warned     bool              `json:"w,omitempty"` // the row got a warning while read
}

// ImportOrderLine is what one row of an order import says about its order:
// order-level values (any row of the order may carry them; the first row
// that has a value gives it) and at most one line.
type ImportOrderLine struct {
	Status          string         `json:"s,omitempty"`
	OrderDate       *time.Time     `json:"d,omitempty"`
	PaidDate        *time.Time     `json:"pd,omitempty"`
	ShipDate        *time.Time     `json:"sd,omitempty"`
	DeliveryDate    *time.Time     `json:"dd,omitempty"`
	Currency        string         `json:"c,omitempty"`
	Total           *float64       `json:"t,omitempty"`
	Location        string         `json:"l,omitempty"` // a location's id, code or name, as written
	ShippingAddress *PostalAddress `json:"sa,omitempty"`
	Item            *OrderItem     `json:"i,omitempty"`
	BadLine         bool           `json:"bl,omitempty"` // the row's line could not be read: its order is not imported
}

// Severities of row problems.
const (
	SeverityError   = "error"   // the row was not imported
	SeverityWarning = "warning" // a field was dropped; the row was imported
)

// ImportProblem is a row error or warning, with the original row.
type ImportProblem struct {
	Row      int      `json:"row"`
	Seq      int      `json:"-"`
	Severity string   `json:"severity"`
	Column   string   `json:"column"`
	Reason   string   `json:"reason"`
	Raw      []string `json:"original"`
}

// Customer builds the customer values of a staged record.
func (r *ImportRecord) Customer() Customer {
	// One pass over the record's few fields: thirteen lookups by name cost
	// more (a chunk builds this for each of its rows).
	var c Customer
	for k, v := range r.Fields {
		switch k {
		case "first_name":
			c.FirstName = v
		case "last_name":
			c.LastName = v
		case "name":
			c.Name = v
		case "birthdate":
			c.Birthdate = v
		case "gender":
			c.Gender = v
		case "type":
			c.Type = v
		case "status":
			c.Status = v
		case "company_name":
			c.CompanyName = v
		case "avatar_url":
			c.AvatarURL = v
		case "source":
			c.Source = v
		case "notes":
			c.Notes = v
		case "website":
			c.Website = v
		case "tax_id":
			c.TaxID = v
		}
	}
	if len(r.Attributes) > 0 {
		c.Attributes = make(map[string]any, len(r.Attributes))
		for k, v := range r.Attributes {
			c.Attributes[k] = v
		}
	}
	if c.Name == "" {
		c.Name = c.DisplayName()
	}
	return c
}
