# METADATA
# title: Dataset access by policy intent
# description: >-
#   Decides whether the bearer of a token may perform an action on a dataset of the catalog
#   (data.datasets.catalog, datasets/data.json). Each dataset declares an intent: PUBLIC datasets
#   are readable by anyone; INTERNAL ones only by their owning organisation; RESTRICTED ones by
#   their owning organisation when the token carries an allowed group or an approved purpose.
#   Any other action than read needs the data-steward group of the owning organisation.
#   Default deny; unknown datasets are denied.
package datasets

# METADATA
# title: Allow
# description: >-
#   True when input.token ({"sub", "org", "groups", "purpose"}) may perform input.action on
#   the catalog dataset input.dataset; false otherwise.
# scope: document
default allow := false

allow if {
	reading
	dataset.intent == "PUBLIC"
}

allow if {
	reading
	dataset.intent == "INTERNAL"
	same_org
}

allow if {
	reading
	dataset.intent == "RESTRICTED"
	same_org
	claims_match
}

allow if {
	other_action
	dataset.intent in known_intents
	same_org
	steward_group in token.groups
}

# METADATA
# title: Reasons
# description: Human-readable explanations of a deny; empty when the request is allowed.
# scope: document
reasons contains "no dataset given" if not input.dataset

reasons contains sprintf("unknown dataset %q", [input.dataset]) if {
	not data.datasets.catalog[input.dataset]
}

reasons contains "no action given" if not action_given

reasons contains sprintf("dataset %q has unknown intent %q", [input.dataset, dataset.intent]) if {
	not dataset.intent in known_intents
}

reasons contains "token has no org claim" if {
	dataset.intent in {"INTERNAL", "RESTRICTED"}
	not allow
	not token.org
}

reasons contains sprintf("dataset %q belongs to org %q, token org is %q", [input.dataset, dataset.owner_org, token.org]) if {
	dataset.intent in {"INTERNAL", "RESTRICTED"}
	not allow
	not same_org
}

reasons contains sprintf("dataset %q is RESTRICTED: token has no allowed group and no approved purpose", [input.dataset]) if {
	reading
	dataset.intent == "RESTRICTED"
	same_org
	not claims_match
}

reasons contains sprintf("action %q requires group %q of org %q", [input.action, steward_group, dataset.owner_org]) if {
	other_action
	dataset.intent in known_intents
	not allow
}

known_intents := {"PUBLIC", "INTERNAL", "RESTRICTED"}

steward_group := "data-steward"

# The catalog entry of input.dataset, if any.
dataset := data.datasets.catalog[input.dataset]

# The token's claims; an absent token has no claims.
token := object.get(input, "token", {})

action_given if {
	is_string(input.action)
	input.action != ""
}

reading if input.action == "read"

# Any action but read: needs the steward group of the owning organisation.
other_action if {
	action_given
	not reading
}

same_org if {
	is_string(token.org)
	token.org == dataset.owner_org
}

claims_match if {
	some group in token.groups
	group in dataset.allowed_groups
}

claims_match if token.purpose in dataset.approved_purposes
