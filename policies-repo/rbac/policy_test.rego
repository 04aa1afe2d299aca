package rbac

# Tests for data.rbac: the policy's rules, checked against a fixture of users and assignments written
# out below, so editing who holds which role in rbac/data.json (the point of a policy store) never
# breaks them. The role -> actions matrix is the shipped one (rbac/data.json), also written out
# independently in expected_matrix. Run: opa test . -v

# The people of the tests: bob is admin, carol editor, dave viewer, all on project apollo.
fixture_users := {
	"alice": {"active": true, "superadmin": true},
	"bob": {"active": true},
	"carol": {"active": true},
	"dave": {"active": true},
	"erin": {"active": false},
	"frank": {"active": true},
	"grace": {"active": true},
}

fixture_assignments := {
	"bob": [{"role": "admin", "project": "apollo"}],
	"carol": [
		{"role": "editor", "project": "apollo"},
		{"role": "viewer", "project": "zeus"},
	],
	"dave": [{"role": "viewer", "project": "apollo"}],
	"erin": [{"role": "admin", "project": "apollo"}],
	"grace": [{"role": "viewer", "project": "*"}],
}

# allow, permissions and reasons for a request, with the fixture's users and assignments.
allowed(request) if allow with input as request with data.rbac.users as fixture_users with data.rbac.assignments as fixture_assignments

decision_for(request) := decision if {
	decision := allow with input as request with data.rbac.users as fixture_users with data.rbac.assignments as fixture_assignments
}

permissions_for(request) := result if {
	result := permissions with input as request with data.rbac.users as fixture_users with data.rbac.assignments as fixture_assignments
}

reasons_for(request) := result if {
	result := reasons with input as request with data.rbac.users as fixture_users with data.rbac.assignments as fixture_assignments
}

req(subject, action, resource_type, project) := {
	"subject": subject,
	"action": action,
	"resource": {"type": resource_type, "project": project},
}

# The expected role matrix, written out independently of data.json.
expected_matrix := {
	"workflow": {
		"admin": {"create", "edit", "view", "delete"},
		"editor": {"create", "edit", "view"},
		"viewer": {"view"},
	},
	"agent": {
		"admin": {"create", "edit", "view", "delete", "run"},
		"editor": {"edit", "view", "run"},
		"viewer": {"view"},
	},
}

all_actions := {"create", "edit", "view", "delete", "run"}

# The fixture's role holders on project apollo.
role_holders := {"admin": "bob", "editor": "carol", "viewer": "dave"}

# --- the full role x action matrix on project apollo ---

test_role_matrix_on_apollo if {
	every resource_type, roles in expected_matrix {
		every role, subject in role_holders {
			every action in all_actions {
				expected := action in roles[role]
				decision := decision_for(req(subject, action, resource_type, "apollo"))
				decision == expected
			}
		}
	}
}

# --- workflow: each role x action spelled out ---

test_admin_can_create_workflow if allowed(req("bob", "create", "workflow", "apollo"))

test_admin_can_edit_workflow if allowed(req("bob", "edit", "workflow", "apollo"))

test_admin_can_view_workflow if allowed(req("bob", "view", "workflow", "apollo"))

test_admin_can_delete_workflow if allowed(req("bob", "delete", "workflow", "apollo"))

test_editor_can_create_workflow if allowed(req("carol", "create", "workflow", "apollo"))

test_editor_can_edit_workflow if allowed(req("carol", "edit", "workflow", "apollo"))

test_editor_can_view_workflow if allowed(req("carol", "view", "workflow", "apollo"))

test_editor_cannot_delete_workflow if not allowed(req("carol", "delete", "workflow", "apollo"))

test_viewer_can_view_workflow if allowed(req("dave", "view", "workflow", "apollo"))

test_viewer_cannot_create_workflow if not allowed(req("dave", "create", "workflow", "apollo"))

test_viewer_cannot_edit_workflow if not allowed(req("dave", "edit", "workflow", "apollo"))

test_viewer_cannot_delete_workflow if not allowed(req("dave", "delete", "workflow", "apollo"))

test_unknown_action_denied_even_to_admin if not allowed(req("bob", "archive", "workflow", "apollo"))

# --- agent rules ---

test_admin_can_run_agent if allowed(req("bob", "run", "agent", "apollo"))

test_admin_can_delete_agent if allowed(req("bob", "delete", "agent", "apollo"))

test_editor_can_run_agent if allowed(req("carol", "run", "agent", "apollo"))

test_editor_can_edit_agent if allowed(req("carol", "edit", "agent", "apollo"))

test_editor_cannot_create_agent if not allowed(req("carol", "create", "agent", "apollo"))

test_editor_cannot_delete_agent if not allowed(req("carol", "delete", "agent", "apollo"))

test_viewer_can_view_agent if allowed(req("dave", "view", "agent", "apollo"))

test_viewer_cannot_run_agent if not allowed(req("dave", "run", "agent", "apollo"))

# --- project scoping ---

test_admin_role_does_not_reach_other_project if {
	not allowed(req("bob", "view", "workflow", "zeus"))
	not allowed(req("bob", "delete", "agent", "zeus"))
}

