package importer

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/linkitworks/customers/customer"
)

// mappingOf opens a header-only CSV and returns header → target per column.
func mappingOf(t *testing.T, kind customer.ImportKind, header string, override map[string]string) map[string]string {
	t.Helper()
	rd, err := Open(strings.NewReader(header+"\n"), Options{Kind: kind, Mapping: override})
	if err != nil {
		t.Fatal(err)
	}
	det := rd.Detected()
	got := map[string]string{}
	for i, h := range det.Headers {
		got[h] = det.Targets[i]
	}
	return got
}

func checkMapping(t *testing.T, name string, got, want map[string]string) {
	t.Helper()
	for h, w := range want {
		if g, ok := got[h]; !ok || g != w {
			t.Errorf("%s: %q → %q, want %q", name, h, g, w)
		}
	}
	for h, g := range got {
		if _, ok := want[h]; !ok && g != "" {
			t.Errorf("%s: unexpected %q → %q", name, h, g)
		}
	}
}

func TestMappingExports(t *testing.T) {
	cases := []struct {
		name, header string
		kind         customer.ImportKind
		want         map[string]string // unlisted headers must be attributes
	}{
		{"shopify", "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Company,Default Address Address1,Default Address Address2,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags",
			customer.ImportCustomers, map[string]string{
				"Customer ID": "external_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
				"Default Address Company": "company_name", "Default Address Address1": "address_line1",
				"Default Address Address2": "address_line2", "Default Address City": "city",
				"Default Address Province Code": "state", "Default Address Country Code": "country",
				"Default Address Zip": "postal_code", "Default Address Phone": "", "Phone": "phone", "Note": "notes",
				"Tags": "tags", "Accepts Email Marketing": "", "Total Spent": "",
			}},
		{"shopify-no-phone", "Email,Default Address Phone,Mobile", customer.ImportCustomers, map[string]string{
			"Email": "email", "Default Address Phone": "", "Mobile": "phone",
		}},
		{"shopify-address-phone-only", "Email,Default Address Phone", customer.ImportCustomers, map[string]string{
			"Email": "email", "Default Address Phone": "phone",
		}},
		{"shopify-old", "First Name,Last Name,Email,Accepts Marketing,Company,Address1,Address2,City,Province,Province Code,Country,Country Code,Zip,Phone,Total Spent,Total Orders,Tags,Note,Tax Exempt",
			customer.ImportCustomers, map[string]string{
				"First Name": "first_name", "Last Name": "last_name", "Email": "email", "Company": "company_name",
				"Address1": "address_line1", "Address2": "address_line2", "City": "city", "Province": "state",
				"Province Code": "", "Country": "country", "Country Code": "", "Zip": "postal_code", "Phone": "phone",
				"Tags": "tags", "Note": "notes",
			}},
		{"square", "Reference ID,First Name,Last Name,Email Address,Phone Number,Nickname,Company Name,Street Address 1,Street Address 2,City,State,Postal Code,Birthday,Memo,Square Customer ID,Creation Source,First Visit,Last Visit,Transaction Count,Total Spend,Email Subscription Status,Groups",
			customer.ImportCustomers, map[string]string{
				"Reference ID": "", "First Name": "first_name", "Last Name": "last_name", "Email Address": "email",
				"Phone Number": "phone", "Company Name": "company_name", "Street Address 1": "address_line1",
				"Street Address 2": "address_line2", "City": "city", "State": "state", "Postal Code": "postal_code",
				"Birthday": "birthdate", "Memo": "notes", "Square Customer ID": "external_id", "Groups": "tags",
			}},
		{"hubspot", "Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Company Name,Street Address,City,State/Region,Postal Code,Country/Region,Lifecycle Stage,Contact owner,Create Date",
			customer.ImportCustomers, map[string]string{
				"Record ID": "external_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
				"Phone Number": "phone", "Mobile Phone Number": "", "Company Name": "company_name",
				"Street Address": "address_line1", "City": "city", "State/Region": "state", "Postal Code": "postal_code",
				"Country/Region": "country",
			}},
		{"datablist-customers", "Index,Customer Id,First Name,Last Name,Company,City,Country,Phone 1,Phone 2,Email,Subscription Date,Website",
			customer.ImportCustomers, map[string]string{
				"Index": "", "Customer Id": "external_id", "First Name": "first_name", "Last Name": "last_name",
				"Company": "company_name", "City": "city", "Country": "country", "Phone 1": "phone", "Phone 2": "",
				"Email": "email", "Subscription Date": "", "Website": "website",
			}},
		{"datablist-people", "Index,User Id,First Name,Last Name,Sex,Email,Phone,Date of birth,Job Title",
			customer.ImportCustomers, map[string]string{
				"User Id": "external_id", "First Name": "first_name", "Last Name": "last_name", "Sex": "gender",
				"Email": "email", "Phone": "phone", "Date of birth": "birthdate", "Job Title": "",
			}},
		{"aliases", "fname,Surname,Full Name,E-mail Address,Mobile,Telephone,Email 2,Organization,DOB,Labels,Comments,External ID,ZIP Code,Town,Region,Address Line 1,Address 2,Avatar URL,Tax ID,Web Site,Lead Source,Customer Type,Status,Gender",
			customer.ImportCustomers, map[string]string{
				"fname": "first_name", "Surname": "last_name", "Full Name": "name", "E-mail Address": "email",
				"Mobile": "phone", "Telephone": "", "Email 2": "", "Organization": "company_name", "DOB": "birthdate",
				"Labels": "tags", "Comments": "notes", "External ID": "external_id", "ZIP Code": "postal_code",
				"Town": "city", "Region": "state", "Address Line 1": "address_line1", "Address 2": "address_line2",
				"Avatar URL": "avatar_url", "Tax ID": "tax_id", "Web Site": "website", "Lead Source": "source",
				"Customer Type": "type", "Status": "status", "Gender": "gender",
			}},
		{"spelling", "  FIRST_NAME ,last-name,\ufeffe.mail,Phone #1,Prénom,PRENOM", customer.ImportCustomers, map[string]string{
			"FIRST_NAME": "first_name", "last-name": "last_name", "e.mail": "email", "Phone #1": "phone",
			"Prénom": "", "PRENOM": "",
		}},
		{"shopify-orders", "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,Refunded Amount,Vendor,Id,Tags,Risk Level,Source,Lineitem discount,Tax 1 Name,Tax 1 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,Payment ID,Payment Terms Name,Next Payment Due At,Payment References",
			customer.ImportOrders, map[string]string{
				"Name": "order_number", "Email": "email", "Paid at": "paid_date", "Fulfilled at": "ship_date",
				"Currency": "currency", "Total": "total_amount", "Created at": "order_date",
				"Lineitem quantity": "quantity", "Lineitem name": "product_name", "Lineitem price": "unit_price",
				"Lineitem sku": "product_id", "Billing Name": "name", "Billing Phone": "", "Shipping Name": "",
				"Shipping Phone": "", "Id": "", "Phone": "phone", "Financial Status": "financial_status",
				"Fulfillment Status": "fulfillment_status", "Cancelled at": "cancelled_date",
				"Shipping Street": "", "Shipping Address1": "shipping_address_line1",
				"Shipping Address2": "shipping_address_line2", "Shipping City": "shipping_address_city",
				"Shipping Zip": "shipping_address_postal_code", "Shipping Province": "shipping_address_state",
				"Shipping Country": "shipping_address_country", "Shipping Province Name": "",
				"Lineitem fulfillment status": "",
			}},
		{"orders-generic", "Order #,Order Date,Order Status,Amount,Currency Code,Paid Date,Ship Date,Delivery Date,SKU,Product,Qty,Unit Price,Customer Email,Customer Name,First Name,Last Name,Customer ID,Location ID",
			customer.ImportOrders, map[string]string{
				"Order #": "order_number", "Order Date": "order_date", "Order Status": "status", "Amount": "total_amount",
				"Currency Code": "currency", "Paid Date": "paid_date", "Ship Date": "ship_date",
				"Delivery Date": "delivery_date", "SKU": "product_id", "Product": "product_name", "Qty": "quantity",
				"Unit Price": "unit_price", "Customer Email": "email", "Customer Name": "name",
				"First Name": "first_name", "Last Name": "last_name", "Customer ID": "customer_external_id",
				"Location ID": "location_id",
			}},
		{"orders-more", "Order ID,Date,Status,Total Amount,Product ID,Product Name,Quantity,Price,Phone,Item", customer.ImportOrders, map[string]string{
			"Order ID": "order_number", "Date": "order_date", "Status": "status", "Total Amount": "total_amount",
			"Product ID": "product_id", "Product Name": "product_name", "Quantity": "quantity", "Price": "unit_price",
			"Phone": "phone", "Item": "",
		}},
	}
	for _, c := range cases {
		got := mappingOf(t, c.kind, c.header, nil)
		checkMapping(t, c.name, got, c.want)
	}
	if FieldFor(customer.ImportCustomers, " E-Mail ") != "email" || FieldFor(customer.ImportOrders, "Name") != "order_number" ||
		FieldFor(customer.ImportCustomers, "Name") != "name" || FieldFor(customer.ImportCustomers, "Vorname") != "first_name" ||
		FieldFor(customer.ImportCustomers, "PRENOM") != "first_name" || FieldFor(customer.ImportCustomers, "prénom") != "first_name" ||
		FieldFor(customer.ImportCustomers, "Phone 2") != "" || FieldFor("x", "Email") != "" ||
		FieldFor(customer.ImportCustomers, "Nom") != "last_name" || FieldFor(customer.ImportCustomers, "Voornaam") != "first_name" {
		t.Fatal("FieldFor")
	}
}

