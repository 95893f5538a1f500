package audit

// MetadataProfiles is the key of Entry.Metadata under which the runtime
// records the active profiles of the runner that wrote the entry
// (runtime/pipeline's WithProfiles), sorted, when it has any:
//
//	{"profiles": ["dev", "test"]}
//
// Every entry a runner with profiles writes for a change it runs or rolls
// back carries them, so that the trail says under which profiles a change
// was applied. It is merged with any other key of the metadata (such as
// MetadataProgress).
const MetadataProfiles = "profiles"