test_editor_on_apollo_is_viewer_on_zeus if {
	allowed(req("carol", "view", "workflow", "zeus"))
	not allowed(req("carol", "edit", "workflow", "zeus"))
	not allowed(req("carol", "run", "agent", "zeus"))
	allowed(req("carol", "edit", "workflow", "apollo"))
}

test_role_without_project_in_input_grants_nothing if {
	not allowed({"subject": "bob", "action": "view", "resource": {"type": "workflow"}})
}

test_wildcard_project_assignment_covers_every_project if {
	allowed(req("grace", "view", "workflow", "apollo"))
	allowed(req("grace", "view", "agent", "zeus"))
	allowed(req("grace", "view", "workflow", "some-new-project"))
	not allowed(req("grace", "edit", "workflow", "apollo"))
}

test_wildcard_applies_only_to_the_literal_star if {
	not allowed(req("bob", "view", "workflow", "*"))
	allowed(req("grace", "view", "workflow", "*"))
}

# --- user status ---

test_superadmin_may_do_everything if {
	every resource_type in {"workflow", "agent", "dashboard"} {
		every action in all_actions | {"archive"} {
			every project in {"apollo", "zeus", "unassigned"} {
				allowed(req("alice", action, resource_type, project))
			}
		}
	}
}

test_inactive_user_denied_despite_admin_role if {
	not allowed(req("erin", "view", "workflow", "apollo"))
	not allowed(req("erin", "delete", "workflow", "apollo"))
}

test_inactive_superadmin_denied if {
	not allow with input as req("alice", "view", "workflow", "apollo") with data.rbac.users.alice as {"active": false, "superadmin": true}
}

test_user_without_active_flag_denied if {
	not allow with input as req("bob", "view", "workflow", "apollo") with data.rbac.users.bob as {}
}

test_active_must_be_boolean_true if {
	not allow with input as req("bob", "view", "workflow", "apollo") with data.rbac.users.bob as {"active": "true"}
}

test_unknown_user_denied if not allowed(req("mallory", "view", "workflow", "apollo"))

test_user_with_assignments_but_no_record_denied if {
	not allow with input as req("mallory", "view", "workflow", "apollo")
		with data.rbac.users as fixture_users
		with data.rbac.assignments.mallory as [{"role": "admin", "project": "apollo"}]
}

test_active_user_without_assignments_denied if {
	not allowed(req("frank", "view", "workflow", "apollo"))
	not allowed(req("frank", "view", "agent", "apollo"))
}

test_missing_subject_denied if not allowed({"action": "view", "resource": {"type": "workflow", "project": "apollo"}})

test_empty_input_denied if not allowed({})

test_unknown_resource_type_denied_to_non_superadmin if not allowed(req("bob", "view", "dashboard", "apollo"))

# --- data-driven: changing role_permissions changes decisions ---

test_role_permissions_are_data_driven if {
	allowed(req("dave", "run", "agent", "apollo"))
		with data.rbac.role_permissions.viewer as {"workflow": ["view"], "agent": ["view", "run"]}
}

# --- permissions ---

test_permissions_of_editor if {
	p := permissions_for(req("carol", "delete", "workflow", "apollo"))
	p == {"create", "edit", "view"}
}

test_permissions_scoped_to_project if {
	p := permissions_for(req("carol", "view", "agent", "zeus"))
	p == {"view"}
}

test_permissions_of_superadmin_cover_every_known_action if {
	p := permissions_for(req("alice", "view", "agent", "anywhere"))
	p == {"create", "edit", "view", "delete", "run"}
}

test_permissions_empty_for_inactive_user if {
	p := permissions_for(req("erin", "view", "workflow", "apollo"))
	count(p) == 0
}

# --- reasons ---

test_no_reasons_when_allowed if {
	r := reasons_for(req("bob", "delete", "workflow", "apollo"))
	count(r) == 0
	r2 := reasons_for(req("alice", "delete", "agent", "zeus"))
	count(r2) == 0
}

test_reason_inactive_user if {
	r := reasons_for(req("erin", "view", "workflow", "apollo"))
	r == {`user "erin" is inactive`}
}

test_reason_unknown_user if {
	r := reasons_for(req("mallory", "view", "workflow", "apollo"))
	r == {`unknown user "mallory"`}
}

test_reason_no_subject if {
	r := reasons_for({"action": "view", "resource": {"type": "workflow", "project": "apollo"}})
	r == {"no subject given"}
}

test_reason_no_role_grants if {
	r := reasons_for(req("carol", "delete", "workflow", "apollo"))
	r == {"no role grants delete on workflow in project apollo"}
}

test_reason_role_on_other_project if {
	r := reasons_for(req("bob", "edit", "workflow", "zeus"))
	r == {"no role grants edit on workflow in project zeus"}
}

test_reason_unknown_resource_type if {
	r := reasons_for(req("bob", "view", "dashboard", "apollo"))
	r == {`unknown resource type "dashboard"`}
}

# --- the shipped data itself: every assignment belongs to a known user and names a role and a project ---
# (Roles may be ones of data.rbac.role_permissions or of a generated service module, rbac/services/.)

test_shipped_assignments_belong_to_known_users if {
	every subject, assignments in data.rbac.assignments {
		data.rbac.users[subject]
		every assignment in assignments {
			is_string(assignment.role)
			is_string(assignment.project)
		}
	}
}
