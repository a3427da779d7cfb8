package dedupe

import "github.com/linkitworks/customers/customer"

// MarshalJSON writes the record with its fields compact (their zero members
// left out: customer.AppendCompactJSON). A record travels only between our
// processes — an upsert's task, its job row, the worker's copy — and is
// decoded into a zero Incoming, which the members left out leave zero: the
// same record, in a third of the bytes each of those copies carried.
func (in Incoming) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 384)
	b = append(b, '{')
	for _, m := range [...]struct{ key, v string }{{`"email":`, in.Email}, {`"email_key":`, in.EmailKey},
		{`"phone":`, in.Phone}, {`"phone_key":`, in.PhoneKey}, {`"phone_ext":`, in.PhoneExt}, {`"external":`, in.External}} {
		if m.v != "" {
			b = customer.AppendJSONString(append(b, m.key...), m.v)
			b = append(b, ',')
		}
	}
	if in.PhoneValid {
		b = append(b, `"phone_valid":true,`...)
	}
	b = append(b, `"fields":`...)
	b, err := in.Fields.AppendCompactJSON(b)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}
