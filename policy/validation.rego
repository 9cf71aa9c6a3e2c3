# METADATA
# title: Input validation
# description: |
#   Checks the shape of the input document sent by the gatekeeper. Every
#   missing or malformed field yields a deny reason, so that an incomplete
#   input can never lead to an allow.
#
#   Note: OPA evaluates the arguments of a function call before a `not`
#   applies, so `not is_string(input.x)` is false (not true) when input.x is
#   missing. Every check below is therefore stated as a positive rule
#   (`_has_*`, `_ok_*`) that is negated as a whole.
package aiops.validation

_proposal_strings := {"id", "action", "action_hash"}

_target_strings := {"environment", "namespace"}

_non_empty_string(x) if {
	is_string(x)
	x != ""
}

_non_negative_integer(x) if {
	is_number(x)
	x >= 0
	floor(x) == x
}

_rfc3339(x) if {
	is_string(x)
	_ = time.parse_rfc3339_ns(x)
}

_has_input if is_object(input)

_has_now if _non_negative_integer(input.now_ns)

_has_proposal if is_object(input.proposal)

_proposal_strings_present contains field if {
	some field in _proposal_strings
	_non_empty_string(input.proposal[field])
}

_has_blast_radius if _non_negative_integer(input.proposal.blast_radius)

_has_target if is_object(input.proposal.target)

_target_strings_present contains field if {
	some field in _target_strings
	_non_empty_string(input.proposal.target[field])
}

_ok_service if not "service" in object.keys(input.proposal.target)

_ok_service if is_string(input.proposal.target.service)

_has_proposer_name if _non_empty_string(input.proposal.proposer.name)

_ok_requested_by if not "requested_by" in object.keys(input.proposal)

_ok_requested_by if is_string(input.proposal.requested_by)

_ok_requested_by if is_null(input.proposal.requested_by)

_has_expires_at if _rfc3339(input.proposal.expires_at)

_ok_created_at if not "created_at" in object.keys(input.proposal)

_ok_created_at if _rfc3339(input.proposal.created_at)

_has_recent_executions if _non_negative_integer(input.context.recent_executions_for_target)

_ok_approvals if not "approvals" in object.keys(input)

_ok_approvals if is_array(input.approvals)

# METADATA
# title: Input violations
# description: Deny reasons for missing or malformed input fields.
violations contains "input must be an object" if not _has_input

violations contains "input.now_ns must be a non-negative integer (nanoseconds since the epoch)" if not _has_now

violations contains "input.proposal must be an object" if not _has_proposal

violations contains msg if {
	some field in _proposal_strings
	not field in _proposal_strings_present
	msg := sprintf("input.proposal.%s must be a non-empty string", [field])
}

violations contains "input.proposal.blast_radius must be a non-negative integer" if not _has_blast_radius

violations contains "input.proposal.target must be an object" if not _has_target

violations contains msg if {
	some field in _target_strings
	not field in _target_strings_present
	msg := sprintf("input.proposal.target.%s must be a non-empty string", [field])
}

violations contains "input.proposal.target.service must be a string" if {
	_has_target
	not _ok_service
}

violations contains "input.proposal.proposer.name must be a non-empty string" if not _has_proposer_name

violations contains "input.proposal.requested_by must be a string or null" if {
	_has_proposal
	not _ok_requested_by
}

violations contains "input.proposal.expires_at must be an RFC3339 timestamp" if not _has_expires_at

violations contains "input.proposal.created_at must be an RFC3339 timestamp" if {
	_has_proposal
	not _ok_created_at
}

violations contains "input.context.recent_executions_for_target must be a non-negative integer" if {
	not _has_recent_executions
}

violations contains "input.approvals must be an array" if {
	_has_input
	not _ok_approvals
}
