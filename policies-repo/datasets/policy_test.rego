package datasets

# Tests for data.datasets against the seed catalog in datasets/data.json. Run: opa test . -v

read_req(dataset_id, claims) := {"dataset": dataset_id, "action": "read", "token": claims}

acme_sales := {"sub": "sam", "org": "acme", "groups": ["sales-eu"]}

acme_auditor := {"sub": "ada", "org": "acme", "groups": ["finance"], "purpose": "audit"}

acme_plain := {"sub": "pat", "org": "acme", "groups": ["engineering"], "purpose": "analytics"}

acme_steward := {"sub": "stu", "org": "acme", "groups": ["data-steward"]}

globex_sales := {"sub": "gil", "org": "globex", "groups": ["sales-eu", "data-steward"], "purpose": "audit"}

# --- PUBLIC ---

test_public_readable_without_token if allow with input as {"dataset": "weather", "action": "read"}

test_public_readable_with_empty_claims if allow with input as read_req("weather", {})

test_public_readable_by_any_org if {
	allow with input as read_req("weather", acme_plain)
	allow with input as read_req("weather", globex_sales)
}

test_public_not_writable_without_steward if {
	not allow with input as {"dataset": "weather", "action": "write"}
	not allow with input as {"dataset": "weather", "action": "write", "token": acme_steward}
}

test_public_writable_by_owning_org_steward if {
	allow with input as {"dataset": "weather", "action": "write", "token": {"org": "noaa", "groups": ["data-steward"]}}
}

# --- INTERNAL ---

test_internal_readable_by_owning_org if allow with input as read_req("hr-handbook", acme_plain)

test_internal_readable_by_owning_org_with_bare_token if allow with input as read_req("hr-handbook", {"org": "acme"})

test_internal_denied_to_other_org if not allow with input as read_req("hr-handbook", globex_sales)

test_internal_denied_without_token if not allow with input as {"dataset": "hr-handbook", "action": "read"}

test_internal_denied_without_org_claim if not allow with input as read_req("hr-handbook", {"sub": "x", "groups": ["data-steward"]})

test_internal_org_match_is_exact if {
	not allow with input as read_req("hr-handbook", {"org": "ACME"})
	not allow with input as read_req("hr-handbook", {"org": ["acme"]})
}

# --- RESTRICTED ---

test_restricted_readable_with_allowed_group if allow with input as read_req("sales-eu", acme_sales)

test_restricted_readable_with_approved_purpose if allow with input as read_req("sales-eu", acme_auditor)

test_restricted_group_among_several if {
	allow with input as read_req("sales-eu", {"org": "acme", "groups": ["engineering", "sales-eu"]})
}

test_restricted_denied_without_group_or_purpose if not allow with input as read_req("sales-eu", acme_plain)

test_restricted_denied_with_bare_org if not allow with input as read_req("sales-eu", {"org": "acme"})

test_restricted_denied_to_other_org_even_with_group_and_purpose if not allow with input as read_req("sales-eu", globex_sales)

test_restricted_denied_without_token if not allow with input as {"dataset": "sales-eu", "action": "read"}

test_restricted_steward_needs_group_or_purpose_to_read if not allow with input as read_req("sales-eu", acme_steward)

test_restricted_catalog_is_data_driven if {
	allow with input as read_req("sales-eu", acme_plain)
		with data.datasets.catalog["sales-eu"].approved_purposes as ["audit", "analytics"]
}

# --- non-read actions ---

test_internal_writable_by_owning_org_steward if allow with input as {"dataset": "hr-handbook", "action": "write", "token": acme_steward}

test_restricted_writable_by_owning_org_steward if allow with input as {"dataset": "sales-eu", "action": "delete", "token": acme_steward}

test_write_denied_to_reader_without_steward_group if {
	not allow with input as {"dataset": "hr-handbook", "action": "write", "token": acme_plain}
	not allow with input as {"dataset": "sales-eu", "action": "write", "token": acme_sales}
}

test_write_denied_to_steward_of_other_org if {
	not allow with input as {"dataset": "sales-eu", "action": "write", "token": globex_sales}
	not allow with input as {"dataset": "hr-handbook", "action": "write", "token": globex_sales}
}

test_missing_action_denied if {
	not allow with input as {"dataset": "weather"}
	not allow with input as {"dataset": "hr-handbook", "token": acme_steward}
	not allow with input as {"dataset": "hr-handbook", "action": "", "token": acme_steward}
	not allow with input as {"dataset": "hr-handbook", "action": null, "token": acme_steward}
}

# --- unknown datasets and odd catalog entries ---

test_unknown_dataset_denied if {
	not allow with input as read_req("does-not-exist", acme_steward)
	not allow with input as {"dataset": "does-not-exist", "action": "read"}
	not allow with input as {"dataset": "does-not-exist", "action": "write", "token": acme_steward}
}

test_missing_dataset_denied if not allow with input as {"action": "read", "token": acme_sales}

test_empty_input_denied if not allow with input as {}

test_unknown_intent_denied if {
	not allow with input as read_req("odd", acme_steward)
		with data.datasets.catalog.odd as {"intent": "SECRET", "owner_org": "acme", "allowed_groups": [], "approved_purposes": []}
	not allow with input as {"dataset": "odd", "action": "write", "token": acme_steward}
		with data.datasets.catalog.odd as {"intent": "SECRET", "owner_org": "acme", "allowed_groups": [], "approved_purposes": []}
}

# --- reasons ---

test_no_reasons_when_allowed if {
	r1 := reasons with input as {"dataset": "weather", "action": "read"}
	count(r1) == 0
	r2 := reasons with input as read_req("sales-eu", acme_sales)
	count(r2) == 0
	r3 := reasons with input as {"dataset": "hr-handbook", "action": "write", "token": acme_steward}
	count(r3) == 0
}

test_reason_unknown_dataset if {
	r := reasons with input as read_req("nope", acme_sales)
	r == {`unknown dataset "nope"`}
}

test_reason_other_org if {
	r := reasons with input as read_req("hr-handbook", globex_sales)
	r == {`dataset "hr-handbook" belongs to org "acme", token org is "globex"`}
}

test_reason_no_org_claim if {
	r := reasons with input as {"dataset": "sales-eu", "action": "read"}
	r == {"token has no org claim"}
}

test_reason_restricted_claims if {
	r := reasons with input as read_req("sales-eu", acme_plain)
	r == {`dataset "sales-eu" is RESTRICTED: token has no allowed group and no approved purpose`}
}

test_reason_write_needs_steward if {
	r := reasons with input as {"dataset": "hr-handbook", "action": "write", "token": acme_plain}
	r == {`action "write" requires group "data-steward" of org "acme"`}
}

test_reason_no_action if {
	r := reasons with input as {"dataset": "weather"}
	r == {"no action given"}
}