func TestMappingRows(t *testing.T) {
	data := readFile(t, "messy-customers/datablist_customers-100.csv")
	_, rows := readAll(t, data, Options{})
	if len(rows) != 100 {
		t.Fatalf("%d rows", len(rows))
	}
	r := rows[0]
	want := map[string]string{"external_id": "DD37Cf93aecA6Dc", "first_name": "Sheryl", "last_name": "Baxter",
		"company_name": "Rasmussen Group", "city": "East Leonard", "country": "Chile", "phone": "229.077.5154",
		"email": "zunigavanessa@smith.info", "website": "http://www.stephenson.com/"}
	wantAttrs := map[string]string{"Index": "1", "Phone 2": "397.884.0519x718", "Subscription Date": "2020-08-24"}
	if r.Num != 2 || !reflect.DeepEqual(r.Fields, want) || !reflect.DeepEqual(r.Attributes, wantAttrs) {
		t.Fatalf("%+v", r)
	}
	for _, r := range rows {
		if r.Err != nil || r.Fields["email"] == "" || len(r.Raw) != 12 {
			t.Fatalf("%+v", r)
		}
	}
}

func TestMappingOverride(t *testing.T) {
	header := "Email,Mobile,Phone,Secret,Company,Ref,Nick"
	got := mappingOf(t, customer.ImportCustomers, header, map[string]string{
		"phone":     "phone",       // normalized match, beats the earlier Mobile
		"SECRET":    "-",           // ignore
		"Company":   "",            // ignore
		"ref":       "external_id", // a field no header would map to
		"Email":     AsAttribute,   // keep as attribute
		"Nick":      " first_name ",
		"Not There": "email", // matches no column: ignored
	})
	checkMapping(t, "override", got, map[string]string{
		"Email": "", "Mobile": "", "Phone": "phone", "Secret": "-", "Company": "-", "Ref": "external_id",
		"Nick": "first_name",
	})
	rd, rows := readAll(t, []byte(header+"\ne@x,1,2,s,c,R9,Nicky\n"), Options{Mapping: map[string]string{
		"Phone": "phone", "Secret": Ignore, "Company": "", "Ref": "external_id", "Email": AsAttribute,
	}})
	r := rows[0]
	if !reflect.DeepEqual(r.Fields, map[string]string{"phone": "2", "external_id": "R9"}) ||
		!reflect.DeepEqual(r.Attributes, map[string]string{"Email": "e@x", "Mobile": "1", "Nick": "Nicky"}) ||
		len(r.Raw) != 7 {
		t.Fatalf("%+v", r)
	}
	if rd.Detected().Mapping["Secret"] != "-" {
		t.Fatal(rd.Detected().Mapping)
	}
	// Two overridden columns on one field: the first wins.
	got = mappingOf(t, customer.ImportCustomers, "A,B", map[string]string{"A": "email", "B": "email"})
	checkMapping(t, "dup", got, map[string]string{"A": "email", "B": ""})

	// Unknown target field.
	_, err := Open(strings.NewReader(header+"\n"), Options{Mapping: map[string]string{"Nick": "nickname"}})
	var me *MappingError
	if !errors.As(err, &me) || me.Column != "Nick" || me.Field != "nickname" {
		t.Fatalf("%v", err)
	}
	// order fields are not customer fields
	if _, err := Open(strings.NewReader("x\n"), Options{Mapping: map[string]string{"x": "order_number"}}); !errors.As(err, &me) {
		t.Fatalf("%v", err)
	}
	if _, err := Open(strings.NewReader("x\n"), Options{Kind: customer.ImportOrders, Mapping: map[string]string{"x": "order_number"}}); err != nil {
		t.Fatal(err)
	}
	// JSON keys obey overrides too.
	_, rows = readAll(t, []byte(`{"Mail":"m@x","nick":"N","Phone":"1"}`), Options{Mapping: map[string]string{"Nick": "first_name", "phone": "-"}})
	if !reflect.DeepEqual(rows[0].Fields, map[string]string{"email": "m@x", "first_name": "N"}) || rows[0].Attributes != nil {
		t.Fatalf("%+v", rows[0])
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"E-mail Address": "emailaddress", "First_Name": "firstname", "Prénom": "prenom", "  Zip/Postal ": "zippostal",
		"Phone #1": "phone1", "Straße": "straße", "": "", "李 名": "李名",
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMissingColumns(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("c%d", i)
	}
	for _, tc := range []struct {
		name     string
		kind     customer.ImportKind
		file     string
		override map[string]string
		want     []string // substrings, one per problem
	}{
		{"email column", customer.ImportCustomers, "Name,E-mail\n", nil, nil},
		{"external id only", customer.ImportCustomers, "Customer ID,City\n", nil, nil},
		{"none", customer.ImportCustomers, "Name,City\n", nil,
			[]string{`no column maps to email, phone or external_id (the file's columns: Name, City); name one with the mapping option, e.g. {"<column>": "email"}`}},
		{"mapped by the option", customer.ImportCustomers, "Name,Kontakt\n", map[string]string{"kontakt": "phone"}, nil},
		{"ignored by the option", customer.ImportCustomers, "Name,Email\n", map[string]string{"Email": Ignore}, []string{"email, phone or external_id"}},
		{"long header", customer.ImportCustomers, strings.Join(many, ",") + "\n", nil, []string{"c0, c1,", "c19, … 5 more)"}},
		{"orders", customer.ImportOrders, "Order,Email\n", nil, []string{"no column maps to order_date ("}},
		{"orders without customer", customer.ImportOrders, "Order,Date\n", nil, []string{"email, phone or customer_external_id"}},
		{"json", customer.ImportCustomers, `[{"name":"x"}]`, nil, nil},
	} {
		rd, err := Open(strings.NewReader(tc.file), Options{Kind: tc.kind, Mapping: tc.override})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := strings.Join(rd.Detected().MissingColumns(tc.kind), "\n")
		if len(tc.want) == 0 && got != "" {
			t.Errorf("%s: missing %q, want none", tc.name, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: missing %q, want it to contain %q", tc.name, got, w)
			}
		}
	}
}

// Uploads map their headers at the same time: folding accents shares no
// state between them (run with -race).
func TestNormalizeConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if got := FieldFor(customer.ImportCustomers, "Prénom"); got != "first_name" {
					t.Errorf("goroutine %d: Prénom → %q", i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
