package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/linkitworks/customers/postgres"
	"github.com/linkitworks/customers/webhook"
)

// webhookInput is the body of webhook POST and PUT, and what a PATCH is
// merged into.
type webhookInput struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

const (
	maxWebhookEvents      = 20
	maxWebhookDescription = 500
)

// webhook validates in. The URL's host is resolved (unless private targets
// are allowed): an address that is not public is refused here, and again
// by the sender when it connects.
func (s *Server) webhook(ctx context.Context, in webhookInput) (*postgres.Webhook, error) {
	p := problems{}
	w := &postgres.Webhook{
		URL:         strings.TrimSpace(in.URL),
		Description: p.text("description", in.Description, 0, maxWebhookDescription),
		Enabled:     in.Enabled == nil || *in.Enabled,
		Events:      []string{},
	}
	if problem := webhook.CheckURL(ctx, w.URL, s.cfg.WebhooksAllowPrivate); problem != "" {
		p.add("url", problem)
	}
	seen := map[string]bool{}
	for i, e := range in.Events {
		e = strings.TrimSpace(e)
		switch {
		case !webhook.KnownEvent(e):
			p.add("events", fmt.Sprintf("item %d (%q) is not an event; use %s or *", i+1, e, strings.Join(webhook.Events, ", ")))
		case !seen[e]:
			seen[e] = true
			w.Events = append(w.Events, e)
		}
	}
	switch {
	case len(in.Events) == 0:
		p.add("events", "must name at least one event (or *)")
	case len(w.Events) > maxWebhookEvents:
		p.add("events", fmt.Sprintf("must have at most %d events", maxWebhookEvents))
	}
	return w, p.err()
}

func (s *Server) handleWebhookList(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindWebhooks(r.Context(), org(r).ID, page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}

// handleWebhookCreate answers the new webhook with its signing secret: the
// only time the secret is shown.
func (s *Server) handleWebhookCreate(w http.ResponseWriter, r *http.Request) error {
	var in webhookInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	wh, err := s.webhook(r.Context(), in)
	if err != nil {
		return err
	}
	wh.Secret = webhook.NewSecret()
	if err := s.store.CreateWebhook(r.Context(), org(r).ID, wh); err != nil {
		return err
	}
	setLocation(w, r.URL.Path, wh.ID)
	writeData(w, http.StatusCreated, wh)
	return nil
}

func (s *Server) handleWebhookGet(w http.ResponseWriter, r *http.Request) error {
	wh, err := s.store.FindWebhook(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, wh)
	return nil
}

// handleWebhookReplace is PUT: url and events are required, an omitted
// description is cleared and an omitted enabled is true.
func (s *Server) handleWebhookReplace(w http.ResponseWriter, r *http.Request) error {
	var in webhookInput
	if err := decode(w, r, &in); err != nil {
		return err
	}
	return s.saveWebhook(w, r, in)
}

// handleWebhookPatch is a JSON merge patch of url, events, description
// and enabled.
func (s *Server) handleWebhookPatch(w http.ResponseWriter, r *http.Request) error {
	var patch map[string]any
	if err := decode(w, r, &patch); err != nil {
		return err
	}
	cur, err := s.store.FindWebhook(r.Context(), org(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var in webhookInput
	now := webhookInput{URL: cur.URL, Events: cur.Events, Description: cur.Description, Enabled: &cur.Enabled}
	if err := mergePatch(now, patch, &in); err != nil {
		return err
	}
	return s.saveWebhook(w, r, in)
}

func (s *Server) saveWebhook(w http.ResponseWriter, r *http.Request, in webhookInput) error {
	next, err := s.webhook(r.Context(), in)
	if err != nil {
		return err
	}
	wh, err := s.store.UpdateWebhook(r.Context(), org(r).ID, r.PathValue("id"), func(wh *postgres.Webhook) error {
		wh.URL, wh.Events, wh.Description, wh.Enabled = next.URL, next.Events, next.Description, next.Enabled
		return nil
	})
	if err != nil {
		return err
	}
	writeData(w, http.StatusOK, wh)
	return nil
}

// handleWebhookDelete removes a webhook; its undelivered events are dropped.
func (s *Server) handleWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteWebhook(r.Context(), org(r).ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleWebhookDeliveries pages through a webhook's delivery log, newest
// attempt first.
func (s *Server) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	p := problems{}
	page, limit := pagination(r.URL.Query(), p)
	if err := p.err(); err != nil {
		return err
	}
	list, meta, err := s.store.FindWebhookDeliveries(r.Context(), org(r).ID, r.PathValue("id"), page, limit)
	if err != nil {
		return err
	}
	writeList(w, list, meta)
	return nil
}
