# METADATA
# title: Action catalog
# description: |
#   Looks up the proposed action in the bundle's action catalog
#   (data.aiops.actions) and derives its risk class, the number of approvals
#   it needs and the groups allowed to approve it. The risk class claimed in
#   the input is never used.
package aiops.catalog

# METADATA
# title: Approvals required per risk class
approvals_by_risk_class := {
	"read_only": 0,
	"state_changing": 1,
	"destructive": 2,
}

# METADATA
# title: Proposed action name
# description: input.proposal.action when it is a string; undefined otherwise.
action_name := input.proposal.action if is_string(input.proposal.action)

# METADATA
# title: Catalog entry
# description: The catalog entry of the proposed action; undefined when the action is not in the catalog.
entry := data.aiops.actions[action_name] if is_object(data.aiops.actions[action_name])

# METADATA
# title: Risk class
# description: The risk class from the catalog; undefined when the action is unknown or its catalog risk class is invalid.
risk_class := entry.risk_class if entry.risk_class in object.keys(approvals_by_risk_class)

# METADATA
# title: Required approvals
# description: How many valid approvals from distinct people the action needs.
required_approvals := approvals_by_risk_class[risk_class]

# METADATA
# title: Approver groups
# description: Groups whose members may approve the action (empty when none are configured).
default approver_groups := []

approver_groups := entry.approver_groups if is_array(entry.approver_groups)

# METADATA
# title: Catalog violations
# description: Deny reasons raised by the catalog lookup.
violations contains msg if {
	not entry
	msg := sprintf("action %s is not in the action catalog", [action_name])
}

violations contains msg if {
	entry
	not risk_class
	msg := sprintf(
		"action %s has an invalid risk class %v in the action catalog",
		[action_name, object.get(entry, "risk_class", null)],
	)
}
