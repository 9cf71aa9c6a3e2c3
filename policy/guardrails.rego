# METADATA
# title: Guardrails (operational limits)
# description: |
#   Proposal expiry, change-freeze windows, the capability allowlist, the
#   per-target rate limit and the blast-radius cap. Each check has a positive
#   form (used by the gate to allow) and deny reasons (used to explain a deny).
#   Negations only ever apply to argument-free rules or to calls whose
#   arguments are known to be defined (see validation.rego).
#   (The package is not called aiops.limits because data.aiops.limits is the
#   bundle data holding the global limits.)
package aiops.guardrails

import data.aiops.catalog

_now := input.now_ns if is_number(input.now_ns)

_target := input.proposal.target

_valid_limit(n) if {
	is_number(n)
	n >= 0
}

# --- Proposal expiry ---------------------------------------------------------

# METADATA
# title: Proposal expiry time
# description: input.proposal.expires_at in nanoseconds since the epoch.
expires_at_ns := time.parse_rfc3339_ns(input.proposal.expires_at)

# METADATA
# title: Proposal is current
# description: True when input.now_ns is strictly before the proposal's expiry.
proposal_current if _now < expires_at_ns

violations contains msg if {
	_now >= expires_at_ns
	msg := sprintf("proposal expired at %s", [input.proposal.expires_at])
}

# --- Change freeze -----------------------------------------------------------

_freeze_exempt if catalog.risk_class == "read_only"

default _windows := []

_windows := data.aiops.freeze_windows if is_array(data.aiops.freeze_windows)

_freeze_data_malformed if {
	_ = data.aiops.freeze_windows
	not is_array(data.aiops.freeze_windows)
}

_well_formed_window(w) if {
	_ = time.parse_rfc3339_ns(w.start)
	_ = time.parse_rfc3339_ns(w.end)
	is_array(w.environments)
}

_malformed_windows contains i if {
	some i, w in _windows
	not _well_formed_window(w)
}

_environment_matches(environments, _) if "*" in environments

_environment_matches(environments, environment) if environment in environments

# METADATA
# title: Active freeze windows
# description: Well-formed freeze windows covering input.now_ns and the target environment.
active_freezes contains w if {
	some w in _windows
	_well_formed_window(w)
	time.parse_rfc3339_ns(w.start) <= _now
	_now < time.parse_rfc3339_ns(w.end)
	_environment_matches(w.environments, _target.environment)
}

# METADATA
# title: Frozen
# description: |
#   True when a freeze blocks the action. Only read-only actions are exempt;
#   malformed freeze data blocks all other actions (fail closed).
frozen if {
	not _freeze_exempt
	count(active_freezes) > 0
}

frozen if {
	not _freeze_exempt
	count(_malformed_windows) > 0
}

frozen if {
	not _freeze_exempt
	_freeze_data_malformed
}

violations contains msg if {
	not _freeze_exempt
	some w in active_freezes
	msg := sprintf(
		"change freeze in %s: %s",
		[_target.environment, object.get(w, "reason", "no reason given")],
	)
}

violations contains msg if {
	not _freeze_exempt
	some i in _malformed_windows
	msg := sprintf("freeze window %d in the bundle data is malformed (needs RFC3339 start and end and an environments list); only read-only actions are allowed", [i])
}

violations contains "data.aiops.freeze_windows must be an array; only read-only actions are allowed" if {
	not _freeze_exempt
	_freeze_data_malformed
}

# --- Capability allowlist ----------------------------------------------------

_allow_entry := data.aiops.allowlist[catalog.action_name] if {
	is_object(data.aiops.allowlist[catalog.action_name])
}

_scope_allows(allowed, _) if {
	is_array(allowed)
	"*" in allowed
}

_scope_allows(allowed, value) if {
	is_array(allowed)
	value in allowed
}

_environment_allowed if _scope_allows(_allow_entry.environments, _target.environment)

_namespace_allowed if _scope_allows(_allow_entry.namespaces, _target.namespace)

# METADATA
# title: Allowlisted
# description: True when the target's environment and namespace are allowed for the action.
allowlisted if {
	_environment_allowed
	_namespace_allowed
}

violations contains msg if {
	catalog.entry
	not _allow_entry
	msg := sprintf("action %s has no allowlist entry", [catalog.action_name])
}

violations contains msg if {
	_allow_entry
	is_string(_target.environment)
	not _environment_allowed
	msg := sprintf("target environment %s not allowed for action %s", [_target.environment, catalog.action_name])
}

violations contains msg if {
	_allow_entry
	is_string(_target.namespace)
	not _namespace_allowed
	msg := sprintf("target namespace %s not allowed for action %s", [_target.namespace, catalog.action_name])
}

# --- Per-target rate limit ---------------------------------------------------

# METADATA
# title: Rate limit
# description: |
#   Maximum executions per target per hour: the action's own
#   max_executions_per_target_per_hour, else data.aiops.limits'.
rate_limit := n if {
	n := data.aiops.actions[catalog.action_name].max_executions_per_target_per_hour
} else := n if {
	n := data.aiops.limits.max_executions_per_target_per_hour
}

_recent := input.context.recent_executions_for_target if is_number(input.context.recent_executions_for_target)

_rate_limit_valid if _valid_limit(rate_limit)

# METADATA
# title: Within rate limit
within_rate_limit if {
	_rate_limit_valid
	_recent < rate_limit
}

violations contains msg if {
	_rate_limit_valid
	_recent >= rate_limit
	msg := sprintf("rate limit: %v executions on target in the last hour (max %v)", [_recent, rate_limit])
}

violations contains msg if {
	catalog.entry
	not _rate_limit_valid
	msg := sprintf("no valid rate limit is configured for action %s", [catalog.action_name])
}

# --- Blast-radius cap --------------------------------------------------------

# METADATA
# title: Blast-radius cap
# description: The action's own max_blast_radius, else data.aiops.limits.max_blast_radius.
blast_radius_cap := n if {
	n := data.aiops.actions[catalog.action_name].max_blast_radius
} else := n if {
	n := data.aiops.limits.max_blast_radius
}

_blast_radius := input.proposal.blast_radius if is_number(input.proposal.blast_radius)

_blast_radius_cap_valid if _valid_limit(blast_radius_cap)

# METADATA
# title: Within blast-radius cap
within_blast_radius if {
	_blast_radius_cap_valid
	_blast_radius <= blast_radius_cap
}

# Where the gatekeeper got the number (measured by the executor, or the catalog's worst case), if it said.
default _blast_radius_basis := ""

_blast_radius_basis := sprintf(" (%s)", [input.proposal.blast_radius_basis]) if is_string(input.proposal.blast_radius_basis)

violations contains msg if {
	_blast_radius_cap_valid
	_blast_radius > blast_radius_cap
	msg := sprintf("blast radius %v%s exceeds cap %v", [_blast_radius, _blast_radius_basis, blast_radius_cap])
}

violations contains msg if {
	catalog.entry
	not _blast_radius_cap_valid
	msg := sprintf("no valid blast radius cap is configured for action %s", [catalog.action_name])
}

# --- Summary -----------------------------------------------------------------

# METADATA
# title: All limits satisfied
# description: True only when every limit is positively satisfied.
ok if {
	proposal_current
	not frozen
	allowlisted
	within_rate_limit
	within_blast_radius
}
