# METADATA
# title: Role-based access control
# description: >-
#   Decides whether a subject may perform an action on a workflow or an agent in a project.
#   Data-driven: users, project-scoped role assignments and the role -> resource type -> actions
#   matrix live in data.rbac (rbac/data.json). Default deny; unknown or inactive users are denied
#   everything, active superadmins are allowed everything.
package rbac

# METADATA
# title: Allow
# description: >-
#   True when input.subject may perform input.action on input.resource
#   ({"type": ..., "project": ...}); false otherwise.
# scope: document
default allow := false

allow if {
	active
	superadmin
}

allow if {
	active
	input.action in granted_actions
}

# METADATA
# title: Permissions
# description: >-
#   The actions input.subject may perform on input.resource's type in its project
#   (input.action is ignored). For a superadmin: every action any role can be granted on the type.
# scope: document
permissions contains action if {
	active
	superadmin
	some role_actions in data.rbac.role_permissions
	some action in role_actions[input.resource.type]
}

permissions contains action if {
	active
	some action in granted_actions
}

# METADATA
# title: Reasons
# description: Human-readable explanations of a deny; empty when the request is allowed.
# scope: document
reasons contains "no subject given" if not input.subject

reasons contains sprintf("unknown user %q", [input.subject]) if {
	not data.rbac.users[input.subject]
}

reasons contains sprintf("user %q is inactive", [input.subject]) if {
	user
	not active
}

reasons contains sprintf("unknown resource type %q", [input.resource.type]) if {
	active
	not allow
	not known_types[input.resource.type]
}

reasons contains sprintf("no role grants %s on %s in project %s", [input.action, input.resource.type, project]) if {
	active
	not allow
	known_types[input.resource.type]
	project := object.get(input.resource, "project", "<none>")
}

# The subject's user record, if any.
user := data.rbac.users[input.subject]

active if user.active == true

superadmin if user.superadmin == true

# Actions on input.resource granted by the subject's role assignments in the resource's project.
granted_actions contains action if {
	some assignment in data.rbac.assignments[input.subject]
	in_scope(assignment.project)
	some action in data.rbac.role_permissions[assignment.role][input.resource.type]
}

# An assignment to project "*" applies to every project.
in_scope("*")

in_scope(project) if project == input.resource.project

known_types contains resource_type if {
	some role_actions in data.rbac.role_permissions
	some resource_type, _ in role_actions
}
