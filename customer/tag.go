package customer

// TagCount is a tag and the number of distinct customers carrying it.
type TagCount struct {
	Tag   string `json:"tag"`
	Count int    `json:"count"`
}

// TagFilter selects tags for GET /tags.
type TagFilter struct {
	Page       int
	Limit      int
	LocationID string // "" = tags at any location, org-wide ones included
	Prefix     string
}
