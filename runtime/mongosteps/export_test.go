package mongosteps

import "go.mongodb.org/mongo-driver/v2/bson"

// Args returns a step's converted arguments, for the tests of Parse.
func (s Step) Args() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]any{
		"collection": s.collection, "to": s.to, "view": s.view, "viewOn": s.viewOn, "name": s.indexName,
		"validationLevel": s.validationLevel, "validationAction": s.validationAction,
	} {
		if v != "" {
			m[k] = v
		}
	}
	for k, v := range map[string]bson.D{"keys": s.keys, "validator": s.validator, "partialFilterExpression": s.partial, "filter": s.filter} {
		if v != nil {
			m[k] = v
		}
	}
	for k, v := range map[string]bool{"unique": s.unique, "sparse": s.sparse, "multi": s.multi, "upsert": s.upsert, "dropTarget": s.dropTgt} {
		if v {
			m[k] = v
		}
	}
	if s.ttl != nil {
		m["expireAfterSeconds"] = *s.ttl
	}
	if s.documents != nil {
		m["documents"] = s.documents
	}
	if s.update != nil {
		m["update"] = s.update
	}
	if s.pipeline != nil {
		m["pipeline"] = s.pipeline
	}
	return m
}
