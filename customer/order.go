package customer

import "time"

// Order is a sales order of a customer (SPEC §9, §13).
type Order struct {
	ID              string         `json:"id"`
	OrderNumber     string         `json:"order_number"`
	CustomerID      string         `json:"customer_id"`
	Status          string         `json:"status"`
	OrderDate       time.Time      `json:"order_date"`
	ShipDate        *time.Time     `json:"ship_date"`
	DeliveryDate    *time.Time     `json:"delivery_date"`
	PaidDate        *time.Time     `json:"paid_date"`
	Currency        string         `json:"currency"`
	TotalAmount     float64        `json:"total_amount"`
	ItemsCount      int            `json:"items_count"`
	Items           []OrderItem    `json:"items"`
	ShippingAddress *PostalAddress `json:"shipping_address"`
	LocationID      string         `json:"location_id"`
	Created         time.Time      `json:"created"`
	Updated         time.Time      `json:"updated"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID   string  `json:"product_id"`
	ProductName string  `json:"product_name"`
	Quantity    int     `json:"quantity"`
	UnitPrice   float64 `json:"unit_price"`
}

// Order statuses.
const (
	OrderPending    = "pending"
	OrderProcessing = "processing"
	OrderShipped    = "shipped"
	OrderDelivered  = "delivered"
	OrderCancelled  = "cancelled"
	OrderReturned   = "returned"
)

// OrderStatuses lists every order status.
var OrderStatuses = []string{OrderPending, OrderProcessing, OrderShipped, OrderDelivered, OrderCancelled, OrderReturned}

// OrderFilter selects one customer's orders.
type OrderFilter struct {
	Page     int
	Limit    int
	Status   []string
	DateFrom *time.Time
	DateTo   *time.Time // exclusive
}
