# METADATA
# title: Tests for input validation (missing or malformed fields deny)
package aiops.validation_test

import data.aiops.fixtures_test as fx

_valid := fx.input_for("restart_deployment", [fx.approve("kid-alice", "restart_deployment")])

test_allow_valid_base_input if {
	fx.decide(_valid).allow == true
}

test_deny_missing_input if {
	d := data.aiops.gate.decision with data.aiops.approvers as fx.approvers
	d.allow == false
	"input must be an object" in d.reasons
	"input.proposal must be an object" in d.reasons
}

test_deny_input_that_is_not_an_object if {
	d := fx.decide(["restart_deployment"])
	d.allow == false
	"input must be an object" in d.reasons
}

test_deny_missing_input_fields if {
	missing := {
		"now_ns": "input.now_ns must be a non-negative integer (nanoseconds since the epoch)",
		"proposal": "input.proposal must be an object",
		"proposal/id": "input.proposal.id must be a non-empty string",
		"proposal/action": "input.proposal.action must be a non-empty string",
		"proposal/action_hash": "input.proposal.action_hash must be a non-empty string",
		"proposal/blast_radius": "input.proposal.blast_radius must be a non-negative integer",
		"proposal/target": "input.proposal.target must be an object",
		"proposal/target/environment": "input.proposal.target.environment must be a non-empty string",
		"proposal/target/namespace": "input.proposal.target.namespace must be a non-empty string",
		"proposal/proposer": "input.proposal.proposer.name must be a non-empty string",
		"proposal/proposer/name": "input.proposal.proposer.name must be a non-empty string",
		"proposal/expires_at": "input.proposal.expires_at must be an RFC3339 timestamp",
		"context": "input.context.recent_executions_for_target must be a non-negative integer",
		"context/recent_executions_for_target": "input.context.recent_executions_for_target must be a non-negative integer",
	}
	every path, reason in missing {
		d := fx.decide(json.remove(_valid, [path]))
		d.allow == false
		reason in d.reasons
	}
}

test_deny_malformed_input_fields if {
	malformed := [
		["/now_ns", "1764150000000000000", "input.now_ns must be a non-negative integer (nanoseconds since the epoch)"],
		["/now_ns", -1, "input.now_ns must be a non-negative integer (nanoseconds since the epoch)"],
		["/proposal/id", "", "input.proposal.id must be a non-empty string"],
		["/proposal/action", 7, "input.proposal.action must be a non-empty string"],
		["/proposal/action_hash", null, "input.proposal.action_hash must be a non-empty string"],
		["/proposal/blast_radius", "3", "input.proposal.blast_radius must be a non-negative integer"],
		["/proposal/blast_radius", 1.5, "input.proposal.blast_radius must be a non-negative integer"],
		["/proposal/blast_radius", -2, "input.proposal.blast_radius must be a non-negative integer"],
		["/proposal/target", "prod/shop", "input.proposal.target must be an object"],
		["/proposal/target/service", 42, "input.proposal.target.service must be a string"],
		["/proposal/requested_by", {"name": "alice"}, "input.proposal.requested_by must be a string or null"],
		["/proposal/expires_at", "2026-11-26 11:00", "input.proposal.expires_at must be an RFC3339 timestamp"],
		["/proposal/created_at", "yesterday", "input.proposal.created_at must be an RFC3339 timestamp"],
		["/context/recent_executions_for_target", "0", "input.context.recent_executions_for_target must be a non-negative integer"],
		["/approvals", {"0": "token"}, "input.approvals must be an array"],
	]
	every case in malformed {
		[path, value, reason] := case
		d := fx.decide(json.patch(_valid, [{"op": "replace", "path": path, "value": value}]))
		d.allow == false
		reason in d.reasons
	}
}

test_allow_optional_fields_absent if {
	inp := json.remove(_valid, ["proposal/requested_by", "proposal/created_at", "proposal/target/service"])
	fx.decide(inp).allow == true
}
