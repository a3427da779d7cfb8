package customer

import "time"

// Contact is a person at a customer (seed 003): a buyer, an accountant.
// Contacts are not customers; their email and phone identify no one.
type Contact struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Title      string    `json:"title"`
	Email      string    `json:"email"`
	Phone      string    `json:"phone"`
	IsPrimary  bool      `json:"is_primary"`
	CustomerID string    `json:"customer_id"`
	Created    time.Time `json:"created_at"`
	Updated    time.Time `json:"-"`
}
